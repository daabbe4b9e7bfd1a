//! The module side of a SMART HTI on FHIR (SHOF) launch: the portal posts `iss` (a FHIR server)
//! and `launch` (an HTI token); the module sends the browser to the authorization server with
//! PKCE, `state` and `nonce`, and on its return exchanges the code (with a client assertion) for
//! an id_token that says who the user is, and the launch context.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use koppeltaal_core::{Error, ReplayKey};

use base64ct::{Base64UrlUnpadded, Encoding};
use koppeltaal_core::{AlgorithmSet, IdTokenClaims, IdTokenExpectations, Policy, Unverified};
use rand_core::Rng;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::clock::{Clock, SystemClock};
use crate::error::HostError;
use crate::http::HttpClient;
use crate::keys::RemoteKeys;
use crate::keys::SharedSigner;
use crate::launch::LaunchError;
use crate::oauth::SmartConfiguration;
use crate::oauth::{JWT_BEARER, TokenClient, error_response};
use crate::random::os_rng;
use crate::replay::{MemoryReplayStore, ReplayStore};

/// Whether the id_token's `nonce` must be the one sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceCheck {
    /// The id_token must carry the `nonce` of the authorization request (OpenID Connect Core).
    /// The default.
    Required,
    /// The `nonce` is not checked: only for an authorization server known not to echo it.
    /// Koppeltaal's authentication service (as of its commit e6383ae4) puts a random nonce of
    /// its own into the id_token. PKCE, the single-use `state` bound to the browser, and the
    /// client-authenticated code exchange still tie the id_token to this launch.
    NotEchoed,
}

/// How a module takes part in SHOF launches.
#[derive(Clone, Debug)]
pub struct ShofOptions {
    /// This module's client id.
    pub client_id: String,
    /// Where the authorization server sends the browser back (registered with it).
    pub redirect_uri: String,
    /// The FHIR servers a launch may name as `iss` (compared without a trailing slash). An
    /// `iss` not listed is refused before any request: following it would be an open redirect
    /// and a request forgery.
    pub fhir_servers: Vec<String>,
    /// The scope asked for.
    pub scope: String,
    /// How long a browser has to come back.
    pub state_lifetime: Duration,
    /// The id_token's longest acceptable lifetime `exp - iat`, seconds.
    pub id_token_max_lifetime: u64,
    /// Clock leeway for the id_token, seconds.
    pub leeway: u64,
    /// The id_token's signature algorithms accepted.
    pub algorithms: AlgorithmSet,
    /// Whether the id_token's `nonce` is checked.
    pub nonce: NonceCheck,
}

impl ShofOptions {
    /// Options for `client_id` returning to `redirect_uri`, trusting `fhir_servers`: scope
    /// `launch openid fhirUser`, 10 minutes to come back, id_tokens of at most an hour, 60 s leeway, the HTI algorithms, the nonce required.
    pub fn new(client_id: &str, redirect_uri: &str, fhir_servers: &[&str]) -> ShofOptions {
        ShofOptions {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            fhir_servers: fhir_servers.iter().map(|url| (*url).to_owned()).collect(),
            scope: "launch openid fhirUser".into(),
            state_lifetime: Duration::from_secs(600),
            id_token_max_lifetime: 3600,
            leeway: Policy::DEFAULT_LEEWAY,
            algorithms: AlgorithmSet::HTI,
            nonce: NonceCheck::Required,
        }
    }
}

/// Where to send the browser, and what to keep until it comes back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShofRedirect {
    /// The authorization request.
    pub url: String,
    /// The launch in progress: the caller keeps it (bound to the browser, e.g. in a sealed
    /// cookie) and hands it to [`ShofLauncher::finish`]. The launcher keeps nothing.
    pub pending: PendingShof,
}

/// A SHOF launch begun and not yet finished: the secrets of its authorization request.
///
/// The launcher holds no memory per launch (so no flood of launch forms can fill it, and a
/// launch begun on one instance can finish on another): the caller keeps this, confidential
/// and integrity-protected (it holds the PKCE verifier), until the browser returns.
/// [`to_bytes`](PendingShof::to_bytes) and [`from_bytes`](PendingShof::from_bytes) give it a
/// compact, bounded binary form to seal.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingShof {
    /// The `state` sent to the authorization server; the browser returns it.
    pub state: String,
    /// The FHIR server the launch came through (`iss`), one of the configured ones.
    pub fhir_server: String,
    /// The `nonce` the id_token must carry.
    pub nonce: String,
    /// The PKCE code verifier.
    pub code_verifier: String,
    /// When the browser's time to return runs out (Unix seconds).
    pub expires_at: u64,
}

