//! Everyone who verifies the fixture tokens: our full launch verification, the JWT libraries
//! people would otherwise use (full verification with their claim checks), and raw signature
//! verification (no claims at all) by the crypto libraries.

use std::collections::HashSet;
use std::sync::Arc;

use koppeltaal_core::{KeySet, LaunchVerifier, Policy, ReplayGuard, TrustedIssuer};
use serde::Deserialize;
use sha2::{Sha256, Sha512};

use crate::cases::{Case, Fixture, PublicKey};
use crate::{AUDIENCE, ISSUER};

/// How a contender's verification of token `index` of its fixture went.
pub type Outcome = Result<(), String>;

/// One library verifying one case.
pub struct Contender {
    /// The library (`koppeltaal`, `jsonwebtoken`, `ring-raw`, ...).
    pub library: &'static str,
    /// The case.
    pub case: Case,
    /// What a successful verification has established.
    pub checks: &'static str,
    verify: Box<dyn FnMut(usize) -> Outcome>,
}

impl Contender {
    /// The name in tables and ratio lines: the case for our full verification
    /// (`rs512-2048`), `<library>-<case>` for everyone else.
    pub fn name(&self) -> String {
        if self.library == OURS {
            self.case.name().to_owned()
        } else {
            format!("{}-{}", self.library, self.case.name())
        }
    }

    /// Whether this is our full launch verification, the numerator of every ratio.
    pub fn is_ours(&self) -> bool {
        self.library == OURS
    }

    /// Verifies token `index` of the fixture.
    pub fn verify(&mut self, index: usize) -> Outcome {
        (self.verify)(index)
    }
}

/// The library name of our full launch verification.
pub const OURS: &str = "koppeltaal";

const FULL_OURS: &str = "signature by kid, alg allow-list, iss, aud, iat/exp/lifetime ≤ 5 min, HTI claims, jti replay guard";
const FULL_PEER: &str =
    "signature, alg, iss, aud, exp (leeway 60 s); no lifetime bound, no HTI claims, no jti";
const FULL_JWT_SIMPLE: &str = "signature, alg, iss, aud, exp/nbf (tolerance 15 min); no lifetime bound, no HTI claims, no jti";
const FULL_JWT_COMPACT: &str =
    "signature, alg, exp (leeway 60 s); iss and aud compared by us after; no HTI claims, no jti";
const RAW: &str =
    "signature only (signing input and decoded signature prepared in advance); no claims";

/// The claims the peers deserialize: what an application reads from a launch.
#[derive(Deserialize)]
#[allow(dead_code)] // read by the libraries' validation, not by the benchmark
struct LaunchClaims {
    iss: String,
    aud: String,
    sub: String,
    iat: u64,
    exp: u64,
    jti: String,
    resource: String,
    definition: String,
    patient: Option<String>,
    intent: Option<String>,
}

/// Every contender for `fixture`'s case, ours first. `now` is the time our verifier checks
/// against; the peers read the system clock, so the fixture must have been issued recently.
pub fn contenders(fixture: &Arc<Fixture>, now: u64) -> Vec<Contender> {
    let mut all = vec![ours(fixture, now), ours_raw(fixture)];
    all.extend(ours_raw_slower_kernels(fixture));
    all.extend(jsonwebtoken::contender(
        fixture,
        jsonwebtoken::Backend::RustCrypto,
    ));
    #[cfg(feature = "aws-lc")]
    all.extend(jsonwebtoken::contender(
        fixture,
        jsonwebtoken::Backend::AwsLc,
    ));
    all.extend(jwt_simple(fixture));
    all.extend(jwt_compact(fixture));
    all.extend(ring_raw(fixture));
    #[cfg(feature = "aws-lc")]
    all.push(aws_lc_raw(fixture));
    all.extend(rsa_raw(fixture));
    all
}

fn contender(
    library: &'static str,
    case: Case,
    checks: &'static str,
    verify: impl FnMut(usize) -> Outcome + 'static,
) -> Contender {
    Contender {
        library,
        case,
        checks,
        verify: Box::new(verify),
    }
}

