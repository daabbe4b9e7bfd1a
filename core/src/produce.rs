//! Producing signed tokens: SMART Backend Services client assertions and HTI launches.
//!
//! Tokens are written into a caller's buffer (or, with the `alloc` feature, a `String`), the
//! JSON escaped and base64url-encoded on the fly, and signed by any [`JwsSigner`]: a software
//! key of this crate, or an HSM or secure element behind the RustCrypto `signature` traits
//! ([`ExternalSigner`](crate::ExternalSigner)). What is produced passes this crate's own
//! verifier: the builders refuse what it would refuse.

use embedded_io::Write;
use rand_core::CryptoRng;

use crate::algorithm::Algorithm;
use crate::capacity;
use crate::claims::is_person_reference;
use crate::error::Error;
use crate::signature::MAX_SIGNATURE_LEN;
#[cfg(feature = "alloc")]
use crate::write::Counter;
use crate::write::{Base64UrlWriter, JsonObject, put, sink_error};

/// Something that signs JWS signing inputs: a private key in memory, or a handle to one held
/// elsewhere.
pub trait JwsSigner {
    /// The algorithm of the signatures (the header's `alg`).
    fn algorithm(&self) -> Algorithm;

    /// The key id written into the header's `kid`.
    fn key_id(&self) -> &str;

    /// Signs `signing_input`, writing the signature in JOSE form (RSA: the modulus length;
    /// ECDSA: `r || s`) to the front of `signature` and returning its length. `rng` is there
    /// for signers that randomise (RSA blinding, hedged ECDSA); others may ignore it.
    fn sign(
        &self,
        signing_input: &[u8],
        rng: &mut dyn CryptoRng,
        signature: &mut [u8],
    ) -> Result<usize, Error>;
}

/// A UUID version 4 (RFC 9562 §5.4) in its 36-character text form: a fresh `jti`.
pub fn uuid_v4(rng: &mut dyn CryptoRng) -> heapless::String<36> {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = heapless::String::new();
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            let _ = text.push('-');
        }
        let _ = text.push(char::from(HEX[usize::from(byte >> 4)]));
        let _ = text.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    text
}

/// The claims of a token being produced.
trait Claims {
    fn write<W: Write>(&self, claims: &mut JsonObject<'_, W>, jti: &str) -> Result<(), Error>;
    fn token_id(&self) -> Option<&str>;
}

fn header<W: Write>(out: &mut W, signer: &dyn JwsSigner) -> Result<(), Error> {
    let mut header = JsonObject::begin(out)?;
    header.string("alg", signer.algorithm().as_str())?;
    header.string("kid", signer.key_id())?;
    header.string("typ", "JWT")?;
    header.end()
}

fn segment<W: Write>(
    out: &mut W,
    json: impl FnOnce(&mut Base64UrlWriter<'_, W>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut encoder = Base64UrlWriter::new(out);
    json(&mut encoder)?;
    encoder.finish()
}

fn claims_segment<W: Write, C: Claims>(out: &mut W, claims: &C, jti: &str) -> Result<(), Error> {
    segment(out, |encoder| {
        let mut object = JsonObject::begin(encoder)?;
        claims.write(&mut object, jti)?;
        object.end()
    })
}

/// Writes the signed compact JWS of `claims` into `out`.
fn sign_compact<'o, C: Claims>(
    claims: &C,
    signer: &dyn JwsSigner,
    rng: &mut dyn CryptoRng,
    out: &'o mut [u8],
) -> Result<&'o str, Error> {
    let random_jti = uuid_v4(rng);
    let jti = claims.token_id().unwrap_or(&random_jti);
    let capacity = out.len();
    let mut cursor: &mut [u8] = out;
    segment(&mut cursor, |encoder| header(encoder, signer))?;
    put(&mut cursor, b".")?;
    claims_segment(&mut cursor, claims, jti)?;
    let signing_input_len = capacity - cursor.len();

    let mut signature = [0u8; MAX_SIGNATURE_LEN];
    let len = signer.sign(&out[..signing_input_len], rng, &mut signature)?;
    let signature = signature.get(..len).ok_or(Error::SigningFailed)?;
    let mut cursor: &mut [u8] = &mut out[signing_input_len..];
    let remaining = cursor.len();
    put(&mut cursor, b".")?;
    segment(&mut cursor, |encoder| {
        encoder.write_all(signature).map_err(sink_error)
    })?;
    let total = signing_input_len + remaining - cursor.len();
    // Only ASCII was written.
    core::str::from_utf8(&out[..total]).map_err(|_| Error::WriteFailed)
}