impl core::fmt::Debug for PendingShof {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PendingShof")
            .field("state", &self.state)
            .field("fhir_server", &self.fhir_server)
            .field("nonce", &"<redacted>")
            .field("code_verifier", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The version byte of [`PendingShof::to_bytes`].
const PENDING_FORMAT: u8 = 1;
/// The longest text field of a [`PendingShof`] accepted by [`PendingShof::from_bytes`].
const MAX_PENDING_FIELD: usize = 2048;

impl PendingShof {
    /// A compact binary form: a version byte, the expiry (8 bytes, big-endian), then each text
    /// field with a 2-byte length.
    ///
    /// ```
    /// use koppeltaal_host::shof::PendingShof;
    /// let pending = PendingShof {
    ///     state: "s".into(), fhir_server: "https://fhir.example.org".into(),
    ///     nonce: "n".into(), code_verifier: "v".into(), expires_at: 1_700_000_600,
    /// };
    /// assert_eq!(PendingShof::from_bytes(&pending.to_bytes()).unwrap(), pending);
    /// assert!(PendingShof::from_bytes(b"\x01 not a pending launch").is_err());
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let fields = [
            &self.state,
            &self.fhir_server,
            &self.nonce,
            &self.code_verifier,
        ];
        let mut bytes = Vec::with_capacity(9 + fields.iter().map(|f| 2 + f.len()).sum::<usize>());
        bytes.push(PENDING_FORMAT);
        bytes.extend_from_slice(&self.expires_at.to_be_bytes());
        for field in fields {
            let field = &field.as_bytes()[..field.len().min(MAX_PENDING_FIELD)];
            bytes.extend_from_slice(&(field.len() as u16).to_be_bytes());
            bytes.extend_from_slice(field);
        }
        bytes
    }

    /// Reads [`to_bytes`](PendingShof::to_bytes)' form; anything else is
    /// [`HostError::UnknownState`].
    pub fn from_bytes(bytes: &[u8]) -> Result<PendingShof, HostError> {
        let (&format, rest) = bytes.split_first().ok_or(HostError::UnknownState)?;
        if format != PENDING_FORMAT || rest.len() < 8 {
            return Err(HostError::UnknownState);
        }
        let (expiry, mut rest) = rest.split_at(8);
        let mut field = || -> Result<String, HostError> {
            if rest.len() < 2 {
                return Err(HostError::UnknownState);
            }
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            if len > MAX_PENDING_FIELD || rest.len() < 2 + len {
                return Err(HostError::UnknownState);
            }
            let text = core::str::from_utf8(&rest[2..2 + len])
                .map_err(|_| HostError::UnknownState)?
                .to_owned();
            rest = &rest[2 + len..];
            Ok(text)
        };
        let pending = PendingShof {
            state: field()?,
            fhir_server: field()?,
            nonce: field()?,
            code_verifier: field()?,
            expires_at: u64::from_be_bytes(expiry.try_into().map_err(|_| HostError::UnknownState)?),
        };
        if !rest.is_empty() {
            return Err(HostError::UnknownState);
        }
        Ok(pending)
    }
}

/// A finished SHOF launch.
#[derive(Clone, Debug)]
pub struct ShofLaunch {
    /// The FHIR server the launch came through (`iss`).
    pub fhir_server: String,
    /// The verified id_token: who the user is (`subject`, `fhir_user`).
    pub id_token: IdTokenClaims,
    /// The launch context of the token response: every member but the tokens themselves
    /// (`resource`, `definition`, `patient`, `intent`, and whatever else the server adds).
    pub context: Map<String, Value>,
    /// The whole token response (its `access_token` grants nothing on FHIR in Koppeltaal).
    pub token_response: Value,
}

/// An authorization server met through a FHIR server's configuration.
struct Server {
    configuration: SmartConfiguration,
    issuer: String,
    authorization_endpoint: String,
    tokens: TokenClient,
    keys: RemoteKeys,
}

/// Starts and finishes SHOF launches for one module. Cheap to clone (clones share the
/// discovered servers and the HTTP client), `Send` and `Sync`.
///
/// It keeps no state per launch: [`begin`](ShofLauncher::begin) hands the caller a
/// [`PendingShof`] to keep with the browser, and [`finish`](ShofLauncher::finish) takes it back.
/// Each `state` is used once: finishing records it in a [`ReplayStore`] (this process's memory
/// unless [`replay`](ShofLauncher::replay) names one shared by every instance). Every
/// refusal is a [`LaunchError`], as for a launch token.
///
/// ```no_run
/// use koppeltaal_host::PrivateKey;
/// use koppeltaal_host::shof::{ShofLauncher, ShofOptions};
/// let key = PrivateKey::read_pem_file("/etc/module/key.pem")?;
/// let options = ShofOptions::new("module-client", "https://module.example.org/shof/return",
///                                &["https://fhir.example.org/fhir"]);
/// let launcher = ShofLauncher::new(options, key.signer()?);
/// // The portal's form post: `iss` and `launch`.
/// let redirect = launcher.begin("https://fhir.example.org/fhir", "eyJ...")?;
/// // ... 303 to redirect.url, redirect.pending kept with the browser (sealed); it comes back
/// // with `code` and `state`:
/// let launch = launcher.finish("the-code", "the-returned-state", &redirect.pending)?;
/// println!("{:?} for {:?}", launch.id_token.fhir_user(), launch.context.get("resource"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ShofLauncher {
    options: Arc<ShofOptions>,
    signer: SharedSigner,
    clock: Arc<dyn Clock>,
    http: HttpClient,
    servers: Arc<Mutex<HashMap<String, Arc<Server>>>>,
    used_states: Arc<dyn ReplayStore>,
}

