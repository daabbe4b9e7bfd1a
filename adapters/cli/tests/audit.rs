//! `serve --audit`: a Launched AuditEvent for every launch outcome, delivered to a FHIR store
//! stand-in that checks the module's tokens from a real OAuth server (oidc-provider), with the
//! launch's request id, Task and `jti`; kept across a restart while the store is down, and
//! delivered once when it is back.

mod common;

use std::time::{Duration, Instant};

use common::{Portal, Scratch, Serve, koppeltaal, stderr};
use koppeltaal_tests::oidc::{OidcProvider, TokenFormat};
use koppeltaal_tests::resource_server::ResourceServer;
use serde_json::Value;

const CLIENT: &str = "audited-module";

struct Koppeltaal {
    _provider: OidcProvider,
    store: ResourceServer,
    scratch: Scratch,
    args: Vec<String>,
}

impl Koppeltaal {
    fn start(portal: &Portal) -> Koppeltaal {
        let scratch = Scratch::new();
        let key = scratch.path("module.pem");
        let output = koppeltaal(&["keygen", "--out", &key]);
        assert!(output.status.success(), "{}", stderr(&output));
        let jwks = String::from_utf8(koppeltaal(&["jwks", "--key", &key]).stdout).unwrap();
        let provider = OidcProvider::start(CLIENT, &jwks, TokenFormat::Jwt);
        let store = ResourceServer::start(&provider);
        let args = [
            "--jwks",
            &portal.jwks(),
            "--issuer",
            common::ISSUER,
            "--audience",
            common::AUDIENCE,
            "--audit",
            "--key",
            &key,
            "--client-id",
            CLIENT,
            "--token-endpoint",
            &provider.token_endpoint(),
            "--fhir-base",
            &store.url("/fhir"),
            "--device-id",
            "42",
            "--audit-site",
            "module.example.org",
            "--audit-outbox",
            &scratch.path("audit.outbox"),
            "--replay-journal",
            &scratch.path("replay.journal"),
            "--metrics-listen",
            "127.0.0.1:0",
        ]
        .map(str::to_owned)
        .to_vec();
        Koppeltaal {
            _provider: provider,
            store,
            scratch,
            args,
        }
    }

    fn serve(&self) -> Serve {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        Serve::start(&args)
    }

    fn events(&self) -> Vec<Value> {
        self.store.ledger.lock().unwrap().audit_events.clone()
    }

    fn wait_for(&self, count: usize) -> Vec<Value> {
        let started = Instant::now();
        while self.events().len() < count && started.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(25));
        }
        // A duplicate would arrive now.
        std::thread::sleep(Duration::from_millis(300));
        self.events()
    }
}

/// Posts `body` to the gateway asking for JSON: the status and the `X-Request-Id` answered.
fn post(serve: &Serve, body: &str) -> (u16, String) {
    let (status, id, _) = post_for_json(serve, body);
    (status, id)
}

/// Posts `body` asking for JSON: the status, the `X-Request-Id` and the body answered.
fn post_for_json(serve: &Serve, body: &str) -> (u16, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(format!("{}/launch", serve.base))
        .header("Accept", "application/json")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(body)
        .unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.body_mut().read_to_string().unwrap();
    (response.status().as_u16(), id, body)
}

fn extension<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event["extension"].as_array()?.iter().find_map(|extension| {
        (extension["url"] == format!("http://koppeltaal.nl/fhir/StructureDefinition/{name}"))
            .then(|| extension["valueId"].as_str())
            .flatten()
    })
}

fn jti(token: &str) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(payload).unwrap()).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

