//! Access tokens by the SMART Backend Services `client_credentials` flow, with a signed client
//! assertion (RFC 7523), cached until shortly before they expire.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use koppeltaal_core::ClientAssertion;
use serde_json::Value;

use super::discovery::SmartConfiguration;
use crate::clock::{Clock, SystemClock};
use crate::error::HostError;
use crate::http::{HttpClient, HttpResponse};
use crate::keys::SharedSigner;
use crate::random::{new_jti, os_rng};

/// The `client_assertion_type` of RFC 7523.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An access token and what the token endpoint said about it.
#[derive(Clone, Debug, PartialEq)]
pub struct AccessToken {
    /// The token to send as `Authorization: Bearer <value>`.
    pub value: String,
    /// `token_type`, normally `Bearer`.
    pub token_type: String,
    /// When it expires (Unix seconds), from `expires_in`.
    pub expires_at: u64,
    /// `scope`, if the server said.
    pub scope: Option<String>,
    /// The whole response body.
    pub response: Value,
}

/// Where the token endpoint comes from.
enum Endpoint {
    /// Given; the rest of the server's configuration is looked up only when asked for.
    Fixed {
        url: String,
        configuration: OnceLock<SmartConfiguration>,
    },
    /// Discovered from a FHIR base URL, once.
    Discover {
        fhir_base: String,
        found: OnceLock<SmartConfiguration>,
    },
}

/// Gets access tokens for one client, shares them between threads, and fetches a new one
/// only when the cached one is about to expire or has been invalidated (after a 401): when
/// many threads ask at once, one fetches and the others wait for it.
///
/// Cheap to clone: clones share the cached token and the HTTP client.
#[derive(Clone)]
pub struct TokenClient {
    inner: Arc<Client>,
}

struct Client {
    http: HttpClient,
    client_id: String,
    signer: SharedSigner,
    endpoint: Endpoint,
    scope: Option<String>,
    margin: u64,
    assertion_lifetime: u64,
    assertion_audience: Option<String>,
    clock: Arc<dyn Clock>,
    cached: Mutex<Option<AccessToken>>,
    fetching: Mutex<()>,
}

/// Configures a [`TokenClient`].
pub struct TokenClientBuilder {
    client_id: String,
    signer: SharedSigner,
    endpoint: Option<Endpoint>,
    scope: Option<String>,
    http: Option<HttpClient>,
    clock: Arc<dyn Clock>,
    margin: Duration,
    assertion_lifetime: u64,
    assertion_audience: Option<String>,
}

impl TokenClientBuilder {
    /// Uses this token endpoint.
    pub fn token_endpoint(mut self, url: &str) -> Self {
        self.endpoint = Some(Endpoint::Fixed {
            url: url.to_owned(),
            configuration: OnceLock::new(),
        });
        self
    }

    /// Discovers the token endpoint (and the introspection endpoint) from this FHIR server:
    /// `<base>/.well-known/smart-configuration`, or else the CapabilityStatement at
    /// `<base>/metadata` (the `oauth-uris` extension).
    pub fn fhir_base(mut self, url: &str) -> Self {
        self.endpoint = Some(Endpoint::Discover {
            fhir_base: url.trim_end_matches('/').to_owned(),
            found: OnceLock::new(),
        });
        self
    }

    /// Asks for this scope (by default none is sent: Koppeltaal decides it from the role).
    pub fn scope(mut self, scope: &str) -> Self {
        self.scope = Some(scope.to_owned());
        self
    }

    /// The HTTP client (an [`HttpClient`] shared with the application's other clients, or
    /// the [`HttpOptions`](crate::http::HttpOptions) of a new one; by default its defaults).
    pub fn http(mut self, client: impl Into<HttpClient>) -> Self {
        self.http = Some(client.into());
        self
    }

    /// The clock (the system clock by default).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How long before expiry a cached token is replaced (30 s by default).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The client assertions' lifetime in seconds (1 to 300; 120 by default).
    pub fn assertion_lifetime(mut self, seconds: u64) -> Self {
        self.assertion_lifetime = seconds;
        self
    }