type OurVerifier = LaunchVerifier<TrustedIssuer<1>, ReplayGuard<1024>>;

/// Our full launch verification. The replay guard is cleared whenever the token list comes
/// round again, so every verification is an acceptance that records its `jti`.
fn ours(fixture: &Arc<Fixture>, now: u64) -> Contender {
    assert!(
        fixture.tokens.len() <= 1024,
        "the replay guard holds 1024 tokens"
    );
    let keys = KeySet::from_jwks(fixture.jwks.as_bytes()).expect("fixture JWKS");
    let issuer = TrustedIssuer::new(ISSUER, keys).expect("issuer");
    let mut verifier: Box<OurVerifier> = Box::new(LaunchVerifier::new(
        issuer,
        // RS256 is not allowed by default (HTI 2.0 names RS512 and the ES family).
        Policy::new(AUDIENCE)
            .expect("policy")
            .allow(fixture.case.algorithm()),
        ReplayGuard::new(),
    ));
    let fixture = Arc::clone(fixture);
    contender(OURS, fixture.case, FULL_OURS, move |index| {
        if index == 0 {
            verifier.replay_guard_mut().clear();
        }
        verifier
            .verify(fixture.tokens[index].as_bytes(), now)
            .map(drop)
            .map_err(|error| error.to_string())
    })
}

/// Our signature verification alone, through the key set's `Jwk::verify`.
fn ours_raw(fixture: &Arc<Fixture>) -> Contender {
    let keys = KeySet::<1>::from_jwks(fixture.jwks.as_bytes()).expect("fixture JWKS");
    let fixture = Arc::clone(fixture);
    let alg = fixture.case.algorithm();
    contender("koppeltaal-raw", fixture.case, RAW, move |index| {
        let (input, signature) = fixture.raw_parts(index);
        keys.keys()[0]
            .verify(alg, input, signature)
            .map_err(|error| error.to_string())
    })
}

/// Our signature verification alone on each slower kernel this CPU has (the portable one in
/// safe Rust; BMI2/ADX where IFMA is the fastest), for RSA keys: what each faster kernel
/// gains, in the same run.
fn ours_raw_slower_kernels(fixture: &Arc<Fixture>) -> Vec<Contender> {
    use koppeltaal_kernel::{Kernel, with_kernel};
    let alg = fixture.case.algorithm();
    if !alg.is_rsa() {
        return Vec::new();
    }
    let fastest = Kernel::fastest();
    let mut slower = Vec::new();
    for kernel in Kernel::available().filter(|kernel| *kernel != fastest) {
        let library = match kernel {
            Kernel::Portable => "koppeltaal-raw-portable",
            Kernel::X86Adx => "koppeltaal-raw-x86-adx",
            _ => continue,
        };
        let keys = with_kernel(kernel, || KeySet::<1>::from_jwks(fixture.jwks.as_bytes()))
            .expect("available")
            .expect("fixture JWKS");
        let fixture = Arc::clone(fixture);
        slower.push(contender(library, fixture.case, RAW, move |index| {
            let (input, signature) = fixture.raw_parts(index);
            with_kernel(kernel, || keys.keys()[0].verify(alg, input, signature))
                .map_err(|error| error.to_string())?
                .map_err(|error| error.to_string())
        }));
    }
    slower
}

