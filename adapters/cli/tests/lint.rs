//! `koppeltaal lint`: tokens made to break each rule are each named, with clause and
//! severity; a token breaking several gets every one; JWKS files and URLs are linted too.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use base64ct::{Base64UrlUnpadded, Encoding};
use common::{Portal, Scratch, koppeltaal, stderr, stdout};
use koppeltaal_host::{PrivateKey, random::os_rng};
use koppeltaal_tests::http_stub::{Reply, StubServer};
use serde_json::{Map, Value, json};

const NOW: u64 = 1_700_000_000;

/// A portal key, its JWKS file, and tokens of any header and claims signed with it.
struct Signer {
    portal: Portal,
    key: PrivateKey,
}

impl Signer {
    fn new() -> Signer {
        let portal = Portal::new();
        let key = PrivateKey::from_pem(&std::fs::read_to_string(portal.key()).unwrap()).unwrap();
        Signer { portal, key }
    }

    fn header(&self) -> Map<String, Value> {
        object(json!({"alg": "RS512", "kid": self.key.key_id().unwrap(), "typ": "JWT"}))
    }

    fn token(&self, header: &Map<String, Value>, claims: &Map<String, Value>) -> String {
        let input = format!(
            "{}.{}",
            Base64UrlUnpadded::encode_string(Value::Object(header.clone()).to_string().as_bytes()),
            Base64UrlUnpadded::encode_string(Value::Object(claims.clone()).to_string().as_bytes())
        );
        let mut signature = [0u8; 1024];
        let length = self
            .key
            .signer()
            .unwrap()
            .sign(input.as_bytes(), &mut os_rng(), &mut signature)
            .unwrap();
        format!(
            "{input}.{}",
            Base64UrlUnpadded::encode_string(&signature[..length])
        )
    }

