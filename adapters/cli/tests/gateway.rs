//! `koppeltaal serve --upstream`: a launch gateway in front of a module application (a loopback
//! stub that records what it is handed): one hand-off per accepted launch and none for refused
//! or replayed ones, the application's redirect and cookie relayed, an application down or too
//! slow, the signature of what is handed on, JSON logs, metrics, a config file, and a graceful
//! stop on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{AUDIENCE, ISSUER, Portal, Scratch, Serve};
use hmac::{Hmac, Mac};
use koppeltaal_tests::http_stub::{Reply, Request, StubServer, dead_url};
use serde_json::Value;
use sha2::Sha256;

/// An application that records every hand-off and answers with a redirect into its UI and a
/// session cookie, after `delay`.
fn application(delay: Duration) -> (StubServer, Arc<Mutex<Vec<Request>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = {
        let seen = Arc::clone(&seen);
        StubServer::start(move |request| {
            seen.lock().unwrap().push(request.clone());
            Reply {
                status: 303,
                headers: vec![
                    ("Location".into(), "/app/tasks/11".into()),
                    (
                        "Set-Cookie".into(),
                        "app_session=abc123; HttpOnly; Path=/".into(),
                    ),
                    ("Connection".into(), "keep-alive".into()),
                    ("X-Internal".into(), "do not leak".into()),
                    ("Content-Type".into(), "text/plain".into()),
                ],
                body: b"welcome\n".to_vec(),
                delay,
            }
        })
    };
    (server, seen)
}

