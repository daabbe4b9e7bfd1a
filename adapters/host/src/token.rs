//! Access tokens by the SMART Backend Services `client_credentials` flow, with a signed client
//! assertion (RFC 7523), cached until shortly before they expire.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use koppeltaal_core::ClientAssertion;
use serde_json::Value;

use crate::clock::{Clock, SystemClock};
use crate::error::HostError;
use crate::http::{Http, HttpOptions, Response};
use crate::keys::SharedSigner;
use crate::random::{new_jti, os_rng};

/// The `client_assertion_type` of RFC 7523.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The extension a FHIR CapabilityStatement advertises OAuth endpoints in.
const OAUTH_URIS: &str = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris";

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
    Fixed(String),
    /// Discovered from a FHIR base URL, once.
    Discover {
        fhir_base: String,
        found: OnceLock<String>,
    },
}

/// Gets access tokens for one client, shares them between threads, and fetches a new one
/// only when the cached one is about to expire or has been invalidated (after a 401): when
/// many threads ask at once, one fetches and the others wait for it.
pub struct TokenClient {
    http: Http,
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
    http: HttpOptions,
    clock: Arc<dyn Clock>,
    margin: Duration,
    assertion_lifetime: u64,
    assertion_audience: Option<String>,
}

impl TokenClientBuilder {
    /// Uses this token endpoint.
    pub fn token_endpoint(mut self, url: &str) -> Self {
        self.endpoint = Some(Endpoint::Fixed(url.to_owned()));
        self
    }

    /// Discovers the token endpoint from this FHIR server: `<base>/.well-known/smart-configuration`
    /// (`token_endpoint`), or else the CapabilityStatement at `<base>/metadata` (the `oauth-uris`
    /// extension's `token`).
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

