//! A loopback stand-in for Koppeltaal's authentication service (the open-source Koppeltaal
//! 2.0 Authentication Service), answering its token and introspection endpoints and its
//! SMART configuration the way the real service was observed to, run locally:
//!
//! - `GET /.well-known/smart-configuration` (and the same document under the FHIR base
//!   `/fhir`, which points at the auth server) with `token_endpoint`,
//!   `introspection_endpoint`, `authorization_endpoint`, `jwks_uri`, `issuer` (with a
//!   trailing slash), `capabilities` and `code_challenge_methods_supported`.
//! - Callers authenticate with a client assertion in the form (`client_assertion_type`,
//!   `client_assertion`). The assertion's `iss` is a registered client id, its signature
//!   verifies with a key of that client's JWKS selected by `kid` (RS384, ES384 or RS512), its
//!   `aud` is exactly the token endpoint (for introspection too), it has not expired, and its
//!   `jti` was never seen (assertions and launches share one list of consumed `jti`s, as in
//!   the real service). Anything else: 401 with the body `Access Denied` (the real service
//!   sends it as `text/html; charset=utf-8`).
//! - `POST /oauth2/introspect` with `token`: an HTI launch from a registered client, addressed
//!   to `Device/<the caller's device id>`, signed, unexpired, with an unseen `jti`, is
//!   `{"active": true, ...its claims}` once and `{"active": false}` afterwards; every other
//!   JWT is `{"active": false}`; something that is not a JWT gets HTTP 500 (the real service
//!   fails to decode it); no `token` field is 400.
//! - `POST /oauth2/token` with `grant_type=client_credentials`: `{"access_token", "token_type":
//!   "Bearer", "expires_in": 300, "scope"}` (an opaque token: the JWT access tokens of the
//!   real service are covered by the oidc-provider tests); another grant type is 400
//!   `Bad Request`.
//!
//! Signatures are checked with `jsonwebtoken`, an implementation independent of ours, so a
//! test against this stub does not merely verify our tokens with our own code.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::http_stub::{Reply, Request, StubServer};

/// The `client_assertion_type` of RFC 7523.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An application registered with the auth server.
#[derive(Clone, Debug)]
pub struct Registration {
    /// Its client id (the `iss` of its assertions and launches).
    pub client_id: String,
    /// The id of its FHIR Device (launches for it are addressed to `Device/<device_id>`).
    pub device_id: String,
    /// Its public keys, a JWKS document.
    pub jwks: String,
}

impl Registration {
    /// A registration with a device id different from the client id, as in the real service,
    /// so that a client confusing the two is caught.
    pub fn new(client_id: &str, jwks: &str) -> Registration {
        Registration {
            client_id: client_id.to_owned(),
            device_id: format!("{client_id}-device"),
            jwks: jwks.to_owned(),
        }
    }
}

/// What the stub has seen, for assertions in tests.
#[derive(Debug, Default)]
pub struct Seen {
    /// The `aud` of every client assertion presented (valid or not).
    pub assertion_audiences: Vec<Value>,
    /// How many introspection requests arrived (authenticated or not).
    pub introspections: usize,
    /// How many token requests arrived.
    pub token_requests: usize,
}

struct State {
    clients: Vec<Registration>,
    base: OnceLock<String>,
    consumed: Mutex<HashSet<String>>,
    seen: Mutex<Seen>,
}

/// The running stub; stopped when dropped.
pub struct KoppeltaalAuth {
    server: StubServer,
    state: Arc<State>,
}

impl KoppeltaalAuth {
    /// Starts the stub on a loopback port with these registered applications.
    pub fn start(clients: Vec<Registration>) -> KoppeltaalAuth {
        let state = Arc::new(State {
            clients,
            base: OnceLock::new(),
            consumed: Mutex::new(HashSet::new()),
            seen: Mutex::new(Seen::default()),
        });
        let server = {
            let state = Arc::clone(&state);
            StubServer::start(move |request| state.answer(request))
        };
        state
            .base
            .set(server.url(""))
            .expect("the base is set once");
        KoppeltaalAuth { server, state }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.server.url("")
    }

    /// The token endpoint (the `aud` every assertion must carry).
    pub fn token_endpoint(&self) -> String {
        self.server.url("/oauth2/token")
    }

    /// The introspection endpoint.
    pub fn introspection_endpoint(&self) -> String {
        self.server.url("/oauth2/introspect")
    }

    /// A FHIR base URL whose SMART configuration points at this auth server.
    pub fn fhir_base(&self) -> String {
        self.server.url("/fhir")
    }

    /// What the stub has seen so far.
    pub fn seen<T>(&self, read: impl FnOnce(&Seen) -> T) -> T {
        read(&self.state.seen.lock().unwrap())
    }
}

impl State {
    fn base(&self) -> &str {
        self.base.get().map(String::as_str).unwrap_or("")
    }

    fn answer(&self, request: &Request) -> Reply {
        match (request.method.as_str(), request.path.as_str()) {
            (
                "GET",
                "/.well-known/smart-configuration" | "/fhir/.well-known/smart-configuration",
            ) => Reply::new(200, self.configuration().to_string())
                .header("Cache-Control", "public,max-age=30"),
            ("POST", "/oauth2/introspect") => self.introspect(request),
            ("POST", "/oauth2/token") => self.token(request),
            _ => text(404, "Not Found"),
        }
    }

