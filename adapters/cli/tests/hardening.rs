//! `koppeltaal serve` under attack and under faults, and `verify` judging exact bytes:
//! slow clients cannot stop genuine launches, a closed stderr does not stop the server, and
//! a token is judged byte for byte as a module would receive it.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Portal, Serve, stderr};

/// A client that sends `head` and then `tail` one byte per `pace`, until the server answers
/// or closes; returns the status it got (0 for none) and how long it held the connection.
fn trickle(address: SocketAddr, head: Vec<u8>, tail: Vec<u8>, pace: Duration) -> (u16, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).unwrap();
    let _ = stream.write_all(&head);
    for byte in tail {
        std::thread::sleep(pace);
        if stream.write_all(&[byte]).is_err() {
            break;
        }
    }
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, started.elapsed())
}

fn address(serve: &Serve) -> SocketAddr {
    serve.base.trim_start_matches("http://").parse().unwrap()
}

#[test]
fn two_dozen_slow_clients_do_not_stop_a_genuine_launch() {
    let portal = Portal::new();
    let jwks = portal.jwks();
    let serve = Serve::start(&[
        "--jwks",
        &jwks,
        "--issuer",
        common::ISSUER,
        "--audience",
        common::AUDIENCE,
        "--request-deadline",
        "4",
    ]);
    let address = address(&serve);
    let pace = Duration::from_millis(500);
    // Half trickle the head, half announce a 25 KB body and trickle it: each read is quick,
    // so only a deadline for the whole request stops them.
    let slow: Vec<_> = (0..24)
        .map(|index| {
            let (head, tail) = if index % 2 == 0 {
                (
                    b"POST /la".to_vec(),
                    b"unch HTTP/1.1\r\nHost: x\r\n".repeat(4),
                )
            } else {
                (
                    b"POST /launch HTTP/1.1\r\nHost: x\r\nContent-Length: 25000\r\n\r\ntoken="
                        .to_vec(),
                    vec![b'a'; 100],
                )
            };
            std::thread::spawn(move || trickle(address, head, tail, pace))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(800));
    let token = portal.launch(&[]);
    let started = Instant::now();
    let (status, page) = serve.post(format!("token={token}").as_bytes());
    let took = started.elapsed();
    assert_eq!(status, 200, "{page}");
    assert!(
        took < Duration::from_secs(2),
        "a genuine launch waited {took:?} behind slow clients"
    );
    for thread in slow {
        let (status, held) = thread.join().unwrap();
        assert_eq!(status, 408, "a slow client is cut off at the deadline");
        assert!(
            held < Duration::from_secs(8),
            "held its connection for {held:?} with a 4 s deadline"
        );
    }
}

#[test]
fn a_closed_stderr_does_not_stop_the_server() {
    let portal = Portal::new();
    let jwks = portal.jwks();
    let mut child = Command::new(env!("CARGO_BIN_EXE_koppeltaal"))
        .args(["serve", "--listen", "127.0.0.1:0", "--jwks", &jwks])
        .args(["--issuer", common::ISSUER, "--audience", common::AUDIENCE])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    log.read_line(&mut first).unwrap();
    let base = first
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap()
        .to_owned();
    // Nobody reads the log any more: every write to it now fails (EPIPE).
    drop(log);
    let serve = Serve::attach(child, base);
    for _ in 0..12 {
        let token = portal.launch(&[]);
        let body = format!("token={token}");
        assert_eq!(serve.post(body.as_bytes()).0, 200);
        assert_eq!(
            serve.post(body.as_bytes()).0,
            403,
            "replay refused, and logged"
        );
    }
}

#[test]
fn verify_judges_the_exact_bytes_a_module_would_receive() {
    let portal = Portal::new();
    let token = portal.launch(&[]);
    assert!(portal.verify(&token, &[]).status.success());
    for padded in [
        format!(" {token}"),
        format!("{token} "),
        format!("{token}\n"),
    ] {
        let output = portal.verify(&padded, &[]);
        assert_eq!(output.status.code(), Some(1), "{padded:?} must be refused");
        assert!(
            stderr(&output).starts_with("error: InvalidBase64 (103)"),
            "{}",
            stderr(&output)
        );
    }
    // Line mode strips the line terminator (LF or CRLF) and nothing else.
    let fresh = [portal.launch(&[]), portal.launch(&[]), portal.launch(&[])];
    let input = format!("{}\n{}\r\n {}\n\n", fresh[0], fresh[1], fresh[2]);
    let (_, verdicts) = portal.verify_lines(&input);
    assert_eq!(verdicts.len(), 3, "the empty line is skipped: {verdicts:?}");
    assert_eq!(verdicts[0]["ok"], true);
    assert_eq!(verdicts[1]["ok"], true, "CRLF is a line terminator");
    assert_eq!(
        verdicts[2]["error"], "InvalidBase64",
        "a leading space is not"
    );
}

#[test]
fn client_input_cannot_write_a_log_line_of_its_own() {
    let portal = Portal::new();
    let jwks = portal.jwks();
    let scratch = common::Scratch::new();
    let module_key = scratch.path("module.pem");
    assert!(
        common::koppeltaal(&["keygen", "--out", &module_key])
            .status
            .success()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_koppeltaal"))
        .args(["serve", "--listen", "127.0.0.1:0", "--jwks", &jwks])
        .args(["--issuer", common::ISSUER, "--audience", common::AUDIENCE])
        .args(["--key", &module_key, "--client-id", "m"])
        .args(["--redirect-uri", "http://127.0.0.1:9/shof/return"])
        .args(["--fhir-server", "http://127.0.0.1:1/fhir"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = loop {
        let line = log.next().unwrap().unwrap();
        if line.contains("listening on") {
            break common::addresses(&line).0;
        }
    };
    // Lines as they come, so a missing one fails the test instead of hanging it.
    let (lines, logged) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in log.map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let next = || {
        logged
            .recv_timeout(Duration::from_secs(10))
            .expect("a log line")
    };
    let serve = Serve::attach(child, base);
    // The review's forged line: an `iss` (and an OAuth error description) holding a newline
    // and a complete "accepted" line after it.
    let forged = "hti launch accepted code=0 name=Accepted request=forged iss=https://portal";
    let iss = format!("https://evil.example/fhir\n{forged}");
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("iss", &iss)
        .append_pair("launch", "a.b.c")
        .finish();
    assert_eq!(serve.post(body.as_bytes()).0, 403);
    let line = next();
    assert!(
        line.starts_with("shof_start launch refused code=915"),
        "{line}"
    );
    assert!(line.contains("\\x0ahti launch accepted"), "escaped: {line}");
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("state", "x")
        .append_pair("error", &format!("access_denied\r\n{forged}"))
        .append_pair("error_description", &format!("no\r\n{forged}"))
        .finish();
    let _ = ureq::get(format!("{}/shof/return?{query}", serve.base)).call();
    let line = next();
    assert!(line.starts_with("shof launch refused code=916"), "{line}");
    drop(serve);
    while let Ok(rest) = logged.recv_timeout(Duration::from_secs(5)) {
        assert!(
            !rest.starts_with("hti launch accepted"),
            "a forged line: {rest}"
        );
    }
}