#[test]
fn every_launch_outcome_becomes_an_event_at_the_fhir_store() {
    let portal = Portal::new();
    let koppeltaal = Koppeltaal::start(&portal);
    let serve = koppeltaal.serve();
    let token = portal.launch(&[]);
    let (accepted, accepted_id) = post(&serve, &format!("token={token}"));
    let (replayed, replayed_id) = post(&serve, &format!("token={token}"));
    let (malformed, malformed_id) = post(&serve, "token=not-a-token");
    assert_eq!((accepted, replayed, malformed), (200, 403, 403));

    let events = koppeltaal.wait_for(3);
    assert_eq!(events.len(), 3, "{events:#?}");
    /// Outcome, request id, trace id (`jti`), Task.
    type Seen<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);
    let seen: Vec<Seen<'_>> = events
        .iter()
        .map(|event| {
            (
                event["outcome"].as_str().unwrap(),
                extension(event, "request-id"),
                extension(event, "trace-id"),
                event["entity"][0]["what"]["reference"].as_str(),
            )
        })
        .collect();
    let jti = jti(&token);
    assert_eq!(
        seen,
        [
            (
                "0",
                Some(accepted_id.as_str()),
                Some(jti.as_str()),
                Some("Task/11")
            ),
            (
                "4",
                Some(replayed_id.as_str()),
                Some(jti.as_str()),
                Some("Task/11")
            ),
            ("4", Some(malformed_id.as_str()), None, None),
        ]
    );
    for event in &events {
        assert_eq!(event["agent"][0]["who"]["reference"], "Device/42");
        assert_eq!(event["source"]["site"], "module.example.org");
    }
    assert!(
        events[1]["outcomeDesc"]
            .as_str()
            .unwrap()
            .starts_with("600 Replayed")
    );
    let verdict = koppeltaal_tests::fhir_validator::validate(&events);
    assert!(verdict.is_ok(), "{verdict:?}");

    let metrics = ureq::get(format!("{}/metrics", serve.metrics.as_deref().unwrap()))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        metrics.contains("koppeltaal_audit_events_total{state=\"delivered\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("koppeltaal_audit_pending 0"), "{metrics}");
}

#[test]
fn events_wait_out_a_store_outage_and_a_restart_and_arrive_once() {
    let portal = Portal::new();
    let koppeltaal = Koppeltaal::start(&portal);
    koppeltaal.store.ledger.lock().unwrap().fail_with = Some(503);
    let mut ids = Vec::new();
    {
        let serve = koppeltaal.serve();
        for _ in 0..3 {
            let (status, id) = post(&serve, &format!("token={}", portal.launch(&[])));
            assert_eq!(status, 200, "launches go on while the store is down");
            ids.push(id);
        }
        std::thread::sleep(Duration::from_millis(300));
    } // killed, as a crash would
    assert!(koppeltaal.events().is_empty());
    let serve = koppeltaal.serve();
    let (status, id) = post(&serve, &format!("token={}", portal.launch(&[])));
    assert_eq!(status, 200);
    ids.push(id);
    koppeltaal.store.ledger.lock().unwrap().fail_with = None;
    let events = koppeltaal.wait_for(4);
    let delivered: Vec<&str> = events
        .iter()
        .filter_map(|event| extension(event, "request-id"))
        .collect();
    assert_eq!(
        delivered, ids,
        "each launch's event exactly once, oldest first"
    );
    drop(serve);
    let _ = &koppeltaal.scratch;
}

#[test]
fn a_full_outbox_set_to_refuse_refuses_launches_without_using_them_up() {
    let portal = Portal::new();
    let mut koppeltaal = Koppeltaal::start(&portal);
    koppeltaal
        .args
        .extend(["--audit-max-events", "1", "--audit-when-full", "refuse"].map(str::to_owned));
    koppeltaal.store.ledger.lock().unwrap().fail_with = Some(503);
    let serve = koppeltaal.serve();
    let (first, _) = post(&serve, &format!("token={}", portal.launch(&[])));
    assert_eq!(first, 200, "its event fills the outbox");
    let waiting = portal.launch(&[]);
    let (_, _, refused) = post_for_json(&serve, &format!("token={waiting}"));
    let refused: Value = serde_json::from_str(&refused).unwrap();
    assert_eq!(
        (&refused["code"], &refused["error"]),
        (&919.into(), &"OutboxFull".into())
    );
    // Once the store takes the waiting event there is room, and the same launch, not used up
    // by its refusal, is accepted.
    koppeltaal.store.ledger.lock().unwrap().fail_with = None;
    koppeltaal.wait_for(1);
    let (again, _) = post(&serve, &format!("token={waiting}"));
    assert_eq!(again, 200);
}

#[test]
fn a_launch_the_application_could_not_take_is_the_module_s_fault() {
    let portal = Portal::new();
    let mut koppeltaal = Koppeltaal::start(&portal);
    // An application that is not there: the launch is accepted, then fails on our side.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = dead.local_addr().unwrap();
    drop(dead);
    koppeltaal
        .args
        .extend(["--upstream".to_owned(), format!("http://{address}/launch")]);
    let serve = koppeltaal.serve();
    let (status, id) = post(&serve, &format!("token={}", portal.launch(&[])));
    assert_eq!(status, 502);
    let events = koppeltaal.wait_for(1);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["outcome"], "8", "the module's fault");
    assert_eq!(extension(&events[0], "request-id"), Some(id.as_str()));
    assert!(
        events[0]["outcomeDesc"]
            .as_str()
            .unwrap()
            .starts_with("902 Unreachable"),
        "{events:#?}"
    );
    assert_eq!(events[0]["entity"][0]["what"]["reference"], "Task/11");
}