    fn configuration(&self) -> Value {
        let base = self.base();
        json!({
            "issuer": format!("{base}/"),
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "authorization_endpoint": format!("{base}/oauth2/authorize"),
            "token_endpoint": format!("{base}/oauth2/token"),
            "introspection_endpoint": format!("{base}/oauth2/introspect"),
            "grant_types_supported": ["authorization_code", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "response_types_supported": ["code"],
            "capabilities": ["launch-ehr", "client-confidential-asymmetric", "sso-openid-connect",
                             "context-ehr-hti", "permission-v2"],
            "code_challenge_methods_supported": ["S256"],
        })
    }

    fn token(&self, request: &Request) -> Reply {
        self.seen.lock().unwrap().token_requests += 1;
        let form = Form::parse(&request.body);
        let Some(client) = self.authenticate(&form) else {
            return access_denied();
        };
        if form.get("grant_type") != Some("client_credentials") {
            return text(400, "Bad Request");
        }
        let access_token = format!("opaque-{}-{}", client.client_id, now_nanos());
        Reply::new(
            200,
            json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": format!("system/Task.cruds?resource-origin=Device/{} system/Patient.rs",
                                 client.device_id),
            })
            .to_string(),
        )
    }

    fn introspect(&self, request: &Request) -> Reply {
        self.seen.lock().unwrap().introspections += 1;
        let form = Form::parse(&request.body);
        let Some(caller) = self.authenticate(&form) else {
            return access_denied();
        };
        let Some(token) = form.get("token") else {
            return text(400, "Bad Request, required field token missing");
        };
        let Some(claims) = unverified_claims(token) else {
            // The real service's JWT decoder raises, and Flask answers with its error page.
            return Reply {
                status: 500,
                headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
                body: b"<!doctype html><title>500 Internal Server Error</title>".to_vec(),
                delay: std::time::Duration::ZERO,
            };
        };
        match self.check_launch(token, &claims, caller) {
            Some(mut claims) => {
                claims.insert("active".into(), Value::Bool(true));
                Reply::new(200, Value::Object(claims).to_string())
            }
            None => Reply::new(200, r#"{"active":false}"#),
        }
    }

    /// The launch's claims, if `token` is an HTI launch the caller may introspect, valid now,
    /// and its `jti` unseen (it is consumed).
    fn check_launch(
        &self,
        token: &str,
        claims: &Map<String, Value>,
        caller: &Registration,
    ) -> Option<Map<String, Value>> {
        let issuer = self.client(claims.get("iss")?.as_str()?)?;
        let device = claims.get("aud")?.as_str()?.strip_prefix("Device/")?;
        if device != caller.device_id {
            return None;
        }
        let verified = verify(token, issuer, None)?;
        let jti = verified.get("jti")?.as_str()?;
        self.consumed
            .lock()
            .unwrap()
            .insert(jti.to_owned())
            .then_some(verified)
    }

    fn client(&self, client_id: &str) -> Option<&Registration> {
        self.clients
            .iter()
            .find(|client| client.client_id == client_id)
    }

    /// The registered client whose valid assertion the form carries.
    fn authenticate(&self, form: &Form) -> Option<&Registration> {
        if form.get("client_assertion_type") != Some(JWT_BEARER) {
            return None;
        }
        let assertion = form.get("client_assertion")?;
        let claims = unverified_claims(assertion)?;
        self.seen
            .lock()
            .unwrap()
            .assertion_audiences
            .push(claims.get("aud").cloned().unwrap_or(Value::Null));
        // The real service consumes the jti before it checks anything else.
        let jti = claims.get("jti")?.as_str()?;
        if !self.consumed.lock().unwrap().insert(jti.to_owned()) {
            return None;
        }
        let client = self.client(claims.get("iss")?.as_str()?)?;
        let token_endpoint = format!("{}/oauth2/token", self.base());
        verify(assertion, client, Some(&token_endpoint))?;
        Some(client)
    }
}

/// The claims of `token` verified with `client`'s keys (selected by `kid`; RS384, ES384 or
/// RS512, as the real service allows), `exp` checked when present, and `aud` equal to
/// `audience` when given.
fn verify(
    token: &str,
    client: &Registration,
    audience: Option<&str>,
) -> Option<Map<String, Value>> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
    let header = decode_header(token).ok()?;
    if !matches!(
        header.alg,
        Algorithm::RS384 | Algorithm::ES384 | Algorithm::RS512
    ) {
        return None;
    }
    let kid = header.kid?;
    let keys: JwkSet = serde_json::from_str(&client.jwks).ok()?;
    let key = DecodingKey::from_jwk(keys.find(&kid)?).ok()?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = 0;
    validation.required_spec_claims = HashSet::new();
    validation.validate_exp = true;
    match audience {
        // Exactly one string: the real service compares `aud` to its token endpoint.
        Some(audience) => validation.set_audience(&[audience]),
        None => validation.validate_aud = false,
    }
    let data = decode::<Map<String, Value>>(token, &key, &validation).ok()?;
    if let Some(audience) = audience
        && data.claims.get("aud").and_then(Value::as_str) != Some(audience)
    {
        return None;
    }
    Some(data.claims)
}

/// The payload of a three-segment JWT, unverified.
fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let segments: Vec<&str> = token.split('.').collect();
    let [_, payload, _] = segments.as_slice() else {
        return None;
    };
    let bytes = Base64UrlUnpadded::decode_vec(payload).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

struct Form(Vec<(String, String)>);

impl Form {
    fn parse(body: &[u8]) -> Form {
        Form(form_urlencoded::parse(body).into_owned().collect())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

fn text(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
        body: body.as_bytes().to_vec(),
        delay: std::time::Duration::ZERO,
    }
}

fn access_denied() -> Reply {
    text(401, "Access Denied")
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0)
}
