//! `LaunchReceiver`: one acceptance when many threads race with one token, no replay window
//! across a restart with the journal store, form bodies, and what the user is told.

use std::sync::{Arc, Barrier};

use koppeltaal_core::{Algorithm, AlgorithmSet, Error, LaunchToken, Policy};
use koppeltaal_host::{
    Clock, HostError, LaunchReceiver, PrivateKey, StaticKeys,
    clock::FixedClock,
    keys::jwks_document,
    random::os_rng,
    replay::{JournalOptions, JournalReplayStore, MemoryReplayStore, ReplayStore},
};
use koppeltaal_tests::{AUDIENCE, ISSUER};

const T0: u64 = 1_700_000_000;

struct Portal {
    key: PrivateKey,
}

impl Portal {
    fn new() -> Portal {
        Portal {
            key: PrivateKey::generate(Algorithm::ES256).unwrap(),
        }
    }

    fn keys(&self) -> Arc<StaticKeys> {
        let jwks = jwks_document(&[&self.key]).unwrap();
        Arc::new(
            StaticKeys::new()
                .with_jwks(ISSUER, jwks.as_bytes())
                .unwrap(),
        )
    }

    fn launch(&self, iat: u64) -> String {
        let signer = self.key.signer().unwrap();
        LaunchToken::new(
            ISSUER,
            AUDIENCE,
            "Patient/1",
            "Task/11",
            "https://m.example/AD/1",
            iat,
        )
        .unwrap()
        .sign_to_string(signer.as_ref(), &mut os_rng())
        .unwrap()
    }
}

fn policy() -> Policy {
    Policy::new(AUDIENCE)
        .unwrap()
        .with_algorithms(AlgorithmSet::only(Algorithm::ES256))
}

fn receiver(
    portal: &Portal,
    replay: Arc<dyn ReplayStore>,
    clock: &Arc<FixedClock>,
) -> LaunchReceiver {
    LaunchReceiver::builder(policy())
        .keys(portal.keys())
        .replay(replay)
        .clock(clock.clone())
        .build()
        .unwrap()
}

#[test]
fn sixteen_threads_presenting_one_token_get_exactly_one_acceptance() {
    let portal = Portal::new();
    let clock = Arc::new(FixedClock::new(T0 + 5));
    for round in 0..20 {
        let receiver = Arc::new(receiver(
            &portal,
            Arc::new(MemoryReplayStore::new(1024)),
            &clock,
        ));
        let token = Arc::new(portal.launch(T0));
        let barrier = Arc::new(Barrier::new(16));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (receiver, token, barrier) = (
                    Arc::clone(&receiver),
                    Arc::clone(&token),
                    Arc::clone(&barrier),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    receiver
                        .receive_token(&token)
                        .map(|_| ())
                        .map_err(|error| error.code())
                })
            })
            .collect();
        let outcomes: Vec<Result<(), u16>> = threads
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .collect();
        let accepted = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        assert_eq!(accepted, 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes
                .iter()
                .all(|outcome| *outcome == Ok(()) || *outcome == Err(Error::Replayed.code()))
        );
    }
}

#[test]
fn the_journal_keeps_a_replay_refused_across_a_restart() {
    let portal = Portal::new();
    let directory = tempdir();
    let journal = directory.join("replay.journal");
    let clock = Arc::new(FixedClock::new(T0 + 5));
    let token = portal.launch(T0);
    let other = portal.launch(T0);
    {
        let store = Arc::new(
            JournalReplayStore::open_at(
                &journal,
                JournalOptions {
                    capacity: 64,
                    sync: false,
                },
                clock.now(),
            )
            .unwrap(),
        );
        let receiver = receiver(&portal, store, &clock);
        receiver.receive_token(&token).unwrap();
        assert_eq!(
            receiver.receive_token(&token).unwrap_err().code(),
            Error::Replayed.code()
        );
    } // the process "ends"
    clock.advance(10);
    let store = Arc::new(
        JournalReplayStore::open_at(
            &journal,
            JournalOptions {
                capacity: 64,
                sync: false,
            },
            clock.now(),
        )
        .unwrap(),
    );
    let receiver = receiver(&portal, store, &clock);
    assert_eq!(
        receiver.receive_token(&token).unwrap_err().code(),
        Error::Replayed.code(),
        "replayed after restart"
    );
    receiver.receive_token(&other).unwrap();

    // The memory store, by contrast, forgets: that is the window the journal closes.
    let forgetful = receiver_with_memory(&portal, &clock);
    assert!(forgetful.receive_token(&token).is_ok());
    std::fs::remove_dir_all(directory).unwrap();
}

