//! Every deviation of a launch token from HTI 2.0 and Koppeltaal, not only the first: for
//! portal vendors, who learn today only when a module refuses their launch.
//!
//! Unlike the verifier, which stops at the first reason to refuse, this parses leniently
//! (serde_json, any member order, any types) and keeps going.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Map, Value};

use super::jwks::key_size_finding;
use crate::findings::{Finding, Severity};

/// The algorithms a module MUST support (HTI 2.0 ②); a portal may use others, at its risk.
const MODULE_ALGORITHMS: [&str; 6] = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"];
/// FHIR R4 RequestIntent codes.
const REQUEST_INTENTS: [&str; 9] = [
    "proposal",
    "plan",
    "directive",
    "order",
    "original-order",
    "reflex-order",
    "filler-order",
    "instance-order",
    "option",
];
/// Person resource types (HTI 2.0 "person reference").
const PERSON_TYPES: [&str; 4] = ["Patient", "Practitioner", "RelatedPerson", "Person"];
/// The claims of an HTI 2.0 launch and the JWT claims that may come with it.
const KNOWN_CLAIMS: [&str; 14] = [
    "iss",
    "aud",
    "sub",
    "iat",
    "exp",
    "nbf",
    "jti",
    "resource",
    "definition",
    "patient",
    "intent",
    "hti-version",
    "idp_hint",
    "azp",
];
/// Clock leeway before `iat` counts as in the future, as modules allow.
const LEEWAY: u64 = 60;

/// Lints `token` at `now`, with the issuer's JWKS when given.
pub(crate) fn lint_token(token: &str, jwks: Option<&Value>, now: u64) -> Vec<Finding> {
    let mut findings = Vec::new();
    let segments: Vec<&str> = token.split('.').collect();
    if segments.len() == 5 {
        findings.push(Finding::new(
            Severity::Note,
            "HTI:jwe",
            "an encrypted launch: decrypt it (koppeltaal verify --decryption-key) and lint the signed launch inside",
        ));
        return findings;
    }
    if segments.len() != 3 {
        findings.push(Finding::new(
            Severity::Must,
            "RFC 7515 §7.1",
            format!(
                "a compact JWS has 3 dot-separated segments, this has {}",
                segments.len()
            ),
        ));
        return findings;
    }
    let header = decode_object(segments[0], "header", &mut findings);
    let claims = decode_object(segments[1], "payload", &mut findings);
    let signature = decode_segment(segments[2], "signature", &mut findings);
    if let Some(header) = &header {
        lint_header(header, &mut findings);
    }
    if let Some(claims) = &claims {
        lint_claims(claims, now, &mut findings);
    }
    if let (Some(header), Some(jwks), Some(signature)) = (&header, jwks, signature) {
        let signing_input = &token[..segments[0].len() + 1 + segments[1].len()];
        lint_signature(
            header,
            jwks,
            signing_input.as_bytes(),
            &signature,
            &mut findings,
        );
    }
    findings
}

fn must(findings: &mut Vec<Finding>, clause: &'static str, message: impl Into<String>) {
    findings.push(Finding::new(Severity::Must, clause, message));
}

fn decode_segment(segment: &str, part: &str, findings: &mut Vec<Finding>) -> Option<Vec<u8>> {
    match Base64UrlUnpadded::decode_vec(segment) {
        Ok(bytes) => Some(bytes),
        Err(_) => {
            findings.push(Finding::new(
                Severity::Must,
                "RFC 7515 §2",
                format!("the {part} is not unpadded base64url"),
            ));
            None
        }
    }
}

pub(super) fn decode_object(
    segment: &str,
    part: &str,
    findings: &mut Vec<Finding>,
) -> Option<Map<String, Value>> {
    let bytes = decode_segment(segment, part, findings)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Some(object),
        _ => {
            findings.push(Finding::new(
                Severity::Must,
                "RFC 7515 §4 / RFC 7519 §7.2",
                format!("the {part} is not a JSON object"),
            ));
            None
        }
    }
}

