//! The attack corpus: every known JWT attack, built by our own generator, presented to a
//! module's `LaunchReceiver` as a launch would arrive, each refused with its specific error.

use std::sync::{Arc, Mutex};

use base64ct::{Base64UrlUnpadded, Encoding};
use koppeltaal_core::{Algorithm, Error, Part, Policy};
use koppeltaal_host::{
    HostError, LaunchReceiver, PrivateKey, RemoteKeys, StaticKeys,
    clock::FixedClock,
    keys::{SharedSigner, jwks_document},
    random::os_rng,
    replay::{JournalOptions, JournalReplayStore, MemoryReplayStore, ReplayStore},
};
use koppeltaal_tests::http_stub::{Reply, StubServer};
use koppeltaal_tests::{AUDIENCE, ISSUER};
use serde_json::{Value, json};

const NOW: u64 = 1_700_000_060;
const IAT: u64 = 1_700_000_000;

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// A key of ours and everything an attacker could learn of it.
struct Portal {
    key: PrivateKey,
    signer: SharedSigner,
    jwks: String,
    modulus: Vec<u8>,
}

impl Portal {
    fn new() -> Portal {
        let key = PrivateKey::generate(Algorithm::RS512).unwrap();
        let signer = key.signer().unwrap();
        let jwks = jwks_document(&[&key]).unwrap();
        let modulus = {
            let document: Value = serde_json::from_str(&jwks).unwrap();
            Base64UrlUnpadded::decode_vec(document["keys"][0]["n"].as_str().unwrap()).unwrap()
        };
        Portal {
            key,
            signer,
            jwks,
            modulus,
        }
    }

    fn kid(&self) -> String {
        self.signer.key_id().to_owned()
    }

    /// Signs exactly these header and payload bytes.
    fn sign(&self, header: &str, payload: &str) -> String {
        sign_with(&self.signer, header, payload)
    }

    fn header(&self) -> String {
        json!({"alg": "RS512", "kid": self.kid(), "typ": "JWT"}).to_string()
    }

    fn launch(&self, claims: &Value) -> String {
        self.sign(&self.header(), &claims.to_string())
    }
}

fn sign_with(signer: &SharedSigner, header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let mut signature = [0u8; 512];
    let len = signer
        .sign(input.as_bytes(), &mut os_rng(), &mut signature)
        .unwrap();
    format!("{input}.{}", b64(&signature[..len]))
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "Practitioner/a5e58253",
        "iat": IAT, "exp": IAT + 300, "jti": "679e1e4c-bcb9-4fcc-80c4-f36e7063545c",
        "resource": "Task/11", "definition": "https://module.example.org/ActivityDefinition/1"
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn receiver(portal: &Portal, replay: Arc<dyn ReplayStore>) -> LaunchReceiver {
    let keys = StaticKeys::new()
        .with_jwks(ISSUER, portal.jwks.as_bytes())
        .unwrap();
    LaunchReceiver::builder(Policy::new(AUDIENCE).unwrap())
        .keys(keys)
        .replay(replay)
        .clock(FixedClock::new(NOW))
        .build()
        .unwrap()
}

fn refused(receiver: &LaunchReceiver, token: &str) -> HostError {
    match receiver.receive_token(token) {
        Ok(launch) => panic!("accepted: {launch:?}"),
        Err(refusal) => match refusal.reason() {
            HostError::Core(error) => HostError::Core(*error),
            other => panic!("not a core refusal: {other}"),
        },
    }
}

fn hmac(secret: &[u8], input: &str, alg: &str) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    match alg {
        "HS256" => hmac::Hmac::<sha2::Sha256>::new_from_slice(secret)
            .unwrap()
            .chain_update(input)
            .finalize()
            .into_bytes()
            .to_vec(),
        "HS384" => hmac::Hmac::<sha2::Sha384>::new_from_slice(secret)
            .unwrap()
            .chain_update(input)
            .finalize()
            .into_bytes()
            .to_vec(),
        _ => hmac::Hmac::<sha2::Sha512>::new_from_slice(secret)
            .unwrap()
            .chain_update(input)
            .finalize()
            .into_bytes()
            .to_vec(),
    }
}

