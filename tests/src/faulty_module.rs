//! A module launch endpoint on loopback that is wrong in chosen ways, for testing `probe`:
//! it must name exactly the faults a module has, no more and no fewer.
//!
//! With no fault, it does what HTI 2.0 asks: RS512 only, the key by `kid` from the portal's
//! JWKS, issuer, audience, `iat` not in the future (60 s leeway), `exp` not passed, lifetime
//! at most 300 s, a `jti` present and never seen before. Signatures are checked with
//! `jsonwebtoken`, independent of our verifier. Accepted launches get `200` and "welcome",
//! refusals `400` and "launch refused".

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
use serde_json::{Map, Value};

use crate::http_stub::{Reply, Request, StubServer};

/// The ways the module is wrong.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Accepts every launch, checking nothing.
    pub accepts_everything: bool,
    /// Checks every claim but never remembers a `jti` (the bug of the reference modules).
    pub forgets_jti: bool,
    /// Does not check `exp`.
    pub ignores_exp: bool,
    /// Verifies HS256 launches with the portal's public key (PEM) as the HMAC secret.
    pub accepts_hs256: bool,
    /// Fetches the URL a token's `jku` names (and then refuses the launch).
    pub fetches_jku: bool,
    /// Refuses every launch, even valid ones.
    pub refuses_everything: bool,
    /// Answers an accepted launch with a 303 redirect into the application.
    pub redirects_on_success: bool,
    /// Answers refusals with 200 and an error page instead of a 4xx.
    pub refuses_with_200: bool,
    /// Answers refusals with 500, as a module whose validation throws does.
    pub refuses_with_500: bool,
}

/// What the module knows of the portal.
struct Trust {
    issuer: String,
    audience: String,
    keys: JwkSet,
    public_pem: String,
    seen: Mutex<HashSet<String>>,
    faults: Faults,
}

/// Starts a module trusting `issuer`, whose private key is `portal_pem`, for `audience`.
/// Its launch URL is `server.url("/launch")`.
pub fn start(portal_pem: &str, issuer: &str, audience: &str, faults: Faults) -> StubServer {
    let portal = koppeltaal_host::PrivateKey::from_pem(portal_pem).expect("a portal key");
    let jwks = koppeltaal_host::keys::jwks_document(&[&portal]).expect("its JWKS");
    let trust = Arc::new(Trust {
        issuer: issuer.to_owned(),
        audience: audience.to_owned(),
        keys: serde_json::from_str(&jwks).expect("a JWKS"),
        public_pem: portal.public_pem().expect("its public key"),
        seen: Mutex::new(HashSet::new()),
        faults,
    });
    StubServer::start(move |request| {
        let accepted = launch_token(request).is_some_and(|token| trust.accepts(&token));
        let faults = trust.faults;
        match (
            accepted,
            faults.redirects_on_success,
            faults.refuses_with_200,
        ) {
            (true, true, _) => Reply::new(303, "").header("Location", "/app"),
            (true, false, _) => Reply::new(200, "welcome"),
            (false, _, true) => Reply::new(200, "launch refused"),
            (false, _, false) if faults.refuses_with_500 => Reply::new(500, "Traceback ..."),
            (false, _, false) => Reply::new(400, "launch refused"),
        }
    })
}

fn launch_token(request: &Request) -> Option<String> {
    form_urlencoded::parse(&request.body)
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
}

impl Trust {
    fn accepts(&self, token: &str) -> bool {
        if self.faults.refuses_everything {
            return false;
        }
        if self.faults.accepts_everything {
            return true;
        }
        let Ok(header) = decode_header(token) else {
            return false;
        };
        if let Some(jku) = &header.jku
            && self.faults.fetches_jku
        {
            let _ = ureq::get(jku).call();
            return false;
        }
        let claims = match header.alg {
            Algorithm::HS256 if self.faults.accepts_hs256 => self.decode(
                token,
                Algorithm::HS256,
                &DecodingKey::from_secret(self.public_pem.as_bytes()),
            ),
            Algorithm::RS512 => header
                .kid
                .as_deref()
                .and_then(|kid| self.keys.find(kid))
                .and_then(|jwk| DecodingKey::from_jwk(jwk).ok())
                .and_then(|key| self.decode(token, Algorithm::RS512, &key)),
            _ => None,
        };
        claims.is_some_and(|claims| self.claims_hold(&claims))
    }

    fn decode(&self, token: &str, alg: Algorithm, key: &DecodingKey) -> Option<Map<String, Value>> {
        let mut validation = Validation::new(alg);
        validation.required_spec_claims = HashSet::new();
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        decode::<Map<String, Value>>(token, key, &validation)
            .ok()
            .map(|data| data.claims)
    }

    fn claims_hold(&self, claims: &Map<String, Value>) -> bool {
        let now = crate::now();
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        let time = |name: &str| claims.get(name).and_then(Value::as_u64);
        let (Some(iat), Some(exp), Some(jti)) = (time("iat"), time("exp"), text("jti")) else {
            return false;
        };
        let checks = text("iss") == Some(&self.issuer)
            && text("aud") == Some(&self.audience)
            && iat <= now + 60
            && claims
                .get("nbf")
                .is_none_or(|nbf| nbf.as_u64().is_some_and(|nbf| nbf <= now + 60))
            && (self.faults.ignores_exp || exp > now)
            && exp > iat
            && exp - iat <= 300;
        if !checks {
            return false;
        }
        self.faults.forgets_jti || self.seen.lock().unwrap().insert(jti.to_owned())
    }
}
