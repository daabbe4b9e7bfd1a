//! RSASSA-PKCS1-v1_5 verification (RS256, RS384, RS512) with keys of 2048 to 4096 bits.

mod emsa;

pub use emsa::HashAlgorithm;

use crate::error::Error;
use koppeltaal_kernel::{
    MAX_WORDS, Modulus, WORD_BITS, WORD_BYTES, Word, from_be_bytes, ge, to_be_bytes,
};

const MIN_BITS: usize = RsaPublicKey::MIN_BITS;
const MAX_BITS: usize = RsaPublicKey::MAX_BITS;
const MAX_BYTES: usize = RsaPublicKey::MAX_BYTES;

/// Limb counts of the three arithmetic sizes; a key runs on the smallest that holds it.
const WORDS_2048: usize = 2048 / WORD_BITS;
const WORDS_3072: usize = 3072 / WORD_BITS;
const WORDS_4096: usize = 4096 / WORD_BITS;

/// An RSA public key prepared for verification: the Montgomery constants are computed once,
/// when the key is loaded, and no verification allocates.
///
/// With the feature `compact-rsa-keys` a key keeps only its modulus (512 bytes less per key,
/// about half the size), and `R² mod n` is recomputed by every verification, which then takes
/// about 1.8 times as long: for a device whose RAM is scarcer than its milliseconds.
///
/// ```
/// use koppeltaal_core::{Error, RsaPublicKey};
/// // A 1024-bit modulus is refused, naming its size.
/// let mut n = [0xffu8; 128];
/// n[127] = 0xfb;
/// assert_eq!(
///     RsaPublicKey::from_be_bytes(&n, &[1, 0, 1]).err(),
///     Some(Error::KeyTooSmall { bits: 1024 })
/// );
/// ```
#[derive(Clone)]
pub struct RsaPublicKey {
    /// The modulus, little-endian limbs, zero above its length.
    n: [Word; MAX_WORDS],
    /// `R² mod n` for the key's arithmetic size.
    #[cfg(not(feature = "compact-rsa-keys"))]
    r2: [Word; MAX_WORDS],
    /// The public exponent.
    e: u64,
    /// Modulus length in bits.
    bits: u16,
}

impl core::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("bits", &self.bits)
            .field("e", &self.e)
            .finish_non_exhaustive()
    }
}

impl PartialEq for RsaPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n && self.e == other.e
    }
}

impl Eq for RsaPublicKey {}

impl RsaPublicKey {
    /// The smallest modulus accepted, in bits.
    pub const MIN_BITS: usize = 2048;
    /// The largest modulus accepted, in bits.
    pub const MAX_BITS: usize = 4096;
    /// The longest modulus (and signature) accepted, in bytes.
    pub const MAX_BYTES: usize = Self::MAX_BITS / 8;

    /// Loads a key from its big-endian modulus and exponent (as in a JWK's `n` and `e`).
    ///
    /// Leading zero bytes are tolerated (some encoders emit them). Refuses a modulus outside
    /// 2048..=4096 bits ([`Error::KeyTooSmall`], [`Error::KeyTooLarge`]), an even modulus, and
    /// an exponent that is even, below 3 or wider than 64 bits
    /// ([`Error::InvalidKey`]).
    pub fn from_be_bytes(modulus: &[u8], exponent: &[u8]) -> Result<RsaPublicKey, Error> {
        let mut key = RsaPublicKey::unloaded();
        key.load(modulus, exponent)?;
        Ok(key)
    }

    /// A key of no modulus, to be [`load`](Self::load)ed in place.
    pub(crate) const fn unloaded() -> RsaPublicKey {
        RsaPublicKey {
            n: [0; MAX_WORDS],
            #[cfg(not(feature = "compact-rsa-keys"))]
            r2: [0; MAX_WORDS],
            e: 0,
            bits: 0,
        }
    }