/// [`sign_compact`] into a `String` of exactly the right size.
#[cfg(feature = "alloc")]
fn sign_to_string<C: Claims>(
    claims: &C,
    signer: &dyn JwsSigner,
    rng: &mut dyn CryptoRng,
) -> Result<alloc::string::String, Error> {
    let (mut header_len, mut claims_len) = (Counter::default(), Counter::default());
    header(&mut header_len, signer)?;
    // A UUID is what `sign_compact` would generate; a caller's jti is measured as is.
    let jti = claims
        .token_id()
        .unwrap_or("00000000-0000-4000-8000-000000000000");
    {
        let mut object = JsonObject::begin(&mut claims_len)?;
        claims.write(&mut object, jti)?;
        object.end()?;
    }
    let encoded = |len: usize| (len * 4).div_ceil(3);
    let len = encoded(header_len.0) + 1 + encoded(claims_len.0) + 1 + encoded(MAX_SIGNATURE_LEN);
    let mut buffer = alloc::vec![0u8; len];
    let token = sign_compact(claims, signer, rng, &mut buffer)?;
    Ok(alloc::string::String::from(token))
}

fn require_text(name: &'static str, value: &str, capacity: usize) -> Result<(), Error> {
    if value.is_empty() {
        Err(Error::EmptyClaim(name))
    } else if value.len() > capacity {
        Err(Error::ValueTooLong(name))
    } else {
        Ok(())
    }
}

fn check_lifetime(seconds: u64, max: u64) -> Result<u64, Error> {
    if (1..=max).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(Error::InvalidConfiguration)
    }
}

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

/// An HTI 2.0 launch token, as a portal sends it to a module.
///
/// The builder refuses what a verifier would: empty or over-long values, a `sub` or `patient`
/// that is not a FHIR person reference, an `intent` that is not a RequestIntent code, a
/// lifetime over five minutes.
///
/// ```
/// # use koppeltaal_core::{Algorithm, Error, JwsSigner, LaunchToken};
/// # struct Fake;
/// # impl JwsSigner for Fake {
/// #     fn algorithm(&self) -> Algorithm { Algorithm::ES256 }
/// #     fn key_id(&self) -> &str { "k" }
/// #     fn sign(&self, _: &[u8], _: &mut dyn rand_core::CryptoRng, out: &mut [u8]) -> Result<usize, Error> {
/// #         out[..64].fill(1); Ok(64)
/// #     }
/// # }
/// # let (signer, mut rng) = (Fake, rand::rng());
/// let launch = LaunchToken::new(
///     "https://portal.example.org",
///     "Device/42",
///     "Practitioner/a5e58253",
///     "Task/11",
///     "https://module.example.org/ActivityDefinition/fearfighter",
///     1_700_000_000,
/// )?
/// .with_patient("Patient/a5e582e")?
/// .with_intent("plan")?;
/// let mut buffer = [0u8; 2048];
/// let token = launch.sign(&signer, &mut rng, &mut buffer)?;
/// assert!(token.starts_with("eyJ"));
/// assert_eq!(launch.with_intent("whenever").err(), Some(Error::InvalidIntent));
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaunchToken<'a> {
    issuer: &'a str,
    audience: &'a str,
    subject: &'a str,
    resource: &'a str,
    definition: &'a str,
    patient: Option<&'a str>,
    intent: Option<&'a str>,
    idp_hint: Option<&'a str>,
    issued_at: u64,
    lifetime: u64,
    token_id: Option<&'a str>,
}

impl<'a> LaunchToken<'a> {
    /// The longest lifetime HTI allows, in seconds.
    pub const MAX_LIFETIME: u64 = 300;
    /// The lifetime used unless another is set.
    pub const DEFAULT_LIFETIME: u64 = 300;

    /// A launch from `issuer` (the portal) for `audience` (the module), by `subject` (a person
    /// reference), for the Task `resource` of the ActivityDefinition `definition`, issued at
    /// `now` (Unix seconds).
    pub fn new(
        issuer: &'a str,
        audience: &'a str,
        subject: &'a str,
        resource: &'a str,
        definition: &'a str,
        now: u64,
    ) -> Result<Self, Error> {
        require_text("iss", issuer, capacity::ISSUER)?;
        require_text("aud", audience, capacity::AUDIENCE)?;
        require_text("sub", subject, capacity::PERSON)?;
        require_text("resource", resource, capacity::RESOURCE)?;
        require_text("definition", definition, capacity::DEFINITION)?;
        if !is_person_reference(subject) {
            return Err(Error::BadPersonReference("sub"));
        }
        Ok(LaunchToken {
            issuer,
            audience,
            subject,
            resource,
            definition,
            patient: None,
            intent: None,
            idp_hint: None,
            issued_at: now,
            lifetime: Self::DEFAULT_LIFETIME,
            token_id: None,
        })
    }

