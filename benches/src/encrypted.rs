//! The cost of an encrypted launch (HTI:jwe) as portals send it today: RSA-2048 RSA-OAEP and
//! A128CBC-HS256 around an RS512 launch; the whole of it through `verify_encrypted` with each
//! of the host's unwrappers (AWS-LC, the default, and the `rsa` crate), each step alone, and
//! josekit (OpenSSL) decrypting the same tokens.

use std::time::{Duration, Instant};

use koppeltaal_core::{
    ContentEncryption, Error, Jwe, KeyManagement, KeySet, KeyUnwrapper, LaunchVerifier, Policy,
    ReplayGuard, RsaOaepKey, RsaOaepPublicKey, TrustedIssuer, encrypt_token,
};

use crate::cases::{Case, Fixture};
use crate::{AUDIENCE, ISSUER};

/// Encrypted launches and the keys to open them.
pub struct EncryptedFixture {
    /// The signed launches inside (their signature checks are the RS512-2048 case's).
    pub inner: Fixture,
    /// The same launches, encrypted to the module.
    pub tokens: Vec<String>,
    /// The module's decryption key in the `rsa` crate (the core's, and `no_std`'s).
    pub key: RsaOaepKey,
    /// The same key in AWS-LC (the host's default).
    pub aws_lc: koppeltaal_host::jwe::AwsLcOaepKey,
    /// The module's private key, PKCS#8 PEM (for the peer).
    pub private_pem: String,
}

impl EncryptedFixture {
    /// `count` launches issued at `iat`, encrypted as portals do today.
    pub fn new(count: usize, iat: u64) -> EncryptedFixture {
        use rsa::pkcs8::EncodePrivateKey;
        let inner = Fixture::new(Case::Rs512With2048, count, iat);
        let private = rsa::RsaPrivateKey::new(&mut rand::rng(), 2048).expect("RSA key");
        let recipient =
            RsaOaepPublicKey::new(private.to_public_key(), KeyManagement::RsaOaep, None)
                .expect("recipient");
        let tokens = inner
            .tokens
            .iter()
            .map(|signed| {
                encrypt_token(
                    signed,
                    &recipient,
                    ContentEncryption::A128CbcHs256,
                    &mut rand::rng(),
                )
                .expect("encrypted launch")
            })
            .collect();
        let private_pem = private
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .expect("PEM")
            .to_string();
        let host_key = koppeltaal_host::PrivateKey::from_pem(&private_pem).expect("host key");
        EncryptedFixture {
            inner,
            tokens,
            aws_lc: koppeltaal_host::jwe::AwsLcOaepKey::new(&host_key, None).expect("AWS-LC key"),
            key: RsaOaepKey::new(private, None).expect("decryption key"),
            private_pem,
        }
    }

    /// A verifier trusting the inner launches' portal.
    pub fn verifier(&self) -> Box<LaunchVerifier<TrustedIssuer<4>, ReplayGuard<512>>> {
        let keys = KeySet::from_jwks(self.inner.jwks.as_bytes()).expect("JWKS");
        let issuer = TrustedIssuer::new(ISSUER, keys).expect("issuer");
        Box::new(LaunchVerifier::new(
            issuer,
            Policy::new(AUDIENCE).expect("policy"),
            ReplayGuard::new(),
        ))
    }

    /// The encrypted key segment of token `index`, decoded.
    pub fn encrypted_key(&self, index: usize) -> Vec<u8> {
        crate::b64_decode(self.tokens[index].split('.').nth(1).expect("five segments"))
    }
}

/// A key "unwrapped" by passing it through, to time content decryption alone.
struct Clear<'k>(&'k [u8]);

impl KeyUnwrapper for Clear<'_> {
    fn key_id(&self) -> Option<&str> {
        None
    }
    fn supports(&self, _: KeyManagement) -> bool {
        true
    }
    fn unwrap_key(
        &self,
        _: KeyManagement,
        _: &[u8],
        key: &mut [u8],
        _: &mut dyn rand_core::CryptoRng,
    ) -> Result<(), Error> {
        key.copy_from_slice(self.0);
        Ok(())
    }
}