    /// The `aud` of the client assertions sent to the token endpoint (by default the token
    /// endpoint itself, as SMART Backend Services says; some servers want their issuer).
    pub fn assertion_audience(mut self, audience: &str) -> Self {
        self.assertion_audience = Some(audience.to_owned());
        self
    }

    /// The client. Fails if no endpoint was given, or a URL is not acceptable.
    pub fn build(self) -> Result<TokenClient, HostError> {
        let http = self.http.unwrap_or_default();
        let endpoint = self
            .endpoint
            .ok_or_else(|| HostError::InvalidUrl("no token endpoint or FHIR base URL".into()))?;
        match &endpoint {
            Endpoint::Fixed { url, .. } => http.check_url(url)?,
            Endpoint::Discover { fhir_base, .. } => http.check_url(fhir_base)?,
        };
        ClientAssertion::new(&self.client_id, "https://check.invalid/", 0)?
            .with_lifetime(self.assertion_lifetime)?;
        Ok(TokenClient {
            inner: Arc::new(Client {
                http,
                client_id: self.client_id,
                signer: self.signer,
                endpoint,
                scope: self.scope,
                margin: self.margin.as_secs(),
                assertion_lifetime: self.assertion_lifetime,
                assertion_audience: self.assertion_audience,
                clock: self.clock,
                cached: Mutex::new(None),
                fetching: Mutex::new(()),
            }),
        })
    }
}

impl TokenClient {
    /// A client for `client_id`, signing its assertions with `signer`.
    pub fn builder(client_id: &str, signer: SharedSigner) -> TokenClientBuilder {
        TokenClientBuilder {
            client_id: client_id.to_owned(),
            signer,
            endpoint: None,
            scope: None,
            http: None,
            clock: Arc::new(SystemClock),
            margin: Duration::from_secs(30),
            assertion_lifetime: ClientAssertion::DEFAULT_LIFETIME,
            assertion_audience: None,
        }
    }