    /// HTTP limits.
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = options;
        self
    }

    /// The clock (the system clock by default).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
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
        let http = Http::new(self.http);
        let endpoint = self
            .endpoint
            .ok_or_else(|| HostError::InvalidUrl("no token endpoint or FHIR base URL".into()))?;
        match &endpoint {
            Endpoint::Fixed(url) => http.check_url(url)?,
            Endpoint::Discover { fhir_base, .. } => http.check_url(fhir_base)?,
        };
        ClientAssertion::new(&self.client_id, "https://check.invalid/", 0)?
            .with_lifetime(self.assertion_lifetime)?;
        Ok(TokenClient {
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
            http: HttpOptions::default(),
            clock: Arc::new(SystemClock),
            margin: Duration::from_secs(30),
            assertion_lifetime: ClientAssertion::DEFAULT_LIFETIME,
            assertion_audience: None,
        }
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The signer of the client assertions.
    pub fn signer(&self) -> &SharedSigner {
        &self.signer
    }

    /// The token endpoint, discovering it on first use when configured with a FHIR base.
    pub fn token_endpoint(&self) -> Result<String, HostError> {
        match &self.endpoint {
            Endpoint::Fixed(url) => Ok(url.clone()),
            Endpoint::Discover { fhir_base, found } => {
                if let Some(url) = found.get() {
                    return Ok(url.clone());
                }
                let url = self.discover(fhir_base)?;
                self.http.check_url(&url)?;
                Ok(found.get_or_init(|| url).clone())
            }
        }
    }

    /// A valid access token: the cached one, or a new one when it is within the refresh
    /// margin of expiring (or was invalidated).
    pub fn access_token(&self) -> Result<AccessToken, HostError> {
        if let Some(token) = self.cached_valid() {
            return Ok(token);
        }
        let _fetching = self.fetching.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(token) = self.cached_valid() {
            return Ok(token);
        }
        let token = self.request_token()?;
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some(token.clone());
        Ok(token)
    }

    /// Forgets the cached token, so the next [`access_token`](Self::access_token) fetches.
    pub fn invalidate(&self) {
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Forgets the cached token only if it is `value`: after a 401 for `value`, so that
    /// threads refused with an older token do not throw away a newer one.
    pub fn invalidate_token(&self, value: &str) {
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if cached.as_ref().is_some_and(|token| token.value == value) {
            *cached = None;
        }
    }

    /// A signed client assertion for `audience` (the token endpoint, or another endpoint that
    /// accepts client assertions such as introspection), with a fresh `jti`.
    pub fn client_assertion(&self, audience: &str) -> Result<String, HostError> {
        let jti = new_jti();
        let assertion = ClientAssertion::new(&self.client_id, audience, self.clock.now())?
            .with_lifetime(self.assertion_lifetime)?
            .with_token_id(&jti)?
            .sign_to_string(self.signer.as_ref(), &mut os_rng())?;
        Ok(assertion)
    }

    /// Asks the token endpoint for a new token, without touching the cache.
    pub fn request_token(&self) -> Result<AccessToken, HostError> {
        let endpoint = self.token_endpoint()?;
        let now = self.clock.now();
        let assertion =
            self.client_assertion(self.assertion_audience.as_deref().unwrap_or(&endpoint))?;
        let mut fields = vec![
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion.as_str()),
        ];
        if let Some(scope) = &self.scope {
            fields.push(("scope", scope));
        }
        let response = self.http.post_form(&endpoint, &fields, None)?;
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
        let now = self.clock.now();
        let cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .filter(|token| now.saturating_add(self.margin) < token.expires_at)
            .cloned()
    }

    fn discover(&self, fhir_base: &str) -> Result<String, HostError> {
        let advertised = self
            .http
            .get_json(&format!("{fhir_base}/.well-known/smart-configuration"))
            .ok()
            .filter(|response| response.status == 200)
            .and_then(|response| response.json())
            .and_then(|body| body["token_endpoint"].as_str().map(str::to_owned));
        if let Some(url) = advertised {
            return Ok(url);
        }
        let metadata = self.http.get_json(&format!("{fhir_base}/metadata"))?;
        if metadata.status != 200 {
            return Err(metadata.unexpected());
        }
        let body = metadata
            .json()
            .ok_or_else(|| HostError::InvalidResponse("CapabilityStatement is not JSON".into()))?;
        capability_token_endpoint(&body).ok_or_else(|| {
            HostError::InvalidResponse(format!("{fhir_base} advertises no token endpoint"))
        })
    }
}

/// The `token` URI of the `oauth-uris` extension of a CapabilityStatement.
fn capability_token_endpoint(statement: &Value) -> Option<String> {
    let rests = statement["rest"].as_array()?;
    rests.iter().find_map(|rest| {
        let extensions = rest["security"]["extension"].as_array()?;
        let oauth = extensions
            .iter()
            .find(|extension| extension["url"] == OAUTH_URIS)?;
        let token = oauth["extension"]
            .as_array()?
            .iter()
            .find(|extension| extension["url"] == "token")?;
        token["valueUri"].as_str().map(str::to_owned)
    })
}

/// An error for a non-success answer: the OAuth error when the body carries one, the status
/// and body otherwise (Koppeltaal answers refusals with a plain-text `Access Denied`).
pub(crate) fn error_response(response: &Response) -> HostError {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_token_endpoint_in_a_capability_statement() {
        let statement = serde_json::json!({
            "resourceType": "CapabilityStatement",
            "rest": [{"mode": "server", "security": {"extension": [
                {"url": "http://example.org/other"},
                {"url": OAUTH_URIS, "extension": [
                    {"url": "authorize", "valueUri": "https://auth.example.org/authorize"},
                    {"url": "token", "valueUri": "https://auth.example.org/oauth2/token"}
                ]}
            ]}}]
        });
        assert_eq!(
            capability_token_endpoint(&statement).as_deref(),
            Some("https://auth.example.org/oauth2/token")
        );
        assert_eq!(
            capability_token_endpoint(&serde_json::json!({"rest": []})),
            None
        );
    }
}
