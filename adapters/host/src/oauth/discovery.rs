//! Where a server's OAuth endpoints are: its `.well-known/smart-configuration`, or for older
//! FHIR servers the `oauth-uris` extension of the CapabilityStatement.

use serde_json::Value;

use crate::error::HostError;
use crate::http::HttpClient;

/// The extension a FHIR CapabilityStatement advertises OAuth endpoints in.
const OAUTH_URIS: &str = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris";

/// The endpoints a FHIR server or an authorization server advertises (SMART App Launch
/// "Conformance", `.well-known/smart-configuration`).
///
/// Koppeltaal's FHIR server points at its authentication service, which publishes the same
/// document with `token_endpoint`, `introspection_endpoint`, `authorization_endpoint` and
/// `jwks_uri`. Every URL is checked like any other the host calls (`https` unless loopback)
/// before it is used.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmartConfiguration {
    /// `issuer`, when given.
    pub issuer: Option<String>,
    /// `token_endpoint`: where client assertions are exchanged for tokens.
    pub token_endpoint: String,
    /// `introspection_endpoint` (RFC 7662), when given.
    pub introspection_endpoint: Option<String>,
    /// `authorization_endpoint`, when given (SMART HTI on FHIR launches start there).
    pub authorization_endpoint: Option<String>,
    /// `jwks_uri`: the server's public keys (its access and id tokens verify with them).
    pub jwks_uri: Option<String>,
    /// `code_challenge_methods_supported` (PKCE), empty when not given.
    pub code_challenge_methods: Vec<String>,
    /// `capabilities`, e.g. `context-ehr-hti`, empty when not given.
    pub capabilities: Vec<String>,
}

