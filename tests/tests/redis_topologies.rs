//! `RedisReplayStore` on the Redis deployments operators run, each real and on loopback:
//! TLS with a private CA (and a client certificate), ACL users and passwords, a primary with
//! a replica under three sentinels failed over by SIGKILL, and a three-primary cluster.
//! Every failure at start-up names its cause.

use std::time::{Duration, Instant};

use koppeltaal_core::{Error, ReplayKey};
use koppeltaal_host::{
    Clock, HostError, SystemClock,
    replay::{RedisCredentials, RedisOptions, RedisReplayStore, RedisTls, ReplayStore},
};
use koppeltaal_tests::ISSUER;
use koppeltaal_tests::redis::{
    ClusterDeployment, RedisServer, ScratchDir, SentinelDeployment, TestCa, gateway_user,
    wait_until,
};

fn key(label: &str, n: u32) -> ReplayKey {
    ReplayKey::new(ISSUER, &format!("{label}-{n}"))
}

fn record(store: &RedisReplayStore, key: ReplayKey) -> Result<(), HostError> {
    let now = SystemClock.now();
    store.check_and_record(key, now + 300, now)
}

fn is_replayed(outcome: &Result<(), HostError>) -> bool {
    matches!(outcome, Err(HostError::Core(Error::Replayed)))
}

fn tls_options(ca: &TestCa) -> RedisOptions {
    RedisOptions {
        tls: RedisTls::from_files(Some(&ca.ca_file()), None, None).unwrap(),
        ..RedisOptions::default()
    }
}

/// The start-up check's error, as text.
fn check_fails(url: &str, options: RedisOptions) -> String {
    let store = RedisReplayStore::new(url, options).unwrap();
    let error = store.check().expect_err("the start-up check must fail");
    assert_eq!(error.code(), 913, "{error}");
    eprintln!("start-up check refused: {error}");
    error.to_string()
}

#[test]
fn over_tls_with_a_private_ca_two_instances_accept_a_launch_once() {
    let ca = TestCa::new("replay store CA");
    let Some(redis) = RedisServer::start_tls(&ca, false, &[] as &[&str]) else {
        return;
    };
    let first = RedisReplayStore::new(&redis.url(), tls_options(&ca)).unwrap();
    let second = RedisReplayStore::new(&redis.url(), tls_options(&ca)).unwrap();
    let reached = first.check().unwrap();
    assert!(
        reached.starts_with("rediss://127.0.0.1:") && reached.contains("a primary"),
        "{reached}"
    );
    for n in 0..20 {
        let (a, b) = (
            record(&first, key("tls", n)),
            record(&second, key("tls", n)),
        );
        assert!(a.is_ok(), "launch {n}: {a:?}");
        assert!(is_replayed(&b), "launch {n}: {b:?}");
    }
}

#[test]
fn a_wrong_ca_a_plain_text_server_and_a_tls_only_server_are_named_at_start() {
    let ca = TestCa::new("the server's CA");
    let other = TestCa::new("another CA");
    let Some(tls) = RedisServer::start_tls(&ca, false, &[] as &[&str]) else {
        return;
    };
    let wrong_ca = check_fails(&tls.url(), tls_options(&other));
    assert!(wrong_ca.contains("not trusted"), "{wrong_ca}");
    // The system's roots do not include a private CA either.
    let system_roots = check_fails(&tls.url(), RedisOptions::default());
    assert!(system_roots.contains("not trusted"), "{system_roots}");
    let Some(plain) = RedisServer::start() else {
        return;
    };
    let started = Instant::now();
    let tls_to_plain = check_fails(
        &plain.url().replace("redis://", "rediss://"),
        tls_options(&ca),
    );
    assert!(
        tls_to_plain.contains("does not speak TLS") || tls_to_plain.contains("plain-text server"),
        "{tls_to_plain}"
    );
    // Bounded by the configured timeouts (1 s to connect, 1 s per answer), never hanging.
    assert!(started.elapsed() < Duration::from_secs(5));
    let plain_to_tls = check_fails(
        &tls.url().replace("rediss://", "redis://"),
        RedisOptions::default(),
    );
    assert!(
        plain_to_tls.contains("closed the connection")
            || plain_to_tls.contains("no answer in time"),
        "{plain_to_tls}"
    );
}

