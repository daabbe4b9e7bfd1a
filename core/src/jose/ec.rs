//! ES256, ES384 and ES512: ECDSA on the NIST curves through the RustCrypto `p256`, `p384` and
//! `p521` crates, with the JOSE signature form `r || s` (RFC 7518 §3.4).

use crate::error::Error;
use crate::jose::algorithm::Algorithm;
use crate::jose::jwk::KeyMaterial;

/// An elliptic curve of the JOSE `EC` key type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Curve {
    /// NIST P-256 (`"P-256"`), for ES256.
    P256,
    /// NIST P-384 (`"P-384"`), for ES384.
    P384,
    /// NIST P-521 (`"P-521"`), for ES512.
    P521,
}

impl Curve {
    /// The JWK `crv` name.
    pub const fn jose_name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    /// The one algorithm a key on this curve may verify.
    pub const fn algorithm(self) -> Algorithm {
        match self {
            Curve::P256 => Algorithm::ES256,
            Curve::P384 => Algorithm::ES384,
            Curve::P521 => Algorithm::ES512,
        }
    }

    /// Bytes of one coordinate, and of each of `r` and `s` in a signature.
    pub const fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The curve named by a JWK `crv`, if it is one of ours.
    pub fn from_jose(name: &str) -> Option<Curve> {
        [Curve::P256, Curve::P384, Curve::P521]
            .into_iter()
            .find(|curve| curve.jose_name() == name)
    }
}

/// The longest coordinate (P-521).
pub(crate) const MAX_COORDINATE_LEN: usize = 66;

/// Builds a verifying key from its affine coordinates, each exactly the curve's coordinate
/// length (RFC 7518 §6.2.1.2). The point must lie on the curve and not be the identity; a
/// curve whose feature is off gives a key refused as [`Error::KeyNotUsable`].
pub(crate) fn material(curve: Curve, x: &[u8], y: &[u8]) -> KeyMaterial {
    let len = curve.coordinate_len();
    if x.len() != len || y.len() != len {
        return KeyMaterial::Refused(Error::InvalidKey);
    }
    let mut point = [0u8; 1 + 2 * MAX_COORDINATE_LEN];
    point[0] = 0x04; // SEC1 uncompressed
    point[1..=len].copy_from_slice(x);
    point[1 + len..=2 * len].copy_from_slice(y);
    let point = &point[..=2 * len];
    let refused = KeyMaterial::Refused(Error::InvalidKey);
    match curve {
        #[cfg(feature = "es256")]
        Curve::P256 => {
            p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_or(refused, KeyMaterial::P256)
        }
        #[cfg(feature = "es384")]
        Curve::P384 => {
            p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_or(refused, KeyMaterial::P384)
        }
        #[cfg(feature = "es512")]
        Curve::P521 => {
            p521::ecdsa::VerifyingKey::from_sec1_bytes(point).map_or(refused, KeyMaterial::P521)
        }
        #[allow(unreachable_patterns)]
        _ => {
            let _ = (point, refused);
            KeyMaterial::Refused(Error::KeyNotUsable)
        }
    }
}

/// Verifies a JOSE ECDSA signature (`r || s`, each the coordinate length) over `message`
/// with `key`, which hashes with the curve's digest.
#[cfg(any(
    all(feature = "es256", not(target_pointer_width = "64")),
    feature = "es384",
    feature = "es512"
))]
macro_rules! verify_with {
    ($curve:ident, $key:expr, $message:expr, $signature:expr) => {{
        use signature::Verifier as _;
        if $signature.len() != 2 * Curve::$curve.coordinate_len() {
            return Err(Error::InvalidSignatureLength);
        }
        // `from_slice` refuses r or s that is zero or not below the group order.
        let signature =
            ecdsa::Signature::from_slice($signature).map_err(|_| Error::SignatureOutOfRange)?;
        $key.verify($message, &signature)
            .map_err(|_| Error::BadSignature)
    }};
}

