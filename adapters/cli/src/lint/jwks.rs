//! What a portal's JWKS must be for modules to verify its launches: the document, each key,
//! and (fetched from a URL) how it is served.

use std::collections::HashMap;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use koppeltaal_host::HostError;
use koppeltaal_host::http::{HttpClient, HttpOptions};
use serde_json::Value;

use crate::findings::{Finding, Severity};

/// Members that only a private key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A JWKS as served: the body and the headers that matter.
pub(crate) struct Served {
    pub(crate) body: Vec<u8>,
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) cache_control: Option<String>,
}

/// Fetches `url` (no redirects followed, 10 s, 1 MiB) and lints how it is served. A URL that
/// is not `https` is fetched all the same (and reported), so that the rest can be linted.
pub(crate) fn fetch(url: &str, findings: &mut Vec<Finding>) -> Result<Served, HostError> {
    let http = HttpClient::new(HttpOptions {
        connect_timeout: Duration::from_secs(10),
        timeout: Duration::from_secs(10),
        max_response_bytes: 1 << 20,
        max_redirects: 0,
        allow_insecure_http: true,
    });
    let scheme = url
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    // Whether the lint's own client would fetch it over plain http without being told to.
    let loopback = HttpClient::default().check_url(url).is_ok();
    match scheme.as_deref() {
        Some("https") => {}
        Some("http") if loopback => findings.push(Finding::new(
            Severity::Note,
            "HTI 2.0 ② security",
            "served over plain http on loopback: https not checked",
        )),
        _ => findings.push(Finding::new(
            Severity::Must,
            "HTI 2.0 ② security",
            format!("{url} is not https: keys MUST reach modules over an encrypted connection"),
        )),
    }
    let response = http.get_json(url)?;
    Ok(Served {
        status: response.status(),
        content_type: response.header("content-type").map(str::to_owned),
        cache_control: response.header("cache-control").map(str::to_owned),
        body: response.into_body(),
    })
}

/// Lints how a JWKS is served (status, type, caching).
pub(crate) fn lint_serving(served: &Served, findings: &mut Vec<Finding>) {
    if served.status != 200 {
        findings.push(Finding::new(
            Severity::Must,
            "RFC 7517 §5",
            format!("the JWKS URL answers {}, not 200", served.status),
        ));
    }
    let json_type = served.content_type.as_deref().is_some_and(|value| {
        let media = value.split(';').next().unwrap_or_default().trim();
        media.eq_ignore_ascii_case("application/json")
            || media.eq_ignore_ascii_case("application/jwk-set+json")
    });
    if !json_type {
        findings.push(Finding::new(
            Severity::Should,
            "RFC 7517 §8.5",
            format!(
                "Content-Type {}: application/json or application/jwk-set+json",
                served.content_type.as_deref().unwrap_or("(none)")
            ),
        ));
    }
    match served.cache_control.as_deref() {
        None => findings.push(Finding::new(
            Severity::Should,
            "Koppeltaal JWKS caching",
            "no Cache-Control: modules cannot tell how long to keep the keys (e.g. max-age=3600)",
        )),
        Some(value) if value.contains("no-store") => findings.push(Finding::new(
            Severity::Should,
            "Koppeltaal JWKS caching",
            format!("Cache-Control {value}: every launch would cost modules a fetch"),
        )),
        Some(_) => {}
    }
}