fn lint_header(header: &Map<String, Value>, findings: &mut Vec<Finding>) {
    match header.get("alg") {
        None => must(findings, "RFC 7515 §4.1.1 alg", "the header has no alg"),
        Some(Value::String(alg)) => {
            let upper = alg.to_ascii_uppercase();
            if upper == "NONE" || upper.starts_with("HS") {
                must(
                    findings,
                    "HTI 2.0 ② security",
                    format!(
                        "alg {alg}: the JWT MUST be signed with an asymmetric key (no none, no HS*)"
                    ),
                );
            } else if !MODULE_ALGORITHMS.contains(&alg.as_str()) {
                findings.push(Finding::new(
                    Severity::Should,
                    "HTI 2.0 ② security",
                    format!(
                        "alg {alg}: modules are required to support only RS256-512 and ES256-512"
                    ),
                ));
            }
        }
        Some(other) => must(
            findings,
            "RFC 7515 §4.1.1 alg",
            format!("alg is not a string: {other}"),
        ),
    }
    match header.get("kid") {
        None => findings.push(Finding::new(
            Severity::Must,
            "HTI 2.0 ② iss",
            "the header has no kid: with keys published by JWKS, the JWT MUST contain a kid",
        )),
        Some(Value::String(_)) => {}
        Some(other) => findings.push(Finding::new(
            Severity::Must,
            "RFC 7515 §4.1.4 kid",
            format!("kid is not a string: {other}"),
        )),
    }
    if let Some(typ) = header.get("typ")
        && !typ
            .as_str()
            .is_some_and(|typ| typ.eq_ignore_ascii_case("JWT"))
    {
        findings.push(Finding::new(
            Severity::Should,
            "RFC 7519 §5.1 typ",
            format!("typ {typ}: a launch is a JWT (typ JWT, or no typ); modules may refuse others"),
        ));
    }
    for member in ["jwk", "jku", "x5u", "x5c"] {
        if header.contains_key(member) {
            findings.push(Finding::new(
                Severity::Should,
                "HTI 2.0 ② iss",
                format!("the header carries {member}: modules take keys from the issuer's configuration only, and may refuse it"),
            ));
        }
    }
    if header.contains_key("crit") {
        findings.push(Finding::new(
            Severity::Should,
            "RFC 7515 §4.1.11 crit",
            "the header lists critical extensions: modules that do not understand them refuse the launch",
        ));
    }
}

fn lint_claims(claims: &Map<String, Value>, now: u64, findings: &mut Vec<Finding>) {
    for (name, clause) in [
        ("iss", "HTI 2.0 ② iss"),
        ("aud", "HTI 2.0 ② aud"),
        ("sub", "HTI 2.0 ② sub"),
        ("iat", "HTI 2.0 ② iat"),
        ("exp", "HTI 2.0 ② exp"),
        ("jti", "HTI 2.0 ② jti"),
        ("resource", "HTI 2.0 ① resource"),
        ("definition", "Koppeltaal HTI launch: definition"),
    ] {
        if !claims.contains_key(name) {
            must(findings, clause, format!("the launch has no {name}"));
        }
    }
    if claims.get("iss").is_some_and(|iss| !iss.is_string()) {
        must(findings, "HTI 2.0 ② iss", "iss is not a string");
    }
    if let Some(aud) = claims.get("aud") {
        let valid = match aud {
            Value::String(_) => true,
            Value::Array(items) => !items.is_empty() && items.iter().all(Value::is_string),
            _ => false,
        };
        if !valid {
            must(
                findings,
                "RFC 7519 §4.1.3 aud",
                format!("aud is neither a string nor an array of strings: {aud}"),
            );
        }
    }
    if let Some(sub) = claims.get("sub") {
        lint_person(sub, "sub", &PERSON_TYPES, "HTI 2.0 ② sub", findings);
    }
    if let Some(patient) = claims.get("patient") {
        lint_person(
            patient,
            "patient",
            &["Patient"],
            "HTI 2.0 ① patient",
            findings,
        );
    }
    lint_times(claims, now, findings);
    lint_text_claims(claims, findings);
    if let Some(jti) = claims.get("jti") {
        match jti.as_str() {
            None => findings.push(Finding::new(Severity::Must, "HTI 2.0 ② jti", "jti is not a string")),
            Some(jti) if jti.chars().count() < 16 => findings.push(Finding::new(
                Severity::Must,
                "HTI 2.0 ② jti",
                format!("jti {jti:?} is too short to hold enough entropy to block brute-force attacks (use a UUID)"),
            )),
            Some(_) => {}
        }
    }
}

