//! `LaunchReceiver`: one acceptance when many threads race with one token, no replay window
//! across a restart with the journal store, form bodies, and what the user is told.

use std::sync::{Arc, Barrier};

use koppeltaal_core::{Algorithm, AlgorithmSet, Error, LaunchToken, Policy};
use koppeltaal_host::{
    Clock, FixedClock, HostError, JournalReplayStore, LaunchReceiver, MemoryReplayStore,
    PrivateKey, ReplayStore, StaticKeys, jwks_document, os_rng,
};
use koppeltaal_tests::{AUDIENCE, ISSUER};

const T0: u64 = 1_700_000_000;

struct Portal {
    key: PrivateKey,
}

impl Portal {
    fn new() -> Portal {
        Portal {
            key: PrivateKey::generate(Algorithm::ES256, 0).unwrap(),
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
        let signer = self.key.signer(None).unwrap();
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
    LaunchReceiver::with_keys(policy(), portal.keys(), replay, clock.clone())
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
        let store = Arc::new(JournalReplayStore::open(&journal, 64, clock.now(), false).unwrap());
        let receiver = receiver(&portal, store, &clock);
        receiver.receive_token(&token).unwrap();
        assert_eq!(
            receiver.receive_token(&token).unwrap_err().code(),
            Error::Replayed.code()
        );
    } // the process "ends"
    clock.advance(10);
    let store = Arc::new(JournalReplayStore::open(&journal, 64, clock.now(), false).unwrap());
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
        let store = JournalReplayStore::open(&journal, 8, T0, true).unwrap();
        store.check_and_record(key(1), T0 + 100, T0).unwrap();
        store.check_and_record(key(2), T0 + 1000, T0).unwrap();
    }
    // 8 bytes of magic, two 20-byte records.
    assert_eq!(std::fs::metadata(&journal).unwrap().len(), 8 + 2 * 20);
    let store = JournalReplayStore::open(&journal, 8, T0 + 500, true).unwrap();
    assert_eq!(
        std::fs::metadata(&journal).unwrap().len(),
        8 + 20,
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
    assert!(JournalReplayStore::open(&journal, 8, T0 + 500, true).is_ok());

    let foreign = directory.join("not-a-journal");
    std::fs::write(&foreign, b"hello world").unwrap();
    assert!(matches!(
        JournalReplayStore::open(&foreign, 8, T0, false),
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
    assert_eq!(expired.code(), Error::Expired.code());
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
    let path = std::env::temp_dir().join(format!("koppeltaal-test-{}", koppeltaal_host::new_jti()));
    std::fs::create_dir_all(&path).unwrap();
    path
}
