//! `koppeltaal demo`: a portal launches a module, all on 127.0.0.1.

use std::sync::Arc;
use std::time::{Duration, Instant};

use koppeltaal_core::{Algorithm, KeySet, LaunchToken, Policy, Unverified};
use koppeltaal_host::{
    Clock, LaunchReceiver, PrivateKey, RemoteKeys, SystemClock,
    http::HttpClient,
    keys::{SharedSigner, jwks_document},
    random::os_rng,
    replay::MemoryReplayStore,
};
use serde_json::Value;

use crate::Failure;
use koppeltaal_gateway::{
    Gateway, GatewayConfig, HttpServer, Limits, LogFormat, Request, Response, TrustedProxies,
};

const PORTAL: &str = "https://portal.example.org";
const MODULE: &str = "Device/42";
const DEFINITION: &str = "https://module.example.org/ActivityDefinition/fearfighter";

pub(crate) fn run() -> Result<(), Failure> {
    println!("A portal launches a module, on 127.0.0.1 only.\n");

    let started = Instant::now();
    let portal_key = PrivateKey::generate(Algorithm::RS512)?;
    let signer = portal_key.signer()?;
    println!(
        "portal  generated an RSA-2048 key in {:.0?}, kid {}",
        started.elapsed(),
        signer.key_id()
    );
    let jwks = jwks_document(&[&portal_key])?;
    let served = jwks.clone();
    let jwks_server = HttpServer::start(
        "127.0.0.1:0",
        Limits::default(),
        TrustedProxies::default(),
        Arc::new(move |request: &Request| match request.path.as_str() {
            "/.well-known/jwks.json" => Response::new(200, "application/json", served.clone()),
            _ => Response::text(404, "not found\n"),
        }),
    )?;
    let jwks_url = format!("http://{}/.well-known/jwks.json", jwks_server.address());
    println!("portal  publishes its JWKS at {jwks_url}");

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let keys = RemoteKeys::builder()
        .clock(Arc::clone(&clock))
        .issuer(PORTAL, &jwks_url)
        .build()?;
    let policy = Policy::new(MODULE)?;
    let receiver = LaunchReceiver::builder(policy.clone())
        .keys(keys)
        .replay(MemoryReplayStore::new(1 << 16))
        .clock(Arc::clone(&clock))
        .build()?;
    let mut config = GatewayConfig::new("127.0.0.1:0", receiver.clone());
    config.log_format = LogFormat::Off;
    let module = Gateway::start(config)?;
    let launch_url = format!("http://{}/launch", module.address());
    println!("module  receives launches at {launch_url} (audience {MODULE}), trusting {PORTAL}\n");

    let now = clock.now();
    let launch = |iat: u64, audience: &str| -> Result<String, Failure> {
        let token = LaunchToken::new(
            PORTAL,
            audience,
            "Practitioner/a5e58253",
            "Task/11",
            DEFINITION,
            iat,
        )?
        .with_patient("Patient/a5e582e")?
        .with_intent("plan")?
        .sign_to_string(signer.as_ref(), &mut os_rng())?;
        Ok(token)
    };
    let token = launch(now, MODULE)?;
    println!(
        "portal  signs an HTI launch: {} bytes, RS512, {}...",
        token.len(),
        &token[..40]
    );
    let (status, body) = post(&launch_url, &token)?;
    println!("browser POSTs it to the module: HTTP {status}");
    if let Some(claims) = body.as_object() {
        for name in ["sub", "patient", "resource", "definition", "intent"] {
            println!(
                "          {name:<10} {}",
                claims.get(name).and_then(Value::as_str).unwrap_or("-")
            );
        }
    }

    println!("\nThe module refuses what it must:");
    let tampered = {
        let other = launch(now, MODULE)?;
        let parts: Vec<&str> = other.split('.').collect();
        let forged = token.split('.').nth(1).unwrap_or_default();
        format!("{}.{forged}.{}", parts[0], parts[2])
    };
    let unsigned = format!(
        "eyJhbGciOiJub25lIn0.{}.",
        token.split('.').nth(1).unwrap_or_default()
    );
    let refusals = [
        ("the same launch again", token.clone()),
        ("an expired launch", launch(now - 400, MODULE)?),
        ("a tampered launch", tampered),
        ("a launch for another module", launch(now, "Device/7")?),
        ("an unsigned launch (alg none)", unsigned),
    ];
    for (label, token) in refusals {
        let (status, body) = post(&launch_url, &token)?;
        println!(
            "  {label:<30} HTTP {status}  {} ({})  \"{}\"",
            body["error"].as_str().unwrap_or("?"),
            body["code"],
            body["message"].as_str().unwrap_or("")
        );
    }

    println!("\nSpeed, one core:");
    measure(&receiver, &signer, &policy, &jwks, now)?;
    module.stop();
    jwks_server.stop(Duration::from_secs(5));
    Ok(())
}

/// POSTs a launch form as a browser would, asking for JSON (in English: the gateway answers
/// in Dutch unless English is asked for).
fn post(url: &str, token: &str) -> Result<(u16, Value), Failure> {
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .finish();
    let headers = [
        ("Accept", "application/json"),
        ("Accept-Language", "en"),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let response = HttpClient::default().send("POST", url, &headers, form.as_bytes())?;
    Ok((
        response.status(),
        serde_json::from_slice(response.body()).unwrap_or(Value::Null),
    ))
}

/// Whole launches through the receiver (keys from its cache, replay store included), then the
/// verification alone, over and over on one token.
fn measure(
    receiver: &LaunchReceiver,
    signer: &SharedSigner,
    policy: &Policy,
    jwks: &str,
    now: u64,
) -> Result<(), Failure> {
    let tokens = (0..300)
        .map(|_| {
            LaunchToken::new(
                PORTAL,
                MODULE,
                "Practitioner/a5e58253",
                "Task/11",
                DEFINITION,
                now,
            )?
            .sign_to_string(signer.as_ref(), &mut os_rng())
            .map_err(Failure::from)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let started = Instant::now();
    for token in &tokens {
        receiver.receive_token(token).map_err(|error| Failure {
            name: error.name(),
            code: error.code(),
            message: error.reason().to_string(),
        })?;
    }
    let elapsed = started.elapsed();
    println!(
        "  {} whole launches (parse, keys, signature, claims, replay store): {:.1} µs each",
        tokens.len(),
        elapsed.as_secs_f64() * 1e6 / tokens.len() as f64
    );

    let keys = KeySet::<4>::from_jwks(jwks.as_bytes())?;
    let mut scratch = vec![0u8; Unverified::scratch_len(policy.max_token_len())];
    let token = tokens[0].as_bytes();
    let (mut count, started) = (0u32, Instant::now());
    while started.elapsed() < Duration::from_secs(1) {
        Unverified::parse(token, policy, &mut scratch)?.verify(keys.keys(), now)?;
        count += 1;
    }
    let elapsed = started.elapsed();
    println!(
        "  verification alone (parse, signature, claims): {:.0} per second, {:.1} µs each",
        f64::from(count) / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / f64::from(count)
    );
    Ok(())
}
