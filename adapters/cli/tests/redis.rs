//! Two `koppeltaal serve` processes sharing one real redis-server: a launch presented to both
//! at the same moment is accepted exactly once, round after round.

mod common;

use std::sync::{Arc, Barrier};

use common::*;
use koppeltaal_tests::redis::{RedisServer, TestCa, gateway_user};

#[test]
fn two_instances_sharing_redis_accept_each_launch_exactly_once() {
    let portal = Portal::new();
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let instance = || {
        Serve::start(&[
            "--jwks",
            &portal.jwks(),
            "--issuer",
            ISSUER,
            "--audience",
            AUDIENCE,
            "--replay-store",
            &redis.url(),
        ])
    };
    let (first, second) = (Arc::new(instance()), Arc::new(instance()));
    let launches = portal.launch(&["--count", "40"]);
    for (round, token) in launches.lines().enumerate() {
        let barrier = Arc::new(Barrier::new(2));
        let body = Arc::new(format!("token={token}"));
        let threads: Vec<_> = [Arc::clone(&first), Arc::clone(&second)]
            .into_iter()
            .map(|server| {
                let (barrier, body) = (Arc::clone(&barrier), Arc::clone(&body));
                std::thread::spawn(move || {
                    barrier.wait();
                    server.post(body.as_bytes())
                })
            })
            .collect();
        let answers: Vec<(u16, String)> = threads
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .collect();
        let accepted = answers.iter().filter(|(status, _)| *status == 200).count();
        assert_eq!(accepted, 1, "round {round}: {answers:?}");
        let refused = answers.iter().find(|(status, _)| *status != 200).unwrap();
        assert!(
            refused.0 == 403 && refused.1.contains("code 600"),
            "round {round}: {refused:?}"
        );
    }
}

#[test]
fn when_redis_goes_away_an_instance_refuses_launches_and_logs_the_cause() {
    let portal = Portal::new();
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let server = Serve::start(&[
        "--jwks",
        &portal.jwks(),
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--replay-store",
        &redis.url(),
    ]);
    redis.stop();
    let (status, page) = server.post(format!("token={}", portal.launch(&[])).as_bytes());
    assert_eq!(status, 503, "{page}");
    assert!(
        page.contains("code 913") && page.contains("try again"),
        "{page}"
    );
    let logged = server.log_line_containing("code=913").unwrap();
    assert!(logged.contains("connection refused"), "{logged}");
    redis.resume();
    let (status, _) = server.post(format!("token={}", portal.launch(&[])).as_bytes());
    assert_eq!(status, 200);
}

fn serve_args<'a>(portal_jwks: &'a str, url: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--jwks",
        portal_jwks,
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--replay-store",
        url,
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn over_tls_with_an_acl_user_two_instances_accept_a_launch_once() {
    let portal = Portal::new();
    let ca = TestCa::new("gateway test CA");
    let users = [
        vec!["--user".to_owned(), "default".into(), "off".into()],
        gateway_user("gateway", "pass-in-a-file", &[]),
    ]
    .concat();
    let Some(redis) = RedisServer::start_tls(&ca, false, &users) else {
        return;
    };
    let scratch = Scratch::new();
    std::fs::write(scratch.path("password"), "pass-in-a-file\n").unwrap();
    let url = redis.url().replace("rediss://", "rediss://gateway@");
    let (jwks, ca_file, password) = (portal.jwks(), ca.ca_file(), scratch.path("password"));
    let ca_file = ca_file.to_str().unwrap();
    let extra = [
        "--replay-store-ca",
        ca_file,
        "--replay-store-password-file",
        &password,
    ];
    let args = serve_args(&jwks, &url, &extra);
    let first = Serve::start(&args[3..]);
    let second = Serve::start(&args[3..]);
    for token in portal.launch(&["--count", "5"]).lines() {
        let body = format!("token={token}");
        let (one, two) = (first.post(body.as_bytes()), second.post(body.as_bytes()));
        assert_eq!(one.0, 200, "{one:?}");
        assert!(two.0 == 403 && two.1.contains("code 600"), "{two:?}");
    }
    // The start-up log names what was reached, never the password.
    let reached = first
        .log_line_containing("replay store")
        .unwrap_or_default();
    assert!(
        reached.contains("rediss://gateway@127.0.0.1:")
            && reached.contains("a primary with 0 connected replicas"),
        "{reached}"
    );
    let wrong_ca = TestCa::new("not the server's CA");
    let refused = koppeltaal(&serve_args(
        &jwks,
        &url,
        &[
            "--replay-store-ca",
            wrong_ca.ca_file().to_str().unwrap(),
            "--replay-store-password-file",
            &password,
        ],
    ));
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("not trusted"),
        "{}",
        stderr(&refused)
    );
    assert!(
        !stderr(&refused).contains("listening"),
        "{}",
        stderr(&refused)
    );
    std::fs::write(scratch.path("wrong"), "a guess\n").unwrap();
    let wrong_password = scratch.path("wrong");
    let refused = koppeltaal(&serve_args(
        &jwks,
        &url,
        &[
            "--replay-store-ca",
            ca_file,
            "--replay-store-password-file",
            &wrong_password,
        ],
    ));
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("wrong user name or password")
            && !stderr(&refused).contains("a guess"),
        "{}",
        stderr(&refused)
    );
}