    /// [`from_be_bytes`](Self::from_be_bytes) into `self`, in place (a key set loading into
    /// a `static` builds no key on the stack). On an error `self` is unusable.
    pub(crate) fn load(&mut self, modulus: &[u8], exponent: &[u8]) -> Result<(), Error> {
        let modulus = strip_leading_zeros(modulus);
        let bits = bit_length(modulus);
        if bits < MIN_BITS {
            return Err(Error::KeyTooSmall { bits: bits as u16 });
        }
        if bits > MAX_BITS {
            return Err(Error::KeyTooLarge {
                bits: u16::try_from(bits).unwrap_or(u16::MAX),
            });
        }
        if modulus.last().is_none_or(|low| low & 1 == 0) {
            return Err(Error::InvalidKey);
        }
        let exponent = strip_leading_zeros(exponent);
        if exponent.len() > 8 {
            return Err(Error::InvalidKey);
        }
        let e = exponent
            .iter()
            .fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte));
        if e < 3 || e & 1 == 0 {
            return Err(Error::InvalidKey);
        }
        self.e = e;
        self.bits = bits as u16;
        from_be_bytes(modulus, &mut self.n);
        #[cfg(not(feature = "compact-rsa-keys"))]
        match self.words() {
            WORDS_2048 => self.precompute::<WORDS_2048>(),
            WORDS_3072 => self.precompute::<WORDS_3072>(),
            _ => self.precompute::<WORDS_4096>(),
        }
        Ok(())
    }

    /// The modulus length in bits.
    pub fn bits(&self) -> usize {
        usize::from(self.bits)
    }

    /// The modulus length in bytes: the length of every signature of this key.
    pub fn modulus_len(&self) -> usize {
        self.bits().div_ceil(8)
    }

    /// The public exponent.
    pub fn exponent(&self) -> u64 {
        self.e
    }

    /// Writes the modulus big-endian into `out[..self.modulus_len()]`, returning that slice.
    pub fn modulus_be_bytes<'o>(&self, out: &'o mut [u8; MAX_BYTES]) -> &'o [u8] {
        let out = &mut out[..self.modulus_len()];
        to_be_bytes(&self.n, out);
        out
    }

    /// Verifies an RSASSA-PKCS1-v1_5 signature over a message whose `hash` is `digest`.
    ///
    /// The signature must be exactly [`modulus_len`](Self::modulus_len) bytes
    /// ([`Error::InvalidSignatureLength`]) and, as an integer, smaller than the modulus
    /// ([`Error::SignatureOutOfRange`]); anything else that fails is [`Error::BadSignature`].
    pub fn verify_digest(
        &self,
        hash: HashAlgorithm,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<(), Error> {
        let mut em = [0u8; MAX_BYTES];
        let em = self.public_operation(signature, &mut em)?;
        if emsa::is_valid_encoding(em, hash, digest) {
            Ok(())
        } else {
            Err(Error::BadSignature)
        }
    }

    /// The raw RSA public-key operation `signature^e mod n`, big-endian, exactly
    /// [`modulus_len`](Self::modulus_len) bytes, with no padding check: for differential
    /// testing against other implementations (feature `hazmat`). Never use it to verify.
    #[cfg(feature = "hazmat")]
    pub fn raw_public_operation<'o>(
        &self,
        signature: &[u8],
        out: &'o mut [u8; MAX_BYTES],
    ) -> Result<&'o [u8], Error> {
        self.public_operation(signature, out)
    }

    /// `signature^e mod n` into `out`, after the length and range checks.
    fn public_operation<'o>(
        &self,
        signature: &[u8],
        out: &'o mut [u8; MAX_BYTES],
    ) -> Result<&'o [u8], Error> {
        let k = self.modulus_len();
        if signature.len() != k {
            return Err(Error::InvalidSignatureLength);
        }
        let mut x = [0 as Word; MAX_WORDS];
        from_be_bytes(signature, &mut x);
        if ge(&x, &self.n) {
            return Err(Error::SignatureOutOfRange);
        }
        // Fails closed: if the arithmetic could not be set up, `x` still holds the signature
        // itself, which must never be taken for `signature^e`.
        let exponentiated = match self.words() {
            WORDS_2048 => self.public_op::<WORDS_2048>(&mut x),
            WORDS_3072 => self.public_op::<WORDS_3072>(&mut x),
            _ => self.public_op::<WORDS_4096>(&mut x),
        };
        if !exponentiated {
            return Err(Error::BadSignature);
        }
        let out = &mut out[..k];
        to_be_bytes(&x, out);
        Ok(out)
    }

    /// The limb count of the arithmetic size this key runs on.
    fn words(&self) -> usize {
        let used = self.bits().div_ceil(WORD_BITS);
        if used <= WORDS_2048 {
            WORDS_2048
        } else if used <= WORDS_3072 {
            WORDS_3072
        } else {
            WORDS_4096
        }
    }

    /// Stores `R² mod n`, once, when the key is loaded.
    #[cfg(not(feature = "compact-rsa-keys"))]
    #[inline(never)]
    fn precompute<const N: usize>(&mut self) {
        let mut wide = [0 as Word; 2 * MAX_WORDS];
        let (Some(n), Some(r2)) = (self.n.first_chunk::<N>(), self.r2.first_chunk_mut::<N>())
        else {
            return;
        };
        let Some(modulus) = Modulus::new(n) else {
            return; // even: refused by `load` before this is called
        };
        modulus.r_squared(r2, &mut wide[..2 * N]);
    }

    /// `x = x^e mod n`. Not inlined: one size class's buffers on the stack at a time (this
    /// matters on a device, where three inlined classes would triple the frame).
    /// Returns whether it did: `false` (`x` untouched) only if `n` is not a usable modulus,
    /// which `load` already refuses.
    #[inline(never)]
    fn public_op<const N: usize>(&self, x: &mut [Word; MAX_WORDS]) -> bool {
        let mut r2 = [0 as Word; N];
        let mut wide = [0 as Word; 2 * MAX_WORDS];
        let wide = &mut wide[..2 * N];
        let (Some(n), Some(x)) = (self.n.first_chunk::<N>(), x.first_chunk_mut::<N>()) else {
            return false;
        };
        let Some(modulus) = Modulus::new(n) else {
            return false; // even: refused by `load`
        };
        #[cfg(not(feature = "compact-rsa-keys"))]
        if let Some(stored) = self.r2.first_chunk::<N>() {
            r2 = *stored;
        }
        #[cfg(feature = "compact-rsa-keys")]
        modulus.r_squared(&mut r2, wide);
        modulus.pow_assign(x, self.e, &mut r2, wide);
        true
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(bytes.len());
    &bytes[first..]
}

