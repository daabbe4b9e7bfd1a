//! Launched AuditEvents (TOP-KT-011, TOP-KT-012c) delivered by the outbox's sender to a FHIR
//! store stand-in that checks the bearer tokens of a real OAuth server (oidc-provider): every
//! outcome's event in the KT2AuditEvent shape, each delivered exactly once, also when the
//! store is down for a while and the module restarts in between.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use koppeltaal_host::audit::{AuditSender, LaunchAudit, Outbox, OutboxOptions, SenderOptions};
use koppeltaal_host::fhir::FhirClient;
use koppeltaal_host::http::HttpOptions;
use koppeltaal_host::keys::jwks_document;
use koppeltaal_host::oauth::TokenClient;
use koppeltaal_host::{Algorithm, HostError, LaunchError, PrivateKey, SystemClock};
use koppeltaal_tests::oidc::{OidcProvider, TokenFormat};
use koppeltaal_tests::resource_server::ResourceServer;
use serde_json::Value;

const CLIENT: &str = "audit-module";
const DEVICE: &str = "Device/42";

struct Store {
    key: PrivateKey,
    provider: OidcProvider,
    resources: ResourceServer,
    fhir: FhirClient,
    outbox_path: std::path::PathBuf,
}

impl Store {
    fn start() -> Store {
        let key = PrivateKey::generate(Algorithm::RS512).unwrap();
        let provider =
            OidcProvider::start(CLIENT, &jwks_document(&[&key]).unwrap(), TokenFormat::Jwt);
        let resources = ResourceServer::start(&provider);
        let tokens = TokenClient::builder(CLIENT, key.signer().unwrap())
            .token_endpoint(&provider.token_endpoint())
            .build()
            .unwrap();
        let outbox_path = std::env::temp_dir().join(format!(
            "koppeltaal-audit-{}",
            koppeltaal_host::random::new_jti()
        ));
        Store {
            key,
            provider,
            resources,
            fhir: FhirClient::new(tokens),
            outbox_path,
        }
    }

    fn outbox(&self) -> Arc<Outbox> {
        Arc::new(Outbox::open(&self.outbox_path, OutboxOptions::default(), now()).unwrap())
    }

    fn sender(&self, outbox: &Arc<Outbox>) -> AuditSender {
        self.start_sender(outbox, self.fhir.clone())
    }

    /// A sender whose FHIR client keeps to `http` (the same module and token server).
    fn sender_with(&self, outbox: &Arc<Outbox>, http: HttpOptions) -> AuditSender {
        let tokens = TokenClient::builder(CLIENT, self.key.signer().unwrap())
            .token_endpoint(&self.provider.token_endpoint())
            .http(http)
            .build()
            .unwrap();
        self.start_sender(outbox, FhirClient::new(tokens))
    }

    fn start_sender(&self, outbox: &Arc<Outbox>, fhir: FhirClient) -> AuditSender {
        let options = SenderOptions {
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(400),
        };
        let base = self.resources.url("/fhir");
        AuditSender::start(Arc::clone(outbox), fhir, &base, SystemClock, options).unwrap()
    }

    fn events(&self) -> Vec<Value> {
        self.resources.ledger.lock().unwrap().audit_events.clone()
    }

    fn wait_for(&self, count: usize, within: Duration) -> Vec<Value> {
        let started = Instant::now();
        while self.events().len() < count && started.elapsed() < within {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.events()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.outbox_path);
    }
}

fn now() -> u64 {
    use koppeltaal_host::Clock;
    SystemClock.now()
}

fn event(outcome: &str, request_id: &str) -> Vec<u8> {
    let audit = LaunchAudit::new(DEVICE, "module.example.org", now()).request(request_id, None);
    let audit = match outcome {
        "accepted" => audit.task(Some("Task/11")).launch_id(Some("jti-1")),
        "replayed" => audit
            .refused(&LaunchError::from(koppeltaal_host::core::Error::Replayed))
            .task(Some("Task/11"))
            .launch_id(Some("jti-1")),
        "malformed" => audit.refused(&LaunchError::from(
            koppeltaal_host::core::Error::MalformedToken,
        )),
        _ => audit.refused(&LaunchError::from(HostError::ReplayStoreUnavailable(
            "connection refused".into(),
        ))),
    };
    audit.to_json().to_string().into_bytes()
}

fn extension<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event["extension"].as_array()?.iter().find_map(|extension| {
        (extension["url"] == format!("http://koppeltaal.nl/fhir/StructureDefinition/{name}"))
            .then(|| extension["valueId"].as_str())
            .flatten()
    })
}