    /// Adds `patient`, a person reference (for when `sub` is not the patient).
    pub fn with_patient(mut self, patient: &'a str) -> Result<Self, Error> {
        require_text("patient", patient, capacity::PERSON)?;
        if !is_person_reference(patient) {
            return Err(Error::BadPersonReference("patient"));
        }
        self.patient = Some(patient);
        Ok(self)
    }

    /// Adds `intent`, a FHIR RequestIntent code such as `plan`.
    pub fn with_intent(mut self, intent: &'a str) -> Result<Self, Error> {
        if !crate::claims::is_request_intent(intent) {
            return Err(Error::InvalidIntent);
        }
        self.intent = Some(intent);
        Ok(self)
    }

    /// Adds `idp_hint` (Koppeltaal): which identity provider the module should send the user
    /// to. Non-empty, at most [`capacity::IDP_HINT`] bytes.
    pub fn with_idp_hint(mut self, idp_hint: &'a str) -> Result<Self, Error> {
        require_text("idp_hint", idp_hint, capacity::IDP_HINT)?;
        self.idp_hint = Some(idp_hint);
        Ok(self)
    }

    /// Sets the lifetime (`exp - iat`), 1 to 300 seconds; otherwise
    /// [`Error::InvalidConfiguration`].
    pub fn with_lifetime(mut self, seconds: u64) -> Result<Self, Error> {
        self.lifetime = check_lifetime(seconds, Self::MAX_LIFETIME)?;
        Ok(self)
    }

    /// Uses `jti` instead of a random UUID (it must still be unique per launch).
    pub fn with_token_id(mut self, jti: &'a str) -> Result<Self, Error> {
        require_text("jti", jti, capacity::TOKEN_ID)?;
        self.token_id = Some(jti);
        Ok(self)
    }

    /// Signs the launch into `out`, returning the compact token.
    pub fn sign<'o>(
        &self,
        signer: &dyn JwsSigner,
        rng: &mut dyn CryptoRng,
        out: &'o mut [u8],
    ) -> Result<&'o str, Error> {
        sign_compact(self, signer, rng, out)
    }

    /// Signs the launch into a new `String` (feature `alloc`).
    #[cfg(feature = "alloc")]
    pub fn sign_to_string(
        &self,
        signer: &dyn JwsSigner,
        rng: &mut dyn CryptoRng,
    ) -> Result<alloc::string::String, Error> {
        sign_to_string(self, signer, rng)
    }
}

impl Claims for LaunchToken<'_> {
    fn write<W: Write>(&self, claims: &mut JsonObject<'_, W>, jti: &str) -> Result<(), Error> {
        claims.string("iss", self.issuer)?;
        claims.string("aud", self.audience)?;
        claims.string("sub", self.subject)?;
        claims.number("iat", self.issued_at)?;
        claims.number("exp", self.issued_at.saturating_add(self.lifetime))?;
        claims.string("jti", jti)?;
        claims.string("resource", self.resource)?;
        claims.string("definition", self.definition)?;
        if let Some(patient) = self.patient {
            claims.string("patient", patient)?;
        }
        if let Some(intent) = self.intent {
            claims.string("intent", intent)?;
        }
        if let Some(idp_hint) = self.idp_hint {
            claims.string("idp_hint", idp_hint)?;
        }
        Ok(())
    }

    fn token_id(&self) -> Option<&str> {
        self.token_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic bytes, for tests only.
    struct Counting(u8);

    impl rand_core::TryRng for Counting {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(u32::from(self.next_byte()))
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(u64::from(self.next_byte()))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.iter_mut().for_each(|byte| *byte = self.next_byte());
            Ok(())
        }
    }

    impl rand_core::TryCryptoRng for Counting {}

    impl Counting {
        fn next_byte(&mut self) -> u8 {
            self.0 = self.0.wrapping_add(0x11);
            self.0
        }
    }

    #[test]
    fn uuids_are_version_4_variant_1() {
        let id = uuid_v4(&mut Counting(0));
        assert_eq!(id.as_str(), "11223344-5566-4788-99aa-bbccddeeff10");
        let id = uuid_v4(&mut Counting(0x80));
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }
}
