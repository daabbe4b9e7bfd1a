//! Public keys from a JWKS document (RFC 7517), prepared once for verification.

use heapless::{String, Vec};

use crate::capacity;
use crate::codec::base64url;
use crate::codec::json::{self, JsonStr, Members, Value};
use crate::error::{Error, Part};
use crate::jose::algorithm::Algorithm;
use crate::jose::ec::{self, Curve};
#[cfg(feature = "rs")]
use crate::jose::rsa::RsaPublicKey;

/// Most members accepted in one JWK object or at the top of a JWKS document.
const MAX_JWK_MEMBERS: usize = 64;

/// The key material of a [`Jwk`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[allow(
    clippy::large_enum_variant,
    reason = "no allocator: a key set stores its keys inline, sized for the largest"
)]
pub enum KeyMaterial {
    /// An RSA key of 2048 to 4096 bits, with its Montgomery constants precomputed.
    #[cfg(feature = "rs")]
    Rsa(RsaPublicKey),
    /// A P-256 key (ES256 only), a point checked to be on the curve.
    #[cfg(feature = "es256")]
    P256(p256::ecdsa::VerifyingKey),
    /// A P-384 key (ES384 only), a point checked to be on the curve.
    #[cfg(feature = "es384")]
    P384(p384::ecdsa::VerifyingKey),
    /// A P-521 key (ES512 only), a point checked to be on the curve.
    #[cfg(feature = "es512")]
    P521(p521::ecdsa::VerifyingKey),
    /// A key that was published but cannot be used; the error says why (for example
    /// [`Error::KeyTooSmall`]) and is what a token naming this key's `kid` gets.
    Refused(Error),
}

/// One key of a key set: its id, what it may be used for, and its material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jwk {
    kid: Option<String<{ capacity::KEY_ID }>>,
    /// `false` when `use` is present and is not `sig`, or `key_ops` is present and lacks
    /// `verify`.
    for_signatures: bool,
    /// The `alg` the key is bound to; `Err(())` when it names an algorithm not implemented here.
    alg: Option<Result<Algorithm, ()>>,
    material: KeyMaterial,
    /// The multiples of a P-256 key, built when it was loaded.
    #[cfg(all(feature = "es256-tables", target_pointer_width = "64"))]
    p256_table: Option<ec::P256Table>,
}

impl Jwk {
    /// A signature key with the given id, usable for every algorithm of its type.
    ///
    /// A `kid` longer than [`capacity::KEY_ID`] is [`Error::ValueTooLong`].
    #[cfg(feature = "rs")]
    pub fn rsa(kid: &str, key: RsaPublicKey) -> Result<Jwk, Error> {
        let mut owned = String::new();
        owned
            .push_str(kid)
            .map_err(|_| Error::ValueTooLong("kid"))?;
        Ok(Jwk {
            kid: Some(owned),
            for_signatures: true,
            alg: None,
            material: KeyMaterial::Rsa(key),
            #[cfg(all(feature = "es256-tables", target_pointer_width = "64"))]
            p256_table: None,
        })
    }

    /// This key bound to one algorithm, as a JWK's `alg` member does.
    #[must_use]
    pub fn bound_to(mut self, alg: Algorithm) -> Jwk {
        self.alg = Some(Ok(alg));
        self
    }

