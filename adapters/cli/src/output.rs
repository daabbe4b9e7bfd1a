//! JSON renderings of verified launches and refusals.

use koppeltaal_core::HtiLaunch;
use koppeltaal_host::LaunchError;
use serde_json::{Value, json};

/// The claims of a verified launch.
pub(crate) fn launch_claims(launch: &HtiLaunch) -> Value {
    let mut claims = json!({
        "iss": launch.issuer(),
        "aud": launch.audience(),
        "sub": launch.subject(),
        "iat": launch.issued_at(),
        "exp": launch.expires_at(),
        "jti": launch.token_id(),
        "resource": launch.resource(),
        "definition": launch.definition(),
    });
    if let Some(patient) = launch.patient() {
        claims["patient"] = json!(patient);
    }
    if let Some(intent) = launch.intent() {
        claims["intent"] = json!(intent);
    }
    claims
}

/// One line of `verify -` output.
pub(crate) fn verdict(outcome: &Result<HtiLaunch, LaunchError>) -> Value {
    match outcome {
        Ok(launch) => json!({"ok": true, "claims": launch_claims(launch)}),
        Err(error) => json!({
            "ok": false,
            "error": error.name(),
            "code": error.code(),
            "message": error.error().to_string(),
        }),
    }
}
