//! `lint --profile koppeltaal`: what Koppeltaal's own authentication service demands of a
//! portal's launch and JWKS beyond HTI 2.0, as observed (its code and live runs): a launch it
//! cannot introspect, or whose keys it ignores, fails in the network even when HTI 2.0 holds.

use serde_json::{Map, Value};

use super::token::decode_object;
use crate::findings::{Finding, Severity};

/// The algorithms the authentication service accepts.
const ALGORITHMS: [&str; 3] = ["RS384", "ES384", "RS512"];
const CLAUSE_ALG: &str = "Koppeltaal auth service: alg";
const CLAUSE_AUD: &str = "Koppeltaal auth service: aud";
const CLAUSE_IAT: &str = "Koppeltaal auth service: iat";
const CLAUSE_KID: &str = "Koppeltaal auth service: kid";
const CLAUSE_USE: &str = "Koppeltaal auth service: JWKS use";
const CLAUSE_JWE: &str = "Koppeltaal auth service: HTI:jwe";

/// The Koppeltaal findings of `token` (when given) and `jwks` (when given) at `now`.
pub(crate) fn lint_profile(token: Option<&str>, jwks: Option<&Value>, now: u64) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(token) = token {
        lint_launch(token, now, &mut findings);
    }
    if let Some(keys) = jwks.and_then(|jwks| jwks["keys"].as_array()) {
        for (index, key) in keys.iter().enumerate() {
            lint_key(index, key, &mut findings);
        }
    }
    findings
}

fn lint_launch(token: &str, now: u64, findings: &mut Vec<Finding>) {
    let segments: Vec<&str> = token.split('.').collect();
    if segments.len() == 5 {
        findings.push(Finding::new(
            Severity::Note,
            CLAUSE_JWE,
            "an encrypted launch: the auth service parses only three-part tokens, so it can \
             neither introspect it nor use it for a SHOF launch; the module must decrypt it itself",
        ));
        return;
    }
    if segments.len() != 3 {
        return; // HTI 2.0's own lint says what is wrong with it
    }
    // Unreadable parts are reported by the HTI 2.0 lint; nothing more to say here.
    let mut ignored = Vec::new();
    if let Some(header) = decode_object(segments[0], "header", &mut ignored) {
        lint_launch_header(&header, findings);
    }
    if let Some(claims) = decode_object(segments[1], "payload", &mut ignored) {
        lint_launch_claims(&claims, now, findings);
    }
}

fn lint_launch_header(header: &Map<String, Value>, findings: &mut Vec<Finding>) {
    if let Some(alg) = header.get("alg").and_then(Value::as_str)
        && !ALGORITHMS.contains(&alg)
    {
        findings.push(Finding::new(
            Severity::Must,
            CLAUSE_ALG,
            format!(
                "alg {alg}: the auth service accepts only RS384, ES384 and RS512, so it cannot \
                 introspect this launch"
            ),
        ));
    }
    if !header.get("kid").is_some_and(Value::is_string) {
        findings.push(Finding::new(
            Severity::Must,
            CLAUSE_KID,
            "the header has no kid: the auth service selects keys by kid only",
        ));
    }
}

fn lint_launch_claims(claims: &Map<String, Value>, now: u64, findings: &mut Vec<Finding>) {
    match claims.get("aud") {
        Some(Value::String(aud)) if !is_device(aud) => findings.push(Finding::new(
            Severity::Must,
            CLAUSE_AUD,
            format!("aud {aud:?} is not Device/<id>: the auth service matches the module's device"),
        )),
        Some(Value::Array(_)) => findings.push(Finding::new(
            Severity::Must,
            CLAUSE_AUD,
            "aud is an array: the auth service answers introspection with HTTP 500; send the \
             module's Device/<id> as a string",
        )),
        _ => {}
    }
    if let Some(iat) = claims.get("iat").and_then(Value::as_u64)
        && iat > now
    {
        findings.push(Finding::new(
            Severity::Should,
            CLAUSE_IAT,
            format!(
                "iat is {} s ahead of this clock: the auth service allows no leeway, so \
                 introspection would fail; keep the portal's clock in sync",
                iat - now
            ),
        ));
    }
}