/// The longest `launch` parameter passed on (an HTI token, possibly encrypted).
const MAX_LAUNCH_LEN: usize = 16 * 1024;

fn random_text() -> String {
    let mut bytes = [0u8; 32];
    os_rng().fill_bytes(&mut bytes);
    Base64UrlUnpadded::encode_string(&bytes)
}

/// Whether two secrets are equal, in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

impl ShofLauncher {
    /// A launcher signing its client assertions with `signer`, on the system clock, with a
    /// default [`HttpClient`] and used `state`s remembered in this process's memory.
    pub fn new(options: ShofOptions, signer: SharedSigner) -> ShofLauncher {
        ShofLauncher {
            http: HttpClient::default(),
            options: Arc::new(options),
            signer,
            clock: Arc::new(SystemClock),
            servers: Arc::new(Mutex::new(HashMap::new())),
            used_states: Arc::new(MemoryReplayStore::new(1 << 16)),
        }
    }

    /// The same launcher recording used `state`s in `store`: with a store shared by several
    /// instances, a launch finished on one cannot be finished again on another.
    pub fn replay(mut self, store: impl ReplayStore + 'static) -> ShofLauncher {
        self.used_states = Arc::new(store);
        self
    }

    /// The same launcher on another clock. It discovers its servers afresh (the clients it
    /// made for them keep the clock they were made with), not sharing them with the launcher
    /// it came from.
    pub fn clock(mut self, clock: impl Clock + 'static) -> ShofLauncher {
        self.clock = Arc::new(clock);
        self.servers = Arc::new(Mutex::new(HashMap::new()));
        self
    }

    /// The same launcher calling the servers with `http` (an [`HttpClient`] to share, or the
    /// [`HttpOptions`](crate::http::HttpOptions) of a new one). It discovers its servers
    /// afresh, as after [`clock`](Self::clock).
    pub fn http(mut self, client: impl Into<HttpClient>) -> ShofLauncher {
        self.http = client.into();
        self.servers = Arc::new(Mutex::new(HashMap::new()));
        self
    }

    /// The options.
    pub fn options(&self) -> &ShofOptions {
        &self.options
    }

    /// Starts a launch the portal posted: `iss` must be a configured FHIR server
    /// ([`HostError::UnknownFhirServer`] otherwise, before any request), `launch` a token (its
    /// checks are the authorization server's). Discovers the server's endpoints (once), makes
    /// `state`, `nonce` and a PKCE verifier from OS randomness, and returns the authorization
    /// request to send the browser to.
    pub fn begin(&self, iss: &str, launch: &str) -> Result<ShofRedirect, LaunchError> {
        Ok(self.start(iss, launch)?)
    }