mod jsonwebtoken {
    use super::*;
    use ::jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};

    /// jsonwebtoken's crypto backends.
    #[derive(Clone, Copy)]
    pub enum Backend {
        RustCrypto,
        #[cfg(feature = "aws-lc")]
        AwsLc,
    }

    /// jsonwebtoken 11 with `backend`; it has no ES512.
    pub fn contender(fixture: &Arc<Fixture>, backend: Backend) -> Option<Contender> {
        let algorithm = algorithm(fixture.case)?;
        let library = match backend {
            Backend::RustCrypto => "jsonwebtoken",
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => "jsonwebtoken-aws-lc",
        };
        let key = decoding_key(fixture);
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let fixture = Arc::clone(fixture);
        Some(super::contender(
            library,
            fixture.case,
            FULL_PEER,
            move |index| {
                select(backend);
                decode::<LaunchClaims>(&fixture.tokens[index], &key, &validation)
                    .map(drop)
                    .map_err(|error| error.to_string())
            },
        ))
    }

    fn algorithm(case: Case) -> Option<Algorithm> {
        match case {
            Case::Rs512With2048 | Case::Rs512With4096 => Some(Algorithm::RS512),
            Case::Rs256With2048 => Some(Algorithm::RS256),
            Case::Es256 => Some(Algorithm::ES256),
            Case::Es512 => None,
        }
    }

    fn decoding_key(fixture: &Fixture) -> DecodingKey {
        match &fixture.key {
            PublicKey::Rsa { n, e } => DecodingKey::from_rsa_raw_components(n, e),
            PublicKey::Ec { .. } => {
                let (x, y) = fixture.key.ec_coordinates().expect("EC key");
                DecodingKey::from_ec_components(&crate::b64(x), &crate::b64(y))
                    .expect("EC coordinates")
            }
        }
    }

    #[cfg(not(feature = "aws-lc"))]
    fn select(_: Backend) {}

    /// With both backends compiled in, jsonwebtoken needs a process-wide provider: ours
    /// forwards to the backend the current contender selected.
    #[cfg(feature = "aws-lc")]
    fn select(backend: Backend) {
        use ::jsonwebtoken::crypto::{CryptoProvider, aws_lc, rust_crypto};
        use std::sync::OnceLock;
        use std::sync::atomic::{AtomicBool, Ordering};
        static AWS_LC: AtomicBool = AtomicBool::new(false);
        static INSTALLED: OnceLock<()> = OnceLock::new();
        INSTALLED.get_or_init(|| {
            let provider = Box::leak(Box::new(CryptoProvider {
                signer_factory: |alg, key| {
                    if AWS_LC.load(Ordering::Relaxed) {
                        (aws_lc::DEFAULT_PROVIDER.signer_factory)(alg, key)
                    } else {
                        (rust_crypto::DEFAULT_PROVIDER.signer_factory)(alg, key)
                    }
                },
                verifier_factory: |alg, key| {
                    if AWS_LC.load(Ordering::Relaxed) {
                        (aws_lc::DEFAULT_PROVIDER.verifier_factory)(alg, key)
                    } else {
                        (rust_crypto::DEFAULT_PROVIDER.verifier_factory)(alg, key)
                    }
                },
                key_utils: rust_crypto::DEFAULT_PROVIDER.key_utils.clone(),
            }));
            provider
                .install_default()
                .expect("no other jsonwebtoken provider installed");
        });
        AWS_LC.store(matches!(backend, Backend::AwsLc), Ordering::Relaxed);
    }
}

/// jwt-simple (pure-Rust build): RS256, RS512 and ES256; it has no ES512.
fn jwt_simple(fixture: &Arc<Fixture>) -> Option<Contender> {
    use jwt_simple::prelude::{
        ECDSAP256PublicKeyLike, ES256PublicKey, JWTClaims, RS256PublicKey, RS512PublicKey,
        RSAPublicKeyLike, VerificationOptions,
    };
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Extra {
        resource: String,
        definition: String,
        patient: Option<String>,
        intent: Option<String>,
    }
    fn check(result: Result<JWTClaims<Extra>, jwt_simple::Error>) -> Outcome {
        result.map(drop).map_err(|error| error.to_string())
    }
    let options = VerificationOptions {
        allowed_issuers: Some(HashSet::from([ISSUER.to_owned()])),
        allowed_audiences: Some(HashSet::from([AUDIENCE.to_owned()])),
        ..VerificationOptions::default()
    };
    let tokens = Arc::clone(fixture);
    let verify: Box<dyn FnMut(usize) -> Outcome> = match (&fixture.key, fixture.case) {
        (PublicKey::Rsa { n, e }, Case::Rs256With2048) => {
            let key = RS256PublicKey::from_components(n, e).expect("RSA key");
            Box::new(move |index| {
                check(key.verify_token::<Extra>(&tokens.tokens[index], Some(options.clone())))
            })
        }
        (PublicKey::Rsa { n, e }, _) => {
            let key = RS512PublicKey::from_components(n, e).expect("RSA key");
            Box::new(move |index| {
                check(key.verify_token::<Extra>(&tokens.tokens[index], Some(options.clone())))
            })
        }
        (PublicKey::Ec { point }, Case::Es256) => {
            let key = ES256PublicKey::from_bytes(point).expect("P-256 key");
            Box::new(move |index| {
                check(key.verify_token::<Extra>(&tokens.tokens[index], Some(options.clone())))
            })
        }
        (PublicKey::Ec { .. }, _) => return None,
    };
    Some(Contender {
        library: "jwt-simple",
        case: fixture.case,
        checks: FULL_JWT_SIMPLE,
        verify,
    })
}

