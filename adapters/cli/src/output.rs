//! JSON renderings of verified launches and refusals.

use koppeltaal_core::HtiLaunch;
use koppeltaal_host::LaunchError;
use serde_json::{Value, json};

/// The claims of a verified launch.
pub(crate) fn launch_claims(launch: &HtiLaunch) -> Value {
    koppeltaal_host::launch::launch_json(launch)
}

/// One line of `verify -` output.
pub(crate) fn verdict(outcome: &Result<HtiLaunch, LaunchError>) -> Value {
    match outcome {
        Ok(launch) => json!({"ok": true, "claims": launch_claims(launch)}),
        Err(error) => json!({
            "ok": false,
            "error": error.name(),
            "code": error.code(),
            "message": error.reason().to_string(),
        }),
    }
}