fn receiver_with_memory(portal: &Portal, clock: &Arc<FixedClock>) -> LaunchReceiver {
    receiver(portal, Arc::new(MemoryReplayStore::new(64)), clock)
}

#[test]
fn the_journal_drops_expired_entries_and_refuses_a_foreign_file() {
    let directory = tempdir();
    let journal = directory.join("replay.journal");
    let key = |n: u8| koppeltaal_core::ReplayKey::from_bytes([n; 12]);
    {
        let store = JournalReplayStore::open_at(
            &journal,
            JournalOptions {
                capacity: 8,
                sync: true,
            },
            T0,
        )
        .unwrap();
        store.check_and_record(key(1), T0 + 100, T0).unwrap();
        store.check_and_record(key(2), T0 + 1000, T0).unwrap();
    }
    // 8 bytes of magic, two 24-byte records.
    assert_eq!(std::fs::metadata(&journal).unwrap().len(), 8 + 2 * 24);
    let store = JournalReplayStore::open_at(
        &journal,
        JournalOptions {
            capacity: 8,
            sync: true,
        },
        T0 + 500,
    )
    .unwrap();
    assert_eq!(
        std::fs::metadata(&journal).unwrap().len(),
        8 + 24,
        "compacted to the live entry"
    );
    assert!(
        store.check_and_record(key(1), T0 + 900, T0 + 500).is_ok(),
        "expired entry forgotten"
    );
    assert!(matches!(
        store.check_and_record(key(2), T0 + 1000, T0 + 500),
        Err(HostError::Core(Error::Replayed))
    ));
    drop(store);
    // A torn last record (a crash mid-append) is ignored.
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes.extend_from_slice(&[9u8; 7]);
    std::fs::write(&journal, &bytes).unwrap();
    assert!(
        JournalReplayStore::open_at(
            &journal,
            JournalOptions {
                capacity: 8,
                sync: true
            },
            T0 + 500
        )
        .is_ok()
    );

    let foreign = directory.join("not-a-journal");
    std::fs::write(&foreign, b"hello world").unwrap();
    assert!(matches!(
        JournalReplayStore::open_at(
            &foreign,
            JournalOptions {
                capacity: 8,
                sync: false
            },
            T0
        ),
        Err(HostError::Io(_))
    ));
    assert_eq!(
        std::fs::read(&foreign).unwrap(),
        b"hello world",
        "left untouched"
    );
    std::fs::remove_dir_all(directory).unwrap();
}