/// The rules of the KT2AuditEvent profile and TOP-KT-012c a launch event must keep.
fn assert_kt2_launch_event(event: &Value) {
    let dcm = "http://dicom.nema.org/resources/ontology/DCM";
    assert_eq!(event["resourceType"], "AuditEvent");
    assert_eq!(
        event["meta"]["profile"][0],
        "http://koppeltaal.nl/fhir/StructureDefinition/KT2AuditEvent"
    );
    assert_eq!(
        (&event["type"]["system"], &event["type"]["code"]),
        (&dcm.into(), &"110100".into())
    );
    assert_eq!(event["subtype"][0]["code"], "110120");
    assert_eq!(event["action"], "E");
    assert!(
        event["recorded"].as_str().unwrap().ends_with('Z'),
        "an instant with its zone"
    );
    assert!(["0", "4", "8"].contains(&event["outcome"].as_str().unwrap()));
    assert_eq!(event["outcomeDesc"].is_string(), event["outcome"] != "0");
    let agents = event["agent"].as_array().unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0]["type"]["coding"][0]["code"], "110150");
    assert_eq!(agents[0]["who"]["reference"], DEVICE, "a Device only");
    assert_eq!(agents[0]["requestor"], false);
    assert_eq!(event["source"]["observer"]["reference"], DEVICE);
    assert_eq!(event["source"]["site"], "module.example.org");
    assert!(
        !event["entity"].as_array().unwrap().is_empty(),
        "entity is 1..*"
    );
    // Forbidden by the profile (max 0), and nothing that names a person.
    assert!(event.get("purposeOfEvent").is_none());
    for forbidden in [
        "altId",
        "name",
        "location",
        "policy",
        "media",
        "purposeOfUse",
    ] {
        assert!(agents[0].get(forbidden).is_none(), "agent.{forbidden}");
    }
    for entity in event["entity"].as_array().unwrap() {
        assert!(entity.get("detail").is_none(), "entity.detail");
    }
}

#[test]
fn every_outcome_reaches_the_store_once_in_the_profile_s_shape() {
    let store = Store::start();
    let outbox = store.outbox();
    for (outcome, id) in [
        ("accepted", "r-1"),
        ("replayed", "r-2"),
        ("malformed", "r-3"),
        ("faulty", "r-4"),
    ] {
        outbox.enqueue(&event(outcome, id), now()).unwrap();
    }
    let sender = store.sender(&outbox);
    let events = store.wait_for(4, Duration::from_secs(30));
    sender.stop();
    assert_eq!(events.len(), 4, "{events:?}");
    for event in &events {
        assert_kt2_launch_event(event);
    }
    let outcomes: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|event| {
            (
                event["outcome"].as_str().unwrap(),
                extension(event, "request-id"),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("0", Some("r-1")),
            ("4", Some("r-2")),
            ("4", Some("r-3")),
            ("8", Some("r-4"))
        ],
        "in the order queued, with the module's fault as 8"
    );
    // Every event a valid FHIR R4 AuditEvent for fhir.resources (Ok(false): not installed,
    // said on stderr; a failure instead under KOPPELTAAL_REQUIRE_PEERS).
    let verdict = koppeltaal_tests::fhir_validator::validate(&events);
    assert!(verdict.is_ok(), "{verdict:?}");
    assert_eq!(events[0]["entity"][0]["what"]["reference"], "Task/11");
    assert_eq!(extension(&events[0], "trace-id"), Some("jti-1"));
    assert!(
        events[2]["entity"][0].get("what").is_none(),
        "no Task known for a malformed launch"
    );
    assert!(
        events[1]["outcomeDesc"]
            .as_str()
            .unwrap()
            .starts_with("600 Replayed")
    );
    let stats = outbox.stats();
    assert_eq!((stats.pending, stats.delivered, stats.dropped), (0, 4, 0));
    // Each post carried its own new request id, and the launch request's id as correlation.
    let trace = store.resources.ledger.lock().unwrap().audit_trace.clone();
    let correlations: Vec<Option<&str>> = trace.iter().map(|(_, c)| c.as_deref()).collect();
    assert_eq!(
        correlations,
        [Some("r-1"), Some("r-2"), Some("r-3"), Some("r-4")]
    );
    assert!(
        trace
            .iter()
            .all(|(id, _)| id.as_deref().is_some_and(|id| id.len() == 36))
    );
}

#[test]
fn the_validator_refuses_what_r4_does_not_allow() {
    // So that its "valid" above means something: an element R4's AuditEvent does not have,
    // and a `recorded` that is not an instant, are refused.
    let mut coloured: Value = serde_json::from_slice(&event("accepted", "r-1")).unwrap();
    coloured["agent"][0]["colour"] = "blue".into();
    let mut undated: Value = serde_json::from_slice(&event("accepted", "r-2")).unwrap();
    undated["recorded"] = "yesterday".into();
    for wrong in [coloured, undated] {
        let verdict = koppeltaal_tests::fhir_validator::validate(&[wrong]);
        assert!(verdict.is_err() || verdict == Ok(false), "{verdict:?}");
    }
}

