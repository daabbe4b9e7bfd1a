//! The gateway in-process, on loopback sockets, against the review's findings (2026-12-07):
//! a SHOF flood, SHOF across instances, two tabs, forged `Host` and forwarding headers,
//! malformed `Content-Length`, keep-alive, metrics that time every outcome, and the budget for
//! encrypted launches, and the AuditEvents of SHOF launches. SHOF runs against a real authorization server (oidc-provider,
//! `tests/oidc/shof.mjs`) with a scripted browser; the shared replay store is a real Redis.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use koppeltaal_core::{Algorithm, LaunchToken, Policy};
use koppeltaal_gateway::{
    Audit, Budget, CookieKeys, Gateway, GatewayConfig, LogFormat, MAX_PENDING_COOKIES, ShofGateway,
    TrustedProxies, Upstream,
};
use koppeltaal_host::{
    LaunchReceiver, PrivateKey, StaticKeys,
    audit::{Outbox, OutboxOptions, SenderOptions},
    fhir::FhirClient,
    keys::jwks_document,
    oauth::TokenClient,
    random::os_rng,
    replay::{MemoryReplayStore, RedisOptions, RedisReplayStore, ReplayStore},
    shof::{ShofLauncher, ShofOptions},
};
use koppeltaal_tests::browser::{Browser, query_param};
use koppeltaal_tests::http_stub::{Reply, Request, StubServer};
use koppeltaal_tests::oidc::{OidcProvider, ShofSetup, TokenFormat};
use koppeltaal_tests::redis::RedisServer;
use koppeltaal_tests::resource_server::ResourceServer;
use koppeltaal_tests::{ISSUER, now};

const DEVICE: &str = "Device/gateway-tests";
const CLIENT: &str = "gateway-module";
const SECRET: &[u8] = b"a cookie secret shared by every instance, 32+ bytes";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A portal and a module, with keys.
struct Parties {
    portal: PrivateKey,
    module: PrivateKey,
}

impl Parties {
    fn new() -> Parties {
        Parties {
            portal: PrivateKey::generate(Algorithm::RS512).unwrap(),
            module: PrivateKey::generate(Algorithm::RS512).unwrap(),
        }
    }

    fn launch(&self) -> String {
        LaunchToken::new(
            ISSUER,
            DEVICE,
            "Patient/1",
            "Task/42",
            "https://module.example.org/AD/7",
            now(),
        )
        .unwrap()
        .sign_to_string(self.portal.signer().unwrap().as_ref(), &mut os_rng())
        .unwrap()
    }

    fn receiver(&self, replay: Arc<dyn ReplayStore>) -> LaunchReceiver {
        let jwks = jwks_document(&[&self.portal]).unwrap();
        LaunchReceiver::builder(Policy::new(DEVICE).unwrap())
            .keys(
                StaticKeys::new()
                    .with_jwks(ISSUER, jwks.as_bytes())
                    .unwrap(),
            )
            .replay(replay)
            .build()
            .unwrap()
    }

    fn config(&self, replay: Arc<dyn ReplayStore>) -> GatewayConfig {
        let mut config = GatewayConfig::new("127.0.0.1:0", self.receiver(replay));
        config.log_format = LogFormat::Off;
        config
    }

    fn provider(&self, redirect_uri: &str) -> OidcProvider {
        OidcProvider::start_shof(&ShofSetup {
            client_id: CLIENT,
            client_jwks: &jwks_document(&[&self.module]).unwrap(),
            redirect_uri,
            portal_jwks: &jwks_document(&[&self.portal]).unwrap(),
            portal_issuer: ISSUER,
            module_device: DEVICE,
        })
    }

    /// A configuration handing accepted launches to the application at `url` (5 s to answer),
    /// with a replay store in memory.
    fn handing_to(&self, url: &str) -> GatewayConfig {
        let mut config = self.config(Arc::new(MemoryReplayStore::new(1024)));
        config.upstream = Some(Upstream::new(url, None, Duration::from_secs(5)));
        config
    }

    /// A SHOF gateway's configuration: on `port`, sending browsers back to `redirect_uri`,
    /// sealing with `keys`.
    fn shof_config(
        &self,
        port: u16,
        redirect_uri: &str,
        fhir_base: &str,
        replay: Arc<dyn ReplayStore>,
        keys: CookieKeys,
    ) -> GatewayConfig {
        let launcher = ShofLauncher::new(
            ShofOptions::new(CLIENT, redirect_uri, &[fhir_base]),
            self.module.signer().unwrap(),
        )
        .replay(Arc::clone(&replay));
        let mut config = self.config(replay);
        config.listen = format!("127.0.0.1:{port}");
        config.shof = Some(ShofGateway::new(launcher, keys, 4).unwrap());
        config
    }
}