    /// The key id, if the key has one.
    pub fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithm the key is bound to, if its JWK names one this crate implements.
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.alg.and_then(Result::ok)
    }

    /// The key material.
    pub fn material(&self) -> &KeyMaterial {
        &self.material
    }

    /// Checks that this key may verify a token signed with `alg`: a signature key, bound to
    /// that algorithm or to none, of the matching type, and not refused at load time.
    pub fn usable_for(&self, alg: Algorithm) -> Result<(), Error> {
        let type_matches = match &self.material {
            KeyMaterial::Refused(reason) => return Err(*reason),
            #[cfg(feature = "rs")]
            KeyMaterial::Rsa(_) => alg.is_rsa(),
            #[cfg(feature = "es256")]
            KeyMaterial::P256(_) => alg == Algorithm::ES256,
            #[cfg(feature = "es384")]
            KeyMaterial::P384(_) => alg == Algorithm::ES384,
            #[cfg(feature = "es512")]
            KeyMaterial::P521(_) => alg == Algorithm::ES512,
        };
        let bound_elsewhere = self.alg.is_some_and(|bound| bound != Ok(alg));
        if self.for_signatures && !bound_elsewhere && type_matches {
            Ok(())
        } else {
            Err(Error::KeyNotUsable)
        }
    }

    /// Verifies a JWS signature made with `alg` over `signing_input` (for a compact JWS, the
    /// bytes `header.payload`), after checking the key may be used for `alg`.
    ///
    /// The signature is in JOSE form: for RSA the modulus length, for ECDSA `r || s`.
    pub fn verify(
        &self,
        alg: Algorithm,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), Error> {
        self.usable_for(alg)?;
        match &self.material {
            #[cfg(feature = "rs")]
            KeyMaterial::Rsa(key) => verify_rsa(key, alg, signing_input, signature),
            #[cfg(feature = "es256")]
            KeyMaterial::P256(key) => {
                #[cfg(all(feature = "es256-tables", target_pointer_width = "64"))]
                if let Some(table) = &self.p256_table {
                    return ec::verify_p256_with(table, signing_input, signature);
                }
                ec::verify_p256(key, signing_input, signature)
            }
            #[cfg(feature = "es384")]
            KeyMaterial::P384(key) => ec::verify_p384(key, signing_input, signature),
            #[cfg(feature = "es512")]
            KeyMaterial::P521(key) => ec::verify_p521(key, signing_input, signature),
            KeyMaterial::Refused(reason) => Err(*reason),
        }
    }

    /// A slot for [`fill`](Self::fill) to load a key into.
    fn unloaded() -> Jwk {
        Jwk {
            kid: None,
            for_signatures: false,
            alg: None,
            material: KeyMaterial::Refused(Error::KeyNotUsable),
            #[cfg(all(feature = "es256-tables", target_pointer_width = "64"))]
            p256_table: None,
        }
    }

    /// Loads the key a JWK's members describe into `self`, in place. A key that cannot be
    /// used is still loaded, refused with its reason; only a malformed `kid` is an error.
    fn fill(&mut self, record: &JwkRecord<'_>, seen: u64) -> Result<(), Error> {
        let has = |index: usize| seen & (1 << index) != 0;
        self.kid = None;
        if let Some(raw) = record.kid {
            let mut owned = String::new();
            match raw.unescape_into(&mut owned) {
                Ok(true) => self.kid = Some(owned),
                Ok(false) => return Err(Error::ValueTooLong("kid")),
                Err(_) => return Err(Error::InvalidJson(Part::KeySet)),
            }
        }
        self.for_signatures =
            record.use_is_sig.unwrap_or(true) && (!has(JwkRecord::KEY_OPS) || record.ops_verify);
        self.alg = match record.alg {
            None => None,
            Some(raw) => {
                let mut name = String::<16>::new();
                Some(match raw.unescape_into(&mut name) {
                    Ok(true) => Algorithm::from_jose(&name).map_err(|_| ()),
                    _ => Err(()),
                })
            }
        };
        match record.kty {
            Some(kty) if kty.eq_str("RSA") == Ok(true) => load_rsa(record, &mut self.material),
            Some(kty) if kty.eq_str("EC") == Ok(true) => self.material = ec_material(record),
            _ => self.material = KeyMaterial::Refused(Error::KeyNotUsable),
        }
        #[cfg(all(feature = "es256-tables", target_pointer_width = "64"))]
        {
            self.p256_table = ec::p256_table(&self.material);
        }
        Ok(())
    }
}

