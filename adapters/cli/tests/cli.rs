//! The built `koppeltaal` binary: every subcommand's happy path, `verify` on every error
//! class with its exit code, the line mode's shared replay guard, `serve` on a loopback port,
//! `token` and `introspect` against a real OAuth server, and the demo.

mod common;

use std::process::Output;

use common::*;
use koppeltaal_tests::oidc::{OidcProvider, TokenFormat};
use serde_json::Value;

#[test]
fn keygen_and_jwks() {
    let scratch = Scratch::new();
    let rsa = koppeltaal(&[
        "keygen",
        "--alg",
        "RS512",
        "--bits",
        "2048",
        "--out",
        &scratch.path("rsa.pem"),
    ]);
    let ec = koppeltaal(&["keygen", "--alg", "ES256", "--out", &scratch.path("ec.pem")]);
    assert!(rsa.status.success() && ec.status.success());
    let pem = std::fs::read_to_string(scratch.path("rsa.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8");
    let jwks = koppeltaal(&[
        "jwks",
        "--key",
        &scratch.path("rsa.pem"),
        "--key",
        &scratch.path("ec.pem"),
    ]);
    let jwks: Value = serde_json::from_str(&stdout(&jwks)).unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [stdout(&rsa), stdout(&ec)]);
    assert_eq!(jwks["keys"][0]["alg"], "RS512");
    assert_eq!(jwks["keys"][1]["crv"], "P-256");

    let again = koppeltaal(&["keygen", "--out", &scratch.path("rsa.pem")]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "an existing key file is never overwritten"
    );
    assert!(
        stderr(&again).starts_with("error: Io (910):"),
        "{}",
        stderr(&again)
    );
    let small = koppeltaal(&[
        "keygen",
        "--bits",
        "1024",
        "--out",
        &scratch.path("small.pem"),
    ]);
    assert_eq!(small.status.code(), Some(1));
}

#[test]
fn launch_then_verify_prints_the_claims() {
    let portal = Portal::new();
    let token = portal.launch(&[
        "--patient",
        "Patient/1",
        "--lifetime",
        "120",
        "--idp-hint",
        "https://idp.example.org/realms/clients",
    ]);
    let output = portal.verify(&token, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let claims: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(claims["resource"], "Task/11");
    assert_eq!(claims["patient"], "Patient/1");
    assert_eq!(claims["intent"], "plan");
    assert_eq!(claims["idp_hint"], "https://idp.example.org/realms/clients");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        120
    );
    let without = portal.verify(&portal.launch(&[]), &[]);
    let claims: Value = serde_json::from_str(&stdout(&without)).unwrap();
    assert!(
        claims.get("idp_hint").is_none(),
        "absent, not null: {claims}"
    );
}

#[test]
fn verify_reports_every_error_class_with_exit_status_1() {
    let portal = Portal::new();
    let other = Portal::new();
    let token = portal.launch(&[]);
    let iat: u64 = {
        let output = portal.verify(&token, &[]);
        serde_json::from_str::<Value>(&stdout(&output)).unwrap()["iat"]
            .as_u64()
            .unwrap()
    };
    let parts: Vec<&str> = token.split('.').collect();
    // The payload of this launch under the signature of another one by the same key.
    let another = portal.launch(&[]);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        another.rsplit('.').next().unwrap()
    );
    let later = (iat + 3600).to_string();
    let earlier = (iat - 3600).to_string();
    let cases: Vec<(&str, Output, &str)> = vec![
        (
            "form",
            portal.verify("not-a-token", &[]),
            "MalformedToken (101)",
        ),
        (
            "base64",
            portal.verify(&format!("{}=.{}.{}", parts[0], parts[1], parts[2]), &[]),
            "InvalidBase64 (103)",
        ),
        (
            "encrypted",
            portal.verify("a.b.c.d.e", &[]),
            "EncryptedToken (102)",
        ),
        (
            "signature",
            portal.verify(&tampered, &[]),
            "BadSignature (408)",
        ),
        (
            "another key",
            other.verify(&token, &[]),
            "UnknownKeyId (401)",
        ),
        (
            "expired",
            portal.verify(&token, &["--now", &later]),
            "Expired (503)",
        ),
        (
            "not yet",
            portal.verify(&token, &["--now", &earlier]),
            "IssuedInFuture (505)",
        ),
        (
            "audience",
            koppeltaal(&[
                "verify",
                "--jwks",
                &portal.jwks(),
                "--issuer",
                ISSUER,
                "--audience",
                "Device/7",
                &token,
            ]),
            "WrongAudience (502)",
        ),
        (
            "issuer",
            koppeltaal(&[
                "verify",
                "--jwks",
                &portal.jwks(),
                "--issuer",
                "https://other.example",
                "--audience",
                AUDIENCE,
                &token,
            ]),
            "WrongIssuer (400)",
        ),
        (
            "keys unreachable",
            koppeltaal(&[
                "verify",
                "--jwks-url",
                "http://127.0.0.1:9/jwks",
                "--issuer",
                ISSUER,
                "--audience",
                AUDIENCE,
                &token,
            ]),
            "Unreachable (902)",
        ),
    ];
    for (label, output, expected) in cases {
        assert_eq!(
            output.status.code(),
            Some(1),
            "{label}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).starts_with(&format!("error: {expected}: ")),
            "{label}: {}",
            stderr(&output)
        );
        assert!(stdout(&output).is_empty(), "{label}");
    }
}