    /// The HTTP client it calls the authorization server with (share it with other clients).
    pub fn http(&self) -> &HttpClient {
        &self.inner.http
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The signer of the client assertions.
    pub fn signer(&self) -> &SharedSigner {
        &self.inner.signer
    }

    /// The token endpoint, discovering it on first use when configured with a FHIR base.
    pub fn token_endpoint(&self) -> Result<String, HostError> {
        match &self.inner.endpoint {
            Endpoint::Fixed { url, .. } => Ok(url.clone()),
            Endpoint::Discover { .. } => Ok(self.configuration()?.token_endpoint),
        }
    }

    /// The authorization server's configuration: discovered from the FHIR base when the
    /// client was built with one; for a given token endpoint, the document the server
    /// publishes about itself at the root of the endpoint's origin (smart-configuration,
    /// openid-configuration or RFC 8414 metadata) that names this token endpoint. Looked up
    /// once, on first use; every URL in it has passed the same checks as the client's own.
    pub fn configuration(&self) -> Result<SmartConfiguration, HostError> {
        let (found, source, discover): (_, _, &dyn Fn() -> Result<SmartConfiguration, HostError>) =
            match &self.inner.endpoint {
                Endpoint::Fixed { url, configuration } => (configuration, url, &|| {
                    SmartConfiguration::discover_from_endpoint(&self.inner.http, url)
                }),
                Endpoint::Discover { fhir_base, found } => (found, fhir_base, &|| {
                    SmartConfiguration::discover(&self.inner.http, fhir_base)
                }),
            };
        if let Some(configuration) = found.get() {
            return Ok(configuration.clone());
        }
        let configuration = discover()?;
        for url in [
            Some(&configuration.token_endpoint),
            configuration.introspection_endpoint.as_ref(),
            configuration.authorization_endpoint.as_ref(),
            configuration.jwks_uri.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            self.inner.http.check_discovered_url(url, source)?;
        }
        Ok(found.get_or_init(|| configuration).clone())
    }

    /// The introspection endpoint the server advertises (see
    /// [`configuration`](Self::configuration)); [`HostError::InvalidResponse`] when it
    /// advertises none.
    pub fn introspection_endpoint(&self) -> Result<String, HostError> {
        self.configuration()?.introspection_endpoint.ok_or_else(|| {
            HostError::InvalidResponse("the server advertises no introspection_endpoint".into())
        })
    }

    /// The `aud` of the client assertions this client sends to the token endpoint: the one
    /// set with [`TokenClientBuilder::assertion_audience`], or else the token endpoint.
    /// Koppeltaal's auth server demands this same audience from assertions sent to its
    /// introspection endpoint.
    pub fn token_assertion_audience(&self) -> Result<String, HostError> {
        match &self.inner.assertion_audience {
            Some(audience) => Ok(audience.clone()),
            None => self.token_endpoint(),
        }
    }

    /// A valid access token: the cached one, or a new one when it is within the refresh
    /// margin of expiring (or was invalidated).
    pub fn access_token(&self) -> Result<AccessToken, HostError> {
        if let Some(token) = self.cached_valid() {
            return Ok(token);
        }
        let _fetching = self
            .inner
            .fetching
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(token) = self.cached_valid() {
            return Ok(token);
        }
        let token = self.request_token()?;
        *self.inner.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some(token.clone());
        Ok(token)
    }

    /// Forgets the cached token, so the next [`access_token`](Self::access_token) fetches.
    pub fn invalidate(&self) {
        *self.inner.cached.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Forgets the cached token only if it is `value`: after a 401 for `value`, so that
    /// threads refused with an older token do not throw away a newer one.
    pub fn invalidate_token(&self, value: &str) {
        let mut cached = self.inner.cached.lock().unwrap_or_else(|e| e.into_inner());
        if cached.as_ref().is_some_and(|token| token.value == value) {
            *cached = None;
        }
    }

    /// A signed client assertion for `audience` (the token endpoint, or another endpoint that
    /// accepts client assertions such as introspection), with a fresh `jti`.
    pub fn client_assertion(&self, audience: &str) -> Result<String, HostError> {
        let jti = new_jti();
        let assertion =
            ClientAssertion::new(&self.inner.client_id, audience, self.inner.clock.now())?
                .with_lifetime(self.inner.assertion_lifetime)?
                .with_token_id(&jti)?
                .sign_to_string(self.inner.signer.as_ref(), &mut os_rng())?;
        Ok(assertion)
    }

    /// Asks the token endpoint for a new token, without touching the cache.
    pub fn request_token(&self) -> Result<AccessToken, HostError> {
        let endpoint = self.token_endpoint()?;
        let now = self.inner.clock.now();
        let assertion = self.client_assertion(&self.token_assertion_audience()?)?;
        let mut fields = vec![
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion.as_str()),
        ];
        if let Some(scope) = &self.inner.scope {
            fields.push(("scope", scope));
        }
        let response = self.inner.http.post_form(&endpoint, &fields, None)?;
        if response.status != 200 {
            return Err(error_response(&response));
        }
        let body = response
            .json()
            .ok_or_else(|| HostError::InvalidResponse("token response is not JSON".into()))?;
        let value = body["access_token"]
            .as_str()
            .filter(|value| !value.is_empty())
            .ok_or_else(|| HostError::InvalidResponse("token response has no access_token".into()))?
            .to_owned();
        let expires_in = body["expires_in"]
            .as_u64()
            .or_else(|| {
                body["expires_in"]
                    .as_str()
                    .and_then(|text| text.parse().ok())
            })
            .unwrap_or(60);
        Ok(AccessToken {
            value,
            token_type: body["token_type"].as_str().unwrap_or("Bearer").to_owned(),
            expires_at: now.saturating_add(expires_in),
            scope: body["scope"].as_str().map(str::to_owned),
            response: body,
        })
    }

    fn cached_valid(&self) -> Option<AccessToken> {
        let now = self.inner.clock.now();
        let cached = self.inner.cached.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .filter(|token| now.saturating_add(self.inner.margin) < token.expires_at)
            .cloned()
    }
}

/// An error for a non-success answer: the OAuth error when the body carries one, the status
/// and body otherwise (Koppeltaal answers refusals with a plain-text `Access Denied`).
pub(crate) fn error_response(response: &HttpResponse) -> HostError {
    let body = response.json().unwrap_or_default();
    match body["error"].as_str() {
        Some(error) => HostError::OAuth {
            status: response.status,
            error: error.to_owned(),
            description: body["error_description"].as_str().map(str::to_owned),
        },
        None => response.unexpected(),
    }
}
