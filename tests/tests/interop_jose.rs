//! Our tokens verify with independent JOSE libraries, and theirs with us, for all six HTI
//! algorithms: josekit (OpenSSL) for every algorithm, jsonwebtoken (RustCrypto backend) for
//! the five it implements (it has no ES512).

use josekit::jwk::Jwk as JoseJwk;
use josekit::jws::{ES256, ES384, ES512, JwsHeader, RS256, RS384, RS512};
use josekit::jwt::{self, JwtPayload};
use koppeltaal_core::{
    Algorithm, AlgorithmSet, EcSigner, JwsSigner, KeySet, LaunchToken, LaunchVerifier, Policy,
    PublicJwk, ReplayGuard, RsaSigner, TrustedIssuer,
};
use koppeltaal_tests::{AUDIENCE, ISSUER, now};
use p256::elliptic_curve::Generate;
use serde_json::{Value, json};

const DEFINITION: &str = "https://module.example.org/ActivityDefinition/fearfighter";

struct Ours {
    signer: Box<dyn JwsSigner>,
    jwk: String,
}

fn public_jwk_json(jwk: &PublicJwk<'_>, kid: &str) -> String {
    let mut out = Vec::new();
    jwk.write(&mut out, kid, None).unwrap();
    String::from_utf8(out).unwrap()
}

/// Our six signers, with their public JWKs as we publish them.
fn ours() -> Vec<Ours> {
    let rsa_key = rsa::RsaPrivateKey::new(&mut rand::rng(), 2048).unwrap();
    let mut rng = rand::rng();
    let mut all = Vec::new();
    for alg in [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512] {
        let signer = RsaSigner::new(rsa_key.clone(), alg).unwrap();
        let jwk = public_jwk_json(&signer.public_jwk(), signer.key_id());
        all.push(Ours {
            signer: Box::new(signer),
            jwk,
        });
    }
    let ec = [
        EcSigner::p256(p256::ecdsa::SigningKey::generate_from_rng(&mut rng)),
        EcSigner::p384(p384::ecdsa::SigningKey::generate_from_rng(&mut rng)),
        EcSigner::p521(p521::ecdsa::SigningKey::generate_from_rng(&mut rng)),
    ];
    for signer in ec {
        let jwk = public_jwk_json(&signer.public_jwk(), signer.key_id());
        all.push(Ours {
            signer: Box::new(signer),
            jwk,
        });
    }
    all
}

fn our_launch(signer: &dyn JwsSigner, now: u64) -> String {
    LaunchToken::new(
        ISSUER,
        AUDIENCE,
        "Practitioner/a5e58253",
        "Task/11",
        DEFINITION,
        now,
    )
    .unwrap()
    .with_patient("Patient/a5e582e")
    .unwrap()
    .with_intent("plan")
    .unwrap()
    .sign_to_string(signer, &mut rand::rng())
    .unwrap()
}

fn jose_verifier(alg: Algorithm, jwk: &JoseJwk) -> Box<dyn josekit::jws::JwsVerifier> {
    match alg {
        Algorithm::RS256 => Box::new(RS256.verifier_from_jwk(jwk).unwrap()),
        Algorithm::RS384 => Box::new(RS384.verifier_from_jwk(jwk).unwrap()),
        Algorithm::RS512 => Box::new(RS512.verifier_from_jwk(jwk).unwrap()),
        Algorithm::ES256 => Box::new(ES256.verifier_from_jwk(jwk).unwrap()),
        Algorithm::ES384 => Box::new(ES384.verifier_from_jwk(jwk).unwrap()),
        Algorithm::ES512 => Box::new(ES512.verifier_from_jwk(jwk).unwrap()),
    }
}

fn jsonwebtoken_alg(alg: Algorithm) -> Option<jsonwebtoken::Algorithm> {
    match alg {
        Algorithm::RS256 => Some(jsonwebtoken::Algorithm::RS256),
        Algorithm::RS384 => Some(jsonwebtoken::Algorithm::RS384),
        Algorithm::RS512 => Some(jsonwebtoken::Algorithm::RS512),
        Algorithm::ES256 => Some(jsonwebtoken::Algorithm::ES256),
        Algorithm::ES384 => Some(jsonwebtoken::Algorithm::ES384),
        Algorithm::ES512 => None,
    }
}

