//! `RedisReplayStore` against a real redis-server on loopback: one atomic check-and-record,
//! entries expiring with the token, and an outage refusing launches (fail closed) until Redis
//! is back, or falling back when the operator chose that.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use koppeltaal_core::{Algorithm, AlgorithmSet, Error, LaunchToken, Policy, ReplayKey};
use koppeltaal_host::{
    Clock, HostError, LaunchReceiver, PrivateKey, StaticKeys, SystemClock,
    keys::jwks_document,
    random::os_rng,
    replay::{MemoryReplayStore, RedisFailure, RedisOptions, RedisReplayStore, ReplayStore},
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
    let Some(redis) = RedisServer::start() else {
        return;
    };
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
fn entries_expire_with_the_token_on_a_relative_clock() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let options = RedisOptions {
        prefix: "module-a:".into(),
        clock_skew_margin: Duration::ZERO,
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
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(&name)
        .query(&mut connection)
        .unwrap();
    assert!(
        (1000..=2000).contains(&ttl_ms),
        "relative expiry, the token's remaining life: {ttl_ms} ms"
    );
    std::thread::sleep(Duration::from_secs(3));
    let exists: bool = redis::cmd("EXISTS")
        .arg(&name)
        .query(&mut connection)
        .unwrap();
    assert!(!exists);
    assert!(store.check_and_record(key(1), now() + 300, now()).is_ok());
}

#[test]
fn entries_outlive_the_token_by_the_clock_skew_margin() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisReplayStore::new(&redis.url(), RedisOptions::default()).unwrap();
    // An instance whose clock runs 30 s ahead records a launch that has 100 s left by its
    // clock (130 s by the real one): the entry must last at least that long.
    let ahead = now() + 30;
    store.check_and_record(key(7), ahead + 100, ahead).unwrap();
    let mut connection = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(store.redis_key(&key(7)))
        .query(&mut connection)
        .unwrap();
    assert!(
        ttl_ms > 130_000 && ttl_ms <= 160_000,
        "100 s of life + 60 s of margin: {ttl_ms} ms"
    );
}

#[test]
fn a_stalled_request_with_an_older_clock_is_refused_not_accepted() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisReplayStore::new(&redis.url(), RedisOptions::default()).unwrap();
    let t = now();
    store.check_and_record(key(1), t + 1000, t + 500).unwrap();
    // A request that read the clock long ago, for a token whose life ended before the latest
    // time this store has seen: it may have been forgotten, so it is refused.
    assert!(matches!(
        store.check_and_record(key(2), t + 400, t),
        Err(HostError::Core(Error::ReplayWindowClosed { .. }))
    ));
}

/// A TCP proxy in front of Redis that holds back the answer to the first `SET` command it
/// forwards for `delay` (the command itself reaches Redis at once, and so is executed).
struct SlowProxy {
    port: u16,
}

impl SlowProxy {
    fn start(upstream: u16, delay: Duration) -> SlowProxy {
        use std::io::{Read, Write};
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let armed = Arc::new(AtomicBool::new(true));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    return;
                };
                let hold_next = Arc::new(AtomicBool::new(false));
                let (mut client_in, mut server_out) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                {
                    let (armed, hold_next) = (Arc::clone(&armed), Arc::clone(&hold_next));
                    std::thread::spawn(move || {
                        let mut buffer = [0u8; 4096];
                        while let Ok(read) = client_in.read(&mut buffer) {
                            let chunk = &buffer[..read];
                            if read == 0 {
                                return;
                            }
                            let is_set = chunk.windows(9).any(|w| w == b"$3\r\nSET\r\n");
                            if is_set && armed.swap(false, Ordering::SeqCst) {
                                hold_next.store(true, Ordering::SeqCst);
                            }
                            if server_out.write_all(chunk).is_err() {
                                return;
                            }
                        }
                    });
                }
                let (mut server_in, mut client_out) = (server, client);
                std::thread::spawn(move || {
                    let mut buffer = [0u8; 4096];
                    while let Ok(read) = server_in.read(&mut buffer) {
                        if read == 0 {
                            return;
                        }
                        if hold_next.swap(false, Ordering::SeqCst) {
                            std::thread::sleep(delay);
                        }
                        if client_out.write_all(&buffer[..read]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        SlowProxy { port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

#[test]
fn a_retry_after_a_lost_answer_is_recognised_as_the_same_call() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let port: u16 = redis
        .url()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // The answer to the first SET arrives 1.5 s late; the store waits 300 ms per command.
    let proxy = SlowProxy::start(port, Duration::from_millis(1500));
    let options = RedisOptions {
        io_timeout: Duration::from_millis(300),
        ..RedisOptions::default()
    };
    let store = RedisReplayStore::new(&proxy.url(), options).unwrap();
    let started = Instant::now();
    // The first attempt is executed by Redis, but its answer is lost to the timeout; the
    // retry finds the value this call stored: accepted, not Replayed.
    store
        .check_and_record(key(1), now() + 300, now())
        .expect("a genuine first use is accepted");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "it did time out once"
    );
    // Another call for the same launch is a replay.
    assert!(matches!(
        store.check_and_record(key(1), now() + 300, now()),
        Err(HostError::Core(Error::Replayed))
    ));
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
    .sign_to_string(portal.signer().unwrap().as_ref(), &mut os_rng())
    .unwrap()
}

fn receiver(portal: &PrivateKey, store: Arc<dyn ReplayStore>) -> LaunchReceiver {
    let jwks = jwks_document(&[portal]).unwrap();
    let keys = StaticKeys::new()
        .with_jwks(ISSUER, jwks.as_bytes())
        .unwrap();
    LaunchReceiver::builder(
        Policy::new(AUDIENCE)
            .unwrap()
            .with_algorithms(AlgorithmSet::only(Algorithm::ES256)),
    )
    .keys(keys)
    .replay(store)
    .clock(SystemClock)
    .build()
    .unwrap()
}

#[test]
fn an_outage_refuses_launches_until_redis_is_back() {
    let portal = PrivateKey::generate(Algorithm::ES256).unwrap();
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
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
    let portal = PrivateKey::generate(Algorithm::ES256).unwrap();
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
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