/// jwt-compact 0.8: RS256, RS512 (`rsa` 0.9) and ES256 (`p256` 0.13); it has no ES512.
fn jwt_compact(fixture: &Arc<Fixture>) -> Option<Contender> {
    use jwt_compact::alg::{Es256, Rsa, RsaPublicKey};
    use jwt_compact::{AlgorithmExt, Claims, TimeOptions, UntrustedToken};
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Extra {
        iss: String,
        aud: String,
        sub: String,
        jti: String,
        resource: String,
        definition: String,
        patient: Option<String>,
        intent: Option<String>,
    }
    fn check_claims(claims: &Claims<Extra>, time: &TimeOptions) -> Outcome {
        claims
            .validate_expiration(time)
            .map_err(|error| error.to_string())?;
        if claims.custom.iss != ISSUER || claims.custom.aud != AUDIENCE {
            return Err("wrong issuer or audience".to_owned());
        }
        Ok(())
    }
    let time = TimeOptions::default();
    let tokens = Arc::clone(fixture);
    let verify: Box<dyn FnMut(usize) -> Outcome> = match &fixture.key {
        PublicKey::Rsa { n, e } => {
            let key = RsaPublicKey::new(
                rsa09::BigUint::from_bytes_be(n),
                rsa09::BigUint::from_bytes_be(e),
            )
            .expect("RSA key");
            let alg = if fixture.case == Case::Rs256With2048 {
                Rsa::rs256()
            } else {
                Rsa::rs512()
            };
            Box::new(move |index| {
                let untrusted = UntrustedToken::new(&tokens.tokens[index])
                    .map_err(|error| error.to_string())?;
                let token = alg
                    .validator::<Extra>(&key)
                    .validate(&untrusted)
                    .map_err(|error| error.to_string())?;
                check_claims(token.claims(), &time)
            })
        }
        PublicKey::Ec { point } if fixture.case == Case::Es256 => {
            let key = p256_013::ecdsa::VerifyingKey::from_sec1_bytes(point).expect("P-256 key");
            Box::new(move |index| {
                let untrusted = UntrustedToken::new(&tokens.tokens[index])
                    .map_err(|error| error.to_string())?;
                let token = Es256
                    .validator::<Extra>(&key)
                    .validate(&untrusted)
                    .map_err(|error| error.to_string())?;
                check_claims(token.claims(), &time)
            })
        }
        PublicKey::Ec { .. } => return None,
    };
    Some(Contender {
        library: "jwt-compact",
        case: fixture.case,
        checks: FULL_JWT_COMPACT,
        verify,
    })
}

