//! `koppeltaal serve` receiving a SMART HTI on FHIR (SHOF) launch end to end: the portal's form
//! (`iss`, `launch`) is answered with a 303 to a real authorization server (oidc-provider,
//! `tests/oidc/shof.mjs`) and a state cookie; a scripted browser signs in there and comes back
//! to serve's redirect path, which shows who launched and the launch context.

mod common;

use std::net::TcpListener;

use common::{AUDIENCE, ISSUER, Portal, Scratch, Serve, koppeltaal, stdout};
use koppeltaal_tests::browser::{Browser, query_param};
use koppeltaal_tests::oidc::{OidcProvider, ShofSetup};

const CLIENT: &str = "serve-module";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn serve_takes_a_shof_launch_through_the_authorization_server() {
    let portal = Portal::new();
    let scratch = Scratch::new();
    let module_key = scratch.path("module.pem");
    assert!(
        koppeltaal(&["keygen", "--out", &module_key])
            .status
            .success()
    );
    let module_jwks = stdout(&koppeltaal(&["jwks", "--key", &module_key]));
    let port = free_port();
    let redirect = format!("http://127.0.0.1:{port}/shof/return");
    let provider = OidcProvider::start_shof(&ShofSetup {
        client_id: CLIENT,
        client_jwks: &module_jwks,
        redirect_uri: &redirect,
        portal_jwks: &std::fs::read_to_string(portal.jwks()).unwrap(),
        portal_issuer: ISSUER,
        module_device: AUDIENCE,
    });
    let fhir_base = provider.fhir_base();
    let listen = format!("127.0.0.1:{port}");
    let jwks = portal.jwks();
    let serve = Serve::start_on(
        &listen,
        &[
            "--jwks",
            &jwks,
            "--issuer",
            ISSUER,
            "--audience",
            AUDIENCE,
            "--key",
            &module_key,
            "--client-id",
            CLIENT,
            "--redirect-uri",
            &redirect,
            "--fhir-server",
            &fhir_base,
        ],
    );
    let launch = portal.launch(&[]); // by Practitioner/a5e58253, for Task/11
    let mut browser = Browser::new();
    let started = browser.post_form(
        &format!("{}/launch", serve.base),
        &[("iss", &fhir_base), ("launch", &launch)],
    );
    assert_eq!(started.status, 303, "{}", started.body);
    let to_server = started.location.clone().unwrap();
    assert!(to_server.starts_with(provider.issuer()), "{to_server}");
    let state = query_param(&to_server, "state").unwrap();
    // The launch in progress lives in the browser, sealed, under a name of its own.
    let cookie_name = format!("koppeltaal-shof-{}", &state[..16]);
    let sealed = browser
        .cookie(&serve.base, &cookie_name)
        .expect("the launch's cookie");
    assert!(
        sealed.len() > 100 && !sealed.contains(&state[..16]),
        "{sealed}"
    );

    // Through the server's login; it sends the browser back to serve.
    let first = browser.get(&to_server);
    let back = browser.until(first, &redirect, "dr-jansen");
    let returned = back.location.unwrap();
    let done = browser.get(&returned);
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.body.contains("Launched for Practitioner/a5e58253"),
        "{}",
        done.body
    );
    assert!(done.body.contains("Task/11"), "{}", done.body);
    assert_eq!(browser.cookie(&serve.base, &cookie_name), None, "cleared");

    // The same return again: the state is used up.
    let again = browser.get(&returned);
    assert_eq!(again.status, 403, "{}", again.body);
    assert!(again.body.contains("916"), "{}", again.body);
}

#[test]
fn serve_refuses_a_shof_return_from_another_browser_and_an_unknown_iss() {
    let portal = Portal::new();
    let scratch = Scratch::new();
    let module_key = scratch.path("module.pem");
    assert!(
        koppeltaal(&["keygen", "--out", &module_key])
            .status
            .success()
    );
    let jwks = portal.jwks();
    let port = free_port();
    let redirect = format!("http://127.0.0.1:{port}/shof/return");
    let serve = Serve::start_on(
        &format!("127.0.0.1:{port}"),
        &[
            "--jwks",
            &jwks,
            "--issuer",
            ISSUER,
            "--audience",
            AUDIENCE,
            "--key",
            &module_key,
            "--client-id",
            CLIENT,
            "--redirect-uri",
            &redirect,
            "--fhir-server",
            "http://127.0.0.1:1/fhir",
        ],
    );
    let mut browser = Browser::new();
    let unknown = browser.post_form(
        &format!("{}/launch", serve.base),
        &[
            ("iss", "https://evil.example.org/fhir"),
            ("launch", "a.b.c"),
        ],
    );
    assert_eq!(unknown.status, 403, "{}", unknown.body);
    assert!(unknown.body.contains("915"), "{}", unknown.body);
    // A return with a state but without the cookie that started it.
    let stray = browser.get(&format!("{redirect}?code=x&state=y"));
    assert_eq!(stray.status, 403);
    assert!(stray.body.contains("916"));
    // HTI launches still work beside SHOF ones.
    let (status, _) = serve.post(format!("token={}", portal.launch(&[])).as_bytes());
    assert_eq!(status, 200);
}