/// Bit length of a big-endian number without leading zero bytes.
fn bit_length(bytes: &[u8]) -> usize {
    match bytes.first() {
        None => 0,
        Some(top) => bytes.len() * 8 - top.leading_zeros() as usize,
    }
}

// Compile-time check that the byte and word sizes agree.
const _: () = assert!(MAX_WORDS * WORD_BYTES == MAX_BYTES);

#[cfg(test)]
mod tests {
    use super::*;

    /// `load` refuses an even modulus, so the only way to reach a modulus the arithmetic
    /// cannot use is to break a loaded key: the public operation must then refuse, not hand
    /// back the signature unexponentiated (a "signature" equal to the expected encoding would
    /// otherwise verify).
    #[test]
    fn a_modulus_the_arithmetic_cannot_use_fails_closed() {
        let mut modulus = [0xc0u8; 256];
        modulus[255] = 0xc1;
        let mut key = RsaPublicKey::from_be_bytes(&modulus, &[1, 0, 1]).expect("a 2048-bit key");
        let signature = [0x01u8; 256];
        let mut out = [0u8; MAX_BYTES];
        assert!(key.public_operation(&signature, &mut out).is_ok());
        key.n[0] &= !1;
        assert_eq!(
            key.public_operation(&signature, &mut out),
            Err(Error::BadSignature)
        );
    }
}