#[test]
fn form_bodies_and_user_messages() {
    let portal = Portal::new();
    let clock = Arc::new(FixedClock::new(T0 + 5));
    let receiver = receiver_with_memory(&portal, &clock);
    let token = portal.launch(T0);
    let form = format!("token={}&state=abc", token);
    assert_eq!(
        receiver.receive_form(form.as_bytes()).unwrap().resource(),
        "Task/11"
    );

    let replayed = receiver.receive_form(form.as_bytes()).unwrap_err();
    assert_eq!((replayed.name(), replayed.code()), ("Replayed", 600));
    assert!(replayed.user_message().contains("already been used"));

    let missing = receiver.receive_form(b"tokn=x").unwrap_err();
    assert_eq!((missing.name(), missing.code()), ("BadForm", 912));
    assert!(missing.user_message().contains("could not be verified"));

    clock.advance(400);
    let expired = receiver.receive_token(&portal.launch(T0)).unwrap_err();
    assert_eq!(
        expired.reason().to_string(),
        format!("token has expired (exp {}, now {})", T0 + 300, T0 + 405)
    );
    assert!(expired.user_message().contains("not valid at this time"));
    assert!(!expired.is_temporary());

    let stranger = Portal::new();
    // A stranger's key has its own thumbprint kid, which this portal never published.
    let forged = receiver
        .receive_token(&stranger.launch(T0 + 400))
        .unwrap_err();
    assert_eq!(forged.code(), Error::UnknownKeyId.code(), "{forged}");
    assert!(forged.user_message().contains("could not be verified"));
}

/// A fresh directory under the system temporary directory.
fn tempdir() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "koppeltaal-test-{}",
        koppeltaal_host::random::new_jti()
    ));
    std::fs::create_dir_all(&path).unwrap();
    path
}

/// A key source whose lookup takes `delay` seconds of the receiver's clock, as a slow JWKS
/// fetch would.
struct SlowKeys {
    keys: Arc<StaticKeys>,
    clock: Arc<FixedClock>,
    delay: u64,
}

impl koppeltaal_host::keys::KeySource for SlowKeys {
    fn keys_for(
        &self,
        issuer: &str,
        kid: &str,
    ) -> Result<Arc<koppeltaal_host::keys::IssuerKeys>, HostError> {
        self.clock.advance(self.delay);
        self.keys.keys_for(issuer, kid)
    }
}

#[test]
fn the_clock_is_read_after_fetching_keys_not_before() {
    let portal = Portal::new();
    let clock = Arc::new(FixedClock::new(T0 + 200));
    let receiver = LaunchReceiver::builder(policy())
        .keys(SlowKeys {
            keys: portal.keys(),
            clock: Arc::clone(&clock),
            delay: 400,
        })
        .clock(Arc::clone(&clock))
        .build()
        .unwrap();
    // Valid when it arrived (T0 + 200), expired by the time the keys were there (T0 + 600).
    let refused = receiver.receive_token(&portal.launch(T0)).unwrap_err();
    assert!(
        matches!(
            refused.reason(),
            HostError::Core(Error::Expired { now, .. }) if *now == T0 + 600
        ),
        "judged at the time after the fetch: {refused}"
    );
}

#[test]
fn a_replay_store_judges_by_the_latest_time_it_has_seen() {
    let portal = Portal::new();
    let store = Arc::new(MemoryReplayStore::new(64));
    let late = Arc::new(FixedClock::new(T0 + 400));
    let early = Arc::new(FixedClock::new(T0 + 100));
    // Two receivers share the store; one has a clock that lags (a stalled request, or a
    // clock stepped back).
    let ahead = receiver(&portal, store.clone(), &late);
    let behind = receiver(&portal, store, &early);
    let token = portal.launch(T0);
    // Accepted by the lagging one, then the other moves the store's time past the token's life.
    behind.receive_token(&token).unwrap();
    ahead.receive_token(&portal.launch(T0 + 300)).unwrap();
    // The first token, still "valid" to the lagging clock, is never accepted again.
    let again = behind.receive_token(&token).unwrap_err();
    assert_eq!(again.name(), "ReplayWindowClosed", "{again}");
    // Another token whose life (with leeway, until T0 + 260) ended before the store's latest
    // time (T0 + 400), though the lagging clock (T0 + 100) finds it valid.
    let fresh_for_behind = portal.launch(T0 - 100);
    let refused = behind.receive_token(&fresh_for_behind).unwrap_err();
    assert_eq!(
        refused.name(),
        "ReplayWindowClosed",
        "its life ends before the store's latest time: it may have been forgotten"
    );
}
