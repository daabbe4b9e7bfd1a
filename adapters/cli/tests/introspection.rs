//! `koppeltaal introspect` and `koppeltaal serve --introspect` against a loopback stand-in
//! for Koppeltaal's authentication service (`koppeltaal_tests::koppeltaal_auth`), which
//! refuses an assertion not addressed to its token endpoint, in both flag forms:
//! `--token-endpoint URL [--endpoint URL]` and `--fhir-base URL`.

mod common;

use common::{Scratch, Serve, koppeltaal, stderr, stdout};
use koppeltaal_tests::koppeltaal_auth::{KoppeltaalAuth, Registration};
use serde_json::Value;

const MODULE: &str = "module-client";
const PORTAL: &str = "portal-client";
const MODULE_DEVICE: &str = "Device/module-client-device";

struct Network {
    scratch: Scratch,
    auth: KoppeltaalAuth,
}

impl Network {
    fn start() -> Network {
        let scratch = Scratch::new();
        for name in ["module", "portal"] {
            let key = scratch.path(&format!("{name}.pem"));
            assert!(koppeltaal(&["keygen", "--out", &key]).status.success());
        }
        let jwks = |name: &str| stdout(&koppeltaal(&["jwks", "--key", &scratch.path(name)]));
        let auth = KoppeltaalAuth::start(vec![
            Registration::new(MODULE, &jwks("module.pem")),
            Registration::new(PORTAL, &jwks("portal.pem")),
        ]);
        Network { scratch, auth }
    }

    fn launch(&self) -> String {
        let output = koppeltaal(&[
            "launch",
            "--key",
            &self.scratch.path("portal.pem"),
            "--issuer",
            PORTAL,
            "--audience",
            MODULE_DEVICE,
            "--sub",
            "Patient/p1",
            "--resource",
            "Task/t1",
            "--definition",
            "https://module.example.org/ActivityDefinition/ad1",
            "--idp-hint",
            "https://idp.example.org",
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    }

    fn introspect(&self, server: &[&str], token: &str) -> std::process::Output {
        let key = self.scratch.path("module.pem");
        let mut args = vec!["introspect", "--key", &key, "--client-id", MODULE];
        args.extend_from_slice(server);
        args.push(token);
        koppeltaal(&args)
    }
}

fn answer(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "{}", stderr(output));
    serde_json::from_str(&stdout(output)).unwrap()
}

#[test]
fn introspect_with_a_token_endpoint_and_an_explicit_endpoint() {
    let network = Network::start();
    let (token_endpoint, endpoint) = (
        network.auth.token_endpoint(),
        network.auth.introspection_endpoint(),
    );
    let flags = [
        "--token-endpoint",
        token_endpoint.as_str(),
        "--endpoint",
        endpoint.as_str(),
    ];
    let launch = network.launch();
    let first = answer(&network.introspect(&flags, &launch));
    assert_eq!(first["active"], true);
    assert_eq!(first["resource"], "Task/t1");
    assert_eq!(first["idp_hint"], "https://idp.example.org");
    assert_eq!(
        answer(&network.introspect(&flags, &launch))["active"],
        false
    );
    // Not a JWT: the server's HTTP 500 is reported with its status.
    let garbage = network.introspect(&flags, "not-a-jwt");
    assert_eq!(garbage.status.code(), Some(1));
    assert!(
        stderr(&garbage).starts_with("error: Status (906): unexpected HTTP status 500"),
        "{}",
        stderr(&garbage)
    );
}

#[test]
fn introspect_with_a_token_endpoint_finds_the_introspection_endpoint() {
    let network = Network::start();
    let token_endpoint = network.auth.token_endpoint();
    let flags = ["--token-endpoint", token_endpoint.as_str()];
    assert_eq!(
        answer(&network.introspect(&flags, &network.launch()))["active"],
        true
    );
}

#[test]
fn introspect_with_a_fhir_base_discovers_both_endpoints() {
    let network = Network::start();
    let fhir_base = network.auth.fhir_base();
    let flags = ["--fhir-base", fhir_base.as_str()];
    let launch = network.launch();
    assert_eq!(answer(&network.introspect(&flags, &launch))["active"], true);
    assert_eq!(
        answer(&network.introspect(&flags, &launch))["active"],
        false
    );
    network.auth.seen(|seen| {
        assert!(
            seen.assertion_audiences
                .iter()
                .all(|aud| aud.as_str() == Some(network.auth.token_endpoint().as_str())),
            "{:?}",
            seen.assertion_audiences
        )
    });
}

#[test]
fn introspect_without_a_server_is_a_usage_error_naming_the_flags() {
    let network = Network::start();
    let output = network.introspect(&[], "x.y.z");
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("--token-endpoint") && message.contains("--fhir-base"),
        "{message}"
    );
    let both = network.introspect(
        &[
            "--token-endpoint",
            "http://127.0.0.1:1/t",
            "--fhir-base",
            "http://127.0.0.1:1/f",
        ],
        "x.y.z",
    );
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn serve_introspects_launches_in_both_flag_forms() {
    let network = Network::start();
    let key = network.scratch.path("module.pem");
    let (token_endpoint, fhir_base) = (network.auth.token_endpoint(), network.auth.fhir_base());
    for server in [
        vec!["--token-endpoint", token_endpoint.as_str()],
        vec!["--fhir-base", fhir_base.as_str()],
    ] {
        let mut args = vec![
            "--introspect",
            "--key",
            &key,
            "--client-id",
            MODULE,
            "--issuer",
            PORTAL,
            "--audience",
            MODULE_DEVICE,
        ];
        args.extend_from_slice(&server);
        let serve = Serve::start(&args);
        let launch = network.launch();
        let body = format!("token={launch}");
        let (status, page) = serve.post(body.as_bytes());
        assert_eq!(status, 200, "{server:?}: {page}");
        let claims: Value = serde_json::from_str(&page).unwrap();
        assert_eq!(claims["idp_hint"], "https://idp.example.org");
        let (status, page) = serve.post(body.as_bytes());
        assert_eq!(status, 403, "{server:?}");
        assert!(page.contains("code 911"), "{page}");
    }
}

#[test]
fn serve_introspect_needs_the_auth_server() {
    let network = Network::start();
    let key = network.scratch.path("module.pem");
    let output = koppeltaal(&[
        "serve",
        "--introspect",
        "--key",
        &key,
        "--client-id",
        MODULE,
        "--issuer",
        PORTAL,
        "--audience",
        MODULE_DEVICE,
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}