/// Parties, a free port for the gateway, its redirect URI there, a SHOF authorization server
/// (oidc-provider) registered with it, and its FHIR base.
fn shof_network() -> (Parties, u16, String, OidcProvider, String) {
    let parties = Parties::new();
    let port = free_port();
    let redirect = format!("http://127.0.0.1:{port}/shof/return");
    let provider = parties.provider(&redirect);
    let fhir_base = provider.fhir_base();
    (parties, port, redirect, provider, fhir_base)
}

/// Waits (at most 20 s) until `condition` holds.
fn wait_until(condition: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "waited 20 s in vain"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn base(gateway: &Gateway) -> String {
    format!("http://{}", gateway.address())
}

/// Sends raw bytes and returns the whole answer (the connection closed by the server).
fn raw(address: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

fn status_of(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// The browser's whole SHOF journey from the portal's form post to the gateway's answer.
fn shof_journey(
    browser: &mut Browser,
    launch_at: &str,
    fhir_base: &str,
    token: &str,
    redirect: &str,
) -> String {
    let started = browser.post_form(launch_at, &[("iss", fhir_base), ("launch", token)]);
    assert_eq!(started.status, 303, "{}", started.body);
    let to_server = started.location.unwrap();
    let first = browser.get(&to_server);
    let back = browser.until(first, redirect, "Patient/1");
    back.location.expect("sent back to the module")
}

#[test]
fn ten_thousand_junk_shof_starts_leave_a_genuine_shof_launch_working() {
    let (parties, port, redirect, _provider, fhir_base) = shof_network();
    let replay: Arc<dyn ReplayStore> = Arc::new(MemoryReplayStore::new(1 << 16));
    let gateway = Gateway::start(parties.shof_config(
        port,
        &redirect,
        &fhir_base,
        replay,
        CookieKeys::random(),
    ))
    .unwrap();
    // The flood: an allowed `iss` and junk `launch`, as fast as one connection goes. Before,
    // each start took a slot in the gateway's memory (10 000 of them), and genuine launches
    // were refused for ten minutes.
    let body = format!(
        "iss={}&launch=junk.junk.junk",
        form_urlencoded::byte_serialize(fhir_base.as_bytes()).collect::<String>()
    );
    let request = format!(
        "POST /launch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let connect = || {
        let stream = TcpStream::connect(gateway.address()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    };
    let mut stream = connect();
    let mut started = 0;
    let mut buffer = vec![0u8; 64 * 1024];
    for round in 0..100 {
        // A connection serves 1 000 requests, then the gateway closes it.
        if round > 0 && round % 10 == 0 {
            stream = connect();
        }
        // A hundred requests pipelined on one kept-alive connection per round.
        stream.write_all(request.repeat(100).as_bytes()).unwrap();
        let mut answers = String::new();
        while answers.matches("HTTP/1.1 303").count() + answers.matches("HTTP/1.1 5").count() < 100
        {
            let read = stream.read(&mut buffer).unwrap();
            assert!(
                read > 0,
                "closed in round {round} after {} answers: {answers}",
                answers.matches("HTTP/1.1").count()
            );
            answers.push_str(&String::from_utf8_lossy(&buffer[..read]));
        }
        started += answers.matches("HTTP/1.1 303").count();
    }
    assert_eq!(
        started, 10_000,
        "every junk start answered, none refused for want of room"
    );
    drop(stream);
    let mut browser = Browser::new();
    let returned = shof_journey(
        &mut browser,
        &format!("{}/launch", base(&gateway)),
        &fhir_base,
        &parties.launch(),
        &redirect,
    );
    let done = browser.get(&returned);
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Task/42"), "{}", done.body);
}

#[test]
fn a_shof_launch_begun_on_one_gateway_finishes_on_another_sharing_redis_once() {
    let parties = Parties::new();
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = |_: ()| -> Arc<dyn ReplayStore> {
        Arc::new(RedisReplayStore::new(&redis.url(), RedisOptions::default()).unwrap())
    };
    let (port_a, port_b) = (free_port(), free_port());
    // The registered redirect URI is instance B's: the balancer sends the return there.
    let redirect = format!("http://127.0.0.1:{port_b}/shof/return");
    let provider = parties.provider(&redirect);
    let fhir_base = provider.fhir_base();
    let keys = || CookieKeys::from_secrets(SECRET, None).unwrap();
    let a = Gateway::start(parties.shof_config(port_a, &redirect, &fhir_base, store(()), keys()))
        .unwrap();
    let b = Gateway::start(parties.shof_config(port_b, &redirect, &fhir_base, store(()), keys()))
        .unwrap();
    let mut browser = Browser::new();
    let launch_at = format!("{}/launch", base(&a));
    let started = browser.post_form(
        &launch_at,
        &[("iss", &fhir_base), ("launch", &parties.launch())],
    );
    assert_eq!(started.status, 303, "{}", started.body);
    let state = query_param(started.location.as_ref().unwrap(), "state").unwrap();
    let cookie_name = format!("koppeltaal-shof-{}", &state[..16]);
    let sealed = browser.cookie(&base(&a), &cookie_name).unwrap().to_owned();
    // One site behind the balancer: one cookie jar for both instances.
    browser.share_cookies(&base(&a), &base(&b));
    let first = browser.get(started.location.as_ref().unwrap());
    let returned = browser
        .until(first, &redirect, "Patient/1")
        .location
        .unwrap();
    let done = browser.get(&returned);
    assert_eq!(done.status, 200, "finished on B: {}", done.body);
    assert!(done.body.contains("Task/42"));
    assert_eq!(browser.cookie(&base(&b), &cookie_name), None, "cleared");
    // The same return with the cookie kept (or stolen) is refused on either instance: the
    // state was recorded in the shared store.
    for gateway in [&a, &b] {
        let again = returned.replace(&base(&b), &base(gateway));
        browser.set_cookie(&again, &cookie_name, &sealed);
        let page = browser.get(&again);
        assert_eq!(page.status, 403, "{}", page.body);
        assert!(page.body.contains("916"), "{}", page.body);
    }
    // A gateway with another cookie secret cannot open it at all.
    let stranger = Gateway::start(parties.shof_config(
        free_port(),
        &redirect,
        &fhir_base,
        store(()),
        CookieKeys::random(),
    ))
    .unwrap();
    let elsewhere = returned.replace(&base(&b), &base(&stranger));
    browser.set_cookie(&elsewhere, &cookie_name, &sealed);
    assert_eq!(browser.get(&elsewhere).status, 403);
}

#[test]
fn two_tabs_each_finish_their_own_shof_launch() {
    let (parties, port, redirect, _provider, fhir_base) = shof_network();
    let gateway = Gateway::start(parties.shof_config(
        port,
        &redirect,
        &fhir_base,
        Arc::new(MemoryReplayStore::new(1024)),
        CookieKeys::random(),
    ))
    .unwrap();
    let mut browser = Browser::new();
    let launch_at = format!("{}/launch", base(&gateway));
    // Both tabs start before either comes back; the second finishes first.
    let first = browser.post_form(
        &launch_at,
        &[("iss", &fhir_base), ("launch", &parties.launch())],
    );
    let second = browser.post_form(
        &launch_at,
        &[("iss", &fhir_base), ("launch", &parties.launch())],
    );
    let mut returns = Vec::new();
    for started in [&second, &first] {
        assert_eq!(started.status, 303);
        let page = browser.get(started.location.as_ref().unwrap());
        returns.push(
            browser
                .until(page, &redirect, "Patient/1")
                .location
                .unwrap(),
        );
    }
    for returned in returns {
        let done = browser.get(&returned);
        assert_eq!(done.status, 200, "{}", done.body);
    }
}

#[test]
fn shof_launches_are_audited_when_they_end_accepted_or_refused() {
    let (parties, port, redirect, _provider, fhir_base) = shof_network();
    // Koppeltaal's FHIR store: the module's client_credentials tokens from a second real
    // authorization server, checked by the store stand-in.
    let audit_provider = OidcProvider::start(
        CLIENT,
        &jwks_document(&[&parties.module]).unwrap(),
        TokenFormat::Jwt,
    );
    let store = ResourceServer::start(&audit_provider);
    let tokens = TokenClient::builder(CLIENT, parties.module.signer().unwrap())
        .token_endpoint(&audit_provider.token_endpoint())
        .build()
        .unwrap();
    let outbox_path = std::env::temp_dir().join(format!(
        "koppeltaal-gateway-audit-{}",
        koppeltaal_host::random::new_jti()
    ));
    let mut config = parties.shof_config(
        port,
        &redirect,
        &fhir_base,
        Arc::new(MemoryReplayStore::new(1024)),
        CookieKeys::random(),
    );
    config.audit = Some(Audit {
        outbox: Arc::new(Outbox::open(&outbox_path, OutboxOptions::default(), now()).unwrap()),
        fhir: FhirClient::new(tokens),
        fhir_base: store.url("/fhir"),
        device: DEVICE.into(),
        site: "module.example.org".into(),
        sender: SenderOptions::default(),
    });
    let gateway = Gateway::start(config).unwrap();
    let launch_at = format!("{}/launch", base(&gateway));

    // Accepted: the whole journey; refused: a return this browser did not begin, and a start
    // naming a FHIR server that is not trusted.
    let mut browser = Browser::new();
    let back = shof_journey(
        &mut browser,
        &launch_at,
        &fhir_base,
        &parties.launch(),
        &redirect,
    );
    assert_eq!(browser.get(&back).status, 200);
    let stranger = browser.get(&format!("{redirect}?state=never-made&code=x"));
    assert_eq!(stranger.status, 403, "{}", stranger.body);
    let elsewhere = browser.post_form(
        &launch_at,
        &[
            ("iss", "https://fhir.elsewhere.example/fhir"),
            ("launch", &parties.launch()),
        ],
    );
    assert_eq!(elsewhere.status, 403, "{}", elsewhere.body);

    wait_until(|| store.ledger.lock().unwrap().audit_events.len() >= 3);
    gateway.stop();
    let events = store.ledger.lock().unwrap().audit_events.clone();
    let outcomes: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|event| {
            (
                event["outcome"].as_str().unwrap(),
                event["outcomeDesc"].as_str().map(|text| &text[..3]),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [("0", None), ("4", Some("916")), ("4", Some("915"))],
        "{events:#?}"
    );
    for event in &events {
        assert_eq!(event["agent"][0]["who"]["reference"], DEVICE);
    }
    let verdict = koppeltaal_tests::fhir_validator::validate(&events);
    assert!(verdict.is_ok(), "{verdict:?}");
    let _ = std::fs::remove_file(&outbox_path);
}

/// An application that records what it is handed.
fn application() -> (StubServer, Arc<Mutex<Vec<Request>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = Arc::clone(&seen);
    let server = StubServer::start(move |request| {
        recorder.lock().unwrap().push(request.clone());
        Reply::new(303, "welcome\n").header("Location", "/app")
    });
    (server, seen)
}

fn launch_request(host: &str, extra: &str, token: &str) -> Vec<u8> {
    let body = format!("token={token}");
    format!(
        "POST /launch HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn forged_host_and_forwarding_headers_never_reach_the_application() {
    let parties = Parties::new();
    let (app, seen) = application();
    let config = parties.handing_to(&app.url("/launch"));
    let gateway = Gateway::start(config).unwrap();
    // The review's forged Host: refused before anything is verified or handed on.
    let forged = raw(
        gateway.address(),
        &launch_request("x\", for=10.6.6.6;host=\"evil", "", &parties.launch()),
    );
    assert_eq!(status_of(&forged), 400, "{forged}");
    assert_eq!(seen.lock().unwrap().len(), 0);
    // Forwarding headers from a peer that is not a trusted proxy are ignored.
    let answer = raw(
        gateway.address(),
        &launch_request(
            "module.example.org",
            "X-Forwarded-For: 10.6.6.6\r\nForwarded: for=10.6.6.6;proto=https\r\nX-Forwarded-Proto: https\r\n",
            &parties.launch(),
        ),
    );
    assert_eq!(status_of(&answer), 303, "{answer}");
    let handed = seen.lock().unwrap()[0].clone();
    assert_eq!(handed.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(
        handed.header("forwarded"),
        Some("for=127.0.0.1;host=\"module.example.org\";proto=http")
    );

    // Behind a trusted proxy, its word is taken: client and protocol.
    let (app, seen) = application();
    let mut config = parties.handing_to(&app.url("/launch"));
    config.trusted_proxies = TrustedProxies::new(vec!["127.0.0.0/8".parse().unwrap()]);
    let gateway = Gateway::start(config).unwrap();
    let answer = raw(
        gateway.address(),
        &launch_request(
            "module.example.org",
            "X-Forwarded-For: 10.6.6.6, 2001:db8::7\r\nX-Forwarded-Proto: https\r\nX-Request-Id: from-the-proxy-1\r\nX-Trace-Id: trace-from-the-proxy\r\n",
            &parties.launch(),
        ),
    );
    assert_eq!(status_of(&answer), 303, "{answer}");
    assert!(
        answer.contains("X-Request-Id: from-the-proxy-1"),
        "{answer}"
    );
    let handed = seen.lock().unwrap()[0].clone();
    assert_eq!(handed.header("x-forwarded-for"), Some("2001:db8::7"));
    assert_eq!(handed.header("x-forwarded-proto"), Some("https"));
    assert_eq!(
        handed.header("forwarded"),
        Some("for=\"[2001:db8::7]\";host=\"module.example.org\";proto=https")
    );
    assert_eq!(handed.header("x-request-id"), Some("from-the-proxy-1"));
    // Koppeltaal's trace headers (TOP-KT-011): the hand-off is caused by the launch request,
    // and passes its trace on.
    assert_eq!(handed.header("x-correlation-id"), Some("from-the-proxy-1"));
    assert_eq!(handed.header("x-trace-id"), Some("trace-from-the-proxy"));
}

/// The header fields of `answer` named `name` (case-insensitive), values trimmed.
fn fields<'a>(answer: &'a str, name: &str) -> Vec<&'a str> {
    let head = answer.split("\r\n\r\n").next().unwrap_or("");
    head.lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .filter(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
        .collect()
}

#[test]
fn the_applications_answer_keeps_its_content_type_or_its_lack_of_one() {
    let parties = Parties::new();
    // An application answering without a Content-Type (its body's type unknown), then with one.
    let answering = |content_type: Option<&'static str>| {
        StubServer::start(move |_| {
            let mut reply = Reply::new(200, "welcome\n");
            reply.headers.clear();
            match content_type {
                Some(value) => reply.header("Content-Type", value),
                None => reply,
            }
        })
    };
    let (untyped, typed) = (answering(None), answering(Some("text/html; charset=utf-8")));
    for (app, expected) in [
        (&untyped, &[][..]),
        (&typed, &["text/html; charset=utf-8"][..]),
    ] {
        let gateway = Gateway::start(parties.handing_to(&app.url("/launch"))).unwrap();
        let answer = raw(
            gateway.address(),
            &launch_request("module.example.org", "", &parties.launch()),
        );
        assert_eq!(status_of(&answer), 200, "{answer}");
        assert_eq!(fields(&answer, "content-type"), expected, "{answer}");
        assert!(
            answer.ends_with("\r\n\r\nwelcome\n"),
            "the body relayed: {answer}"
        );
    }
}

#[test]
fn content_length_must_be_digits_and_duplicates_must_agree() {
    let parties = Parties::new();
    let gateway = Gateway::start(parties.config(Arc::new(MemoryReplayStore::new(1024)))).unwrap();
    let token = parties.launch();
    let body = format!("token={token}");
    let with_lengths = |lengths: &[String]| {
        let mut head = String::from("POST /launch HTTP/1.1\r\nHost: m\r\nConnection: close\r\n");
        for length in lengths {
            head.push_str(&format!("Content-Length: {length}\r\n"));
        }
        status_of(&raw(
            gateway.address(),
            format!("{head}\r\n{body}").as_bytes(),
        ))
    };
    let length = body.len().to_string();
    assert_eq!(with_lengths(&[format!("+{length}")]), 400);
    assert_eq!(with_lengths(&[length.clone(), "5".into()]), 400);
    assert_eq!(with_lengths(&[format!(" {length} , {length}")]), 400);
    assert_eq!(
        with_lengths(&[length.clone(), length.clone()]),
        200,
        "identical duplicates are one"
    );
}

#[test]
fn kept_alive_connections_answer_pipelined_requests_in_order() {
    let parties = Parties::new();
    let gateway = Gateway::start(parties.config(Arc::new(MemoryReplayStore::new(1024)))).unwrap();
    let token = parties.launch();
    let body = format!("token={token}");
    let launch = format!(
        "POST /launch HTTP/1.1\r\nHost: m\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let health = "GET /healthz HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n";
    let answer = raw(
        gateway.address(),
        format!("{launch}{launch}{health}").as_bytes(),
    );
    let statuses: Vec<&str> = answer
        .match_indices("HTTP/1.1 ")
        .map(|(at, _)| &answer[at + 9..at + 12])
        .collect();
    assert_eq!(statuses, ["200", "403", "200"], "{answer}");
    assert!(answer.contains("Connection: keep-alive") && answer.ends_with("ok\n"));
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn metrics_time_every_outcome_and_count_shof_starts_on_their_own_listener() {
    let (parties, port, redirect, _provider, fhir_base) = shof_network();
    let launcher = ShofLauncher::new(
        ShofOptions::new(CLIENT, &redirect, &[&fhir_base]),
        parties.module.signer().unwrap(),
    );
    let mut config = parties.config(Arc::new(MemoryReplayStore::new(1024)));
    config.listen = format!("127.0.0.1:{port}");
    config.metrics_listen = Some("127.0.0.1:0".into());
    config.shof = Some(ShofGateway::new(launcher, CookieKeys::random(), 2).unwrap());
    let gateway = Gateway::start(config).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let post = |body: String| {
        agent
            .post(format!("{}/launch", base(&gateway)))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(body)
            .unwrap()
            .status()
            .as_u16()
    };
    for _ in 0..3 {
        assert_eq!(post("token=not.a.token".into()), 403);
    }
    let iss = form_urlencoded::byte_serialize(fhir_base.as_bytes()).collect::<String>();
    assert_eq!(post(format!("iss={iss}&launch=a.b.c")), 303);
    assert_eq!(
        post("iss=https%3A%2F%2Fevil.example&launch=a.b.c".into()),
        403
    );
    let public = agent
        .get(format!("{}/metrics", base(&gateway)))
        .call()
        .unwrap();
    assert_eq!(public.status().as_u16(), 404, "not on the public listener");
    let text = agent
        .get(format!(
            "http://{}/metrics",
            gateway.metrics_address().unwrap()
        ))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert_eq!(
        metric(
            &text,
            "koppeltaal_launches_total{flow=\"shof_start\",code=\"0\",name=\"Started\"}"
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "koppeltaal_launches_total{flow=\"shof_start\",code=\"915\""
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, "koppeltaal_launch_duration_seconds_count"),
        5.0
    );
    // Refusals take real time now (a parse, a signature check): not the zeros of before.
    assert!(
        metric(&text, "koppeltaal_launch_duration_seconds_sum") > 0.0,
        "{text}"
    );
}

#[test]
fn encrypted_launches_beyond_a_clients_budget_are_refused_429_before_any_unwrap() {
    let parties = Parties::new();
    let module_key = PrivateKey::generate(Algorithm::RS512).unwrap();
    let jwks = jwks_document(&[&parties.portal]).unwrap();
    let receiver = LaunchReceiver::builder(Policy::new(DEVICE).unwrap())
        .keys(
            StaticKeys::new()
                .with_jwks(ISSUER, jwks.as_bytes())
                .unwrap(),
        )
        .decryption_key(module_key.decrypter().unwrap())
        .build()
        .unwrap();
    let mut config = GatewayConfig::new("127.0.0.1:0", receiver);
    config.log_format = LogFormat::Off;
    config.expensive_budget = Budget {
        per_minute: 6,
        burst: 3,
    };
    let gateway = Gateway::start(config).unwrap();
    // Junk envelopes: each would cost an RSA private-key operation.
    let junk = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkExMjhDQkMtSFMyNTYifQ.AAAA.AAAA.AAAA.AAAA";
    let statuses: Vec<u16> = (0..6)
        .map(|_| status_of(&raw(gateway.address(), &launch_request("m", "", junk))))
        .collect();
    assert_eq!(statuses, [403, 403, 403, 429, 429, 429]);
    // Signed launches are not expensive and go on.
    assert_eq!(
        status_of(&raw(
            gateway.address(),
            &launch_request("m", "", &parties.launch())
        )),
        200
    );
}

/// A FHIR server's SMART configuration served by a stub (after `delay`), naming endpoints on
/// the stub itself.
fn smart_stub(delay: Duration) -> StubServer {
    let base = Arc::new(Mutex::new(String::new()));
    let seen_base = Arc::clone(&base);
    let stub = StubServer::start(move |_request| {
        let base = seen_base.lock().unwrap().clone();
        let configuration = serde_json::json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "jwks_uri": format!("{base}/jwks"),
        });
        Reply::new(200, configuration.to_string()).after(delay)
    });
    *base.lock().unwrap() = stub.url("");
    stub
}

fn shof_gateway_with(
    parties: &Parties,
    redirect: &str,
    fhir_base: &str,
    keys: CookieKeys,
    busy: usize,
) -> Gateway {
    let launcher = ShofLauncher::new(
        ShofOptions::new(CLIENT, redirect, &[fhir_base]),
        parties.module.signer().unwrap(),
    );
    let mut config = parties.config(Arc::new(MemoryReplayStore::new(1024)));
    config.shof = Some(ShofGateway::new(launcher, keys, busy).unwrap());
    config.limits.workers = 2;
    Gateway::start(config).unwrap()
}

fn shof_start(gateway: &Gateway, fhir_base: &str) -> String {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("iss", fhir_base)
        .append_pair("launch", "a.b.c")
        .finish();
    let request = format!(
        "POST /launch HTTP/1.1\r\nHost: m\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    raw(gateway.address(), request.as_bytes())
}

#[test]
fn a_hanging_fhir_server_cannot_take_the_workers_hti_launches_need() {
    let parties = Parties::new();
    let hanging = smart_stub(Duration::from_secs(6));
    let fhir_base = hanging.url("/fhir");
    let gateway = shof_gateway_with(
        &parties,
        "http://127.0.0.1:9/shof/return",
        &fhir_base,
        CookieKeys::random(),
        1,
    );
    let address = gateway.address();
    let first = {
        let fhir_base = fhir_base.clone();
        let gateway_base = address;
        std::thread::spawn(move || {
            let body: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("iss", &fhir_base)
                .append_pair("launch", "a.b.c")
                .finish();
            let request = format!(
                "POST /launch HTTP/1.1\r\nHost: m\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            raw(gateway_base, request.as_bytes())
        })
    };
    // Once the hanging server has the first start's discovery request, the first start holds
    // the one SHOF slot.
    wait_until(|| hanging.hits() >= 1);
    // The one SHOF slot waits on the hanging server: the next SHOF start is told at once.
    let started = std::time::Instant::now();
    let second = shof_start(&gateway, &fhir_base);
    assert_eq!(status_of(&second), 503, "{second}");
    assert!(second.contains("917"), "{second}");
    // An HTI launch goes through meanwhile (the other worker is free).
    let launch = raw(address, &launch_request("m", "", &parties.launch()));
    assert_eq!(status_of(&launch), 200, "{launch}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "neither waited for the hanging server: {:?}",
        started.elapsed()
    );
    assert_eq!(
        status_of(&first.join().unwrap()),
        303,
        "the slow start still finishes"
    );
}

#[test]
fn shof_cookies_are_host_prefixed_and_survive_a_key_rotation() {
    let parties = Parties::new();
    let stub = smart_stub(Duration::ZERO);
    let fhir_base = stub.url("/fhir");
    let redirect = "https://module.example.org/shof/return";
    let old_secret: &[u8] = b"the secret of last month, thirty-two bytes at least";
    let old = shof_gateway_with(
        &parties,
        redirect,
        &fhir_base,
        CookieKeys::from_secrets(old_secret, None).unwrap(),
        2,
    );
    let answer = shof_start(&old, &fhir_base);
    assert_eq!(status_of(&answer), 303, "{answer}");
    let set_cookie = answer
        .lines()
        .find_map(|line| line.strip_prefix("Set-Cookie: "))
        .unwrap();
    assert!(
        set_cookie.starts_with("__Host-koppeltaal-shof-"),
        "{set_cookie}"
    );
    for attribute in ["; Path=/;", "; HttpOnly", "; SameSite=Lax", "; Secure"] {
        assert!(
            set_cookie.contains(attribute),
            "{set_cookie} lacks {attribute}"
        );
    }
    assert!(!set_cookie.contains("Domain"), "{set_cookie}");
    let (name, rest) = set_cookie.split_once('=').unwrap();
    let sealed = rest.split(';').next().unwrap();
    let location = answer
        .lines()
        .find_map(|line| line.strip_prefix("Location: "))
        .unwrap();
    let state = query_param(location, "state").unwrap();
    assert!(name.ends_with(&state[..16]));
    // After the rotation the new gateway opens the old cookie (it then fails at the stub's
    // token endpoint, which answers its SMART configuration: not 916).
    let rotated = shof_gateway_with(
        &parties,
        redirect,
        &fhir_base,
        CookieKeys::from_secrets(
            b"the secret of this month, thirty-two bytes at least",
            Some(old_secret),
        )
        .unwrap(),
        2,
    );
    let back = |gateway: &Gateway| {
        let request = format!(
            "GET /shof/return?code=c&state={state} HTTP/1.1\r\nHost: module.example.org\r\nCookie: {name}={sealed}\r\nConnection: close\r\n\r\n"
        );
        raw(gateway.address(), request.as_bytes())
    };
    let opened = back(&rotated);
    assert!(
        !opened.contains("916"),
        "the previous key opens it: {opened}"
    );
    // A gateway that dropped the old key cannot.
    let forgotten = shof_gateway_with(
        &parties,
        redirect,
        &fhir_base,
        CookieKeys::from_secrets(b"the secret of this month, thirty-two bytes at least", None)
            .unwrap(),
        2,
    );
    let refused = back(&forgotten);
    assert_eq!(status_of(&refused), 403, "{refused}");
    assert!(refused.contains("916"), "{refused}");
}

#[test]
fn behind_a_trusted_proxy_the_cap_counts_each_forwarded_client() {
    let parties = Parties::new();
    let seen = Arc::new(Mutex::new(0usize));
    let counter = Arc::clone(&seen);
    let slow_app = StubServer::start(move |_| {
        *counter.lock().unwrap() += 1;
        Reply::new(303, "").after(Duration::from_secs(3))
    });
    let mut config = parties.handing_to(&slow_app.url("/launch"));
    config.trusted_proxies = TrustedProxies::new(vec!["127.0.0.1".parse().unwrap()]);
    config.limits.max_per_client = 1;
    let gateway = Gateway::start(config).unwrap();
    let address = gateway.address();
    let launch_from = |client: &str| {
        let request = launch_request(
            "m",
            &format!("X-Forwarded-For: {client}\r\n"),
            &parties.launch(),
        );
        std::thread::spawn(move || status_of(&raw(address, &request)))
    };
    // Every connection comes from the proxy (127.0.0.1); the cap is per forwarded client.
    // Each launch is in flight (at the slow application, its client counted) before the next.
    let first = launch_from("192.0.2.1");
    wait_until(|| *seen.lock().unwrap() == 1);
    let same_client = launch_from("192.0.2.1");
    let same_64 = launch_from("2001:db8:1:2::1");
    wait_until(|| *seen.lock().unwrap() == 2);
    let same_64_again = launch_from("2001:db8:1:2::ffff");
    let other_client = launch_from("192.0.2.2");
    assert_eq!(
        same_client.join().unwrap(),
        503,
        "the same client, one request at a time"
    );
    assert_eq!(
        same_64_again.join().unwrap(),
        503,
        "one IPv6 /64 is one client"
    );
    assert_eq!(first.join().unwrap(), 303);
    assert_eq!(same_64.join().unwrap(), 303);
    assert_eq!(
        other_client.join().unwrap(),
        303,
        "another client is not held back"
    );
    assert_eq!(*seen.lock().unwrap(), 3);
}

#[test]
fn shof_returns_spend_the_clients_budget_and_launch_cookies_cannot_pile_up() {
    let parties = Parties::new();
    let stub = smart_stub(Duration::ZERO);
    let fhir_base = stub.url("/fhir");
    let launcher = ShofLauncher::new(
        ShofOptions::new(CLIENT, "http://127.0.0.1:9/shof/return", &[&fhir_base]),
        parties.module.signer().unwrap(),
    );
    let mut config = parties.config(Arc::new(MemoryReplayStore::new(1024)));
    config.shof = Some(ShofGateway::new(launcher, CookieKeys::random(), 2).unwrap());
    config.expensive_budget = Budget {
        per_minute: 6,
        burst: 3,
    };
    let gateway = Gateway::start(config).unwrap();
    // Returns (each would record a state and exchange a code) beyond the budget: 429.
    let statuses: Vec<u16> = (0..5)
        .map(|_| {
            let request = "GET /shof/return?state=AAAAAAAAAAAAAAAAAAAAAAAA&error=x HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n";
            status_of(&raw(gateway.address(), request.as_bytes()))
        })
        .collect();
    assert_eq!(statuses, [403, 403, 403, 429, 429]);
    // Starts are cheap and stay unthrottled; a browser holding four launch cookies gets them
    // deleted with the fifth.
    let held: Vec<String> = (0..MAX_PENDING_COOKIES)
        .map(|n| format!("koppeltaal-shof-{n:016}=sealed"))
        .collect();
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("iss", &fhir_base)
        .append_pair("launch", "a.b.c")
        .finish();
    let request = format!(
        "POST /launch HTTP/1.1\r\nHost: m\r\nCookie: {}; other=1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        held.join("; "),
        body.len()
    );
    let answer = raw(gateway.address(), request.as_bytes());
    assert_eq!(status_of(&answer), 303, "{answer}");
    let set_cookies: Vec<&str> = answer
        .lines()
        .filter_map(|line| line.strip_prefix("Set-Cookie: "))
        .collect();
    assert_eq!(set_cookies.len(), MAX_PENDING_COOKIES + 1, "{answer}");
    for n in 0..MAX_PENDING_COOKIES {
        let deletion = format!("koppeltaal-shof-{n:016}=; Path=/; Max-Age=0");
        assert!(
            set_cookies.iter().any(|c| c.starts_with(&deletion)),
            "{answer}"
        );
    }
    assert!(!set_cookies.iter().any(|c| c.starts_with("other=")));
}