#[test]
fn the_attack_corpus_is_refused_case_by_case() {
    let portal = Portal::new();
    let attacker = Portal::new();
    let receiver = receiver(&portal, Arc::new(MemoryReplayStore::new(1024)));
    let genuine = portal.launch(&claims());
    let [header, payload, signature]: [&str; 3] =
        genuine.split('.').collect::<Vec<_>>().try_into().unwrap();
    let payload_json = claims().to_string();
    let raw =
        |header: &str, payload: &str, signature: &str| format!("{header}.{payload}.{signature}");
    let unsigned = |alg: &str| {
        raw(
            &b64(json!({"alg": alg, "kid": portal.kid()})
                .to_string()
                .as_bytes()),
            payload,
            "",
        )
    };
    let with_header_member = |name: &str, value: Value| {
        let mut header: Value = json!({"alg": "RS512", "kid": attacker.kid(), "typ": "JWT"});
        header[name] = value;
        attacker.sign(&header.to_string(), &payload_json)
    };
    let attacker_jwk: Value =
        serde_json::from_str::<Value>(&attacker.jwks).unwrap()["keys"][0].clone();
    let with_kid = |kid: &str| {
        portal.sign(
            &json!({"alg": "RS512", "kid": kid}).to_string(),
            &payload_json,
        )
    };
    let signature_bytes = Base64UrlUnpadded::decode_vec(signature).unwrap();
    let k = portal.modulus.len();
    let resigned = |bytes: &[u8]| raw(header, payload, &b64(bytes));
    let payload_text = |text: &str| portal.sign(&portal.header(), text);
    let depth_bomb = format!(
        r#"{{"iss":"{ISSUER}","x":{}{}}}"#,
        "[".repeat(2_000),
        "]".repeat(2_000)
    );

    let mut cases: Vec<(String, String, Error)> = Vec::new();
    let mut case = |label: &str, token: String, expected: Error| {
        cases.push((label.to_owned(), token, expected))
    };

    for alg in ["none", "None", "NONE", "nOnE"] {
        case(
            &format!("alg {alg}, no signature"),
            unsigned(alg),
            Error::ForbiddenAlgorithm,
        );
        case(
            &format!("alg {alg}, a signature"),
            raw(
                &b64(json!({"alg": alg, "kid": portal.kid()})
                    .to_string()
                    .as_bytes()),
                payload,
                signature,
            ),
            Error::ForbiddenAlgorithm,
        );
    }
    let public_pem_like = portal.jwks.clone();
    for alg in ["HS256", "HS384", "HS512"] {
        for (secret_name, secret) in [
            ("JWKS", public_pem_like.as_bytes()),
            ("modulus", portal.modulus.as_slice()),
        ] {
            let header = b64(json!({"alg": alg, "kid": portal.kid(), "typ": "JWT"})
                .to_string()
                .as_bytes());
            let input = format!("{header}.{payload}");
            let tag = hmac(secret, &input, alg);
            case(
                &format!("{alg} keyed with the public {secret_name}"),
                format!("{input}.{}", b64(&tag)),
                Error::ForbiddenAlgorithm,
            );
        }
    }
    case(
        "jwk header with the attacker's key",
        with_header_member("jwk", attacker_jwk),
        Error::EmbeddedKey,
    );
    case(
        "jku header",
        with_header_member("jku", json!("https://attacker.example/jwks.json")),
        Error::EmbeddedKey,
    );
    case(
        "x5u header",
        with_header_member("x5u", json!("https://attacker.example/cert.pem")),
        Error::EmbeddedKey,
    );
    case(
        "x5c header",
        with_header_member(
            "x5c",
            json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
        ),
        Error::EmbeddedKey,
    );
    for kid in [
        "../../../../../../etc/passwd",
        "/dev/null",
        "' OR '1'='1",
        "x'; DROP TABLE keys; --",
        "kid\u{0}",
    ] {
        case(&format!("kid {kid:?}"), with_kid(kid), Error::UnknownKeyId);
    }
    case("crit header", portal.sign(&json!({"alg": "RS512", "kid": portal.kid(), "crit": ["urn:example:unknown"], "urn:example:unknown": true}).to_string(), &payload_json), Error::UnsupportedCritical);
    case(
        "crit b64=false",
        portal.sign(
            &json!({"alg": "RS512", "kid": portal.kid(), "crit": ["b64"], "b64": false})
                .to_string(),
            &payload_json,
        ),
        Error::UnsupportedCritical,
    );

    case(
        "signature stripped",
        raw(header, payload, ""),
        Error::MissingSignature,
    );
    case(
        "signature segment removed",
        format!("{header}.{payload}"),
        Error::MalformedToken,
    );
    case(
        "signature truncated",
        resigned(&signature_bytes[..k - 1]),
        Error::InvalidSignatureLength,
    );
    case(
        "signature with extra bytes",
        resigned(&[signature_bytes.as_slice(), &[0u8; 4]].concat()),
        Error::InvalidSignatureLength,
    );
    case(
        "signature of the wrong length",
        resigned(&[7u8; 64]),
        Error::InvalidSignatureLength,
    );
    case(
        "signature too long to be any",
        resigned(&[7u8; 600]),
        Error::InvalidSignatureLength,
    );
    case(
        "signature value zero",
        resigned(&vec![0u8; k]),
        Error::BadSignature,
    );
    case(
        "signature value one",
        resigned(&{
            let mut one = vec![0u8; k];
            one[k - 1] = 1;
            one
        }),
        Error::BadSignature,
    );
    case(
        "signature equal to the modulus",
        resigned(&portal.modulus),
        Error::SignatureOutOfRange,
    );
    case(
        "signature all ones",
        resigned(&vec![0xffu8; k]),
        Error::SignatureOutOfRange,
    );

    case(
        "payload padded",
        raw(header, &format!("{payload}=="), signature),
        Error::InvalidBase64(Part::Payload),
    );
    let non_canonical = {
        // Flip the unused low bits of the last character: the same bytes, not canonical.
        let mut chars: Vec<char> = payload.chars().collect();
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let last = alphabet.find(*chars.last().unwrap()).unwrap();
        let unused_bits = match payload.len() % 4 {
            2 => 0b1111,
            3 => 0b11,
            _ => 0,
        };
        assert_ne!(
            unused_bits, 0,
            "the payload length must leave unused bits for this case"
        );
        *chars.last_mut().unwrap() = alphabet.chars().nth(last ^ 1).unwrap();
        chars.into_iter().collect::<String>()
    };
    case(
        "payload non-canonical base64url",
        raw(header, &non_canonical, signature),
        Error::InvalidBase64(Part::Payload),
    );
    case(
        "payload with a standard-alphabet character",
        raw(
            header,
            &format!("{}+{}", &payload[..10], &payload[11..]),
            signature,
        ),
        Error::InvalidBase64(Part::Payload),
    );
    case(
        "whitespace inside",
        raw(
            header,
            &format!("{} {}", &payload[..10], &payload[10..]),
            signature,
        ),
        Error::InvalidBase64(Part::Payload),
    );
    case(
        "trailing newline",
        format!("{genuine}\n"),
        Error::InvalidBase64(Part::Signature),
    );
    case("a fourth dot", format!("{genuine}."), Error::MalformedToken);
    case(
        "JWE-shaped (five segments)",
        format!("{header}.ZW5jcnlwdGVkLWtleQ.aXY.{payload}.dGFn"),
        Error::EncryptedToken,
    );

    case(
        "duplicate exp",
        payload_text(&payload_json.replacen('{', &format!(r#"{{"exp":{},"#, IAT + 10_000), 1)),
        Error::DuplicateMember("exp"),
    );
    case(
        "duplicate aud",
        payload_text(&payload_json.replacen('{', r#"{"aud":"Device/7","#, 1)),
        Error::DuplicateMember("aud"),
    );
    case(
        "duplicate exp, escaped name",
        payload_text(&payload_json.replacen('{', r#"{"\u0065xp":9999999999,"#, 1)),
        Error::DuplicateMember("exp"),
    );
    for (label, exp) in [
        ("a float", "1700000300.5"),
        ("a string", "\"1700000300\""),
        ("negative", "-1"),
        ("2^64", "18446744073709551616"),
        ("exponent form", "1.7e9"),
    ] {
        let text =
            payload_json.replace(&format!("\"exp\":{}", IAT + 300), &format!("\"exp\":{exp}"));
        assert_ne!(text, payload_json);
        case(
            &format!("exp {label}"),
            payload_text(&text),
            Error::InvalidNumericDate("exp"),
        );
    }
    case(
        "huge iat",
        portal.launch(&with(
            with(claims(), "iat", json!(1_000_000_000_000_000_000u64)),
            "exp",
            json!(1_000_000_000_000_000_300u64),
        )),
        Error::IssuedInFuture {
            iat: 1_000_000_000_000_000_000,
            now: NOW,
        },
    );
    case(
        "nested JSON depth bomb",
        payload_text(&depth_bomb),
        Error::JsonTooDeep(Part::Payload),
    );
    case(
        "1 MiB token",
        format!("{header}.{}.{signature}", "A".repeat(1 << 20)),
        Error::TokenTooLarge,
    );
    let invalid_utf8 = {
        let mut bytes = payload_json.clone().into_bytes();
        let at = payload_json.find("a5e58253").unwrap();
        bytes[at] = 0xff;
        bytes
    };
    case(
        "invalid UTF-8 in a claim",
        raw(header, &b64(&invalid_utf8), signature),
        Error::InvalidJson(Part::Payload),
    );
    case(
        "valid, for another audience",
        portal.launch(&with(claims(), "aud", json!("Device/7"))),
        Error::WrongAudience,
    );
    case(
        "valid, from another issuer",
        portal.launch(&with(claims(), "iss", json!("https://evil.example"))),
        Error::WrongIssuer,
    );
    // The attacker's signature is a number below its own modulus, not ours: when it is at or
    // above ours (a matter of the two random keys), the range check refuses it first.
    let forged = attacker.sign(&portal.header(), &payload_json);
    let forged_value = Base64UrlUnpadded::decode_vec(forged.rsplit('.').next().unwrap()).unwrap();
    let modulus = portal
        .modulus
        .strip_prefix(&[0u8][..])
        .unwrap_or(&portal.modulus);
    case(
        "signed by an untrusted key with our kid",
        forged,
        match forged_value.len() == modulus.len() && forged_value.as_slice() >= modulus {
            true => Error::SignatureOutOfRange,
            false => Error::BadSignature,
        },
    );

    let total = cases.len();
    for (label, token, expected) in cases {
        // Sharing a receiver across cases also shows no refused token burns its jti (checked below).
        let error = refused(&receiver, &token);
        assert!(
            matches!(&error, HostError::Core(actual) if *actual == expected),
            "{label}: got {error}, expected {expected}"
        );
    }
    // After all that, the genuine launch (same jti as most of the corpus) is still accepted once.
    assert!(receiver.receive_token(&genuine).is_ok());
    assert!(matches!(
        refused(&receiver, &genuine),
        HostError::Core(Error::Replayed)
    ));
    assert!(total >= 50, "only {total} cases ran");
}

#[test]
fn a_token_replayed_after_a_restart_of_the_receiver_is_refused() {
    let portal = Portal::new();
    let journal = std::env::temp_dir().join(format!(
        "attack-{}.journal",
        koppeltaal_host::random::new_jti()
    ));
    let token = portal.launch(&claims());
    {
        let store = Arc::new(
            JournalReplayStore::open_at(
                &journal,
                JournalOptions {
                    capacity: 64,
                    sync: false,
                },
                NOW,
            )
            .unwrap(),
        );
        assert!(receiver(&portal, store).receive_token(&token).is_ok());
    }
    let store = Arc::new(
        JournalReplayStore::open_at(
            &journal,
            JournalOptions {
                capacity: 64,
                sync: false,
            },
            NOW + 1,
        )
        .unwrap(),
    );
    assert!(matches!(
        refused(&receiver(&portal, store), &token),
        HostError::Core(Error::Replayed)
    ));
    std::fs::remove_file(journal).unwrap();
}

#[test]
fn a_token_signed_by_a_key_rotated_out_of_the_jwks_is_refused() {
    let (old, new) = (Portal::new(), Portal::new());
    let document = Arc::new(Mutex::new(jwks_document(&[&old.key, &new.key]).unwrap()));
    let server = {
        let document = Arc::clone(&document);
        StubServer::start(move |_| {
            Reply::new(200, document.lock().unwrap().clone()).header("Cache-Control", "max-age=60")
        })
    };
    let clock = Arc::new(FixedClock::new(NOW));
    let keys = RemoteKeys::builder()
        .clock(clock.clone())
        .issuer(ISSUER, &server.url("/jwks"))
        .build()
        .unwrap();
    let receiver = LaunchReceiver::builder(Policy::new(AUDIENCE).unwrap())
        .keys(keys)
        .replay(MemoryReplayStore::new(64))
        .clock(clock.clone())
        .build()
        .unwrap();
    assert!(
        receiver
            .receive_token(&old.launch(&with(claims(), "jti", json!("before-rotation"))))
            .is_ok()
    );
    // The old key is withdrawn; once the cache has expired the set no longer has it.
    *document.lock().unwrap() = jwks_document(&[&new.key]).unwrap();
    clock.advance(61);
    let mut later = with(claims(), "jti", json!("after-rotation"));
    later["iat"] = json!(NOW + 61);
    later["exp"] = json!(NOW + 61 + 300);
    let stale = old.launch(&later);
    assert!(matches!(
        refused(&receiver, &stale),
        HostError::Core(Error::UnknownKeyId)
    ));
}
