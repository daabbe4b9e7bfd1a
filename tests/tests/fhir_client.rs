//! `FhirClient`: authorized requests with tokens from a real OAuth server (oidc-provider) to
//! a resource server that checks them with our core; one refresh after a 401, never a loop,
//! one token fetch for many threads, server errors kept with their OperationOutcome text.

use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use koppeltaal_core::Algorithm;
use koppeltaal_host::{
    HostError, PrivateKey, fhir::FhirClient, keys::jwks_document, oauth::TokenClient,
};
use koppeltaal_tests::oidc::{OidcProvider, TokenFormat};
use koppeltaal_tests::resource_server::ResourceServer;

const CLIENT: &str = "fhir-client";

fn setup() -> (OidcProvider, ResourceServer, FhirClient) {
    let key = PrivateKey::generate(Algorithm::RS512).unwrap();
    let provider = OidcProvider::start(CLIENT, &jwks_document(&[&key]).unwrap(), TokenFormat::Jwt);
    let resources = ResourceServer::start(&provider);
    let tokens = TokenClient::builder(CLIENT, key.signer().unwrap())
        .token_endpoint(&provider.token_endpoint())
        .build()
        .unwrap();
    let client = FhirClient::new(tokens);
    (provider, resources, client)
}

#[test]
fn a_request_carries_a_token_the_resource_server_verifies() {
    let (_provider, resources, client) = setup();
    let patient = client.get(&resources.url("/fhir/Patient/1")).unwrap();
    assert_eq!(patient.status, 200);
    assert_eq!(patient.json().unwrap()["resourceType"], "Patient");
    let task = br#"{"resourceType":"Task","status":"requested"}"#;
    let created = client.post(&resources.url("/fhir/Task"), task).unwrap();
    assert_eq!(
        (created.status, created.body.as_slice()),
        (201, &task[..]),
        "sent as application/fhir+json"
    );
    let ledger = resources.ledger.lock().unwrap();
    assert_eq!(ledger.presented.len(), 2);
    assert_eq!(
        ledger.presented[0], ledger.presented[1],
        "the token is reused"
    );
}

#[test]
fn after_a_401_the_client_refreshes_once_and_succeeds() {
    let (_provider, resources, client) = setup();
    client.get(&resources.url("/fhir/Patient/1")).unwrap();
    let current = resources.ledger.lock().unwrap().presented[0].clone();
    resources
        .ledger
        .lock()
        .unwrap()
        .revoked
        .insert(current.clone());
    assert_eq!(
        client
            .get(&resources.url("/fhir/Patient/1"))
            .unwrap()
            .status,
        200
    );
    let ledger = resources.ledger.lock().unwrap();
    assert_eq!(
        ledger.presented.len(),
        3,
        "the refused request and one retry"
    );
    assert_eq!(ledger.presented[1], current);
    assert_ne!(ledger.presented[2], current, "a fresh token");
}

#[test]
fn a_server_that_always_answers_401_yields_an_error_after_exactly_one_retry() {
    let (_provider, resources, client) = setup();
    resources.ledger.lock().unwrap().refuse_all = true;
    match client.get(&resources.url("/fhir/Patient/1")) {
        Err(HostError::Refused {
            status: 401,
            outcome,
            ..
        }) => assert_eq!(outcome.as_deref(), Some("token refused")),
        other => panic!("{other:?}"),
    }
    assert_eq!(resources.ledger.lock().unwrap().presented.len(), 2);
}

#[test]
fn other_errors_keep_the_status_body_and_operation_outcome() {
    let (_provider, resources, client) = setup();
    match client.get(&resources.url("/fhir/Task/99")) {
        Err(error @ HostError::Refused { status: 404, .. }) => {
            assert_eq!(error.code(), 914);
            assert_eq!(error.to_string(), "HTTP 404: no such resource");
            let HostError::Refused { body, .. } = error else {
                unreachable!()
            };
            assert!(body.contains("OperationOutcome"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        resources.ledger.lock().unwrap().presented.len(),
        1,
        "no retry for anything but 401"
    );
}

#[test]
fn eight_threads_at_once_trigger_a_single_token_fetch() {
    let (_provider, resources, client) = setup();
    let (client, barrier) = (Arc::new(client), Arc::new(Barrier::new(8)));
    let url = resources.url("/fhir/Patient/1");
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (client, barrier, url) = (Arc::clone(&client), Arc::clone(&barrier), url.clone());
            std::thread::spawn(move || {
                barrier.wait();
                client.get(&url).map(|response| response.status)
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap().unwrap(), 200);
    }
    let distinct: HashSet<String> = resources
        .ledger
        .lock()
        .unwrap()
        .presented
        .iter()
        .cloned()
        .collect();
    // Each fetch yields a distinct token, so one distinct token means one fetch.
    assert_eq!(distinct.len(), 1);
}
