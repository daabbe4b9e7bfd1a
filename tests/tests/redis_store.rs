//! `RedisReplayStore` against a real redis-server on loopback: one atomic check-and-record,
//! entries expiring with the token, and an outage refusing launches (fail closed) until Redis
//! is back, or falling back when the operator chose that.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use koppeltaal_core::{Algorithm, AlgorithmSet, Error, LaunchToken, Policy, ReplayKey};
use koppeltaal_host::{
    Clock, HostError, LaunchReceiver, MemoryReplayStore, PrivateKey, RedisFailure, RedisOptions,
    RedisReplayStore, ReplayStore, StaticKeys, SystemClock, jwks_document, os_rng,
};
use koppeltaal_tests::redis::RedisServer;
use koppeltaal_tests::{AUDIENCE, ISSUER};

fn key(n: u32) -> ReplayKey {
    ReplayKey::new(ISSUER, &format!("jti-{n}"))
}

fn now() -> u64 {
    SystemClock.now()
}

#[test]
fn sixteen_threads_one_key_exactly_one_records_it_many_times_over() {
    let redis = RedisServer::start();
    let store = Arc::new(RedisReplayStore::new(&redis.url(), RedisOptions::default()).unwrap());
    for round in 0..30 {
        let barrier = Arc::new(Barrier::new(16));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    store
                        .check_and_record(key(round), now() + 300, now())
                        .map_err(|error| error.code())
                })
            })
            .collect();
        let outcomes: Vec<_> = threads
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .collect();
        assert_eq!(
            outcomes.iter().filter(|outcome| outcome.is_ok()).count(),
            1,
            "round {round}: {outcomes:?}"
        );
        assert!(
            outcomes
                .iter()
                .all(|outcome| *outcome == Ok(()) || *outcome == Err(Error::Replayed.code()))
        );
    }
}

#[test]
fn entries_expire_with_the_token() {
    let redis = RedisServer::start();
    let options = RedisOptions {
        prefix: "module-a:".into(),
        ..RedisOptions::default()
    };
    let store = RedisReplayStore::new(&redis.url(), options).unwrap();
    let name = store.redis_key(&key(1));
    assert!(
        name.starts_with("module-a:") && name.len() == "module-a:".len() + 24,
        "{name}"
    );
    let forget_at = now() + 2;
    store.check_and_record(key(1), forget_at, now()).unwrap();
    assert!(matches!(
        store.check_and_record(key(1), forget_at, now()),
        Err(HostError::Core(Error::Replayed))
    ));
    let mut connection = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let expire_at: i64 = redis::cmd("EXPIRETIME")
        .arg(&name)
        .query(&mut connection)
        .unwrap();
    assert_eq!(
        expire_at, forget_at as i64,
        "Redis forgets it when the token would be refused anyway"
    );
    std::thread::sleep(Duration::from_secs(3));
    let exists: bool = redis::cmd("EXISTS")
        .arg(&name)
        .query(&mut connection)
        .unwrap();
    assert!(!exists);
    assert!(store.check_and_record(key(1), now() + 300, now()).is_ok());
}

fn launch(portal: &PrivateKey) -> String {
    LaunchToken::new(
        ISSUER,
        AUDIENCE,
        "Patient/1",
        "Task/11",
        "https://m.example/AD/1",
        now(),
    )
    .unwrap()
    .sign_to_string(portal.signer(None).unwrap().as_ref(), &mut os_rng())
    .unwrap()
}

fn receiver(portal: &PrivateKey, store: Arc<dyn ReplayStore>) -> LaunchReceiver {
    let jwks = jwks_document(&[portal]).unwrap();
    let keys = StaticKeys::new()
        .with_jwks(ISSUER, jwks.as_bytes())
        .unwrap();
    LaunchReceiver::with_keys(
        Policy::new(AUDIENCE)
            .unwrap()
            .with_algorithms(AlgorithmSet::only(Algorithm::ES256)),
        Arc::new(keys),
        store,
        Arc::new(SystemClock),
    )
}

#[test]
fn an_outage_refuses_launches_until_redis_is_back() {
    let portal = PrivateKey::generate(Algorithm::ES256, 0).unwrap();
    let mut redis = RedisServer::start();
    let store = Arc::new(RedisReplayStore::new(&redis.url(), RedisOptions::default()).unwrap());
    let receiver = receiver(&portal, store);
    assert!(receiver.receive_token(&launch(&portal)).is_ok());

    redis.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let refused = receiver.receive_token(&launch(&portal)).unwrap_err();
        assert_eq!(
            (refused.name(), refused.code()),
            ("ReplayStoreUnavailable", 913)
        );
        assert!(refused.is_temporary());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "bounded by the timeouts: {:?}",
            started.elapsed()
        );
    }

    redis.resume();
    let token = launch(&portal);
    assert!(
        receiver.receive_token(&token).is_ok(),
        "accepted again once Redis is back"
    );
    assert_eq!(
        receiver.receive_token(&token).unwrap_err().code(),
        Error::Replayed.code()
    );
}

#[test]
fn a_configured_fallback_keeps_launches_working_during_an_outage() {
    let portal = PrivateKey::generate(Algorithm::ES256, 0).unwrap();
    let mut redis = RedisServer::start();
    let options = RedisOptions {
        on_failure: RedisFailure::FallBackTo(Arc::new(MemoryReplayStore::new(64))),
        ..RedisOptions::default()
    };
    let receiver = receiver(
        &portal,
        Arc::new(RedisReplayStore::new(&redis.url(), options).unwrap()),
    );
    redis.stop();
    let token = launch(&portal);
    assert!(receiver.receive_token(&token).is_ok());
    assert_eq!(
        receiver.receive_token(&token).unwrap_err().code(),
        Error::Replayed.code(),
        "the fallback still guards this instance"
    );
}