#[test]
fn verify_usage_errors_exit_2() {
    let portal = Portal::new();
    let missing_issuer = koppeltaal(&[
        "verify",
        "--jwks",
        &portal.jwks(),
        "--audience",
        AUDIENCE,
        "x.y.z",
    ]);
    assert_eq!(missing_issuer.status.code(), Some(2));
    let bad_alg = koppeltaal(&[
        "verify",
        "--jwks",
        &portal.jwks(),
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--alg",
        "HS256",
        "x.y.z",
    ]);
    assert_eq!(bad_alg.status.code(), Some(2));
    let both_sources = koppeltaal(&[
        "verify",
        "--jwks",
        "a",
        "--jwks-url",
        "http://127.0.0.1/",
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
        "x",
    ]);
    assert_eq!(both_sources.status.code(), Some(2));
    for subcommand in [
        "keygen",
        "jwks",
        "launch",
        "assertion",
        "verify",
        "token",
        "introspect",
        "serve",
        "demo",
    ] {
        let help = koppeltaal(&[subcommand, "--help"]);
        assert!(
            help.status.success() && stdout(&help).contains("Usage: koppeltaal"),
            "{subcommand} --help"
        );
    }
}

#[test]
fn verify_line_mode_exits_0_only_when_every_line_passed() {
    let portal = Portal::new();
    let (first, second) = (portal.launch(&[]), portal.launch(&[]));
    let oks = |verdicts: &[Value]| -> Vec<bool> {
        verdicts
            .iter()
            .map(|v| v["ok"].as_bool().unwrap())
            .collect()
    };
    let (status, verdicts) = portal.verify_lines(&format!("{first}\n\n{second}\n"));
    assert_eq!((status, oks(&verdicts)), (Some(0), vec![true, true]));
    // A refused line in the middle: every line still gets its verdict, and the status says so.
    let third = portal.launch(&[]);
    let (status, verdicts) = portal.verify_lines(&format!("{third}\nnot-a-token\n{third}\n"));
    assert_eq!(
        (status, oks(&verdicts)),
        (Some(1), vec![true, false, false])
    );
    let (status, verdicts) = portal.verify_lines("");
    assert_eq!(
        (status, verdicts.len()),
        (Some(0), 0),
        "no line, none refused"
    );
    // As `verify --help` says.
    let help = stdout(&koppeltaal(&["verify", "--help"]));
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("exit status 0 when every line passed, 1 when any was refused"),
        "{help}"
    );
}

#[test]
fn verify_line_mode_shares_one_replay_guard() {
    let portal = Portal::new();
    let token = portal.launch(&[]);
    let (status, lines) = portal.verify_lines(&format!("{token}\n{token}\n\nnot-a-token\n"));
    assert_eq!(status, Some(1), "a line was refused");
    assert_eq!(lines.len(), 3, "blank lines are skipped");
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(lines[0]["claims"]["sub"], "Practitioner/a5e58253");
    assert_eq!(
        (&lines[1]["ok"], &lines[1]["error"], &lines[1]["code"]),
        (
            &Value::Bool(false),
            &Value::from("Replayed"),
            &Value::from(600)
        )
    );
    assert_eq!(lines[2]["error"], "MalformedToken");
    assert!(lines[2]["message"].as_str().unwrap().contains("three"));
}