    fn lint(&self, token: &str) -> (Option<i32>, String) {
        let jwks = self.portal.jwks();
        let now = NOW.to_string();
        let output = koppeltaal(&["lint", "--jwks", &jwks, "--now", &now, token]);
        assert!(stderr(&output).is_empty(), "{}", stderr(&output));
        (output.status.code(), stdout(&output))
    }
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

fn valid_claims() -> Map<String, Value> {
    object(json!({
        "iss": "https://portal.example.org", "aud": "Device/42", "sub": "Practitioner/a5e58253",
        "iat": NOW, "exp": NOW + 300, "jti": "679e1e4c-bcb9-4fcc-80c4-f36e7063545c",
        "resource": "Task/11", "definition": "https://module.example.org/ActivityDefinition/1",
        "patient": "Patient/a5e582e", "intent": "plan", "hti-version": "2.0"
    }))
}

#[test]
fn a_launch_of_our_own_is_clean() {
    let signer = Signer::new();
    let (status, out) = signer.lint(&signer.token(&signer.header(), &valid_claims()));
    assert_eq!(out, "launch: no MUST broken (0 SHOULD not met)");
    assert_eq!(status, Some(0));
    let made = signer.portal.launch(&[]);
    let output = koppeltaal(&["lint", "--jwks", &signer.portal.jwks(), &made]);
    assert_eq!(stdout(&output), "launch: no MUST broken (0 SHOULD not met)");
}

/// Each case: what to break, and the line lint must print for it.
type Breakage = fn(&Signer, &mut Map<String, Value>, &mut Map<String, Value>);

#[test]
fn each_broken_rule_is_named_with_its_clause_and_severity() {
    let cases: Vec<(&str, Breakage, &str)> = vec![
        (
            "15-minute lifetime",
            |_, _, c| {
                c.insert("exp".into(), json!(NOW + 900));
            },
            "MUST    HTI 2.0 ② exp: exp - iat is 900 s: the lifetime MUST be limited to 5 minutes (300 s)",
        ),
        (
            "exp before iat",
            |_, _, c| {
                c.insert("exp".into(), json!(NOW - 1));
            },
            "MUST    HTI 2.0 ② exp: exp 1699999999 is not after iat 1700000000",
        ),
        (
            "iat in the future",
            |_, _, c| {
                c.insert("iat".into(), json!(NOW + 600));
                c.insert("exp".into(), json!(NOW + 700));
            },
            "MUST    HTI 2.0 ② iat: iat is 600 s in the future",
        ),
        (
            "fractional iat",
            |_, _, c| {
                c.insert("iat".into(), json!(1.5));
            },
            "MUST    RFC 7519 §2 NumericDate: iat 1.5",
        ),
        (
            "no iss",
            |_, _, c| {
                c.remove("iss");
            },
            "MUST    HTI 2.0 ② iss: the launch has no iss",
        ),
        (
            "no aud",
            |_, _, c| {
                c.remove("aud");
            },
            "MUST    HTI 2.0 ② aud: the launch has no aud",
        ),
        (
            "no sub",
            |_, _, c| {
                c.remove("sub");
            },
            "MUST    HTI 2.0 ② sub: the launch has no sub",
        ),
        (
            "no jti",
            |_, _, c| {
                c.remove("jti");
            },
            "MUST    HTI 2.0 ② jti: the launch has no jti",
        ),
        (
            "no resource",
            |_, _, c| {
                c.remove("resource");
            },
            "MUST    HTI 2.0 ① resource: the launch has no resource",
        ),
        (
            "no definition",
            |_, _, c| {
                c.remove("definition");
            },
            "MUST    Koppeltaal HTI launch: definition: the launch has no definition",
        ),
        (
            "sub not a person",
            |_, _, c| {
                c.insert("sub".into(), json!("Device/1"));
            },
            "MUST    HTI 2.0 ② sub: sub \"Device/1\": MUST be a reference to a person",
        ),
        (
            "sub not a reference",
            |_, _, c| {
                c.insert("sub".into(), json!("a5e58253"));
            },
            "MUST    HTI 2.0 ② sub: sub \"a5e58253\": MUST be a reference <ResourceType>/<id>",
        ),
        (
            "patient not a patient",
            |_, _, c| {
                c.insert("patient".into(), json!("Practitioner/1"));
            },
            "MUST    HTI 2.0 ① patient: patient \"Practitioner/1\": MUST be a reference to a person (Patient)",
        ),
        (
            "short jti",
            |_, _, c| {
                c.insert("jti".into(), json!("1"));
            },
            "MUST    HTI 2.0 ② jti: jti \"1\" is too short",
        ),
        (
            "definition not a URL",
            |_, _, c| {
                c.insert("definition".into(), json!("fearfighter"));
            },
            "MUST    HTI 2.0 ① definition: definition \"fearfighter\": MUST be a canonical URL",
        ),
        (
            "an e-mail address",
            |_, _, c| {
                c.insert("sub".into(), json!("Patient/1"));
                c.insert("name".into(), json!("jan@example.nl"));
            },
            "MUST    HTI 2.0 personal data: name looks like an e-mail address",
        ),
        (
            "no kid",
            |_, h, _| {
                h.remove("kid");
            },
            "MUST    HTI 2.0 ② iss: the header has no kid",
        ),
        (
            "kid not in the JWKS",
            |_, h, _| {
                h.insert("kid".into(), json!("rotated-away"));
            },
            "MUST    HTI 2.0 ② iss: kid \"rotated-away\" is not in the issuer's JWKS",
        ),
        (
            "HS256",
            |_, h, _| {
                h.insert("alg".into(), json!("HS256"));
            },
            "MUST    HTI 2.0 ② security: alg HS256: the JWT MUST be signed with an asymmetric key",
        ),
        (
            "alg none",
            |_, h, _| {
                h.insert("alg".into(), json!("none"));
            },
            "MUST    HTI 2.0 ② security: alg none",
        ),
        (
            "alg other than the key's",
            |_, h, _| {
                h.insert("alg".into(), json!("RS256"));
            },
            "MUST    RFC 7517 §4.4 alg: the token is RS256 but its key",
        ),
        (
            "intent not a RequestIntent",
            |_, _, c| {
                c.insert("intent".into(), json!("maybe"));
            },
            "SHOULD  Koppeltaal HTI launch: intent: intent \"maybe\" is not a FHIR RequestIntent code",
        ),
        (
            "resource not a Task",
            |_, _, c| {
                c.insert("resource".into(), json!("CarePlan/1"));
            },
            "SHOULD  Koppeltaal HTI launch: resource: resource \"CarePlan/1\"",
        ),
        (
            "no hti-version",
            |_, _, c| {
                c.remove("hti-version");
            },
            "SHOULD  HTI 2.0 ① hti-version: no hti-version claim",
        ),
        (
            "typ not JWT",
            |_, h, _| {
                h.insert("typ".into(), json!("at+jwt"));
            },
            "SHOULD  RFC 7519 §5.1 typ: typ \"at+jwt\"",
        ),
        (
            "an embedded key",
            |s, h, _| {
                h.insert(
                    "jwk".into(),
                    json!({"kty": "RSA", "kid": s.key.key_id().unwrap()}),
                );
            },
            "SHOULD  HTI 2.0 ② iss: the header carries jwk",
        ),
    ];
    for (label, breakage, expected) in cases {
        let signer = Signer::new();
        let (mut header, mut claims) = (signer.header(), valid_claims());
        breakage(&signer, &mut header, &mut claims);
        let (status, out) = signer.lint(&signer.token(&header, &claims));
        assert!(
            out.lines().any(|line| line.starts_with(expected)),
            "{label}: expected a line starting {expected:?} in\n{out}"
        );
        let must = expected.starts_with("MUST");
        assert_eq!(status, Some(if must { 1 } else { 0 }), "{label}\n{out}");
    }
}

#[test]
fn a_broken_signature_is_named() {
    let signer = Signer::new();
    let token = signer.token(&signer.header(), &valid_claims());
    let (body, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = Base64UrlUnpadded::decode_vec(signature).unwrap();
    bytes[10] ^= 1;
    let (status, out) = signer.lint(&format!(
        "{body}.{}",
        Base64UrlUnpadded::encode_string(&bytes)
    ));
    assert!(
        out.contains("MUST    HTI 2.0 ② iss: the signature does not verify with key"),
        "{out}"
    );
    assert_eq!(status, Some(1));
}

#[test]
fn every_deviation_is_reported_not_only_the_first() {
    let signer = Signer::new();
    let mut claims = valid_claims();
    claims.insert("exp".into(), json!(NOW + 900));
    claims.insert("sub".into(), json!("Organization/1"));
    claims.remove("jti");
    claims.insert("intent".into(), json!("whenever"));
    let (status, out) = signer.lint(&signer.token(&signer.header(), &claims));
    for expected in [
        "exp - iat is 900 s",
        "sub \"Organization/1\"",
        "the launch has no jti",
        "intent \"whenever\"",
    ] {
        assert!(out.contains(expected), "{expected} missing from\n{out}");
    }
    assert!(
        out.ends_with("launch: 3 MUST broken, 1 SHOULD not met"),
        "{out}"
    );
    assert_eq!(status, Some(1));
}

#[test]
fn malformed_and_encrypted_tokens() {
    let signer = Signer::new();
    let (status, out) = signer.lint("a.b");
    assert!(
        out.contains(
            "MUST    RFC 7515 §7.1: a compact JWS has 3 dot-separated segments, this has 2"
        ),
        "{out}"
    );
    assert_eq!(status, Some(1));
    let (status, out) = signer.lint("e30.!!!.c2ln");
    assert!(
        out.contains("MUST    RFC 7515 §2: the payload is not unpadded base64url"),
        "{out}"
    );
    assert_eq!(status, Some(1));
    let (status, out) = signer.lint("a.b.c.d.e");
    assert!(
        out.contains("note    HTI:jwe: an encrypted launch"),
        "{out}"
    );
    assert_eq!(status, Some(0));
}

#[test]
fn the_token_can_come_from_stdin() {
    let signer = Signer::new();
    let mut claims = valid_claims();
    claims.insert("exp".into(), json!(NOW + 301));
    let token = signer.token(&signer.header(), &claims);
    let mut child = Command::new(env!("CARGO_BIN_EXE_koppeltaal"))
        .args(["lint", "--now", "1700000000", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{token}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("exp - iat is 301 s"));
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn a_jwks_file_is_linted_key_by_key() {
    let scratch = Scratch::new();
    let small_modulus = Base64UrlUnpadded::encode_string(&[0xc5; 128]);
    let jwks = json!({"keys": [
        {"kty": "RSA", "kid": "twice", "use": "sig", "alg": "RS512", "n": small_modulus, "e": "AQAB"},
        {"kty": "EC", "kid": "twice", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA"},
        {"kty": "oct", "kid": "secret", "k": "c2VjcmV0"}
    ]});
    std::fs::write(scratch.path("jwks.json"), jwks.to_string()).unwrap();
    let output = koppeltaal(&["lint", "--jwks", &scratch.path("jwks.json")]);
    let out = stdout(&output);
    for expected in [
        "MUST    RFC 7518 §3.3: key \"twice\" is RSA-1024",
        "MUST    RFC 7517 §4.5 kid: kid \"twice\" appears more than once",
        "MUST    RFC 7517 §9.2: key \"twice\" publishes private key material (d)",
        "MUST    HTI 2.0 ② security: key \"secret\" is kty \"oct\"",
        "SHOULD  RFC 7517 §4.2 use: key \"twice\" has no use",
    ] {
        assert!(out.contains(expected), "{expected} missing from\n{out}");
    }
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn a_jwks_url_is_linted_for_how_it_is_served() {
    let portal = Portal::new();
    let jwks = std::fs::read_to_string(portal.jwks()).unwrap();
    let careless = {
        let jwks = jwks.clone();
        StubServer::start(move |_| {
            let mut reply = Reply::new(200, jwks.clone());
            reply.headers.clear();
            reply.header("Content-Type", "text/plain")
        })
    };
    let output = koppeltaal(&["lint", "--jwks-url", &careless.url("/jwks")]);
    let out = stdout(&output);
    for expected in [
        "SHOULD  RFC 7517 §8.5: Content-Type text/plain",
        "SHOULD  Koppeltaal JWKS caching: no Cache-Control",
        "note    HTI 2.0 ② security: served over plain http on loopback",
    ] {
        assert!(out.contains(expected), "{expected} missing from\n{out}");
    }
    assert_eq!(output.status.code(), Some(0), "{out}");

    let careful = StubServer::start(move |_| {
        Reply::new(200, jwks.clone()).header("Cache-Control", "public, max-age=3600")
    });
    let token = portal.launch(&[]);
    let output = koppeltaal(&["lint", "--jwks-url", &careful.url("/jwks"), &token]);
    assert_eq!(
        stdout(&output).lines().last(),
        Some("launch: no MUST broken (0 SHOULD not met)")
    );
    assert_eq!(output.status.code(), Some(0));

    let missing = StubServer::start(|_| Reply::new(404, "{}"));
    let output = koppeltaal(&["lint", "--jwks-url", &missing.url("/jwks")]);
    assert!(stdout(&output).contains("MUST    RFC 7517 §5: the JWKS URL answers 404, not 200"));
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn the_koppeltaal_profile_adds_what_its_auth_service_demands() {
    let signer = Signer::new();
    let jwks = signer.portal.jwks();
    let now = NOW.to_string();
    let lint = |token: &str, profile: &str| {
        let output = koppeltaal(&[
            "lint",
            "--jwks",
            &jwks,
            "--now",
            &now,
            "--profile",
            profile,
            token,
        ]);
        (output.status.code(), stdout(&output))
    };
    // Our own launch and JWKS (RS512, kid, use sig, Device audience) pass both.
    let clean = signer.token(&signer.header(), &valid_claims());
    assert_eq!(
        lint(&clean, "koppeltaal"),
        (Some(0), "launch: no MUST broken (0 SHOULD not met)".into())
    );
    // HTI 2.0 allows an audience that is not a Device and a clock a little ahead; the auth
    // service does not.
    let mut claims = valid_claims();
    claims.insert("aud".into(), json!("https://module.example.org"));
    claims.insert("iat".into(), json!(NOW + 5));
    let token = signer.token(&signer.header(), &claims);
    assert_eq!(lint(&token, "hti").0, Some(0), "{}", lint(&token, "hti").1);
    let (status, out) = lint(&token, "koppeltaal");
    assert_eq!(status, Some(1), "{out}");
    assert!(out.contains("MUST    Koppeltaal auth service: aud: aud \"https://module.example.org\" is not Device/<id>"), "{out}");
    assert!(
        out.contains("SHOULD  Koppeltaal auth service: iat: iat is 5 s ahead of this clock"),
        "{out}"
    );
}
