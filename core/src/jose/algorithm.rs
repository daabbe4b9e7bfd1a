//! The signature algorithms of HTI 2.0 and the policy's allowlist of them.

use crate::error::Error;

/// A JWS signature algorithm (RFC 7518 §3.1) that HTI 2.0 requires a module to accept.
///
/// HMAC (`HS*`) and `none` are deliberately absent: they cannot be named, so they cannot be
/// allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512: what the Koppeltaal environment signs with.
    RS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// ECDSA on P-521 with SHA-512.
    ES512,
}

impl Algorithm {
    /// All algorithms, in a fixed order.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
    ];

    /// The JOSE name (`"RS512"`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
        }
    }

    /// Reads the `alg` of a JOSE header.
    ///
    /// Names are case-sensitive (RFC 7515 §4.1.1), except that `none` and `HS*` are recognised
    /// in any letter case so that they are reported as [`Error::ForbiddenAlgorithm`] rather than
    /// as merely unknown.
    ///
    /// ```
    /// use koppeltaal_core::{Algorithm, Error};
    /// assert_eq!(Algorithm::from_jose("RS512"), Ok(Algorithm::RS512));
    /// assert_eq!(Algorithm::from_jose("nOnE"), Err(Error::ForbiddenAlgorithm));
    /// assert_eq!(Algorithm::from_jose("rs512"), Err(Error::UnsupportedAlgorithm));
    /// ```
    pub fn from_jose(name: &str) -> Result<Algorithm, Error> {
        match name {
            "RS256" => Ok(Algorithm::RS256),
            "RS384" => Ok(Algorithm::RS384),
            "RS512" => Ok(Algorithm::RS512),
            "ES256" => Ok(Algorithm::ES256),
            "ES384" => Ok(Algorithm::ES384),
            "ES512" => Ok(Algorithm::ES512),
            _ if is_forbidden(name) => Err(Error::ForbiddenAlgorithm),
            _ => Err(Error::UnsupportedAlgorithm),
        }
    }

    /// Whether this is one of the RSASSA-PKCS1-v1_5 algorithms.
    pub const fn is_rsa(self) -> bool {
        matches!(self, Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512)
    }

    /// Whether this build can verify the algorithm (its cargo feature is on).
    pub const fn is_compiled_in(self) -> bool {
        match self {
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => cfg!(feature = "rs"),
            Algorithm::ES256 => cfg!(feature = "es256"),
            Algorithm::ES384 => cfg!(feature = "es384"),
            Algorithm::ES512 => cfg!(feature = "es512"),
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Algorithm::RS256 => 1 << 0,
            Algorithm::RS384 => 1 << 1,
            Algorithm::RS512 => 1 << 2,
            Algorithm::ES256 => 1 << 3,
            Algorithm::ES384 => 1 << 4,
            Algorithm::ES512 => 1 << 5,
        }
    }
}

/// `none`, `HS256`, `HS384`, `HS512` in any letter case.
fn is_forbidden(name: &str) -> bool {
    name.eq_ignore_ascii_case("none")
        || ["HS256", "HS384", "HS512"]
            .iter()
            .any(|hmac| name.eq_ignore_ascii_case(hmac))
}

/// A set of [`Algorithm`]s: the policy's allowlist.
///
/// ```
/// use koppeltaal_core::{Algorithm, AlgorithmSet};
/// let set = AlgorithmSet::only(Algorithm::RS512).with(Algorithm::ES256);
/// assert!(set.contains(Algorithm::ES256));
/// assert!(!set.contains(Algorithm::RS256));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct AlgorithmSet(u8);

impl AlgorithmSet {
    /// The empty set.
    pub const EMPTY: AlgorithmSet = AlgorithmSet(0);

    /// Every algorithm HTI 2.0 requires a module to accept.
    pub const HTI: AlgorithmSet = AlgorithmSet(0b11_1111);

    /// A set of one algorithm.
    pub const fn only(alg: Algorithm) -> AlgorithmSet {
        AlgorithmSet(alg.bit())
    }

    /// This set with `alg` added.
    #[must_use]
    pub const fn with(self, alg: Algorithm) -> AlgorithmSet {
        AlgorithmSet(self.0 | alg.bit())
    }

    /// This set with `alg` removed.
    #[must_use]
    pub const fn without(self, alg: Algorithm) -> AlgorithmSet {
        AlgorithmSet(self.0 & !alg.bit())
    }

    /// Whether `alg` is in the set.
    pub const fn contains(self, alg: Algorithm) -> bool {
        self.0 & alg.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The algorithms in the set, in the order of [`Algorithm::ALL`].
    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(move |alg| self.contains(*alg))
    }
}

impl FromIterator<Algorithm> for AlgorithmSet {
    fn from_iter<I: IntoIterator<Item = Algorithm>>(iter: I) -> Self {
        iter.into_iter()
            .fold(AlgorithmSet::EMPTY, AlgorithmSet::with)
    }
}
