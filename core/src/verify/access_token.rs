//! The verified claims of a JWT access token (RFC 9068), for a resource server.

use heapless::String;

use crate::capacity;
use crate::jose::algorithm::Algorithm;

/// The verified claims of a JWT access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessTokenClaims {
    pub(crate) iss: String<{ capacity::ISSUER }>,
    pub(crate) aud: String<{ capacity::AUDIENCE }>,
    pub(crate) sub: Option<String<{ capacity::PERSON }>>,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    pub(crate) jti: Option<String<{ capacity::TOKEN_ID }>>,
    pub(crate) alg: Algorithm,
    pub(crate) kid: String<{ capacity::KEY_ID }>,
}

impl AccessTokenClaims {
    /// `iss`: the authorization server.
    pub fn issuer(&self) -> &str {
        &self.iss
    }

    /// The audience the token was accepted for (the policy's).
    pub fn audience(&self) -> &str {
        &self.aud
    }

    /// `sub`, when present (a client id, or a user).
    pub fn subject(&self) -> Option<&str> {
        self.sub.as_deref()
    }

    /// `iat`, Unix seconds.
    pub fn issued_at(&self) -> u64 {
        self.iat
    }

    /// `exp`, Unix seconds.
    pub fn expires_at(&self) -> u64 {
        self.exp
    }

    /// `jti`, when present.
    pub fn token_id(&self) -> Option<&str> {
        self.jti.as_deref()
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