/// RSASSA-PKCS1-v1_5 with the hash `alg` names (RS256, RS384 or RS512). Not inlined, as the
/// curves' verifications are not: one family's frame on the stack at a time.
#[cfg(feature = "rs")]
#[inline(never)]
fn verify_rsa(
    key: &RsaPublicKey,
    alg: Algorithm,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    use crate::jose::rsa::HashAlgorithm;
    use sha2::{Digest, Sha256, Sha384, Sha512};
    match alg {
        Algorithm::RS256 => key.verify_digest(
            HashAlgorithm::Sha256,
            &Sha256::digest(signing_input),
            signature,
        ),
        Algorithm::RS384 => key.verify_digest(
            HashAlgorithm::Sha384,
            &Sha384::digest(signing_input),
            signature,
        ),
        _ => key.verify_digest(
            HashAlgorithm::Sha512,
            &Sha512::digest(signing_input),
            signature,
        ),
    }
}

/// Loads an RSA JWK's `n` and `e` into `material`, in place: the key (up to 1 KiB) is built
/// where it is kept, not on the stack.
#[cfg(feature = "rs")]
fn load_rsa(record: &JwkRecord<'_>, material: &mut KeyMaterial) {
    let (Some(n), Some(e)) = (record.n, record.e) else {
        *material = KeyMaterial::Refused(Error::InvalidKey);
        return;
    };
    let mut modulus = [0u8; RsaPublicKey::MAX_BYTES];
    let modulus = match base64url::decode(Part::KeySet, n.0.as_bytes(), &mut modulus) {
        Ok(modulus) => modulus,
        // Longer than a 4096-bit modulus (leading zero bytes aside, which nobody pads with
        // hundreds of): report the size it would have.
        Err(Error::TokenTooLarge) => {
            let bits = base64url::decoded_len(n.0.len()).map_or(usize::MAX, |len| len * 8);
            let bits = u16::try_from(bits).unwrap_or(u16::MAX);
            *material = KeyMaterial::Refused(Error::KeyTooLarge { bits });
            return;
        }
        Err(_) => {
            *material = KeyMaterial::Refused(Error::InvalidKey);
            return;
        }
    };
    let mut exponent = [0u8; 16];
    let Ok(exponent) = base64url::decode(Part::KeySet, e.0.as_bytes(), &mut exponent) else {
        *material = KeyMaterial::Refused(Error::InvalidKey);
        return;
    };
    if !matches!(material, KeyMaterial::Rsa(_)) {
        *material = KeyMaterial::Rsa(RsaPublicKey::unloaded());
    }
    if let KeyMaterial::Rsa(key) = material
        && let Err(reason) = key.load(modulus, exponent)
    {
        *material = KeyMaterial::Refused(reason);
    }
}

#[cfg(not(feature = "rs"))]
fn load_rsa(_: &JwkRecord<'_>, material: &mut KeyMaterial) {
    *material = KeyMaterial::Refused(Error::KeyNotUsable);
}

fn ec_material(record: &JwkRecord<'_>) -> KeyMaterial {
    let (Some(crv), Some(x), Some(y)) = (record.crv, record.x, record.y) else {
        return KeyMaterial::Refused(Error::InvalidKey);
    };
    let mut name = String::<8>::new();
    let curve = match crv.unescape_into(&mut name) {
        Ok(true) => Curve::from_jose(&name),
        _ => None,
    };
    let Some(curve) = curve else {
        // secp256k1, brainpool and the like: not a key HTI lets us use.
        return KeyMaterial::Refused(Error::KeyNotUsable);
    };
    let (mut x_bytes, mut y_bytes) = ([0u8; ec::MAX_COORDINATE_LEN], [0u8; ec::MAX_COORDINATE_LEN]);
    let decoded = base64url::decode(Part::KeySet, x.0.as_bytes(), &mut x_bytes).and_then(|x| {
        Ok((
            x,
            base64url::decode(Part::KeySet, y.0.as_bytes(), &mut y_bytes)?,
        ))
    });
    match decoded {
        Ok((x, y)) => ec::material(curve, x, y),
        Err(_) => KeyMaterial::Refused(Error::InvalidKey),
    }
}