#[test]
fn assertion_token_and_introspect_against_a_real_oauth_server() {
    let scratch = Scratch::new();
    let key = scratch.path("client.pem");
    assert!(koppeltaal(&["keygen", "--out", &key]).status.success());
    let jwks = stdout(&koppeltaal(&["jwks", "--key", &key]));
    let provider = OidcProvider::start("cli-client", &jwks, TokenFormat::Opaque);

    let assertion = stdout(&koppeltaal(&[
        "assertion",
        "--key",
        &key,
        "--client-id",
        "cli-client",
        "--token-endpoint",
        &provider.token_endpoint(),
    ]));
    let claims: Value =
        serde_json::from_slice(&base64_decode(assertion.split('.').nth(1).unwrap())).unwrap();
    assert_eq!(
        (&claims["iss"], &claims["sub"]),
        (&Value::from("cli-client"), &Value::from("cli-client"))
    );
    assert_eq!(claims["aud"], provider.token_endpoint());

    let token = koppeltaal(&[
        "token",
        "--key",
        &key,
        "--client-id",
        "cli-client",
        "--token-endpoint",
        &provider.token_endpoint(),
    ]);
    assert!(token.status.success(), "{}", stderr(&token));
    let response: Value = serde_json::from_str(&stdout(&token)).unwrap();
    let access_token = response["access_token"].as_str().unwrap();
    assert_eq!(response["token_type"], "Bearer");

    let introspected = koppeltaal(&[
        "introspect",
        "--key",
        &key,
        "--client-id",
        "cli-client",
        "--token-endpoint",
        &provider.token_endpoint(),
        "--endpoint",
        &provider.introspection_endpoint(),
        access_token,
    ]);
    assert!(introspected.status.success(), "{}", stderr(&introspected));
    let answer: Value = serde_json::from_str(&stdout(&introspected)).unwrap();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["client_id"], "cli-client");

    let stranger = scratch.path("stranger.pem");
    assert!(koppeltaal(&["keygen", "--out", &stranger]).status.success());
    let refused = koppeltaal(&[
        "token",
        "--key",
        &stranger,
        "--client-id",
        "cli-client",
        "--token-endpoint",
        &provider.token_endpoint(),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).starts_with("error: OAuth (908): OAuth error invalid_client (HTTP 401)"),
        "{}",
        stderr(&refused)
    );
}

fn base64_decode(segment: &str) -> Vec<u8> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::decode_vec(segment).unwrap()
}

#[test]
fn serve_answers_launches_refusals_oversized_bodies_and_replays() {
    let portal = Portal::new();
    let server = Serve::start(&[
        "--jwks",
        &portal.jwks(),
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
    ]);
    let health = ureq::get(format!("{}/healthz", server.base))
        .call()
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);

    let token = portal.launch(&[]);
    let form = format!("token={token}");
    let (status, body) = server.post(form.as_bytes());
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["resource"],
        "Task/11"
    );

    let (status, page) = server.post(form.as_bytes());
    assert_eq!(status, 403);
    assert!(
        page.contains("already been used") && page.contains("code 600"),
        "{page}"
    );
    // Dutch unless English is asked for: the people who see these pages are Dutch.
    let (status, page) = server.post_in(form.as_bytes(), "fr-FR, de;q=0.8");
    assert_eq!(status, 403);
    assert!(
        page.contains("lang=\"nl\"") && page.contains("al gebruikt") && page.contains("code 600"),
        "{page}"
    );

    let (status, page) = server.post(b"token=not.a.token");
    assert_eq!(status, 403);
    assert!(page.contains("could not be verified"), "{page}");

    let (status, _) = server.post(b"nothing=here");
    assert_eq!(status, 400);

    let oversized = vec![b'a'; koppeltaal_host::launch::MAX_FORM_BODY + 1];
    let (status, _) = server.post(&oversized);
    assert_eq!(status, 413);

    // Still serving after all that.
    let (status, _) = server.post(format!("token={}", portal.launch(&[])).as_bytes());
    assert_eq!(status, 200);
}

#[test]
fn demo_runs_and_shows_the_refusals() {
    let output = koppeltaal(&["demo"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in [
        "HTTP 200",
        "Replayed (600)",
        "Expired (503)",
        "BadSignature (408)",
        "WrongAudience (502)",
        "ForbiddenAlgorithm (300)",
        "per second",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn fetch_sends_an_authorized_request_and_prints_the_body() {
    use koppeltaal_tests::resource_server::ResourceServer;
    let scratch = Scratch::new();
    let key = scratch.path("client.pem");
    assert!(koppeltaal(&["keygen", "--out", &key]).status.success());
    let jwks = stdout(&koppeltaal(&["jwks", "--key", &key]));
    let provider = OidcProvider::start("fetch-client", &jwks, TokenFormat::Jwt);
    let resources = ResourceServer::start(&provider);
    let endpoint = provider.token_endpoint();
    let fetch = |extra: &[&str]| {
        let mut args = vec![
            "fetch",
            "--key",
            &key,
            "--client-id",
            "fetch-client",
            "--token-endpoint",
            &endpoint,
        ];
        args.extend_from_slice(extra);
        koppeltaal(&args)
    };
    let patient = fetch(&[&resources.url("/fhir/Patient/1")]);
    assert!(patient.status.success(), "{}", stderr(&patient));
    assert_eq!(stdout(&patient), r#"{"resourceType":"Patient","id":"1"}"#);

    std::fs::write(scratch.path("task.json"), r#"{"resourceType":"Task"}"#).unwrap();
    let created = fetch(&[
        "--method",
        "post",
        "--data",
        &scratch.path("task.json"),
        &resources.url("/fhir/Task"),
    ]);
    assert_eq!(stdout(&created), r#"{"resourceType":"Task"}"#);

    let missing = fetch(&[&resources.url("/fhir/Task/99")]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        stderr(&missing),
        "error: Refused (914): HTTP 404: no such resource"
    );
}
