//! `RemoteKeys` against a JWKS endpoint on a loopback socket that misbehaves on purpose: each
//! fault ends in bounded time with a specific error, and cached keys keep working where they
//! should.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use koppeltaal_core::{Algorithm, Error};
use koppeltaal_host::{
    HostError, PrivateKey, RemoteKeys, clock::FixedClock, http::HttpOptions, keys::jwks_document,
};
use koppeltaal_tests::http_stub::{Reply, StubServer, dead_url};

const ISSUER: &str = "https://portal.example.org";
const T0: u64 = 1_700_000_000;

struct Key {
    key: PrivateKey,
    kid: String,
}

fn key() -> Key {
    let key = PrivateKey::generate(Algorithm::ES256).unwrap();
    let kid = key.key_id().unwrap();
    Key { key, kid }
}

fn quick_http() -> HttpOptions {
    HttpOptions {
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        ..HttpOptions::default()
    }
}

fn remote(url: &str, clock: &Arc<FixedClock>) -> RemoteKeys {
    RemoteKeys::builder()
        .http(quick_http())
        .clock(clock.clone())
        .issuer(ISSUER, url)
        .build()
        .unwrap()
}

/// A JWKS server whose document (and Cache-Control) the test can change.
fn jwks_server(document: &Arc<Mutex<String>>, cache_control: &'static str) -> StubServer {
    let document = Arc::clone(document);
    StubServer::start(move |_| {
        Reply::new(200, document.lock().unwrap().clone()).header("Cache-Control", cache_control)
    })
}

fn error_of<T>(outcome: Result<T, HostError>) -> HostError {
    match outcome {
        Ok(_) => panic!("expected an error"),
        Err(error) => error,
    }
}

#[test]
fn keys_are_cached_for_max_age_then_refetched() {
    let (a, clock) = (key(), Arc::new(FixedClock::new(T0)));
    let document = Arc::new(Mutex::new(jwks_document(&[&a.key]).unwrap()));
    let server = jwks_server(&document, "public, max-age=120");
    let keys = remote(&server.url("/jwks"), &clock);
    for _ in 0..5 {
        assert!(
            keys.keys_for(ISSUER, &a.kid)
                .unwrap()
                .find(&a.kid)
                .is_some()
        );
    }
    assert_eq!(server.hits(), 1);
    clock.advance(119);
    keys.keys_for(ISSUER, &a.kid).unwrap();
    assert_eq!(server.hits(), 1);
    clock.advance(1);
    keys.keys_for(ISSUER, &a.kid).unwrap();
    assert_eq!(server.hits(), 2);
}

#[test]
fn an_unknown_kid_refetches_at_most_once_per_cooldown() {
    let (a, clock) = (key(), Arc::new(FixedClock::new(T0)));
    let document = Arc::new(Mutex::new(jwks_document(&[&a.key]).unwrap()));
    let server = jwks_server(&document, "max-age=3600");
    let keys = remote(&server.url("/jwks"), &clock);
    keys.keys_for(ISSUER, &a.kid).unwrap();
    // A flood of bogus kids: the set comes back (without them), the endpoint is not hammered.
    for bogus in 0..200 {
        let set = keys.keys_for(ISSUER, &format!("bogus-{bogus}")).unwrap();
        assert!(set.find(&format!("bogus-{bogus}")).is_none());
    }
    assert_eq!(server.hits(), 1);
    clock.advance(30);
    keys.keys_for(ISSUER, "bogus").unwrap();
    keys.keys_for(ISSUER, "bogus").unwrap();
    assert_eq!(server.hits(), 2);
}

#[test]
fn a_rotation_is_picked_up_and_the_old_key_works_until_the_cache_expires() {
    let (a, b, clock) = (key(), key(), Arc::new(FixedClock::new(T0)));
    let document = Arc::new(Mutex::new(jwks_document(&[&a.key]).unwrap()));
    let server = jwks_server(&document, "max-age=600");
    let keys = remote(&server.url("/jwks"), &clock);
    keys.keys_for(ISSUER, &a.kid).unwrap();

    // The portal publishes a new key beside the old one, then signs with it.
    *document.lock().unwrap() = jwks_document(&[&a.key, &b.key]).unwrap();
    clock.advance(60);
    let set = keys.keys_for(ISSUER, &b.kid).unwrap();
    assert!(set.find(&b.kid).is_some() && set.find(&a.kid).is_some());

    // The old key is withdrawn: tokens naming it keep verifying from the cache while it is
    // fresh, and stop once the refreshed set no longer has it.
    *document.lock().unwrap() = jwks_document(&[&b.key]).unwrap();
    clock.advance(300);
    assert!(
        keys.keys_for(ISSUER, &a.kid)
            .unwrap()
            .find(&a.kid)
            .is_some()
    );
    clock.advance(301);
    assert!(
        keys.keys_for(ISSUER, &a.kid)
            .unwrap()
            .find(&a.kid)
            .is_none()
    );
    assert_eq!(server.hits(), 3);
}