/// `resource`, `definition`, `intent`, `hti-version`, unknown claims and personal data.
fn lint_text_claims(claims: &Map<String, Value>, findings: &mut Vec<Finding>) {
    match claims.get("resource") {
        Some(Value::String(resource)) if !resource.starts_with("Task/") => {
            findings.push(Finding::new(
                Severity::Should,
                "Koppeltaal HTI launch: resource",
                format!("resource {resource:?}: Koppeltaal launches a Task (Task/<id>)"),
            ))
        }
        Some(Value::String(_)) | None => {}
        Some(other) => findings.push(Finding::new(
            Severity::Must,
            "HTI 2.0 ① resource",
            format!("resource is not a string: {other}"),
        )),
    }
    if let Some(definition) = claims.get("definition") {
        let absolute_url = definition
            .as_str()
            .and_then(|text| text.split_once("://"))
            .is_some_and(|(scheme, rest)| matches!(scheme, "http" | "https") && !rest.is_empty());
        if !absolute_url {
            findings.push(Finding::new(
                Severity::Must,
                "HTI 2.0 ① definition",
                format!(
                    "definition {definition}: MUST be a canonical URL of an ActivityDefinition"
                ),
            ));
        }
    }
    if let Some(intent) = claims.get("intent")
        && !intent
            .as_str()
            .is_some_and(|intent| REQUEST_INTENTS.contains(&intent))
    {
        findings.push(Finding::new(
            Severity::Should,
            "Koppeltaal HTI launch: intent",
            format!(
                "intent {intent} is not a FHIR RequestIntent code ({})",
                REQUEST_INTENTS.join(", ")
            ),
        ));
    }
    match claims.get("hti-version") {
        None => findings.push(Finding::new(
            Severity::Should,
            "HTI 2.0 ① hti-version",
            "no hti-version claim: the HTI version SHOULD be provided (modules assume 2.0)",
        )),
        Some(version) if version.as_str() != Some("2.0") => findings.push(Finding::new(
            Severity::Should,
            "HTI 2.0 ① hti-version",
            format!("hti-version {version}: this is HTI 2.0, whose version is \"2.0\""),
        )),
        Some(_) => {}
    }
    for (name, value) in claims {
        if !KNOWN_CLAIMS.contains(&name.as_str()) {
            findings.push(Finding::new(
                Severity::Note,
                "HTI 2.0 ① additional fields",
                format!(
                    "claim {name} is not an HTI claim: it MUST NOT contain personal information"
                ),
            ));
        }
        if value.as_str().is_some_and(looks_like_email) {
            findings.push(Finding::new(
                Severity::Must,
                "HTI 2.0 personal data",
                format!("{name} looks like an e-mail address: the launch MUST NOT contain personal information"),
            ));
        }
    }
}

fn looks_like_email(text: &str) -> bool {
    text.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !local.contains(char::is_whitespace)
            && domain.contains('.')
            && !domain.contains(['@', ' ', '/'])
    })
}