#[test]
fn our_tokens_verify_with_josekit() {
    let now = now();
    for ours in ours() {
        let alg = ours.signer.algorithm();
        let token = our_launch(ours.signer.as_ref(), now);
        let jwk = JoseJwk::from_bytes(ours.jwk.as_bytes()).unwrap();
        let (payload, header) =
            jwt::decode_with_verifier(&token, jose_verifier(alg, &jwk).as_ref())
                .unwrap_or_else(|error| panic!("josekit refused our {alg:?} token: {error}"));
        assert_eq!(header.algorithm(), Some(alg.as_str()));
        assert_eq!(header.key_id(), Some(ours.signer.key_id()));
        assert_eq!(payload.issuer(), Some(ISSUER));
        assert_eq!(payload.claim("resource"), Some(&json!("Task/11")));
        assert_eq!(payload.claim("definition"), Some(&json!(DEFINITION)));
    }
}

#[test]
fn our_tokens_verify_with_jsonwebtoken() {
    let now = now();
    let mut checked = 0;
    for ours in ours() {
        let Some(alg) = jsonwebtoken_alg(ours.signer.algorithm()) else {
            continue;
        };
        let token = our_launch(ours.signer.as_ref(), now);
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_str(&ours.jwk).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(alg);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        let data = jsonwebtoken::decode::<Value>(&token, &key, &validation)
            .unwrap_or_else(|error| panic!("jsonwebtoken refused our {alg:?} token: {error}"));
        assert_eq!(data.claims["sub"], "Practitioner/a5e58253");
        assert_eq!(data.header.kid.as_deref(), Some(ours.signer.key_id()));
        checked += 1;
    }
    assert_eq!(checked, 5);
}

/// A key pair made by josekit, with its public JWK (kid set) and PKCS#8 PEM.
struct Theirs {
    alg: Algorithm,
    signer: Box<dyn josekit::jws::JwsSigner>,
    public_jwk: String,
    private_pem: Vec<u8>,
}

fn theirs() -> Vec<Theirs> {
    let mut all = Vec::new();
    for (index, alg) in [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512]
        .into_iter()
        .enumerate()
    {
        // josekit binds a generated pair's JWK to the algorithm that generated it.
        let rsa = match alg {
            Algorithm::RS256 => RS256.generate_key_pair(2048),
            Algorithm::RS384 => RS384.generate_key_pair(2048),
            _ => RS512.generate_key_pair(2048),
        }
        .unwrap();
        let kid = format!("jose-rsa-{index}");
        let mut private = rsa.to_jwk_private_key();
        private.set_key_id(&kid);
        let signer: Box<dyn josekit::jws::JwsSigner> = match alg {
            Algorithm::RS256 => Box::new(RS256.signer_from_jwk(&private).unwrap()),
            Algorithm::RS384 => Box::new(RS384.signer_from_jwk(&private).unwrap()),
            _ => Box::new(RS512.signer_from_jwk(&private).unwrap()),
        };
        let mut public = rsa.to_jwk_public_key();
        public.set_key_id(&kid);
        all.push(Theirs {
            alg,
            signer,
            public_jwk: public.to_string(),
            private_pem: rsa.to_pem_private_key(),
        });
    }
    macro_rules! ec {
        ($alg:ident, $ours:expr) => {{
            let pair = $alg.generate_key_pair().unwrap();
            let kid = concat!("jose-", stringify!($alg));
            let mut private = pair.to_jwk_private_key();
            private.set_key_id(kid);
            let mut public = pair.to_jwk_public_key();
            public.set_key_id(kid);
            all.push(Theirs {
                alg: $ours,
                signer: Box::new($alg.signer_from_jwk(&private).unwrap()),
                public_jwk: public.to_string(),
                private_pem: pair.to_pem_private_key(),
            });
        }};
    }
    ec!(ES256, Algorithm::ES256);
    ec!(ES384, Algorithm::ES384);
    ec!(ES512, Algorithm::ES512);
    all
}