impl SmartConfiguration {
    /// Reads a configuration document. The `token_endpoint` is required; the other members are
    /// taken when they have the right type and ignored otherwise.
    pub fn from_json(document: &Value) -> Result<SmartConfiguration, HostError> {
        let text = |name: &str| document[name].as_str().map(str::to_owned);
        let list = |name: &str| {
            document[name]
                .as_array()
                .map(|values| {
                    values
                        .iter()
                        .filter_map(|value| value.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let token_endpoint = text("token_endpoint")
            .filter(|url| !url.is_empty())
            .ok_or_else(|| HostError::InvalidResponse("no token_endpoint".into()))?;
        Ok(SmartConfiguration {
            issuer: text("issuer"),
            token_endpoint,
            introspection_endpoint: text("introspection_endpoint"),
            authorization_endpoint: text("authorization_endpoint"),
            jwks_uri: text("jwks_uri"),
            code_challenge_methods: list("code_challenge_methods_supported"),
            capabilities: list("capabilities"),
        })
    }

    /// The configuration of the FHIR server at `fhir_base`: its
    /// `.well-known/smart-configuration`, or else the `oauth-uris` extension of its
    /// CapabilityStatement (`<base>/metadata`; only `token`, `authorize` and `introspect`).
    pub(crate) fn discover(
        http: &HttpClient,
        fhir_base: &str,
    ) -> Result<SmartConfiguration, HostError> {
        let fhir_base = fhir_base.trim_end_matches('/');
        let advertised = http
            .get_json(&format!("{fhir_base}/.well-known/smart-configuration"))
            .ok()
            .filter(|response| response.status == 200)
            .and_then(|response| response.json())
            .and_then(|document| SmartConfiguration::from_json(&document).ok());
        if let Some(configuration) = advertised {
            return Ok(configuration);
        }
        let metadata = http.get_json(&format!("{fhir_base}/metadata"))?;
        if metadata.status != 200 {
            return Err(metadata.unexpected());
        }
        let statement = metadata
            .json()
            .ok_or_else(|| HostError::InvalidResponse("CapabilityStatement is not JSON".into()))?;
        SmartConfiguration::from_capability_statement(&statement).ok_or_else(|| {
            HostError::InvalidResponse(format!("{fhir_base} advertises no token endpoint"))
        })
    }

    /// The configuration an authorization server publishes about itself, found from one of
    /// its endpoints (`endpoint`, usually the token endpoint): the documents at the root of
    /// that URL's origin, `.well-known/smart-configuration`, then
    /// `.well-known/openid-configuration`, then `.well-known/oauth-authorization-server`
    /// (RFC 8414). Only a document naming `endpoint` as its `token_endpoint` is taken, so the
    /// endpoints found belong to the same server.
    pub(crate) fn discover_from_endpoint(
        http: &HttpClient,
        endpoint: &str,
    ) -> Result<SmartConfiguration, HostError> {
        let origin = origin_of(endpoint).ok_or_else(|| HostError::InvalidUrl(endpoint.into()))?;
        let mut tried = Vec::new();
        for document in [
            "smart-configuration",
            "openid-configuration",
            "oauth-authorization-server",
        ] {
            let url = format!("{origin}/.well-known/{document}");
            let found = http
                .get_json(&url)
                .ok()
                .filter(|response| response.status == 200)
                .and_then(|response| response.json())
                .and_then(|document| SmartConfiguration::from_json(&document).ok());
            match found {
                Some(configuration) if same_url(&configuration.token_endpoint, endpoint) => {
                    return Ok(configuration);
                }
                _ => tried.push(url),
            }
        }
        Err(HostError::InvalidResponse(format!(
            "no configuration naming {endpoint} as its token endpoint at {}",
            tried.join(", ")
        )))
    }

    /// The endpoints of the `oauth-uris` extension of a CapabilityStatement, if it names a
    /// token endpoint.
    fn from_capability_statement(statement: &Value) -> Option<SmartConfiguration> {
        let rests = statement["rest"].as_array()?;
        rests.iter().find_map(|rest| {
            let extensions = rest["security"]["extension"].as_array()?;
            let oauth = extensions
                .iter()
                .find(|extension| extension["url"] == OAUTH_URIS)?
                .get("extension")?
                .as_array()?;
            let uri = |name: &str| {
                oauth
                    .iter()
                    .find(|extension| extension["url"] == name)
                    .and_then(|extension| extension["valueUri"].as_str())
                    .map(str::to_owned)
            };
            Some(SmartConfiguration {
                token_endpoint: uri("token")?,
                authorization_endpoint: uri("authorize"),
                introspection_endpoint: uri("introspect"),
                ..SmartConfiguration::default()
            })
        })
    }
}

/// `scheme://authority` of an absolute URL.
fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    (!scheme.is_empty() && authority_end > 0).then(|| &url[..scheme.len() + 3 + authority_end])
}

/// Two URLs naming one endpoint: equal but for a trailing slash.
fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_endpoints_of_a_capability_statement() {
        let statement = serde_json::json!({
            "resourceType": "CapabilityStatement",
            "rest": [{"mode": "server", "security": {"extension": [
                {"url": "http://example.org/other"},
                {"url": OAUTH_URIS, "extension": [
                    {"url": "authorize", "valueUri": "https://auth.example.org/authorize"},
                    {"url": "token", "valueUri": "https://auth.example.org/oauth2/token"},
                    {"url": "introspect", "valueUri": "https://auth.example.org/oauth2/introspect"}
                ]}
            ]}}]
        });
        let found = SmartConfiguration::from_capability_statement(&statement).unwrap();
        assert_eq!(
            found.token_endpoint,
            "https://auth.example.org/oauth2/token"
        );
        assert_eq!(
            found.introspection_endpoint.as_deref(),
            Some("https://auth.example.org/oauth2/introspect")
        );
        assert_eq!(
            found.authorization_endpoint.as_deref(),
            Some("https://auth.example.org/authorize")
        );
        assert_eq!(
            SmartConfiguration::from_capability_statement(&serde_json::json!({"rest": []})),
            None
        );
    }

    #[test]
    fn a_document_needs_a_token_endpoint_and_tolerates_odd_members() {
        let document = serde_json::json!({
            "token_endpoint": "https://a/t",
            "introspection_endpoint": 5,
            "capabilities": ["context-ehr-hti", 7],
        });
        let found = SmartConfiguration::from_json(&document).unwrap();
        assert_eq!(found.introspection_endpoint, None);
        assert_eq!(found.capabilities, ["context-ehr-hti"]);
        assert!(matches!(
            SmartConfiguration::from_json(&serde_json::json!({"token_endpoint": ""})),
            Err(HostError::InvalidResponse(_))
        ));
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://auth.example.org/oauth2/token"),
            Some("https://auth.example.org")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080?x"),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin_of("https:///token"), None);
        assert_eq!(origin_of("token"), None);
    }
}