fn lint_key(index: usize, key: &Value, findings: &mut Vec<Finding>) {
    let name = key["kid"]
        .as_str()
        .map_or_else(|| format!("key {index}"), |kid| format!("key {kid:?}"));
    if !key["kid"].is_string() {
        findings.push(Finding::new(
            Severity::Must,
            CLAUSE_KID,
            format!("{name} has no kid: the auth service ignores it"),
        ));
    }
    match key["use"].as_str() {
        Some("sig") => {}
        Some(other) => findings.push(Finding::new(
            Severity::Must,
            CLAUSE_USE,
            format!("{name} has use {other:?}: the auth service ignores keys not for sig"),
        )),
        None => findings.push(Finding::new(
            Severity::Should,
            CLAUSE_USE,
            format!("{name} has no use: say \"sig\", which the auth service looks for"),
        )),
    }
    if let Some(alg) = key["alg"].as_str()
        && !ALGORITHMS.contains(&alg)
    {
        findings.push(Finding::new(
            Severity::Must,
            CLAUSE_ALG,
            format!("{name} is for {alg}: the auth service accepts only RS384, ES384 and RS512"),
        ));
    }
}

/// `Device/<id>` with a FHIR id (1 to 64 of `A-Za-z0-9-.`).
fn is_device(aud: &str) -> bool {
    aud.strip_prefix("Device/").is_some_and(|id| {
        (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding};
    use serde_json::json;

    fn token(header: Value, claims: Value) -> String {
        let part = |value: Value| Base64UrlUnpadded::encode_string(value.to_string().as_bytes());
        format!("{}.{}.c2ln", part(header), part(claims))
    }

    fn clauses(findings: &[Finding]) -> Vec<(Severity, &'static str)> {
        findings.iter().map(|f| (f.severity, f.clause)).collect()
    }

    #[test]
    fn a_launch_the_auth_service_takes_has_no_finding() {
        let launch = token(
            json!({"alg": "RS512", "kid": "k", "typ": "JWT"}),
            json!({"aud": "Device/42", "iat": 1000}),
        );
        let jwks = json!({"keys": [{"kty": "RSA", "kid": "k", "use": "sig", "alg": "RS512"}]});
        assert_eq!(lint_profile(Some(&launch), Some(&jwks), 1000), []);
    }

    #[test]
    fn what_the_auth_service_refuses_or_ignores_is_reported() {
        let launch = token(
            json!({"alg": "RS256"}),
            json!({"aud": ["Device/42"], "iat": 1001}),
        );
        assert_eq!(
            clauses(&lint_profile(Some(&launch), None, 1000)),
            [
                (Severity::Must, CLAUSE_ALG),
                (Severity::Must, CLAUSE_KID),
                (Severity::Must, CLAUSE_AUD),
                (Severity::Should, CLAUSE_IAT),
            ]
        );
        let elsewhere = token(
            json!({"alg": "ES384", "kid": "k"}),
            json!({"aud": "Module/7"}),
        );
        assert_eq!(
            clauses(&lint_profile(Some(&elsewhere), None, 1000)),
            [(Severity::Must, CLAUSE_AUD)]
        );
        let jwks = json!({"keys": [
            {"kty": "RSA", "use": "sig"},
            {"kty": "RSA", "kid": "e", "use": "enc"},
            {"kty": "EC", "kid": "n"},
            {"kty": "RSA", "kid": "r", "use": "sig", "alg": "RS256"},
        ]});
        assert_eq!(
            clauses(&lint_profile(None, Some(&jwks), 1000)),
            [
                (Severity::Must, CLAUSE_KID),
                (Severity::Must, CLAUSE_USE),
                (Severity::Should, CLAUSE_USE),
                (Severity::Must, CLAUSE_ALG),
            ]
        );
        assert_eq!(
            clauses(&lint_profile(Some("a.b.c.d.e"), None, 1000)),
            [(Severity::Note, CLAUSE_JWE)]
        );
    }
}
