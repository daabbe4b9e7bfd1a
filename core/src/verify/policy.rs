//! What a valid token is: audience, algorithms, clock leeway, lifetime, required claims.

use heapless::String;

use crate::capacity;
use crate::error::Error;
use crate::jose::algorithm::{Algorithm, AlgorithmSet};

/// Claims that HTI 2.0 requires but an older portal may omit; the policy says which to demand.
///
/// `iss`, `aud`, `exp`, `iat` and `jti` are always required: they select the keys, bind the
/// token to this module, bound its lifetime and make replay detectable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequiredClaims(u8);

impl RequiredClaims {
    /// `sub`: the person launching.
    pub const SUB: RequiredClaims = RequiredClaims(1 << 0);
    /// `resource`: the Task.
    pub const RESOURCE: RequiredClaims = RequiredClaims(1 << 1);
    /// `definition`: the ActivityDefinition.
    pub const DEFINITION: RequiredClaims = RequiredClaims(1 << 2);
    /// `patient`: the patient, when `sub` is someone else.
    pub const PATIENT: RequiredClaims = RequiredClaims(1 << 3);
    /// `intent`: the request intent.
    pub const INTENT: RequiredClaims = RequiredClaims(1 << 4);
    /// None of the optional claims.
    pub const NONE: RequiredClaims = RequiredClaims(0);
    /// What HTI 2.0 requires: `sub`, `resource` and `definition`.
    pub const HTI_2_0: RequiredClaims = RequiredClaims(0b111);

    /// Both sets together.
    #[must_use]
    pub const fn and(self, other: RequiredClaims) -> RequiredClaims {
        RequiredClaims(self.0 | other.0)
    }

    /// Whether every claim of `other` is in this set.
    pub const fn contains(self, other: RequiredClaims) -> bool {
        self.0 & other.0 == other.0
    }
}

/// The rules a token must meet besides its signature.
///
/// Time comes in as an argument (Unix seconds); the core has no clock.
///
/// ```
/// use koppeltaal_core::{Algorithm, Policy};
/// let policy = Policy::new("Device/42")?
///     .allow(Algorithm::ES256)
///     .with_leeway(30);
/// assert!(policy.algorithms().contains(Algorithm::RS512));
/// assert_eq!(policy.leeway(), 30);
/// # Ok::<(), koppeltaal_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    audience: String<{ capacity::AUDIENCE }>,
    algorithms: AlgorithmSet,
    leeway: u64,
    max_lifetime: u64,
    max_token_len: usize,
    required: RequiredClaims,
    typ: Option<String<{ capacity::TYPE }>>,
}

impl Policy {
    /// Default clock leeway in seconds, applied to `iat`, `nbf` and `exp`.
    pub const DEFAULT_LEEWAY: u64 = 60;
    /// Default maximum lifetime `exp - iat` in seconds (HTI: five minutes).
    pub const DEFAULT_MAX_LIFETIME: u64 = 300;
    /// Default maximum token length in bytes.
    pub const DEFAULT_MAX_TOKEN_LEN: usize = 8192;

    /// A policy for tokens addressed to `audience`, with the defaults: RS512 only, 60 s leeway,
    /// 300 s maximum lifetime, 8 KiB maximum length, the claims HTI 2.0 requires, and `typ`
    /// absent or `JWT`.
    ///
    /// An empty audience, or one longer than [`capacity::AUDIENCE`], is
    /// [`Error::InvalidConfiguration`].
    pub fn new(audience: &str) -> Result<Policy, Error> {
        let mut owned = String::new();
        if audience.is_empty() || owned.push_str(audience).is_err() {
            return Err(Error::InvalidConfiguration);
        }
        Ok(Policy {
            audience: owned,
            algorithms: AlgorithmSet::only(Algorithm::RS512),
            leeway: Self::DEFAULT_LEEWAY,
            max_lifetime: Self::DEFAULT_MAX_LIFETIME,
            max_token_len: Self::DEFAULT_MAX_TOKEN_LEN,
            required: RequiredClaims::HTI_2_0,
            typ: None,
        })
    }