/// Lints a JWKS document and each of its keys.
pub(crate) fn lint_document(document: &Value, findings: &mut Vec<Finding>) {
    let Some(keys) = document.get("keys").and_then(Value::as_array) else {
        findings.push(Finding::new(
            Severity::Must,
            "RFC 7517 §5",
            "not a JWKS: no keys array",
        ));
        return;
    };
    if keys.is_empty() {
        findings.push(Finding::new(
            Severity::Must,
            "RFC 7517 §5",
            "the JWKS has no keys",
        ));
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (index, key) in keys.iter().enumerate() {
        let label = key
            .get("kid")
            .and_then(Value::as_str)
            .map_or_else(|| format!("key {index}"), |kid| format!("key {kid:?}"));
        match key.get("kid").and_then(Value::as_str) {
            None => findings.push(Finding::new(
                Severity::Must,
                "HTI 2.0 ② iss",
                format!("{label} has no kid: launches name their key by kid"),
            )),
            Some(kid) => {
                let count = seen.entry(kid).or_default();
                *count += 1;
                if *count == 2 {
                    findings.push(Finding::new(
                        Severity::Must,
                        "RFC 7517 §4.5 kid",
                        format!(
                            "kid {kid:?} appears more than once: modules cannot tell the keys apart"
                        ),
                    ));
                }
            }
        }
        lint_key(key, &label, findings);
    }
}

fn lint_key(key: &Value, label: &str, findings: &mut Vec<Finding>) {
    for member in PRIVATE_MEMBERS {
        if key.get(member).is_some() {
            findings.push(Finding::new(
                Severity::Must,
                "RFC 7517 §9.2",
                format!("{label} publishes private key material ({member}): replace the key now"),
            ));
            break;
        }
    }
    let kty = key.get("kty").and_then(Value::as_str).unwrap_or_default();
    if !matches!(kty, "RSA" | "EC") {
        findings.push(Finding::new(
            Severity::Must,
            "HTI 2.0 ② security",
            format!("{label} is kty {kty:?}: launches are signed with RSA or EC keys"),
        ));
        return;
    }
    match key.get("use").and_then(Value::as_str) {
        None => findings.push(Finding::new(
            Severity::Should,
            "RFC 7517 §4.2 use",
            format!("{label} has no use: say use sig"),
        )),
        Some("sig") | Some("enc") => {}
        Some(other) => findings.push(Finding::new(
            Severity::Must,
            "RFC 7517 §4.2 use",
            format!("{label} has use {other:?}: sig or enc"),
        )),
    }
    match key.get("alg").and_then(Value::as_str) {
        None => findings.push(Finding::new(
            Severity::Should,
            "RFC 7517 §4.4 alg",
            format!("{label} has no alg: say which algorithm it signs with (RS512 in Koppeltaal)"),
        )),
        Some(alg) => {
            let fits = match kty {
                "RSA" => {
                    alg.starts_with("RS") || alg.starts_with("PS") || alg.starts_with("RSA-OAEP")
                }
                _ => alg.starts_with("ES") || alg.starts_with("ECDH"),
            };
            if !fits {
                findings.push(Finding::new(
                    Severity::Must,
                    "RFC 7518 §3.1",
                    format!("{label} is {kty} but bound to alg {alg}"),
                ));
            }
        }
    }
    if let Some(finding) = key_size_finding(key) {
        findings.push(finding);
    }
}

/// A finding when `key` is too weak or malformed: RSA under 2048 bits or an exponent other
/// than 65537; an EC curve other than P-256, P-384 or P-521.
pub(crate) fn key_size_finding(key: &Value) -> Option<Finding> {
    let label = key
        .get("kid")
        .and_then(Value::as_str)
        .map_or_else(|| "the key".to_owned(), |kid| format!("key {kid:?}"));
    match key.get("kty").and_then(Value::as_str) {
        Some("RSA") => {
            let modulus = key
                .get("n")
                .and_then(Value::as_str)
                .and_then(|n| Base64UrlUnpadded::decode_vec(n).ok());
            let Some(modulus) = modulus else {
                return Some(Finding::new(
                    Severity::Must,
                    "RFC 7518 §6.3.1",
                    format!("{label} has no valid n (base64url modulus)"),
                ));
            };
            let leading = modulus
                .iter()
                .position(|byte| *byte != 0)
                .unwrap_or(modulus.len());
            let significant = &modulus[leading..];
            let bits = significant.len() * 8
                - significant
                    .first()
                    .map_or(0, |byte| byte.leading_zeros() as usize);
            if bits < 2048 {
                return Some(Finding::new(
                    Severity::Must,
                    "RFC 7518 §3.3",
                    format!("{label} is RSA-{bits}: a key of 2048 bits or larger MUST be used"),
                ));
            }
            match key.get("e").and_then(Value::as_str) {
                Some("AQAB") => None,
                other => Some(Finding::new(
                    Severity::Should,
                    "RFC 7518 §6.3.1",
                    format!(
                        "{label} has exponent {other:?}: 65537 (AQAB) is what verifiers expect"
                    ),
                )),
            }
        }
        Some("EC") => match key.get("crv").and_then(Value::as_str) {
            Some("P-256" | "P-384" | "P-521") => None,
            other => Some(Finding::new(
                Severity::Must,
                "HTI 2.0 ② security",
                format!(
                    "{label} is on curve {other:?}: ES256, ES384 and ES512 use P-256, P-384 and P-521"
                ),
            )),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn severities(document: Value) -> Vec<(Severity, &'static str)> {
        let mut findings = Vec::new();
        lint_document(&document, &mut findings);
        findings.iter().map(|f| (f.severity, f.clause)).collect()
    }

    #[test]
    fn each_key_fault_is_named() {
        let small_n = Base64UrlUnpadded::encode_string(&[0xff; 128]);
        let big_n = Base64UrlUnpadded::encode_string(&[0xff; 256]);
        assert_eq!(
            severities(
                json!({"keys": [{"kty": "RSA", "kid": "a", "use": "sig", "alg": "RS512", "n": big_n, "e": "AQAB"}]})
            ),
            vec![]
        );
        assert!(severities(json!({"keys": [{"kty": "RSA", "kid": "a", "use": "sig", "alg": "RS512", "n": small_n, "e": "AQAB"}]}))
            .contains(&(Severity::Must, "RFC 7518 §3.3")));
        assert!(
            severities(json!({"keys": [{"kty": "oct", "kid": "a", "k": "c2VjcmV0"}]}))
                .contains(&(Severity::Must, "RFC 7517 §9.2"))
        );
        assert!(
            severities(json!({"keys": [
                {"kty": "EC", "kid": "a", "use": "sig", "alg": "ES256", "crv": "P-256"},
                {"kty": "EC", "kid": "a", "use": "sig", "alg": "ES256", "crv": "P-256"}
            ]}))
            .contains(&(Severity::Must, "RFC 7517 §4.5 kid"))
        );
        assert!(severities(json!({"keys": [{"kty": "RSA", "kid": "a", "alg": "ES256", "n": big_n, "e": "AQAB"}]}))
            .contains(&(Severity::Must, "RFC 7518 §3.1")));
        assert_eq!(
            severities(json!({"nokeys": []})),
            vec![(Severity::Must, "RFC 7517 §5")]
        );
    }
}