/// The members of one JWK as read, borrowed from the document.
#[derive(Default)]
struct JwkRecord<'de> {
    kty: Option<JsonStr<'de>>,
    kid: Option<JsonStr<'de>>,
    use_is_sig: Option<bool>,
    ops_verify: bool,
    alg: Option<JsonStr<'de>>,
    n: Option<JsonStr<'de>>,
    e: Option<JsonStr<'de>>,
    crv: Option<JsonStr<'de>>,
    x: Option<JsonStr<'de>>,
    y: Option<JsonStr<'de>>,
}

impl JwkRecord<'_> {
    const KEY_OPS: usize = 3;
}

impl<'de> Members<'de> for JwkRecord<'de> {
    const NAMES: &'static [&'static str] = &[
        "kty", "kid", "use", "key_ops", "alg", "n", "e", "crv", "x", "y",
    ];

    fn member(&mut self, index: usize, value: Value<'_, 'de>) -> Result<(), Error> {
        match index {
            0 => self.kty = Some(value.borrowed_str()?),
            1 => self.kid = Some(value.borrowed_str()?),
            2 => {
                let usage = value.borrowed_str()?;
                self.use_is_sig = Some(usage.eq_str("sig") == Ok(true));
            }
            3 => {
                let ops_verify = &mut self.ops_verify;
                value.strings(|op| {
                    *ops_verify |= op.eq_str("verify") == Ok(true);
                    Ok(())
                })?;
            }
            4 => self.alg = Some(value.borrowed_str()?),
            5 => self.n = Some(value.borrowed_str()?),
            6 => self.e = Some(value.borrowed_str()?),
            7 => self.crv = Some(value.borrowed_str()?),
            8 => self.x = Some(value.borrowed_str()?),
            _ => self.y = Some(value.borrowed_str()?),
        }
        Ok(())
    }
}

/// The `keys` array of a JWKS document, read straight into a key set.
struct KeySetRecord<'k, const N: usize> {
    keys: &'k mut Vec<Jwk, N>,
}

impl<'de, const N: usize> Members<'de> for KeySetRecord<'_, N> {
    const NAMES: &'static [&'static str] = &["keys"];

    fn member(&mut self, _: usize, value: Value<'_, 'de>) -> Result<(), Error> {
        let keys = &mut *self.keys;
        value.objects(|record: JwkRecord<'de>, seen| {
            keys.push(Jwk::unloaded()).map_err(|_| Error::TooManyKeys)?;
            match keys.last_mut() {
                Some(slot) => slot.fill(&record, seen),
                None => Err(Error::TooManyKeys),
            }
        })
    }
}

/// Up to `N` public keys of one issuer, parsed from its JWKS and ready to verify with.
///
/// Every key of the document takes a slot, including those that cannot be used (too small,
/// malformed, of a type or algorithm not implemented here): they are kept with the reason, so
/// a token naming one gets that reason rather than [`Error::UnknownKeyId`].
///
/// ```
/// use koppeltaal_core::{Error, KeySet};
/// let jwks = br#"{"keys":[{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}]}"#;
/// let keys = KeySet::<4>::from_jwks(jwks)?;
/// assert_eq!(keys.len(), 1);
/// assert_eq!(keys.find("hmac").unwrap().material(),
///            &koppeltaal_core::KeyMaterial::Refused(Error::KeyNotUsable));
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySet<const N: usize> {
    keys: Vec<Jwk, N>,
}

impl<const N: usize> KeySet<N> {
    /// An empty key set.
    pub const fn new() -> KeySet<N> {
        KeySet { keys: Vec::new() }
    }

