//! Token introspection (RFC 7662), authenticated the Koppeltaal way (a client assertion in
//! the form) or with a bearer token.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::token::{JWT_BEARER, TokenClient, error_response};
use crate::error::HostError;
use crate::http::HttpClient;

/// How the introspection endpoint is told who is asking.
#[derive(Clone)]
pub enum IntrospectionAuth {
    /// Koppeltaal's way: `client_assertion_type` and `client_assertion` form fields, a fresh
    /// assertion (fresh `jti`) for every call. Its `aud` is, by default, what the client's
    /// assertions to the token endpoint carry ([`TokenClient::token_assertion_audience`]: the
    /// token endpoint): Koppeltaal's auth server checks the assertion exactly as its token
    /// endpoint does, and refuses (401 `Access Denied`) one addressed to the introspection
    /// endpoint.
    ClientAssertion {
        /// Signs the assertions.
        client: TokenClient,
        /// The assertion's `aud`, for a server that wants something else (for example the
        /// introspection endpoint itself, or its issuer).
        audience: Option<String>,
    },
    /// `Authorization: Bearer <access token>`, the token from the client; after a 401 the
    /// token is replaced and the call retried once.
    Bearer(TokenClient),
}

/// The answer of an introspection endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Introspection {
    /// Whether the token is active.
    pub active: bool,
    /// Every member of the answer but `active` (for an active token: its claims).
    pub claims: Map<String, Value>,
}

/// Asks an authorization server whether a token is active. Cheap to clone (clones share the
/// HTTP client and the token client).
#[derive(Clone)]
pub struct Introspector {
    http: HttpClient,
    endpoint: Arc<str>,
    auth: IntrospectionAuth,
}

impl Introspector {
    /// An introspector for `endpoint`, calling it with `http` (an [`HttpClient`] to share, or
    /// the [`HttpOptions`](crate::http::HttpOptions) of a new one).
    pub fn new(
        endpoint: &str,
        auth: IntrospectionAuth,
        http: impl Into<HttpClient>,
    ) -> Result<Introspector, HostError> {
        let http = http.into();
        http.check_url(endpoint)?;
        Ok(Introspector {
            http,
            endpoint: endpoint.into(),
            auth,
        })
    }

    /// Koppeltaal's introspection: the endpoint the client's server advertises
    /// ([`TokenClient::introspection_endpoint`], discovered once), authenticated with a client
    /// assertion addressed to the token endpoint.
    ///
    /// ```no_run
    /// use koppeltaal_host::PrivateKey;
    /// use koppeltaal_host::oauth::{Introspector, TokenClient};
    /// let key = PrivateKey::read_pem_file("/etc/module/key.pem")?;
    /// let client = TokenClient::builder("my-client-id", key.signer()?)
    ///     .fhir_base("https://fhir.example.org/fhir") // both endpoints discovered
    ///     .build()?;
    /// let introspector = Introspector::for_client(&client)?;
    /// let answer = introspector.introspect("eyJ...")?;
    /// # let _ = answer;
    /// # Ok::<(), koppeltaal_host::HostError>(())
    /// ```
    /// It calls the endpoint with the client's [`HttpClient`].
    pub fn for_client(client: &TokenClient) -> Result<Introspector, HostError> {
        let endpoint = client.introspection_endpoint()?;
        let auth = IntrospectionAuth::ClientAssertion {
            client: client.clone(),
            audience: None,
        };
        Introspector::new(&endpoint, auth, client.http().clone())
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Introspects `token`. An answer without a boolean `active` is
    /// [`HostError::InvalidResponse`]; refusals are typed as for the token endpoint.
    pub fn introspect(&self, token: &str) -> Result<Introspection, HostError> {
        let response = match &self.auth {
            IntrospectionAuth::ClientAssertion { client, audience } => {
                let audience = match audience {
                    Some(audience) => audience.clone(),
                    None => client.token_assertion_audience()?,
                };
                let assertion = client.client_assertion(&audience)?;
                let fields = [
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", assertion.as_str()),
                    ("token", token),
                ];
                self.http.post_form(&self.endpoint, &fields, None)?
            }
            IntrospectionAuth::Bearer(client) => {
                let bearer = client.access_token()?;
                let fields = [("token", token)];
                let first = self
                    .http
                    .post_form(&self.endpoint, &fields, Some(&bearer.value))?;
                if first.status == 401 {
                    client.invalidate_token(&bearer.value);
                    let fresh = client.access_token()?;
                    self.http
                        .post_form(&self.endpoint, &fields, Some(&fresh.value))?
                } else {
                    first
                }
            }
        };
        if response.status != 200 {
            return Err(error_response(&response));
        }
        let Some(Value::Object(mut claims)) = response.json() else {
            return Err(HostError::InvalidResponse(
                "introspection answer is not a JSON object".into(),
            ));
        };
        let Some(Value::Bool(active)) = claims.remove("active") else {
            return Err(HostError::InvalidResponse(
                "introspection answer has no boolean `active`".into(),
            ));
        };
        Ok(Introspection { active, claims })
    }
}