#[test]
fn a_server_requiring_a_client_certificate_accepts_only_with_one() {
    let ca = TestCa::new("mutual TLS CA");
    let Some(redis) = RedisServer::start_tls(&ca, true, &[] as &[&str]) else {
        return;
    };
    let without = check_fails(&redis.url(), tls_options(&ca));
    assert!(
        without.contains("requires a client certificate"),
        "{without}"
    );
    let client = ca.client_files();
    let options = RedisOptions {
        tls: RedisTls::from_files(Some(&client.ca), Some(&client.cert), Some(&client.key)).unwrap(),
        ..RedisOptions::default()
    };
    let store = RedisReplayStore::new(&redis.url(), options).unwrap();
    store.check().unwrap();
    assert!(record(&store, key("mtls", 1)).is_ok());
    assert!(is_replayed(&record(&store, key("mtls", 1))));
}

#[test]
fn acl_users_from_the_url_or_a_password_file_and_a_wrong_password_named_at_start() {
    // The gateway's user has the least it needs (GATEWAY_ACL, as in SECURITY.md); `reader`
    // may not SET.
    let mut users = vec!["--user", "default", "off"];
    users.extend([
        "--user",
        "reader",
        "on",
        ">readonly",
        "~*",
        "+get",
        "+ping",
        "+role",
    ]);
    let gateway = gateway_user("gateway", "s3cret/pass", &[]);
    let Some(redis) = RedisServer::start_with(
        &[users.iter().map(|arg| arg.to_string()).collect(), gateway].concat(),
    ) else {
        return;
    };
    let port = redis.port();
    let from_url = RedisReplayStore::new(
        &format!("redis://gateway:s3cret%2Fpass@127.0.0.1:{port}/"),
        RedisOptions::default(),
    )
    .unwrap();
    from_url.check().unwrap();
    assert!(record(&from_url, key("acl", 1)).is_ok());

    let dir = ScratchDir::new("redis-password");
    let file = dir.write("password", "s3cret/pass\n");
    let from_file = RedisReplayStore::new(
        &format!("redis://127.0.0.1:{port}/"),
        RedisOptions {
            credentials: Some(
                RedisCredentials::from_password_file(Some("gateway".into()), &file).unwrap(),
            ),
            ..RedisOptions::default()
        },
    )
    .unwrap();
    assert!(is_replayed(&record(&from_file, key("acl", 1))));

    let wrong = check_fails(
        &format!("redis://gateway:guess@127.0.0.1:{port}/"),
        RedisOptions::default(),
    );
    assert!(wrong.contains("wrong user name or password"), "{wrong}");
    assert!(!wrong.contains("guess"), "the password is shown: {wrong}");
    let none = check_fails(
        &format!("redis://127.0.0.1:{port}/"),
        RedisOptions::default(),
    );
    assert!(
        none.contains("requires a password") || none.contains("wrong user name or password"),
        "{none}"
    );
    // A user that may not SET: refused at the first launch with the cause named.
    let reader = RedisReplayStore::new(
        &format!("redis://reader:readonly@127.0.0.1:{port}/"),
        RedisOptions::default(),
    )
    .unwrap();
    let refused = record(&reader, key("acl", 2)).unwrap_err();
    assert!(
        refused.code() == 913 && refused.to_string().contains("lacks a permission"),
        "{refused}"
    );
}

