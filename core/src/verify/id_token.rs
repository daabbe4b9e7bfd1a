//! The verified claims of an OpenID Connect id_token: who the user of a SMART HTI on FHIR
//! (SHOF) launch is, as the authorization server vouches.

use heapless::String;

use crate::capacity;
use crate::jose::algorithm::Algorithm;

/// What an id_token must be besides well signed: issued by `issuer` (compared exactly), and,
/// when `nonce` is given, carrying the nonce this client sent. The client id is the policy's
/// audience.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdTokenExpectations<'a> {
    /// The authorization server's issuer identifier.
    pub issuer: &'a str,
    /// The `nonce` sent with the authorization request; `None` skips the check (for a server
    /// known not to echo it: see the host's SHOF launcher).
    pub nonce: Option<&'a str>,
}

/// The verified claims of an id_token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdTokenClaims {
    pub(crate) iss: String<{ capacity::ISSUER }>,
    pub(crate) sub: String<{ capacity::PERSON }>,
    pub(crate) aud: String<{ capacity::AUDIENCE }>,
    pub(crate) azp: Option<String<{ capacity::AUTHORIZED_PARTY }>>,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    pub(crate) nonce: Option<String<{ capacity::NONCE }>>,
    pub(crate) fhir_user: Option<String<{ capacity::FHIR_USER }>>,
    pub(crate) alg: Algorithm,
    pub(crate) kid: String<{ capacity::KEY_ID }>,
}

impl IdTokenClaims {
    /// `iss`: the authorization server.
    pub fn issuer(&self) -> &str {
        &self.iss
    }

    /// `sub`: the user, as the authorization server identifies them.
    pub fn subject(&self) -> &str {
        &self.sub
    }

    /// The client id the token was accepted for (the policy's audience).
    pub fn audience(&self) -> &str {
        &self.aud
    }

    /// `azp`, when present: the client the token was issued to.
    pub fn authorized_party(&self) -> Option<&str> {
        self.azp.as_deref()
    }

    /// `iat`, Unix seconds.
    pub fn issued_at(&self) -> u64 {
        self.iat
    }

    /// `exp`, Unix seconds.
    pub fn expires_at(&self) -> u64 {
        self.exp
    }

    /// `nonce`, when present.
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// `fhirUser`: the FHIR resource of the person (`Patient/1`, or an absolute URL ending in
    /// one), when the server says; checked to name a person type.
    pub fn fhir_user(&self) -> Option<&str> {
        self.fhir_user.as_deref()
    }

    /// The algorithm the token was signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The `kid` of the key that verified it.
    pub fn key_id(&self) -> &str {
        &self.kid
    }
}
