//! A portal launches a module, and the module verifies the launch with `koppeltaal-core`.
//!
//! `cargo run --release -p koppeltaal-core --example demo`
//!
//! Everything runs in this process: no network, no files. The portal side (key generation,
//! signing) uses the `rsa` crate; the module side is the allocation-free core.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
use koppeltaal_core::{
    Error, KeySet, LaunchVerifier, Policy, ReplayGuard, TrustedIssuer, Unverified,
};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::Sha512;
use signature::{SignatureEncoding, Signer};

const PORTAL: &str = "https://portal.example.org";
const MODULE: &str = "Device/42";

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

struct Portal {
    signer: rsa::pkcs1v15::SigningKey<Sha512>,
    jwks: String,
}

impl Portal {
    fn new() -> Portal {
        let key = rsa::RsaPrivateKey::new(&mut rand::rng(), 2048).expect("key generation");
        let jwks = json!({"keys": [{
            "kty": "RSA", "kid": "portal-1", "use": "sig", "alg": "RS512",
            "n": b64(&key.n_bytes()), "e": b64(&key.e_bytes()),
        }]})
        .to_string();
        Portal {
            signer: rsa::pkcs1v15::SigningKey::new(key),
            jwks,
        }
    }

    fn launch(&self, claims: &Value) -> String {
        let header = b64(json!({"alg": "RS512", "kid": "portal-1", "typ": "JWT"})
            .to_string()
            .as_bytes());
        let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
        format!(
            "{input}.{}",
            b64(&self.signer.sign(input.as_bytes()).to_vec())
        )
    }
}

fn claims(now: u64, jti: &str) -> Value {
    json!({
        "iss": PORTAL, "aud": MODULE, "sub": "Practitioner/a5e58253",
        "iat": now, "exp": now + 300, "jti": jti,
        "resource": "Task/11",
        "definition": "https://module.example.org/ActivityDefinition/fearfighter",
        "patient": "Patient/a5e582e", "intent": "plan"
    })
}

fn show(label: &str, outcome: Result<impl std::fmt::Debug, Error>) {
    match outcome {
        Ok(_) => println!("  {label:<28} accepted"),
        Err(error) => println!(
            "  {label:<28} refused: {} ({}): {error}",
            error.name(),
            error.code()
        ),
    }
}

fn main() -> Result<(), Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();

    let started = Instant::now();
    let portal = Portal::new();
    println!(
        "portal: generated an RSA-2048 key in {:?}",
        started.elapsed()
    );
    println!("portal: publishes {} bytes of JWKS", portal.jwks.len());

    // The module trusts the portal's JWKS and expects launches for its own audience.
    let keys = KeySet::<4>::from_jwks(portal.jwks.as_bytes())?;
    let policy = Policy::new(MODULE)?;
    let mut verifier = Box::new(LaunchVerifier::<_, ReplayGuard<1024>>::new(
        TrustedIssuer::new(PORTAL, keys)?,
        policy.clone(),
        ReplayGuard::new(),
    ));

    let token = portal.launch(&claims(now, "679e1e4c-bcb9-4fcc-80c4-f36e7063545c"));
    println!(
        "portal: launch token of {} bytes: {}...",
        token.len(),
        &token[..48]
    );

    let launch = verifier.verify(token.as_bytes(), now)?;
    println!("module: accepted the launch");
    println!("  sub        {}", launch.subject());
    println!("  resource   {}", launch.resource());
    println!("  definition {}", launch.definition());
    println!("  patient    {}", launch.patient().unwrap_or("-"));
    println!(
        "  signed     {} with key {}",
        launch.algorithm().as_str(),
        launch.key_id()
    );

    println!("module: refuses what it must");
    show(
        "the same launch again",
        verifier.verify(token.as_bytes(), now),
    );
    show(
        "an expired launch",
        verifier.verify(portal.launch(&claims(now - 400, "old")).as_bytes(), now),
    );
    let mut tampered = claims(now, "tampered");
    let signed = portal.launch(&tampered);
    tampered["resource"] = json!("Task/12");
    let parts: Vec<&str> = signed.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(tampered.to_string().as_bytes()),
        parts[2]
    );
    show("a tampered launch", verifier.verify(forged.as_bytes(), now));
    let mut elsewhere = claims(now, "elsewhere");
    elsewhere["aud"] = json!("Device/7");
    show(
        "a launch for another module",
        verifier.verify(portal.launch(&elsewhere).as_bytes(), now),
    );
    let unsigned = format!("{}.{}.", b64(br#"{"alg":"none"}"#), parts[1]);
    show(
        "an unsigned (alg none) one",
        verifier.verify(unsigned.as_bytes(), now),
    );

    // Throughput of the verification itself: parse, signature and claims (the replay guard
    // is left out so one token can be verified over and over).
    let keys = KeySet::<4>::from_jwks(portal.jwks.as_bytes())?;
    let mut scratch = vec![0u8; Unverified::scratch_len(policy.max_token_len())];
    let (mut count, started) = (0u32, Instant::now());
    while started.elapsed() < Duration::from_secs(1) {
        Unverified::parse(token.as_bytes(), &policy, &mut scratch)?.verify(keys.keys(), now)?;
        count += 1;
    }
    let elapsed = started.elapsed();
    println!(
        "module: {count} verifications in {elapsed:.2?} on one core: {:.0} per second, {:.1} µs each",
        f64::from(count) / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / f64::from(count)
    );
    Ok(())
}