#[test]
fn the_last_good_set_is_served_for_a_bounded_time_when_the_server_fails() {
    let (a, clock) = (key(), Arc::new(FixedClock::new(T0)));
    let good = jwks_document(&[&a.key]).unwrap();
    let broken = Arc::new(Mutex::new(false));
    let server = {
        let broken = Arc::clone(&broken);
        StubServer::start(move |_| {
            if *broken.lock().unwrap() {
                Reply::new(500, "oops")
            } else {
                Reply::new(200, good.clone()).header("Cache-Control", "max-age=300")
            }
        })
    };
    let keys = remote(&server.url("/jwks"), &clock);
    keys.keys_for(ISSUER, &a.kid).unwrap();
    *broken.lock().unwrap() = true;
    clock.advance(301);
    assert!(
        keys.keys_for(ISSUER, &a.kid)
            .unwrap()
            .find(&a.kid)
            .is_some(),
        "stale but within bound"
    );
    clock.advance(3600);
    match error_of(keys.keys_for(ISSUER, &a.kid)) {
        HostError::Status { status: 500, .. } => {}
        other => panic!("{other}"),
    }
}

/// Each fault, with the error it must give and within how long.
#[test]
fn every_fault_ends_quickly_with_a_specific_error() {
    let clock = Arc::new(FixedClock::new(T0));
    let hanging = StubServer::start(|_| Reply::new(200, "{}").after(Duration::from_secs(20)));
    let failing = StubServer::start(|_| Reply::new(500, "internal error"));
    let garbage = StubServer::start(|_| Reply::new(200, "this is not JSON"));
    let huge = StubServer::start(|_| Reply::new(200, vec![b' '; 2 << 20]));
    let looping =
        StubServer::start(|request| Reply::new(302, "").header("Location", &request.path));
    let not_jwks = StubServer::start(|_| Reply::new(200, r#"{"issuer":"x"}"#));
    type Expected = fn(&HostError) -> bool;
    let cases: Vec<(&str, String, Expected)> = vec![
        ("server down", dead_url("/jwks"), |e| {
            matches!(e, HostError::Unreachable(_))
        }),
        ("server hangs", hanging.url("/jwks"), |e| {
            matches!(e, HostError::Timeout)
        }),
        ("HTTP 500", failing.url("/jwks"), |e| {
            matches!(e, HostError::Status { status: 500, .. })
        }),
        ("garbage", garbage.url("/jwks"), |e| {
            matches!(e, HostError::Core(Error::InvalidJson(_)))
        }),
        ("over the size cap", huge.url("/jwks"), |e| {
            matches!(e, HostError::ResponseTooLarge { limit: 1_048_576 })
        }),
        ("redirect loop", looping.url("/jwks"), |e| {
            matches!(e, HostError::TooManyRedirects)
        }),
        ("JSON but no keys", not_jwks.url("/jwks"), |e| {
            matches!(e, HostError::Core(Error::InvalidKeySet))
        }),
    ];
    for (label, url, expected) in cases {
        let keys = remote(&url, &clock);
        let started = Instant::now();
        let error = error_of(keys.keys_for(ISSUER, "kid"));
        let elapsed = started.elapsed();
        assert!(expected(&error), "{label}: {error}");
        // The configured timeout is 1 s; allow generously for a loaded machine.
        assert!(elapsed < Duration::from_secs(5), "{label} took {elapsed:?}");
        println!(
            "{label:<20} -> {} ({}) in {elapsed:.2?}",
            error.name(),
            error.code()
        );
    }
}

#[test]
fn plain_http_is_refused_unless_loopback_or_allowed() {
    let clock = Arc::new(FixedClock::new(T0));
    let refused = RemoteKeys::builder()
        .clock(clock.clone())
        .issuer(ISSUER, "http://portal.example.org/jwks")
        .build();
    assert!(matches!(refused, Err(HostError::InsecureUrl(_))));
    let allowed = HttpOptions {
        allow_insecure_http: true,
        ..HttpOptions::default()
    };
    assert!(
        RemoteKeys::builder()
            .http(allowed)
            .clock(clock)
            .issuer(ISSUER, "http://portal.example.org/jwks")
            .build()
            .is_ok()
    );
}

#[test]
fn an_untrusted_issuer_is_wrong_issuer() {
    let keys = remote("http://127.0.0.1:9/jwks", &Arc::new(FixedClock::new(T0)));
    assert!(matches!(
        error_of(keys.keys_for("https://evil.example", "kid")),
        HostError::Core(Error::WrongIssuer)
    ));
}