#[test]
fn a_replica_given_as_the_server_is_refused_at_start() {
    let Some(primary) = RedisServer::start() else {
        return;
    };
    let Some(replica) =
        RedisServer::start_with(&["--replicaof", "127.0.0.1", &primary.port().to_string()])
    else {
        return;
    };
    let refused = check_fails(&replica.url(), RedisOptions::default());
    assert!(
        refused.contains("read-only replica, not the primary"),
        "{refused}"
    );
}

#[test]
fn with_min_replicas_and_none_acknowledging_the_launch_is_refused_and_stays_recorded() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisReplayStore::new(
        &redis.url(),
        RedisOptions {
            min_replicas: 1,
            replica_timeout: Duration::from_millis(200),
            ..RedisOptions::default()
        },
    )
    .unwrap();
    let reached = store.check().unwrap();
    assert!(
        reached.ends_with("0 connected replicas, fewer than the 1 required: launches are refused until enough are connected"),
        "{reached}"
    );
    let started = Instant::now();
    let refused = record(&store, key("unreplicated", 1)).unwrap_err();
    assert_eq!(refused.code(), 913);
    assert!(
        refused.to_string().contains("only 0 of 1 replicas"),
        "{refused}"
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
    // The record stays: the retry of that launch is a replay, never an acceptance.
    assert!(is_replayed(&record(&store, key("unreplicated", 1))));
}

fn sentinel_options() -> RedisOptions {
    RedisOptions {
        min_replicas: 1,
        connect_timeout: Duration::from_millis(300),
        ..RedisOptions::default()
    }
}