fn launch_claims(now: u64, jti: &str) -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "Practitioner/a5e58253",
        "iat": now, "exp": now + 300, "jti": jti,
        "resource": "Task/11", "definition": DEFINITION, "intent": "plan"
    })
}

fn our_verifier(theirs: &[Theirs]) -> LaunchVerifier<TrustedIssuer<8>, ReplayGuard<64>> {
    let jwks = format!(
        r#"{{"keys":[{}]}}"#,
        theirs
            .iter()
            .map(|t| t.public_jwk.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    let keys = KeySet::from_jwks(jwks.as_bytes()).expect("josekit's JWKS parses");
    let policy = Policy::new(AUDIENCE)
        .unwrap()
        .with_algorithms(AlgorithmSet::HTI);
    LaunchVerifier::new(
        TrustedIssuer::new(ISSUER, keys).unwrap(),
        policy,
        ReplayGuard::new(),
    )
}

#[test]
fn josekit_tokens_verify_with_ours() {
    let now = now();
    let theirs = theirs();
    let mut verifier = our_verifier(&theirs);
    for (index, key) in theirs.iter().enumerate() {
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        header.set_key_id(
            serde_json::from_str::<Value>(&key.public_jwk).unwrap()["kid"]
                .as_str()
                .unwrap(),
        );
        let claims = launch_claims(now, &format!("josekit-{index}"));
        let payload = JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
        let token = jwt::encode_with_signer(&payload, &header, key.signer.as_ref()).unwrap();
        let launch = verifier
            .verify(token.as_bytes(), now)
            .unwrap_or_else(|error| panic!("we refused josekit's {:?} token: {error}", key.alg));
        assert_eq!(launch.algorithm(), key.alg);
        assert_eq!(launch.intent(), Some("plan"));
    }
}

#[test]
fn jsonwebtoken_tokens_verify_with_ours() {
    let now = now();
    let theirs = theirs();
    let mut verifier = our_verifier(&theirs);
    let mut checked = 0;
    for (index, key) in theirs.iter().enumerate() {
        let Some(alg) = jsonwebtoken_alg(key.alg) else {
            continue;
        };
        let encoding = if key.alg.is_rsa() {
            jsonwebtoken::EncodingKey::from_rsa_pem(&key.private_pem).unwrap()
        } else {
            jsonwebtoken::EncodingKey::from_ec_pem(&key.private_pem).unwrap()
        };
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = serde_json::from_str::<Value>(&key.public_jwk).unwrap()["kid"]
            .as_str()
            .map(str::to_owned);
        let token = jsonwebtoken::encode(
            &header,
            &launch_claims(now, &format!("jsonwebtoken-{index}")),
            &encoding,
        )
        .unwrap();
        let launch = verifier
            .verify(token.as_bytes(), now)
            .unwrap_or_else(|error| {
                panic!("we refused jsonwebtoken's {:?} token: {error}", key.alg)
            });
        assert_eq!(launch.algorithm(), key.alg);
        checked += 1;
    }
    assert_eq!(checked, 5);
}

#[test]
fn our_key_ids_are_rfc7638_thumbprints_by_openssl_sha256() {
    // Our kid for each of our keys is the RFC 7638 thumbprint; recompute it from the JWK as
    // josekit parsed it, hashing with OpenSSL rather than our own SHA-256.
    for ours in ours() {
        let jwk = JoseJwk::from_bytes(ours.jwk.as_bytes()).unwrap();
        let canonical = match jwk.key_type() {
            "RSA" => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                jwk.parameter("e").unwrap().as_str().unwrap(),
                jwk.parameter("n").unwrap().as_str().unwrap()
            ),
            _ => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                jwk.curve().unwrap(),
                jwk.parameter("x").unwrap().as_str().unwrap(),
                jwk.parameter("y").unwrap().as_str().unwrap()
            ),
        };
        let thumbprint = koppeltaal_tests::b64(&openssl::sha::sha256(canonical.as_bytes()));
        assert_eq!(ours.signer.key_id(), thumbprint);
    }
}