/// A raw POST to serve, returning status, headers (lower-cased names) and body.
fn post(base: &str, body: &str) -> (u16, Vec<(String, String)>, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let mut response = agent
        .post(format!("{base}/launch"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(body)
        .unwrap();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    (
        response.status().as_u16(),
        headers,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn gateway(portal: &Portal, upstream: &str, extra: &[&str]) -> Serve {
    let jwks = portal.jwks();
    let mut args = vec![
        "--jwks",
        &jwks,
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--upstream",
        upstream,
    ];
    args.extend_from_slice(extra);
    Serve::start(&args)
}

#[test]
fn accepted_launches_reach_the_application_and_its_answer_reaches_the_browser() {
    let portal = Portal::new();
    let (app, seen) = application(Duration::ZERO);
    let serve = gateway(&portal, &app.url("/koppeltaal/launch"), &[]);
    let token = portal.launch(&["--patient", "Patient/1"]);
    let (status, headers, body) = post(&serve.base, &format!("token={token}"));
    assert_eq!(status, 303, "{body}");
    assert_eq!(header(&headers, "location"), Some("/app/tasks/11"));
    assert_eq!(
        header(&headers, "set-cookie"),
        Some("app_session=abc123; HttpOnly; Path=/")
    );
    assert_eq!(
        header(&headers, "x-internal"),
        None,
        "only the relayed headers"
    );
    assert_eq!(
        headers
            .iter()
            .filter(|(name, _)| name == "connection")
            .count(),
        1,
        "hop-by-hop headers are the gateway's own"
    );
    assert_eq!(body, "welcome\n");

    let handed = seen.lock().unwrap().clone();
    assert_eq!(handed.len(), 1);
    let request = &handed[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/koppeltaal/launch");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(
        request.header("forwarded"),
        Some(
            format!(
                "for=127.0.0.1;host=\"{}\";proto=http",
                &serve.base["http://".len()..]
            )
            .as_str()
        )
    );
    let request_id = request.header("x-request-id").unwrap();
    assert_eq!(
        header(&headers, "x-request-id"),
        Some(request_id),
        "one id end to end"
    );
    let launch: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(launch["resource"], "Task/11");
    assert_eq!(launch["patient"], "Patient/1");
    assert_eq!(launch["aud"], AUDIENCE);
    assert!(
        !String::from_utf8_lossy(&request.body).contains(&token),
        "never the token"
    );

    // Replayed, forged, malformed: refused by the gateway, never handed on.
    let (status, _, page) = post(&serve.base, &format!("token={token}"));
    assert_eq!(status, 403);
    assert!(page.contains("code 600"));
    assert_eq!(post(&serve.base, "token=not.a.token").0, 403);
    assert_eq!(post(&serve.base, "nothing=here").0, 400);
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "still only the one accepted launch"
    );
}

#[test]
fn an_application_down_or_too_slow_gets_its_own_page() {
    let portal = Portal::new();
    let down = gateway(&portal, &dead_url("/launch"), &[]);
    let (status, _, page) = post(&down.base, &format!("token={}", portal.launch(&[])));
    assert_eq!(status, 502, "{page}");
    assert!(page.contains("code 902"), "{page}");

    let (slow_app, seen) = application(Duration::from_secs(3));
    let slow = gateway(
        &portal,
        &slow_app.url("/launch"),
        &["--upstream-timeout", "1"],
    );
    let token = portal.launch(&[]);
    let started = Instant::now();
    let (status, _, page) = post(&slow.base, &format!("token={token}"));
    assert_eq!(status, 504, "{page}");
    assert!(page.contains("code 903"), "{page}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // Not retried: the launch was used up when it was recorded.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(seen.lock().unwrap().len(), 1);
    let (status, _, _) = post(&slow.base, &format!("token={token}"));
    assert_eq!(status, 403, "the same launch again is a replay");
}

/// What an application does with the signature header: recompute over the time, the delivery
/// id, the client address and the body, and compare.
fn signature_valid(secret: &[u8], header: &str, delivery: &str, client: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = header
        .split_once(',')
        .and_then(|(t, v1)| Some((t.strip_prefix("t=")?, v1.strip_prefix("v1=")?)))
    else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(secret).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(delivery.as_bytes());
    mac.update(b".");
    mac.update(client.as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    hex == v1
}

#[test]
fn what_is_handed_on_is_signed_with_the_shared_secret() {
    let portal = Portal::new();
    let scratch = Scratch::new();
    let secret = b"a-secret-of-thirty-two-bytes-ok!";
    std::fs::write(scratch.path("secret"), secret).unwrap();
    let (app, seen) = application(Duration::ZERO);
    let secret_file = scratch.path("secret");
    let serve = gateway(
        &portal,
        &app.url("/launch"),
        &["--upstream-secret", &secret_file],
    );
    for _ in 0..2 {
        assert_eq!(
            post(&serve.base, &format!("token={}", portal.launch(&[]))).0,
            303
        );
    }
    let handed = seen.lock().unwrap().clone();
    let request = handed[0].clone();
    let signature = request.header("x-koppeltaal-signature").unwrap().to_owned();
    let delivery = request.header("x-koppeltaal-delivery").unwrap().to_owned();
    let client = request.header("x-forwarded-for").unwrap().to_owned();
    assert!(signature_valid(
        secret,
        &signature,
        &delivery,
        &client,
        &request.body
    ));
    assert_ne!(
        Some(delivery.as_str()),
        handed[1].header("x-koppeltaal-delivery"),
        "a delivery id per hand-off, for the application to refuse one it has seen"
    );
    let mut altered = request.body.clone();
    let at = altered.len() / 2;
    altered[at] ^= 1;
    assert!(!signature_valid(
        secret, &signature, &delivery, &client, &altered
    ));
    assert!(!signature_valid(
        secret,
        &signature,
        "another-delivery",
        &client,
        &request.body
    ));
    assert!(!signature_valid(
        secret,
        &signature,
        &delivery,
        "10.6.6.6",
        &request.body
    ));
    assert!(!signature_valid(
        b"another-secret-of-32-bytes-ok!!!",
        &signature,
        &delivery,
        &client,
        &request.body
    ));
    let t: u64 = signature[2..signature.find(',').unwrap()].parse().unwrap();
    assert!(
        t.abs_diff(koppeltaal_tests::now()) < 60,
        "a current timestamp"
    );

    let short = scratch.path("short");
    std::fs::write(&short, "too short").unwrap();
    let refused = common::koppeltaal(&[
        "serve",
        "--jwks",
        &portal.jwks(),
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--upstream",
        &app.url("/launch"),
        "--upstream-secret",
        &short,
    ]);
    assert_eq!(refused.status.code(), Some(1));
}

fn metric(base: &str, line_start: &str) -> u64 {
    let text = ureq::get(format!("{base}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    text.lines()
        .find(|line| line.starts_with(line_start))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

#[test]
fn metrics_count_launches_by_outcome() {
    let portal = Portal::new();
    let (app, _) = application(Duration::ZERO);
    let serve = gateway(
        &portal,
        &app.url("/launch"),
        &["--metrics-listen", "127.0.0.1:0"],
    );
    // Never on the public listener.
    let public = ureq::get(format!("{}/metrics", serve.base)).call();
    assert!(
        matches!(public, Err(ureq::Error::StatusCode(404))),
        "{public:?}"
    );
    let metrics = serve.metrics.clone().expect("a metrics listener");
    let accepted = "koppeltaal_launches_total{flow=\"hti\",code=\"0\",name=\"Accepted\"}";
    let replayed = "koppeltaal_launches_total{flow=\"hti\",code=\"600\",name=\"Replayed\"}";
    assert_eq!(metric(&metrics, accepted), 0);
    let token = portal.launch(&[]);
    post(&serve.base, &format!("token={token}"));
    post(&serve.base, &format!("token={}", portal.launch(&[])));
    post(&serve.base, &format!("token={token}"));
    assert_eq!(metric(&metrics, accepted), 2);
    assert_eq!(metric(&metrics, replayed), 1);
    assert_eq!(
        metric(&metrics, "koppeltaal_launch_duration_seconds_count"),
        3
    );
    assert_eq!(
        metric(
            &metrics,
            "koppeltaal_upstream_responses_total{status=\"303\"}"
        ),
        2
    );
}

#[test]
fn json_logs_carry_no_token_and_the_config_file_works() {
    let portal = Portal::new();
    let scratch = Scratch::new();
    let config = scratch.path("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\njwks = \"{}\"\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\nlog-format = \"json\"\n",
            portal.jwks()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_koppeltaal"))
        .args(["serve", "--config", &config])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap()
        .to_owned();
    let token = portal.launch(&[]);
    assert_eq!(post(&base, &format!("token={token}")).0, 200);
    assert_eq!(post(&base, &format!("token={token}")).0, 403);
    assert_eq!(post(&base, "token=not-a-token").0, 403);
    let mut next = || -> (String, Value) {
        let line = lines.next().unwrap().unwrap();
        let value = serde_json::from_str(&line).unwrap();
        (line, value)
    };
    let (accepted, replayed, malformed) = (next(), next(), next());
    let _ = child.kill();
    let _ = child.wait();
    let (accepted_line, accepted) = accepted;
    assert_eq!(
        (accepted["code"].as_u64(), accepted["name"].as_str()),
        (Some(0), Some("Accepted"))
    );
    assert_eq!(accepted["issuer"], ISSUER);
    assert_eq!(accepted["audience"], AUDIENCE);
    assert_eq!(accepted["sub"], "Practitioner/a5e58253");
    assert!(accepted["time"].as_str().unwrap().ends_with('Z'));
    assert!(accepted["request_id"].is_string());
    // A replay is refused after the launch's signature and claims were verified: who it was
    // is known, and logged.
    let (replayed_line, replayed) = replayed;
    assert_eq!(
        (&replayed["code"], &replayed["outcome"], &replayed["flow"]),
        (
            &Value::from(600),
            &Value::from("refused"),
            &Value::from("hti")
        )
    );
    assert_eq!(replayed["issuer"], ISSUER);
    assert_eq!(replayed["sub"], "Practitioner/a5e58253");
    assert_eq!(replayed["detail"], "token has been used before");
    // Refused before anything was verified: nothing is claimed about who it was.
    let (malformed_line, malformed) = malformed;
    assert_eq!(malformed["code"], 101);
    assert_eq!(
        (&malformed["issuer"], &malformed["sub"]),
        (&Value::Null, &Value::Null)
    );
    for line in [&accepted, &replayed, &malformed] {
        assert!(
            !line.to_string().contains(&token[..40]),
            "no token in the log"
        );
        assert_eq!(line["event"], "launch");
    }

    // Exactly the members the README and `serve --help` list, in the README's order.
    let flat = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let readme = flat(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap(),
    );
    let listed: Vec<String> = readme
        .split_once("with exactly the members ")
        .and_then(|(_, rest)| rest.split_once(" (in that order)"))
        .expect("the README lists the JSON log's members")
        .0
        .split(", ")
        .map(|member| member.trim_matches('`').to_owned())
        .collect();
    let written = |line: &str| {
        let object: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
        // A key's `"name":` cannot occur inside a string value, where quotes are escaped.
        let at: Vec<Option<usize>> = listed
            .iter()
            .map(|member| line.find(&format!("\"{member}\":")))
            .collect();
        object.len() == listed.len() && at.iter().all(Option::is_some) && at.is_sorted()
    };
    for line in [&accepted_line, &replayed_line, &malformed_line] {
        assert!(written(line), "{listed:?}\n{line}");
    }
    let help = flat(&common::stdout(&common::koppeltaal(&["serve", "--help"])));
    let in_help: Vec<String> = help
        .split_once("with exactly the members ")
        .and_then(|(_, rest)| rest.split_once(';'))
        .expect("serve --help lists the JSON log's members")
        .0
        .split(", ")
        .map(str::to_owned)
        .collect();
    assert_eq!(in_help, listed, "serve --help's list");
}

#[test]
fn text_logs_look_like_the_example_in_serve_help() {
    let portal = Portal::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_koppeltaal"))
        .args(["serve", "--listen", "127.0.0.1:0", "--jwks", &portal.jwks()])
        .args(["--issuer", ISSUER, "--audience", AUDIENCE])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (base, _) = common::addresses(&lines.next().unwrap().unwrap());
    let token = portal.launch(&[]);
    assert_eq!(post(&base, &format!("token={token}")).0, 200);
    assert_eq!(post(&base, &format!("token={token}")).0, 403);
    let _accepted = lines.next().unwrap().unwrap();
    let replayed = lines.next().unwrap().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    // The example, each <placeholder> standing for one word.
    let help = common::stdout(&common::koppeltaal(&["serve", "--help"]));
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    let example = help
        .split_once("e.g. `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .expect("serve --help shows a text log line")
        .0;
    let placeholder = regex::Regex::new("<[a-z]+>").unwrap();
    let pattern = placeholder
        .split(example)
        .map(regex::escape)
        .collect::<Vec<_>>()
        .join(r"\S+");
    assert!(
        regex::Regex::new(&format!("^{pattern}$"))
            .unwrap()
            .is_match(&replayed),
        "{replayed:?} is not like the example {example:?}"
    );
    assert!(replayed.contains(&format!(" iss={ISSUER} sub=Practitioner/a5e58253: ")));
}

#[test]
fn sigterm_lets_the_launch_in_flight_finish() {
    let portal = Portal::new();
    let (app, seen) = application(Duration::from_millis(1500));
    let mut serve = gateway(&portal, &app.url("/launch"), &[]);
    let base = serve.base.clone();
    let token = portal.launch(&[]);
    let in_flight = std::thread::spawn(move || post(&base, &format!("token={token}")));
    std::thread::sleep(Duration::from_millis(400));
    let stopped = Command::new("kill")
        .args(["-TERM", &serve.pid().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let (status, _, body) = in_flight.join().unwrap();
    assert_eq!(status, 303, "finished after SIGTERM: {body}");
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(
        serve.wait_exit(Duration::from_secs(10)),
        Some(0),
        "exits cleanly"
    );
}

#[test]
fn every_option_can_come_from_a_koppeltaal_environment_variable() {
    let portal = Portal::new();
    let (app, seen) = application(Duration::ZERO);
    let mut child = Command::new(env!("CARGO_BIN_EXE_koppeltaal"))
        .arg("serve")
        .env("KOPPELTAAL_LISTEN", "127.0.0.1:0")
        .env("KOPPELTAAL_JWKS", portal.jwks())
        .env("KOPPELTAAL_ISSUER", ISSUER)
        .env("KOPPELTAAL_AUDIENCE", AUDIENCE)
        .env("KOPPELTAAL_UPSTREAM", app.url("/launch"))
        .env("KOPPELTAAL_TRUSTED_PROXY", "192.0.2.0/24,127.0.0.1")
        .env("KOPPELTAAL_METRICS_LISTEN", "127.0.0.1:0")
        .env("KOPPELTAAL_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let listening = lines.next().unwrap().unwrap();
    let (base, metrics) = common::addresses(&listening);
    assert!(metrics.is_some(), "{listening}");
    let serve = Serve::attach(child, base);
    // 127.0.0.1 is a trusted proxy (from the comma-separated list): its X-Forwarded-For counts.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let status = agent
        .post(format!("{}/launch", serve.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Forwarded-For", "198.51.100.9")
        .send(format!("token={}", portal.launch(&[])))
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 303);
    assert_eq!(
        seen.lock().unwrap()[0].header("x-forwarded-for"),
        Some("198.51.100.9")
    );
    let logged: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(logged["client"], "198.51.100.9");
    // A flag wins over its variable.
    let output = Command::new(env!("CARGO_BIN_EXE_koppeltaal"))
        .args([
            "serve",
            "--audience",
            "Device/flag",
            "--listen",
            "not-an-address",
        ])
        .env("KOPPELTAAL_JWKS", portal.jwks())
        .env("KOPPELTAAL_ISSUER", ISSUER)
        .env("KOPPELTAAL_AUDIENCE", "Device/env")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "the flag's bad address was used"
    );
}