/// Kills the primary right after `last` was accepted, and asserts that every replay of it is
/// refused until a replica is promoted, and after; returns how long the promotion took.
fn kill_primary_and_replay(
    deployment: &mut SentinelDeployment,
    other_instance: &RedisReplayStore,
    last: ReplayKey,
) -> Duration {
    deployment.primary.stop();
    let killed = Instant::now();
    let mut refused_during_failover = 0;
    loop {
        let outcome = record(other_instance, last);
        assert!(
            outcome.is_err(),
            "a replay was accepted during the failover"
        );
        if is_replayed(&outcome) {
            break;
        }
        refused_during_failover += 1;
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "no primary within 30 s: {outcome:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let promoted = killed.elapsed();
    let new_primary = deployment.current_primary_port();
    assert!(
        deployment
            .replicas
            .iter()
            .any(|replica| Some(replica.port()) == new_primary),
        "the sentinels name {new_primary:?}"
    );
    eprintln!(
        "failover: a replica answered as primary {} ms after the SIGKILL ({refused_during_failover} replays refused as 913 meanwhile)",
        promoted.as_millis()
    );
    promoted
}

/// Presents new launches `label-1`, `label-2`, ... until one is accepted (at most 30 s); the
/// number of the accepted one.
fn until_a_new_launch_is_accepted(store: &RedisReplayStore, label: &str) -> u32 {
    let mut n = 0;
    wait_until("a new launch accepted", Duration::from_secs(30), || {
        n += 1;
        record(store, key(label, n)).is_ok()
    });
    n
}

#[test]
fn sentinel_failover_by_sigkill_loses_no_launch_recorded_with_min_replicas() {
    let Some(mut deployment) = SentinelDeployment::start(1) else {
        return;
    };
    let store = RedisReplayStore::new(&deployment.url(), sentinel_options()).unwrap();
    let other_instance = RedisReplayStore::new(&deployment.url(), sentinel_options()).unwrap();
    let reached = store.check().unwrap();
    assert!(reached.contains("1 connected replica"), "{reached}");
    for n in 0..20 {
        assert!(record(&store, key("before", n)).is_ok());
        assert!(is_replayed(&record(&other_instance, key("before", n))));
    }
    // Accepted, and the primary killed at once: the record reached the replica (WAIT 1).
    assert!(record(&store, key("last", 0)).is_ok());
    kill_primary_and_replay(&mut deployment, &other_instance, key("last", 0));
    for n in 0..20 {
        assert!(
            is_replayed(&record(&store, key("before", n))),
            "launch {n} lost"
        );
    }
    // The promoted replica has no replica of its own: with min-replicas 1 a new launch is
    // refused (and stays recorded) until the old primary is back, as its replica.
    let refused = record(&store, key("after", 0)).unwrap_err();
    assert!(refused.to_string().contains("only 0 of 1"), "{refused}");
    assert!(is_replayed(&record(&store, key("after", 0))));
    deployment.primary.resume();
    let restarted = Instant::now();
    until_a_new_launch_is_accepted(&store, "after");
    eprintln!(
        "new launches accepted again {} ms after the old primary restarted (empty: no persistence)",
        restarted.elapsed().as_millis()
    );
    assert!(is_replayed(&record(&store, key("last", 0))));
    assert!(is_replayed(&record(&other_instance, key("before", 7))));
}

#[test]
fn sentinel_with_two_replicas_accepts_new_launches_within_the_failover_time() {
    let Some(mut deployment) = SentinelDeployment::start(2) else {
        return;
    };
    let store = RedisReplayStore::new(&deployment.url(), sentinel_options()).unwrap();
    let other_instance = RedisReplayStore::new(&deployment.url(), sentinel_options()).unwrap();
    assert!(record(&store, key("two", 0)).is_ok());
    let promoted = kill_primary_and_replay(&mut deployment, &other_instance, key("two", 0));
    let since_promotion = Instant::now();
    // The other replica follows the new primary: min-replicas 1 is met again.
    let n = until_a_new_launch_is_accepted(&store, "two");
    eprintln!(
        "with two replicas: new launches accepted again {} ms after the SIGKILL ({} ms after the promotion)",
        (promoted + since_promotion.elapsed()).as_millis(),
        since_promotion.elapsed().as_millis()
    );
    assert!(is_replayed(&record(&other_instance, key("two", n))));
}

#[test]
fn a_cluster_spreads_a_thousand_launches_over_its_slots_each_accepted_once() {
    // The gateway's ACL user, with what a cluster client needs besides (SECURITY.md).
    let Some(mut cluster) = ClusterDeployment::start(&gateway_user(
        "gateway",
        "cluster-pass",
        &["+cluster|slots"],
    )) else {
        return;
    };
    let url = cluster
        .url()
        .replace("redis+cluster://", "redis+cluster://gateway:cluster-pass@");
    let first = RedisReplayStore::new(&url, RedisOptions::default()).unwrap();
    let second = RedisReplayStore::new(&url, RedisOptions::default()).unwrap();
    first.check().unwrap();
    for n in 0..1000 {
        assert!(record(&first, key("cluster", n)).is_ok(), "launch {n}");
    }
    for n in 0..1000 {
        assert!(
            is_replayed(&record(&second, key("cluster", n))),
            "launch {n}"
        );
    }
    let counts = cluster.key_counts();
    assert_eq!(counts.iter().sum::<i64>(), 1000, "{counts:?}");
    assert!(counts.iter().all(|count| *count > 200), "{counts:?}");

    // One primary lost: launches whose keys live in its slots are refused (913); the others
    // are accepted and replays of them refused.
    cluster.nodes[2].stop();
    let (mut accepted, mut unavailable) = (0, 0);
    for n in 1000..1100 {
        match record(&first, key("cluster", n)) {
            Ok(()) => {
                accepted += 1;
                assert!(is_replayed(&record(&second, key("cluster", n))));
            }
            Err(error) if error.code() == 913 => unavailable += 1,
            Err(error) => panic!("launch {n}: {error}"),
        }
    }
    eprintln!(
        "one of three primaries lost: {accepted} of 100 new launches accepted, {unavailable} refused (913)"
    );
    assert!(
        accepted > 40 && unavailable > 15,
        "accepted {accepted}, refused {unavailable}"
    );
}
