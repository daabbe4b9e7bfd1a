//! Authorized requests to a Koppeltaal (FHIR) server: the bearer token attached, and one
//! retry with a fresh token after a 401.

use serde_json::Value;

use crate::error::HostError;
use crate::oauth::TokenClient;

/// The FHIR JSON media type, sent as `Accept` and (with a body) `Content-Type`.
pub const FHIR_JSON: &str = "application/fhir+json";

/// A successful (2xx) answer.
#[derive(Clone, Debug, PartialEq)]
pub struct FhirResponse {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl FhirResponse {
    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Sends requests with `Authorization: Bearer <access token>` from a shared [`TokenClient`].
///
/// When the server answers 401 (the token expired early, or was revoked) the token is
/// replaced and the request sent once more; a second 401 is an error, never a loop. Threads
/// share one token: concurrent requests cause one fetch.
///
/// Cheap to clone: clones share the token client and its HTTP client.
#[derive(Clone)]
pub struct FhirClient {
    tokens: TokenClient,
}

impl FhirClient {
    /// A client using tokens from `tokens`, and its [`HttpClient`](crate::http::HttpClient).
    pub fn new(tokens: TokenClient) -> FhirClient {
        FhirClient { tokens }
    }

    /// GET `url`.
    pub fn get(&self, url: &str) -> Result<FhirResponse, HostError> {
        self.send("GET", url, None)
    }

    /// POST `body` (FHIR JSON) to `url`.
    pub fn post(&self, url: &str, body: &[u8]) -> Result<FhirResponse, HostError> {
        self.send("POST", url, Some(body))
    }

    /// PUT `body` (FHIR JSON) to `url`.
    pub fn put(&self, url: &str, body: &[u8]) -> Result<FhirResponse, HostError> {
        self.send("PUT", url, Some(body))
    }

    /// DELETE `url`.
    pub fn delete(&self, url: &str) -> Result<FhirResponse, HostError> {
        self.send("DELETE", url, None)
    }

    /// Any method, with an optional FHIR JSON body. A non-2xx answer is
    /// [`HostError::Refused`], keeping the status, the body and the OperationOutcome's text.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<&[u8]>,
    ) -> Result<FhirResponse, HostError> {
        let token = self.tokens.access_token()?;
        let mut response = self.send_with(method, url, body, &token.value)?;
        if response.status == 401 {
            self.tokens.invalidate_token(&token.value);
            let fresh = self.tokens.access_token()?;
            response = self.send_with(method, url, body, &fresh.value)?;
        }
        if (200..300).contains(&response.status) {
            return Ok(FhirResponse {
                status: response.status,
                content_type: response.content_type,
                body: response.body,
            });
        }
        let outcome = serde_json::from_slice(&response.body)
            .ok()
            .as_ref()
            .and_then(operation_outcome_text);
        Err(HostError::Refused {
            status: response.status,
            body: String::from_utf8_lossy(&response.body).into_owned(),
            outcome,
        })
    }

    fn send_with(
        &self,
        method: &str,
        url: &str,
        body: Option<&[u8]>,
        token: &str,
    ) -> Result<crate::http::HttpResponse, HostError> {
        let authorization = format!("Bearer {token}");
        let mut headers = vec![
            ("Authorization", authorization.as_str()),
            ("Accept", FHIR_JSON),
        ];
        if body.is_some() {
            headers.push(("Content-Type", FHIR_JSON));
        }
        self.tokens
            .http()
            .send(method, url, &headers, body.unwrap_or_default())
    }
}

/// The human-readable text of a FHIR `OperationOutcome`: each issue's `diagnostics` or
/// `details.text`, joined with "; ".
pub fn operation_outcome_text(resource: &Value) -> Option<String> {
    if resource["resourceType"] != "OperationOutcome" {
        return None;
    }
    let texts: Vec<&str> = resource["issue"]
        .as_array()?
        .iter()
        .filter_map(|issue| {
            issue["diagnostics"]
                .as_str()
                .or_else(|| issue["details"]["text"].as_str())
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_outcome_texts() {
        let outcome = serde_json::json!({"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "not-found", "diagnostics": "Task/12 does not exist"},
            {"severity": "error", "code": "forbidden", "details": {"text": "not in your role"}},
            {"severity": "warning", "code": "informational"}
        ]});
        assert_eq!(
            operation_outcome_text(&outcome).as_deref(),
            Some("Task/12 does not exist; not in your role")
        );
        assert_eq!(
            operation_outcome_text(&serde_json::json!({"resourceType": "Patient"})),
            None
        );
        assert_eq!(
            operation_outcome_text(
                &serde_json::json!({"resourceType": "OperationOutcome", "issue": []})
            ),
            None
        );
    }
}
