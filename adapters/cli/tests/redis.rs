//! Two `koppeltaal serve` processes sharing one real redis-server: a launch presented to both
//! at the same moment is accepted exactly once, round after round.

mod common;

use std::sync::{Arc, Barrier};

use common::*;
use koppeltaal_tests::redis::RedisServer;

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
fn without_redis_an_instance_refuses_launches_and_says_so() {
    let portal = Portal::new();
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let url = redis.url();
    redis.stop();
    let server = Serve::start(&[
        "--jwks",
        &portal.jwks(),
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--replay-store",
        &url,
    ]);
    let (status, page) = server.post(format!("token={}", portal.launch(&[])).as_bytes());
    assert_eq!(status, 503, "{page}");
    assert!(
        page.contains("code 913") && page.contains("try again"),
        "{page}"
    );
    redis.resume();
    let (status, _) = server.post(format!("token={}", portal.launch(&[])).as_bytes());
    assert_eq!(status, 200);
}