/// Median time per call of each step, over `rounds` rounds of every token.
pub struct Steps {
    /// `verify_encrypted` with AWS-LC unwrapping: unwrap, decrypt, verify the launch inside,
    /// record it.
    pub whole: Duration,
    /// `verify_encrypted` with the `rsa` crate unwrapping.
    pub whole_rsa_crate: Duration,
    /// RSA-OAEP unwrapping alone, in AWS-LC.
    pub unwrap: Duration,
    /// RSA-OAEP unwrapping alone, in the `rsa` crate (blinded).
    pub unwrap_rsa_crate: Duration,
    /// Parsing the JWE and decrypting its content alone (the key given).
    pub content: Duration,
    /// The signed launch inside, verified alone.
    pub inner: Duration,
    /// josekit (OpenSSL): decrypting the JWE (no verification).
    pub josekit: Duration,
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Times `step` on every token index, `rounds` times; the median per call.
fn time(rounds: usize, tokens: usize, mut step: impl FnMut(usize)) -> Duration {
    let samples = (0..rounds)
        .map(|_| {
            let began = Instant::now();
            for index in 0..tokens {
                step(index);
            }
            began.elapsed() / tokens as u32
        })
        .collect();
    median(samples)
}

/// Measures each step on `fixture`. Panics if a step fails on a valid token.
pub fn measure(fixture: &EncryptedFixture, now: u64, rounds: usize) -> Steps {
    let count = fixture.tokens.len();
    let mut rng = rand::rng();
    let mut plaintext = vec![0u8; 8192];
    let mut verifier = fixture.verifier();
    let mut whole_with = |key: &dyn KeyUnwrapper| {
        time(rounds, count, |index| {
            if index == 0 {
                verifier.replay_guard_mut().clear();
            }
            verifier
                .verify_encrypted(
                    fixture.tokens[index].as_bytes(),
                    &[key],
                    &mut rng,
                    &mut plaintext,
                    now,
                )
                .expect("encrypted launch accepted");
        })
    };
    let whole = whole_with(&fixture.aws_lc);
    let whole_rsa_crate = whole_with(&fixture.key);
    let encrypted_keys: Vec<Vec<u8>> = (0..count).map(|i| fixture.encrypted_key(i)).collect();
    let mut unwrap_with = |key: &dyn KeyUnwrapper| {
        let mut content_key = [0u8; 32];
        time(rounds, count, |index| {
            key.unwrap_key(
                KeyManagement::RsaOaep,
                &encrypted_keys[index],
                &mut content_key,
                &mut rng,
            )
            .expect("unwrapped");
        })
    };
    let unwrap = unwrap_with(&fixture.aws_lc);
    let unwrap_rsa_crate = unwrap_with(&fixture.key);
    let keys: Vec<[u8; 32]> = encrypted_keys
        .iter()
        .map(|wrapped| {
            let mut key = [0u8; 32];
            fixture
                .key
                .unwrap_key(KeyManagement::RsaOaep, wrapped, &mut key, &mut rng)
                .expect("unwrapped");
            key
        })
        .collect();
    let content = time(rounds, count, |index| {
        let mut scratch = [0u8; 1024];
        let jwe = Jwe::parse(fixture.tokens[index].as_bytes(), 16384, &mut scratch).expect("JWE");
        jwe.decrypt(&[&Clear(&keys[index])], &mut rng, &mut plaintext)
            .expect("decrypted");
    });
    let mut inner_verifier = fixture.verifier();
    let inner = time(rounds, count, |index| {
        if index == 0 {
            inner_verifier.replay_guard_mut().clear();
        }
        inner_verifier
            .verify(fixture.inner.tokens[index].as_bytes(), now)
            .expect("launch accepted");
    });
    let decrypter = josekit::jwe::RSA_OAEP
        .decrypter_from_pem(&fixture.private_pem)
        .expect("josekit key");
    let josekit = time(rounds, count, |index| {
        josekit::jwe::deserialize_compact(&fixture.tokens[index], &decrypter)
            .expect("josekit decrypts");
    });
    Steps {
        whole,
        whole_rsa_crate,
        unwrap,
        unwrap_rsa_crate,
        content,
        inner,
        josekit,
    }
}