    fn start(&self, iss: &str, launch: &str) -> Result<ShofRedirect, HostError> {
        let fhir_server = self
            .options
            .fhir_servers
            .iter()
            .find(|allowed| same_url(allowed, iss))
            .ok_or_else(|| HostError::UnknownFhirServer(iss.chars().take(256).collect()))?
            .clone();
        let token_like = !launch.is_empty()
            && launch.len() <= MAX_LAUNCH_LEN
            && launch
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
        if !token_like {
            return Err(HostError::BadForm("`launch` is not a token"));
        }
        let server = self.server(&fhir_server)?;
        let (state, nonce, verifier) = (random_text(), random_text(), random_text());
        let challenge = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.options.client_id)
            .append_pair("redirect_uri", &self.options.redirect_uri)
            .append_pair("launch", launch)
            .append_pair("scope", &self.options.scope)
            .append_pair("aud", &fhir_server)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        let separator = if server.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok(ShofRedirect {
            url: format!("{}{separator}{query}", server.authorization_endpoint),
            pending: PendingShof {
                state,
                fhir_server,
                nonce,
                code_verifier: verifier,
                expires_at: self
                    .clock
                    .now()
                    .saturating_add(self.options.state_lifetime.as_secs()),
            },
        })
    }

    /// Finishes the launch `pending` whose browser came back with `code` and `returned_state`:
    /// the state must be the pending launch's, unexpired and unused ([`HostError::UnknownState`];
    /// it is used up either way, and a replay store that cannot say is
    /// [`HostError::ReplayStoreUnavailable`]); `pending.fhir_server` must still be a configured
    /// server; the code is exchanged at the token endpoint with the PKCE verifier and a client
    /// assertion; the id_token is verified with the authorization server's published keys.
    pub fn finish(
        &self,
        code: &str,
        returned_state: &str,
        pending: &PendingShof,
    ) -> Result<ShofLaunch, LaunchError> {
        Ok(self.complete(code, returned_state, pending)?)
    }

    fn complete(
        &self,
        code: &str,
        returned_state: &str,
        pending: &PendingShof,
    ) -> Result<ShofLaunch, HostError> {
        self.use_up(returned_state, pending)?;
        if !self
            .options
            .fhir_servers
            .iter()
            .any(|allowed| same_url(allowed, &pending.fhir_server))
        {
            return Err(HostError::UnknownFhirServer(
                pending.fhir_server.chars().take(256).collect(),
            ));
        }
        let server = self.server(&pending.fhir_server)?;
        let token_endpoint = server.configuration.token_endpoint.clone();
        let assertion = server
            .tokens
            .client_assertion(&server.tokens.token_assertion_audience()?)?;
        let fields = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.options.redirect_uri.as_str()),
            ("code_verifier", pending.code_verifier.as_str()),
            ("client_id", self.options.client_id.as_str()),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion.as_str()),
        ];
        let response = self.http.post_form(&token_endpoint, &fields, None)?;
        if response.status != 200 {
            return Err(error_response(&response));
        }
        let body = response
            .json()
            .ok_or_else(|| HostError::InvalidResponse("token response is not JSON".into()))?;
        let id_token = body["id_token"]
            .as_str()
            .ok_or_else(|| HostError::InvalidResponse("token response has no id_token".into()))?;
        let id_token = self.verify_id_token(&server, id_token, &pending.nonce)?;
        let mut context = body.as_object().cloned().unwrap_or_default();
        for token_member in [
            "access_token",
            "token_type",
            "expires_in",
            "scope",
            "id_token",
            "refresh_token",
        ] {
            context.remove(token_member);
        }
        Ok(ShofLaunch {
            fhir_server: pending.fhir_server.clone(),
            id_token,
            context,
            token_response: body,
        })
    }

    /// Uses up the launch `pending` whose browser came back with `returned_state` and an
    /// error instead of a code, so the same state cannot be finished later. The same checks as
    /// [`finish`](ShofLauncher::finish) make.
    pub fn cancel(&self, returned_state: &str, pending: &PendingShof) -> Result<(), LaunchError> {
        Ok(self.use_up(returned_state, pending)?)
    }

    /// Checks `returned_state` is `pending`'s, unexpired, and records it as used.
    fn use_up(&self, returned_state: &str, pending: &PendingShof) -> Result<(), HostError> {
        if pending.state.is_empty() || !same_secret(returned_state, &pending.state) {
            return Err(HostError::UnknownState);
        }
        let now = self.clock.now();
        if pending.expires_at <= now {
            return Err(HostError::UnknownState);
        }
        let key = ReplayKey::new("koppeltaal:shof-state", &pending.state);
        match self
            .used_states
            .check_and_record(key, pending.expires_at, now)
        {
            Ok(()) => Ok(()),
            Err(HostError::Core(Error::Replayed)) => Err(HostError::UnknownState),
            Err(other) => Err(other),
        }
    }

    fn verify_id_token(
        &self,
        server: &Server,
        id_token: &str,
        nonce: &str,
    ) -> Result<IdTokenClaims, HostError> {
        let policy = Policy::new(&self.options.client_id)?
            .with_algorithms(self.options.algorithms)
            .with_leeway(self.options.leeway)
            .with_max_lifetime(self.options.id_token_max_lifetime);
        let mut scratch = vec![0u8; Unverified::scratch_len(policy.max_token_len())];
        let unverified = Unverified::parse(id_token.as_bytes(), &policy, &mut scratch)?;
        let keys = server
            .keys
            .keys_for(&server.issuer, unverified.header().key_id())?;
        let expected = IdTokenExpectations {
            issuer: &server.issuer,
            nonce: match self.options.nonce {
                NonceCheck::Required => Some(nonce),
                NonceCheck::NotEchoed => None,
            },
        };
        // The clock is read after the key fetch.
        Ok(unverified.verify_id_token(keys.keys(), &expected, self.clock.now())?)
    }

    /// The authorization server behind `fhir_server`, discovered on first use.
    fn server(&self, fhir_server: &str) -> Result<Arc<Server>, HostError> {
        if let Some(server) = self
            .servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(fhir_server)
        {
            return Ok(Arc::clone(server));
        }
        let configuration = SmartConfiguration::discover(&self.http, fhir_server)?;
        let missing = |what: &str| {
            HostError::InvalidResponse(format!("{fhir_server}'s SMART configuration has no {what}"))
        };
        let issuer = configuration
            .issuer
            .clone()
            .ok_or_else(|| missing("issuer"))?;
        let authorization_endpoint = configuration
            .authorization_endpoint
            .clone()
            .ok_or_else(|| missing("authorization_endpoint"))?;
        let jwks_uri = configuration
            .jwks_uri
            .clone()
            .ok_or_else(|| missing("jwks_uri"))?;
        for url in [
            &authorization_endpoint,
            &jwks_uri,
            &configuration.token_endpoint,
        ] {
            self.http.check_discovered_url(url, fhir_server)?;
        }
        let tokens = TokenClient::builder(&self.options.client_id, Arc::clone(&self.signer))
            .token_endpoint(&configuration.token_endpoint)
            .http(self.http.clone())
            .clock(Arc::clone(&self.clock))
            .build()?;
        let keys = RemoteKeys::builder()
            .http(self.http.clone())
            .clock(Arc::clone(&self.clock))
            .issuer(&issuer, &jwks_uri)
            .build()?;
        let server = Arc::new(Server {
            configuration,
            issuer,
            authorization_endpoint,
            tokens,
            keys,
        });
        self.servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(fhir_server.to_owned(), Arc::clone(&server));
        Ok(server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_launches_read_back_only_whole_and_well_formed() {
        let pending = PendingShof {
            state: "state".into(),
            fhir_server: "https://fhir.example.org/fhir".into(),
            nonce: "nonce".into(),
            code_verifier: "pkce-secret".into(),
            expires_at: 1_700_000_600,
        };
        let bytes = pending.to_bytes();
        assert_eq!(PendingShof::from_bytes(&bytes).unwrap(), pending);
        for cut in 0..bytes.len() {
            assert!(
                PendingShof::from_bytes(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(PendingShof::from_bytes(&longer).is_err(), "trailing bytes");
        let mut other_format = bytes.clone();
        other_format[0] = 2;
        assert!(PendingShof::from_bytes(&other_format).is_err());
        // A length past the field cap, and text that is not UTF-8.
        let mut huge = bytes[..9].to_vec();
        huge.extend_from_slice(&u16::MAX.to_be_bytes());
        assert!(PendingShof::from_bytes(&huge).is_err());
        let mut invalid = bytes[..9].to_vec();
        invalid.extend_from_slice(&[0, 1, 0xff]);
        assert!(PendingShof::from_bytes(&invalid).is_err());
        assert!(
            !format!("{pending:?}").contains("pkce-secret"),
            "secrets redacted"
        );
    }
}