/// ring 0.17: RSA and P-256 (it has no P-521).
fn ring_raw(fixture: &Arc<Fixture>) -> Option<Contender> {
    use ring::signature::{
        ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA512,
        RsaPublicKeyComponents, UnparsedPublicKey,
    };
    let tokens = Arc::clone(fixture);
    let verify: Box<dyn FnMut(usize) -> Outcome> = match &fixture.key {
        PublicKey::Rsa { n, e } => {
            let (n, e) = (n.clone(), e.clone());
            let params = if fixture.case == Case::Rs256With2048 {
                &RSA_PKCS1_2048_8192_SHA256
            } else {
                &RSA_PKCS1_2048_8192_SHA512
            };
            Box::new(move |index| {
                let (input, signature) = tokens.raw_parts(index);
                RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(params, input, signature)
                    .map_err(|_| "ring refused the signature".to_owned())
            })
        }
        PublicKey::Ec { point } if fixture.case == Case::Es256 => {
            let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point.clone());
            Box::new(move |index| {
                let (input, signature) = tokens.raw_parts(index);
                key.verify(input, signature)
                    .map_err(|_| "ring refused the signature".to_owned())
            })
        }
        PublicKey::Ec { .. } => return None,
    };
    Some(Contender {
        library: "ring-raw",
        case: fixture.case,
        checks: RAW,
        verify,
    })
}

/// aws-lc-rs: every case.
#[cfg(feature = "aws-lc")]
fn aws_lc_raw(fixture: &Arc<Fixture>) -> Contender {
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED, ECDSA_P521_SHA512_FIXED, RSA_PKCS1_2048_8192_SHA256,
        RSA_PKCS1_2048_8192_SHA512, RsaPublicKeyComponents, UnparsedPublicKey,
    };
    let tokens = Arc::clone(fixture);
    let verify: Box<dyn FnMut(usize) -> Outcome> = match &fixture.key {
        PublicKey::Rsa { n, e } => {
            let (n, e) = (n.clone(), e.clone());
            let params = if fixture.case == Case::Rs256With2048 {
                &RSA_PKCS1_2048_8192_SHA256
            } else {
                &RSA_PKCS1_2048_8192_SHA512
            };
            Box::new(move |index| {
                let (input, signature) = tokens.raw_parts(index);
                RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(params, input, signature)
                    .map_err(|_| "aws-lc-rs refused the signature".to_owned())
            })
        }
        PublicKey::Ec { point } => {
            let alg = if fixture.case == Case::Es256 {
                &ECDSA_P256_SHA256_FIXED
            } else {
                &ECDSA_P521_SHA512_FIXED
            };
            let key = UnparsedPublicKey::new(alg, point.clone());
            Box::new(move |index| {
                let (input, signature) = tokens.raw_parts(index);
                key.verify(input, signature)
                    .map_err(|_| "aws-lc-rs refused the signature".to_owned())
            })
        }
    };
    Contender {
        library: "aws-lc-raw",
        case: fixture.case,
        checks: RAW,
        verify,
    }
}

/// The `rsa` crate 0.10 (RSA cases only).
fn rsa_raw(fixture: &Arc<Fixture>) -> Option<Contender> {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use signature::Verifier as _;
    let PublicKey::Rsa { n, e } = &fixture.key else {
        return None;
    };
    let public = rsa::RsaPublicKey::new(
        rsa::BoxedUint::from_be_slice_vartime(n),
        rsa::BoxedUint::from_be_slice_vartime(e),
    )
    .ok()?;
    let tokens = Arc::clone(fixture);
    let signatures: Vec<Signature> = (0..fixture.tokens.len())
        .map(|index| Signature::try_from(fixture.raw_parts(index).1).expect("RSA signature"))
        .collect();
    let verify: Box<dyn FnMut(usize) -> Outcome> = if fixture.case == Case::Rs256With2048 {
        let key = VerifyingKey::<Sha256>::new(public);
        Box::new(move |index| {
            key.verify(tokens.raw_parts(index).0, &signatures[index])
                .map_err(|error| error.to_string())
        })
    } else {
        let key = VerifyingKey::<Sha512>::new(public);
        Box::new(move |index| {
            key.verify(tokens.raw_parts(index).0, &signatures[index])
                .map_err(|error| error.to_string())
        })
    };
    Some(Contender {
        library: "rsa-raw",
        case: fixture.case,
        checks: RAW,
        verify,
    })
}
