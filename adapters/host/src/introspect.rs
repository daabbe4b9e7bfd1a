//! Token introspection (RFC 7662), authenticated the Koppeltaal way (a client assertion in
//! the form) or with a bearer token.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::HostError;
use crate::http::{Http, HttpOptions};
use crate::token::{JWT_BEARER, TokenClient, error_response};

/// How the introspection endpoint is told who is asking.
#[derive(Clone)]
pub enum IntrospectionAuth {
    /// Koppeltaal's way: `client_assertion_type` and `client_assertion` form fields, a fresh
    /// assertion (fresh `jti`) for every call, its `aud` the given audience or else the
    /// introspection endpoint itself.
    ClientAssertion {
        /// Signs the assertions.
        client: Arc<TokenClient>,
        /// The assertion's `aud`, when the server wants something other than the endpoint
        /// (for example its token endpoint or issuer).
        audience: Option<String>,
    },
    /// `Authorization: Bearer <access token>`, the token from the client; after a 401 the
    /// token is replaced and the call retried once.
    Bearer(Arc<TokenClient>),
}

/// The answer of an introspection endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Introspection {
    /// Whether the token is active.
    pub active: bool,
    /// Every member of the answer but `active` (for an active token: its claims).
    pub claims: Map<String, Value>,
}

/// Asks an authorization server whether a token is active.
pub struct Introspector {
    http: Http,
    endpoint: String,
    auth: IntrospectionAuth,
}

impl Introspector {
    /// An introspector for `endpoint`.
    pub fn new(
        endpoint: &str,
        auth: IntrospectionAuth,
        http: HttpOptions,
    ) -> Result<Introspector, HostError> {
        let http = Http::new(http);
        http.check_url(endpoint)?;
        Ok(Introspector {
            http,
            endpoint: endpoint.to_owned(),
            auth,
        })
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
                let assertion =
                    client.client_assertion(audience.as_deref().unwrap_or(&self.endpoint))?;
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
