//! The signer trait: what produces a JWS signature, in memory or in a secure element.

use rand_core::CryptoRng;

use crate::error::Error;
use crate::jose::algorithm::Algorithm;

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
