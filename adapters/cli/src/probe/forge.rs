//! Compact JWS tokens with any header and claims, signed as told: the portal's key, another
//! key, HMAC keyed with the portal's public key, or not at all. The probe's raw material:
//! the production builders (`LaunchToken`) refuse to make a broken launch, which is right for
//! them and wrong here.

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{KeyInit, Mac};
use koppeltaal_host::{HostError, PrivateKey, keys::SharedSigner, random::os_rng};
use serde_json::{Map, Value};

/// How a forged token is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signing {
    /// With the portal's key (the header's `alg` must be one that key makes).
    Portal,
    /// With a key the module has never seen (the attacker's).
    Stranger,
    /// HMAC-SHA256 keyed with the portal's public key as PEM: the algorithm-confusion attack
    /// on verifiers that hand "the key" to whatever `alg` the token names.
    HmacWithPublicKey,
    /// An empty signature (for `alg: none`).
    Unsigned,
    /// The portal's signature with one bit flipped.
    Altered,
    /// With the portal's RSA key, as RS384 (the header's `alg` must say so).
    PortalRs384,
}

/// The keys a forger holds: the portal's (as the probe is the portal), and a stranger's.
pub(crate) struct Forger {
    portal: SharedSigner,
    /// The portal's key signing RS384, when it is an RSA key.
    portal_rs384: Option<SharedSigner>,
    portal_public_pem: String,
    stranger: SharedSigner,
    stranger_jwk: Value,
}

impl Forger {
    /// A forger for `portal`, with a freshly generated stranger key of the same algorithm.
    pub(crate) fn new(portal: &PrivateKey) -> Result<Forger, HostError> {
        let alg = portal.default_algorithm();
        let stranger = match portal.rsa_bits() {
            Some(bits) => PrivateKey::generate_rsa(alg, bits)?,
            None => PrivateKey::generate(alg)?,
        };
        let stranger_jwks: Value =
            serde_json::from_str(&koppeltaal_host::keys::jwks_document(&[&stranger])?)
                .map_err(|error| HostError::Key(error.to_string()))?;
        Ok(Forger {
            portal: portal.signer()?,
            portal_rs384: portal
                .rsa_bits()
                .map(|_| portal.signer_for(koppeltaal_host::Algorithm::RS384))
                .transpose()?,
            portal_public_pem: portal.public_pem()?,
            stranger: stranger.signer()?,
            stranger_jwk: stranger_jwks["keys"][0].clone(),
        })
    }

    /// The portal key's `alg` (what its JWKS publishes).
    pub(crate) fn portal_algorithm(&self) -> &'static str {
        self.portal.algorithm().as_str()
    }

    /// Whether the portal's key can sign RS384 (it is an RSA key).
    pub(crate) fn signs_rs384(&self) -> bool {
        self.portal_rs384.is_some()
    }

    /// The portal key's `kid`.
    pub(crate) fn portal_key_id(&self) -> &str {
        self.portal.key_id()
    }

    /// The stranger key's `kid`.
    pub(crate) fn stranger_key_id(&self) -> &str {
        self.stranger.key_id()
    }

    /// The stranger's public key as a JWK (for an embedded `jwk` header or a `jku` document).
    pub(crate) fn stranger_jwk(&self) -> &Value {
        &self.stranger_jwk
    }

    /// A compact JWS of `header` and `claims`, signed as `signing` says.
    pub(crate) fn token(
        &self,
        header: &Map<String, Value>,
        claims: &Map<String, Value>,
        signing: Signing,
    ) -> Result<String, HostError> {
        let signing_input = format!(
            "{}.{}",
            Base64UrlUnpadded::encode_string(Value::Object(header.clone()).to_string().as_bytes()),
            Base64UrlUnpadded::encode_string(Value::Object(claims.clone()).to_string().as_bytes()),
        );
        let signature = match signing {
            Signing::Portal => sign(&self.portal, &signing_input)?,
            Signing::Stranger => sign(&self.stranger, &signing_input)?,
            Signing::PortalRs384 => match &self.portal_rs384 {
                Some(signer) => sign(signer, &signing_input)?,
                None => return Err(HostError::Key("the portal key is not an RSA key".into())),
            },
            Signing::Altered => {
                let mut signature = sign(&self.portal, &signing_input)?;
                let middle = signature.len() / 2;
                signature[middle] ^= 0x01;
                signature
            }
            Signing::HmacWithPublicKey => {
                let mut mac =
                    hmac::Hmac::<sha2::Sha256>::new_from_slice(self.portal_public_pem.as_bytes())
                        .map_err(|error| HostError::Key(error.to_string()))?;
                mac.update(signing_input.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            Signing::Unsigned => Vec::new(),
        };
        Ok(format!(
            "{signing_input}.{}",
            Base64UrlUnpadded::encode_string(&signature)
        ))
    }
}

fn sign(signer: &SharedSigner, signing_input: &str) -> Result<Vec<u8>, HostError> {
    let mut signature = vec![0u8; 1024];
    let length = signer.sign(signing_input.as_bytes(), &mut os_rng(), &mut signature)?;
    signature.truncate(length);
    Ok(signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use koppeltaal_core::Algorithm;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn each_signing_gives_the_signature_it_names() {
        let portal = PrivateKey::generate(Algorithm::ES256).unwrap();
        let forger = Forger::new(&portal).unwrap();
        let header = object(json!({"alg": "ES256", "kid": forger.portal_key_id()}));
        let claims = object(json!({"sub": "Patient/1"}));
        let signature_of = |signing| {
            let token = forger.token(&header, &claims, signing).unwrap();
            let segment = token.rsplit('.').next().unwrap().to_owned();
            Base64UrlUnpadded::decode_vec(&segment).unwrap()
        };
        assert_eq!(signature_of(Signing::Portal).len(), 64);
        assert_eq!(signature_of(Signing::Unsigned), Vec::<u8>::new());
        assert_eq!(signature_of(Signing::HmacWithPublicKey).len(), 32);
        let (genuine, altered) = (
            signature_of(Signing::Portal),
            signature_of(Signing::Altered),
        );
        assert_eq!(genuine.len(), altered.len());
        assert_ne!(forger.portal_key_id(), forger.stranger_key_id());
        assert_eq!(forger.stranger_jwk()["kid"], forger.stranger_key_id());
    }
}
