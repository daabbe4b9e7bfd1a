//! The SMART Backend Services client assertion (RFC 7523).

use embedded_io::Write;
use rand_core::CryptoRng;

use crate::codec::json_writer::JsonObject;
use crate::error::Error;
use crate::produce::jws_signer::JwsSigner;
#[cfg(feature = "alloc")]
use crate::produce::token::sign_to_string;
use crate::produce::token::{Claims, check_lifetime, require_text, sign_compact};

/// A SMART Backend Services client assertion (RFC 7523), as Koppeltaal's token endpoint
/// expects: `iss` = `sub` = the client id, `aud` = the token endpoint, `iat`, `exp` at most
/// 300 s later, and a fresh random `jti`.
///
/// ```
/// # use koppeltaal_core::{Algorithm, ClientAssertion, Error, JwsSigner};
/// # struct Fake;
/// # impl JwsSigner for Fake {
/// #     fn algorithm(&self) -> Algorithm { Algorithm::ES256 }
/// #     fn key_id(&self) -> &str { "k" }
/// #     fn sign(&self, _: &[u8], _: &mut dyn rand_core::CryptoRng, out: &mut [u8]) -> Result<usize, Error> {
/// #         out[..64].fill(1); Ok(64)
/// #     }
/// # }
/// # let (signer, mut rng) = (Fake, rand::rng());
/// let assertion = ClientAssertion::new("my-client-id", "https://auth.example.org/oauth2/token", 1_700_000_000)?;
/// let mut buffer = [0u8; 2048];
/// let token = assertion.sign(&signer, &mut rng, &mut buffer)?;
/// assert_eq!(token.split('.').count(), 3);
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAssertion<'a> {
    client_id: &'a str,
    token_endpoint: &'a str,
    issued_at: u64,
    lifetime: u64,
    token_id: Option<&'a str>,
}

impl<'a> ClientAssertion<'a> {
    /// The longest lifetime SMART Backend Services allows, in seconds.
    pub const MAX_LIFETIME: u64 = 300;
    /// The lifetime used unless another is set: long enough for a slow network and a few
    /// seconds of clock skew, short enough to be worthless soon after.
    pub const DEFAULT_LIFETIME: u64 = 120;

    /// An assertion for `client_id` to present at `token_endpoint`, issued at `now` (Unix
    /// seconds). Empty values are [`Error::EmptyClaim`].
    pub fn new(client_id: &'a str, token_endpoint: &'a str, now: u64) -> Result<Self, Error> {
        require_text("iss", client_id, usize::MAX)?;
        require_text("aud", token_endpoint, usize::MAX)?;
        Ok(ClientAssertion {
            client_id,
            token_endpoint,
            issued_at: now,
            lifetime: Self::DEFAULT_LIFETIME,
            token_id: None,
        })
    }

    /// Sets the lifetime (`exp - iat`), 1 to 300 seconds; otherwise
    /// [`Error::InvalidConfiguration`].
    pub fn with_lifetime(mut self, seconds: u64) -> Result<Self, Error> {
        self.lifetime = check_lifetime(seconds, Self::MAX_LIFETIME)?;
        Ok(self)
    }

    /// Uses `jti` instead of a random UUID (it must still be unique per assertion).
    pub fn with_token_id(mut self, jti: &'a str) -> Result<Self, Error> {
        require_text("jti", jti, usize::MAX)?;
        self.token_id = Some(jti);
        Ok(self)
    }

    /// Signs the assertion into `out`, returning the compact token.
    pub fn sign<'o>(
        &self,
        signer: &dyn JwsSigner,
        rng: &mut dyn CryptoRng,
        out: &'o mut [u8],
    ) -> Result<&'o str, Error> {
        sign_compact(self, signer, rng, out)
    }

    /// Signs the assertion into a new `String` (feature `alloc`).
    #[cfg(feature = "alloc")]
    pub fn sign_to_string(
        &self,
        signer: &dyn JwsSigner,
        rng: &mut dyn CryptoRng,
    ) -> Result<alloc::string::String, Error> {
        sign_to_string(self, signer, rng)
    }
}

impl Claims for ClientAssertion<'_> {
    fn write<W: Write>(&self, claims: &mut JsonObject<'_, W>, jti: &str) -> Result<(), Error> {
        claims.string("iss", self.client_id)?;
        claims.string("sub", self.client_id)?;
        claims.string("aud", self.token_endpoint)?;
        claims.number("iat", self.issued_at)?;
        claims.number("exp", self.issued_at.saturating_add(self.lifetime))?;
        claims.string("jti", jti)
    }

    fn token_id(&self) -> Option<&str> {
        self.token_id
    }
}