    /// Parses a JWKS document (`{"keys":[...]}`), preparing each usable key.
    ///
    /// Malformed JSON is [`Error::InvalidJson`]`(Part::KeySet)` (or another JSON error); a
    /// document without a `keys` array of objects is [`Error::InvalidKeySet`]; more than `N`
    /// keys is [`Error::TooManyKeys`].
    pub fn from_jwks(document: &[u8]) -> Result<KeySet<N>, Error> {
        let mut set = KeySet::new();
        set.load(document)?;
        Ok(set)
    }

    /// Replaces the keys with those of a JWKS document, parsing in place: no second key set
    /// is built on the stack (a device keeps its `KeySet` in a `static`). On an error the set
    /// is left empty. Errors as for [`from_jwks`](Self::from_jwks).
    pub fn load(&mut self, document: &[u8]) -> Result<(), Error> {
        self.keys.clear();
        let parsed = json::parse_object(
            document,
            Part::KeySet,
            MAX_JWK_MEMBERS,
            &mut KeySetRecord {
                keys: &mut self.keys,
            },
        )
        .map_err(|error| match error {
            Error::InvalidMemberType("keys") => Error::InvalidKeySet,
            other => other,
        })
        .and_then(|seen| {
            if seen == 0 {
                Err(Error::InvalidKeySet)
            } else {
                Ok(())
            }
        });
        if parsed.is_err() {
            self.keys.clear();
        }
        parsed
    }

    /// Adds a key; [`Error::TooManyKeys`] when the set is full.
    pub fn push(&mut self, key: Jwk) -> Result<(), Error> {
        self.keys.push(key).map_err(|_| Error::TooManyKeys)
    }

    /// The first key with id `kid`.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|key| key.key_id() == Some(kid))
    }

    /// The number of keys (usable or not).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// All keys.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_documents_that_are_not_key_sets() {
        assert_eq!(KeySet::<2>::from_jwks(b"{}"), Err(Error::InvalidKeySet));
        assert_eq!(
            KeySet::<2>::from_jwks(br#"{"keys":{}}"#),
            Err(Error::InvalidKeySet)
        );
        assert_eq!(
            KeySet::<2>::from_jwks(br#"{"keys":[1]}"#),
            Err(Error::InvalidKeySet)
        );
        assert_eq!(
            KeySet::<2>::from_jwks(br#"{"keys":["x"]}"#),
            Err(Error::InvalidKeySet)
        );
        assert_eq!(
            KeySet::<2>::from_jwks(b"[]"),
            Err(Error::InvalidJson(Part::KeySet))
        );
        assert_eq!(
            KeySet::<2>::from_jwks(br#"{"keys":[],"keys":[]}"#),
            Err(Error::DuplicateMember("keys"))
        );
        assert_eq!(
            KeySet::<2>::from_jwks(br#"{"keys":[]}"#).map(|set| set.len()),
            Ok(0)
        );
    }

    #[test]
    fn counts_every_key_against_capacity() {
        let three = br#"{"keys":[{"kty":"oct"},{"kty":"oct"},{"kty":"oct"}]}"#;
        assert_eq!(KeySet::<2>::from_jwks(three), Err(Error::TooManyKeys));
        assert_eq!(KeySet::<3>::from_jwks(three).map(|set| set.len()), Ok(3));
    }

    #[test]
    fn records_use_ops_and_alg() {
        let jwks = br#"{"keys":[
            {"kty":"oct","kid":"a","use":"enc"},
            {"kty":"oct","kid":"b","key_ops":["sign"]},
            {"kty":"oct","kid":"c","key_ops":["verify"],"alg":"RS512"},
            {"kty":"oct","kid":"d","alg":"PS512"}]}"#;
        let set = KeySet::<4>::from_jwks(jwks).unwrap();
        assert!(!set.find("a").unwrap().for_signatures);
        assert!(!set.find("b").unwrap().for_signatures);
        assert!(set.find("c").unwrap().for_signatures);
        assert_eq!(set.find("c").unwrap().algorithm(), Some(Algorithm::RS512));
        assert_eq!(set.find("d").unwrap().algorithm(), None);
        assert_eq!(set.find("d").unwrap().alg, Some(Err(())));
    }
}
