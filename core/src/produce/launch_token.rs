//! The HTI 2.0 launch token a portal signs.

use embedded_io::Write;
use rand_core::CryptoRng;

use crate::capacity;
use crate::codec::json_writer::JsonObject;
use crate::error::Error;
use crate::produce::jws_signer::JwsSigner;
#[cfg(feature = "alloc")]
use crate::produce::token::sign_to_string;
use crate::produce::token::{Claims, check_lifetime, require_text, sign_compact};
use crate::verify::claims::is_person_reference;

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
        if !crate::verify::claims::is_request_intent(intent) {
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
        // HTI 2.0 ①: "the HTI version SHOULD be provided as the JWT claim hti-version" (and
        // its portal checklist says MUST).
        claims.string("hti-version", "2.0")?;
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