#[test]
fn a_store_down_for_a_while_gets_every_event_exactly_once_across_a_restart() {
    let store = Store::start();
    store.resources.ledger.lock().unwrap().fail_with = Some(503);
    let outbox = store.outbox();
    let sender = store.sender(&outbox);
    for n in 0..10 {
        outbox
            .enqueue(&event("accepted", &format!("before-{n}")), now())
            .unwrap();
    }
    // Tried and refused while down: nothing stored, nothing lost.
    std::thread::sleep(Duration::from_millis(500));
    assert!(outbox.stats().retried > 0);
    assert_eq!(store.events().len(), 0);
    // The module restarts while the store is down, and launches go on after it.
    sender.stop();
    drop(outbox);
    let outbox = store.outbox();
    assert_eq!(
        outbox.stats().pending,
        10,
        "every event survived the restart"
    );
    let sender = store.sender(&outbox);
    for n in 0..10 {
        outbox
            .enqueue(&event("replayed", &format!("after-{n}")), now())
            .unwrap();
    }
    store.resources.ledger.lock().unwrap().fail_with = None;
    let events = store.wait_for(20, Duration::from_secs(30));
    // A little longer: a duplicate would arrive now.
    std::thread::sleep(Duration::from_millis(300));
    sender.stop();
    let events = if store.events().len() > events.len() {
        store.events()
    } else {
        events
    };
    let ids: Vec<&str> = events
        .iter()
        .filter_map(|event| extension(event, "request-id"))
        .collect();
    let distinct: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(
        (ids.len(), distinct.len()),
        (20, 20),
        "each exactly once: {ids:?}"
    );
    assert_eq!(&ids[..2], ["before-0", "before-1"], "oldest first");
    // And nothing is pending after another restart.
    drop(outbox);
    assert_eq!(store.outbox().stats().pending, 0);
}

#[test]
fn a_slow_store_is_waited_out_and_every_event_delivered() {
    let store = Store::start();
    let quick = HttpOptions {
        timeout: Duration::from_millis(300),
        ..Default::default()
    };
    // The FHIR client gives up on a store slower than 300 ms, and tries again.
    store.resources.ledger.lock().unwrap().delay = Some(Duration::from_millis(700));
    let outbox = store.outbox();
    for n in 0..3 {
        outbox
            .enqueue(&event("accepted", &format!("slow-{n}")), now())
            .unwrap();
    }
    let sender = store.sender_with(&outbox, quick);
    std::thread::sleep(Duration::from_millis(900));
    assert!(outbox.stats().retried > 0, "{:?}", outbox.stats());
    store.resources.ledger.lock().unwrap().delay = None;
    let started = Instant::now();
    while outbox.stats().pending > 0 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    sender.stop();
    assert_eq!(outbox.stats().delivered, 3);
    // Each is there; one the store took while the client had given up is there twice (the
    // documented cost of a timeout).
    let delivered: HashSet<String> = store
        .events()
        .iter()
        .filter_map(|event| extension(event, "request-id").map(str::to_owned))
        .collect();
    assert_eq!(delivered, (0..3).map(|n| format!("slow-{n}")).collect());
}

#[test]
fn an_event_the_store_refuses_for_good_is_dropped_and_the_rest_delivered() {
    let store = Store::start();
    let outbox = store.outbox();
    outbox
        .enqueue(br#"{"resourceType":"Patient"}"#, now())
        .unwrap();
    outbox
        .enqueue(&event("accepted", "after-the-bad-one"), now())
        .unwrap();
    let reports = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&reports);
    let sender = AuditSender::start_reporting(
        Arc::clone(&outbox),
        store.fhir.clone(),
        &store.resources.url("/fhir"),
        SystemClock,
        SenderOptions::default(),
        move |sentence: &str| sink.lock().unwrap().push(sentence.to_owned()),
    )
    .unwrap();
    let events = store.wait_for(1, Duration::from_secs(30));
    sender.stop();
    // The drop is said, for a log line: which event, and the server's answer.
    let reports = reports.lock().unwrap().clone();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(
        reports[0].starts_with("audit event 0 refused by the FHIR server for good, dropped:")
            && reports[0].contains("400"),
        "{reports:?}"
    );
    assert_eq!(events.len(), 1);
    assert_eq!(
        extension(&events[0], "request-id"),
        Some("after-the-bad-one")
    );
    let stats = outbox.stats();
    assert_eq!((stats.pending, stats.delivered, stats.dropped), (0, 1, 1));
}

#[test]
fn a_revoked_token_is_renewed_once_and_the_event_delivered() {
    let store = Store::start();
    // The first token the store sees is refused: the client renews it and sends again.
    let first = store
        .fhir
        .get(&store.resources.url("/fhir/Patient/1"))
        .unwrap();
    assert_eq!(first.status, 200);
    let presented = store.resources.ledger.lock().unwrap().presented[0].clone();
    store
        .resources
        .ledger
        .lock()
        .unwrap()
        .revoked
        .insert(presented.clone());
    let outbox = store.outbox();
    outbox
        .enqueue(&event("accepted", "with-a-new-token"), now())
        .unwrap();
    let sender = store.sender(&outbox);
    let events = store.wait_for(1, Duration::from_secs(30));
    sender.stop();
    assert_eq!(events.len(), 1);
    let ledger = store.resources.ledger.lock().unwrap();
    assert_ne!(
        ledger.presented.last(),
        Some(&presented),
        "a fresh token was used"
    );
}