fn lint_person(
    value: &Value,
    name: &str,
    types: &[&str],
    clause: &'static str,
    findings: &mut Vec<Finding>,
) {
    let text = value.as_str().unwrap_or_default();
    let Some((resource_type, id)) = text.split_once('/') else {
        findings.push(Finding::new(
            Severity::Must,
            clause,
            format!("{name} {value}: MUST be a reference <ResourceType>/<id>"),
        ));
        return;
    };
    if !types.contains(&resource_type) {
        findings.push(Finding::new(
            Severity::Must,
            clause,
            format!(
                "{name} {text:?}: MUST be a reference to a person ({})",
                types.join(", ")
            ),
        ));
    }
    let fhir_id = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.');
    if !fhir_id {
        findings.push(Finding::new(
            Severity::Must,
            "HTI 2.0 ① references (FHIR R4 id)",
            format!("{name} {text:?}: the id is not a FHIR id (1-64 of A-Z a-z 0-9 - .)"),
        ));
    }
}

fn lint_times(claims: &Map<String, Value>, now: u64, findings: &mut Vec<Finding>) {
    let time = |name: &str, findings: &mut Vec<Finding>| -> Option<u64> {
        let value = claims.get(name)?;
        match value.as_u64() {
            Some(seconds) => Some(seconds),
            None => {
                findings.push(Finding::new(
                    Severity::Must,
                    "RFC 7519 §2 NumericDate",
                    format!("{name} {value}: a whole, non-negative number of seconds is expected"),
                ));
                None
            }
        }
    };
    let (iat, exp) = (time("iat", findings), time("exp", findings));
    if let (Some(iat), Some(exp)) = (iat, exp) {
        if exp <= iat {
            findings.push(Finding::new(
                Severity::Must,
                "HTI 2.0 ② exp",
                format!("exp {exp} is not after iat {iat}"),
            ));
        } else if exp - iat > 300 {
            findings.push(Finding::new(
                Severity::Must,
                "HTI 2.0 ② exp",
                format!(
                    "exp - iat is {} s: the lifetime MUST be limited to 5 minutes (300 s)",
                    exp - iat
                ),
            ));
        }
    }
    if let Some(iat) = iat
        && iat > now + LEEWAY
    {
        findings.push(Finding::new(
            Severity::Must,
            "HTI 2.0 ② iat",
            format!(
                "iat is {} s in the future: modules refuse it (is the portal's clock right?)",
                iat - now
            ),
        ));
    }
    if let Some(exp) = exp
        && exp <= now
    {
        findings.push(Finding::new(
            Severity::Note,
            "HTI 2.0 ② exp",
            format!("the launch expired {} s ago", now - exp),
        ));
    }
}

fn lint_signature(
    header: &Map<String, Value>,
    jwks: &Value,
    signing_input: &[u8],
    signature: &[u8],
    findings: &mut Vec<Finding>,
) {
    let (Some(alg), Some(kid)) = (
        header.get("alg").and_then(Value::as_str),
        header.get("kid").and_then(Value::as_str),
    ) else {
        return; // reported with the header
    };
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let Some(key) = keys
        .iter()
        .find(|key| key.get("kid").and_then(Value::as_str) == Some(kid))
    else {
        findings.push(Finding::new(
            Severity::Must,
            "HTI 2.0 ② iss",
            format!("kid {kid:?} is not in the issuer's JWKS: modules cannot find the key"),
        ));
        return;
    };
    if let Some(finding) = key_size_finding(key) {
        findings.push(finding);
    }
    if let Some(key_alg) = key.get("alg").and_then(Value::as_str)
        && key_alg != alg
    {
        findings.push(Finding::new(
            Severity::Must,
            "RFC 7517 §4.4 alg",
            format!("the token is {alg} but its key {kid:?} is published for {key_alg}"),
        ));
        return;
    }
    let Ok(algorithm) = koppeltaal_core::Algorithm::from_jose(alg) else {
        return; // an algorithm this tool cannot check, reported with the header
    };
    let document = serde_json::json!({ "keys": [key] }).to_string();
    let verified = koppeltaal_core::KeySet::<1>::from_jwks(document.as_bytes())
        .and_then(|set| set.keys()[0].verify(algorithm, signing_input, signature));
    if let Err(error) = verified {
        findings.push(Finding::new(
            Severity::Must,
            "HTI 2.0 ② iss",
            format!("the signature does not verify with key {kid:?}: {error}"),
        ));
    }
}