    /// Replaces the allowed algorithms. HMAC and `none` cannot be named, so never allowed.
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: AlgorithmSet) -> Policy {
        self.algorithms = algorithms;
        self
    }

    /// Adds one algorithm to the allowed set.
    #[must_use]
    pub fn allow(mut self, alg: Algorithm) -> Policy {
        self.algorithms = self.algorithms.with(alg);
        self
    }

    /// Sets the clock leeway in seconds.
    #[must_use]
    pub fn with_leeway(mut self, seconds: u64) -> Policy {
        self.leeway = seconds;
        self
    }

    /// Sets the maximum lifetime `exp - iat` in seconds.
    #[must_use]
    pub fn with_max_lifetime(mut self, seconds: u64) -> Policy {
        self.max_lifetime = seconds;
        self
    }

    /// Sets the maximum token length in bytes. A verifier's own buffer may bound it further.
    #[must_use]
    pub fn with_max_token_len(mut self, bytes: usize) -> Policy {
        self.max_token_len = bytes;
        self
    }

    /// Sets which of the optional claims are required.
    #[must_use]
    pub fn requiring(mut self, claims: RequiredClaims) -> Policy {
        self.required = claims;
        self
    }

    /// Requires the header's `typ` to be `typ` (compared ignoring ASCII case). Without this,
    /// `typ` may be absent or `JWT`.
    ///
    /// A `typ` longer than [`capacity::TYPE`] is [`Error::InvalidConfiguration`].
    pub fn expecting_type(mut self, typ: &str) -> Result<Policy, Error> {
        let mut owned = String::new();
        owned
            .push_str(typ)
            .map_err(|_| Error::InvalidConfiguration)?;
        self.typ = Some(owned);
        Ok(self)
    }

    /// The audience tokens must be addressed to.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The allowed algorithms.
    pub fn algorithms(&self) -> AlgorithmSet {
        self.algorithms
    }

    /// The clock leeway in seconds.
    pub fn leeway(&self) -> u64 {
        self.leeway
    }

    /// The maximum lifetime in seconds.
    pub fn max_lifetime(&self) -> u64 {
        self.max_lifetime
    }

    /// The maximum token length in bytes.
    pub fn max_token_len(&self) -> usize {
        self.max_token_len
    }

    /// The longest encrypted token (HTI:jwe) accepted: one whose content is a signed token
    /// of [`max_token_len`](Self::max_token_len) bytes, encrypted with the largest key
    /// (RSA-4096) and tag, with room for a 1 KiB protected header.
    pub fn max_encrypted_len(&self) -> usize {
        // Ciphertext: the content plus a padding block, base64url; encrypted key 512 bytes,
        // IV 16, tag 32, header 1 KiB, each base64url; four dots.
        let encoded = |bytes: usize| bytes.div_ceil(3).saturating_mul(4);
        encoded(self.max_token_len.saturating_add(16))
            .saturating_add(encoded(512) + encoded(16) + encoded(32) + encoded(1024) + 4)
    }

    /// The optional claims that are required.
    pub fn required(&self) -> RequiredClaims {
        self.required
    }

    /// Whether a header `typ` (or its absence) is acceptable.
    pub(crate) fn accepts_type(&self, typ: Option<&str>) -> bool {
        match (&self.typ, typ) {
            (Some(expected), Some(typ)) => typ.eq_ignore_ascii_case(expected),
            (Some(_), None) => false,
            (None, Some(typ)) => typ.eq_ignore_ascii_case("JWT"),
            (None, None) => true,
        }
    }

    /// Checks the time claims at `now` (Unix seconds), in this order: `exp` after `iat`;
    /// lifetime within the maximum; `iat` not in the future; `nbf` reached; not expired. The
    /// token-intrinsic faults come first because they say the issuer is misconfigured, which
    /// no retry will cure. All arithmetic saturates.
    ///
    /// ```
    /// use koppeltaal_core::{Error, Policy};
    /// let policy = Policy::new("Device/42")?;
    /// assert_eq!(policy.check_times(1000, 1300, None, 1100), Ok(()));
    /// assert_eq!(
    ///     policy.check_times(1000, 1300, None, 1360),
    ///     Err(Error::Expired { exp: 1300, now: 1360 })
    /// );
    /// assert_eq!(
    ///     policy.check_times(1000, 1301, None, 1100),
    ///     Err(Error::LifetimeTooLong { lifetime: 301, max: 300 })
    /// );
    /// # Ok::<(), Error>(())
    /// ```
    pub fn check_times(&self, iat: u64, exp: u64, nbf: Option<u64>, now: u64) -> Result<(), Error> {
        if exp <= iat {
            return Err(Error::ExpiresBeforeIssued);
        }
        if exp - iat > self.max_lifetime {
            return Err(Error::LifetimeTooLong {
                lifetime: exp - iat,
                max: self.max_lifetime,
            });
        }
        if iat > now.saturating_add(self.leeway) {
            return Err(Error::IssuedInFuture { iat, now });
        }
        if let Some(nbf) = nbf.filter(|nbf| *nbf > now.saturating_add(self.leeway)) {
            return Err(Error::NotYetValid { nbf, now });
        }
        if now >= exp.saturating_add(self.leeway) {
            return Err(Error::Expired { exp, now });
        }
        Ok(())
    }

    /// The time after which a token expiring at `exp` can be forgotten by a replay guard:
    /// from then on it is refused as expired anyway.
    pub fn forget_after(&self, exp: u64) -> u64 {
        exp.saturating_add(self.leeway)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_boundaries() {
        let policy = Policy::new("a").unwrap().with_leeway(10);
        let check =
            |iat, exp, nbf, now| policy.check_times(iat, exp, nbf, now).map_err(|e| e.name());
        assert_eq!(check(100, 400, None, 409), Ok(()));
        assert_eq!(check(100, 400, None, 410), Err("Expired"));
        assert_eq!(check(110, 400, None, 100), Ok(()));
        assert_eq!(check(111, 400, None, 100), Err("IssuedInFuture"));
        assert_eq!(check(100, 400, Some(110), 100), Ok(()));
        assert_eq!(check(100, 400, Some(111), 100), Err("NotYetValid"));
        assert_eq!(check(100, 400, None, 200), Ok(()));
        assert_eq!(check(100, 401, None, 200), Err("LifetimeTooLong"));
        assert_eq!(check(100, 100, None, 100), Err("ExpiresBeforeIssued"));
        assert_eq!(
            check(u64::MAX - 1, u64::MAX, None, 0),
            Err("IssuedInFuture")
        );
        assert_eq!(check(0, u64::MAX, None, 0), Err("LifetimeTooLong"));
        assert_eq!(
            check(u64::MAX - 300, u64::MAX, None, u64::MAX - 100),
            Ok(())
        );
        assert_eq!(
            check(u64::MAX - 300, u64::MAX, None, u64::MAX),
            Err("Expired")
        );
    }

    #[test]
    fn type_acceptance() {
        let default = Policy::new("a").unwrap();
        assert!(default.accepts_type(None));
        assert!(default.accepts_type(Some("jwt")));
        assert!(!default.accepts_type(Some("at+jwt")));
        let access = default.expecting_type("at+jwt").unwrap();
        assert!(access.accepts_type(Some("AT+JWT")));
        assert!(!access.accepts_type(None));
    }

    #[test]
    fn refuses_unusable_audiences() {
        assert_eq!(Policy::new(""), Err(Error::InvalidConfiguration));
        let long = [b'a'; capacity::AUDIENCE + 1];
        let long = core::str::from_utf8(&long).unwrap();
        assert_eq!(Policy::new(long), Err(Error::InvalidConfiguration));
    }
}