#[cfg(feature = "es256")]
// Not inlined: each curve's verification keeps its own (large) frame, so that a device
// verifying RSA does not carry it. Likewise below.
#[inline(never)]
pub(crate) fn verify_p256(
    key: &p256::ecdsa::VerifyingKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    // On 64-bit targets the kernel's P-256 code (a fixed table for G, NAF, Jacobian
    // coordinates): several times faster than the `p256` crate's verification, which stays
    // for 32-bit targets (BENCHMARKS.md).
    #[cfg(target_pointer_width = "64")]
    {
        use sha2::Digest;
        let (r, s) = p256_signature_halves(signature)?;
        let (x, y) = p256_coordinates(key).ok_or(Error::InvalidKey)?;
        let digest = sha2::Sha256::digest(message);
        koppeltaal_kernel::p256::verify_prehashed(&x, &y, &digest, r, s).map_err(ecdsa_error)
    }
    #[cfg(not(target_pointer_width = "64"))]
    {
        use p256::ecdsa;
        verify_with!(P256, key, message, signature)
    }
}

/// A P-256 key's precomputed multiples (feature `es256-tables`, 64-bit targets), shared by
/// the clones of its [`Jwk`](crate::Jwk).
#[cfg(all(feature = "es256-tables", target_pointer_width = "64"))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct P256Table(alloc::sync::Arc<koppeltaal_kernel::p256::PublicKeyTable>);

/// The table of a P-256 key, or `None` for any other material.
#[cfg(all(feature = "es256-tables", target_pointer_width = "64"))]
pub(crate) fn p256_table(material: &KeyMaterial) -> Option<P256Table> {
    let KeyMaterial::P256(key) = material else {
        return None;
    };
    let (x, y) = p256_coordinates(key)?;
    // The point was checked when the key was read; a refusal here cannot happen, and would
    // leave the key to the table-less path.
    koppeltaal_kernel::p256::PublicKeyTable::new(&x, &y)
        .ok()
        .map(|table| P256Table(alloc::sync::Arc::new(table)))
}

/// [`verify_p256`] with the key's table.
#[cfg(all(feature = "es256-tables", target_pointer_width = "64"))]
#[inline(never)]
pub(crate) fn verify_p256_with(
    table: &P256Table,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    use sha2::Digest;
    let (r, s) = p256_signature_halves(signature)?;
    let digest = sha2::Sha256::digest(message);
    koppeltaal_kernel::p256::verify_prehashed_with(&table.0, &digest, r, s).map_err(ecdsa_error)
}

/// A JOSE P-256 signature's `r` and `s` (32 bytes each, RFC 7518 §3.4).
#[cfg(all(feature = "es256", target_pointer_width = "64"))]
fn p256_signature_halves(signature: &[u8]) -> Result<(&[u8; 32], &[u8; 32]), Error> {
    let (r, s) = signature
        .split_at_checked(Curve::P256.coordinate_len())
        .ok_or(Error::InvalidSignatureLength)?;
    match (<&[u8; 32]>::try_from(r), <&[u8; 32]>::try_from(s)) {
        (Ok(r), Ok(s)) => Ok((r, s)),
        _ => Err(Error::InvalidSignatureLength),
    }
}

/// A P-256 key's affine coordinates, big-endian (from its uncompressed SEC1 encoding).
#[cfg(all(feature = "es256", target_pointer_width = "64"))]
fn p256_coordinates(key: &p256::ecdsa::VerifyingKey) -> Option<([u8; 32], [u8; 32])> {
    let point = key.to_sec1_point(false);
    let coordinates = point.as_bytes().get(1..65)?;
    let (x, y) = coordinates.split_at(32);
    Some((x.try_into().ok()?, y.try_into().ok()?))
}

/// The core's error for the kernel's.
#[cfg(all(feature = "es256", target_pointer_width = "64"))]
fn ecdsa_error(error: koppeltaal_kernel::p256::EcdsaError) -> Error {
    use koppeltaal_kernel::p256::EcdsaError;
    match error {
        EcdsaError::OutOfRange => Error::SignatureOutOfRange,
        EcdsaError::InvalidKey => Error::InvalidKey,
        EcdsaError::BadSignature => Error::BadSignature,
    }
}

#[cfg(feature = "es384")]
#[inline(never)]
pub(crate) fn verify_p384(
    key: &p384::ecdsa::VerifyingKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    use p384::ecdsa;
    verify_with!(P384, key, message, signature)
}

#[cfg(feature = "es512")]
#[inline(never)]
pub(crate) fn verify_p521(
    key: &p521::ecdsa::VerifyingKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    use p521::ecdsa;
    verify_with!(P521, key, message, signature)
}
