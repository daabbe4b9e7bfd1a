//! The JSON rendering of a verified launch that every adapter prints or hands on.

use koppeltaal_core::HtiLaunch;
use serde_json::{Value, json};

/// The claims of a verified launch as a JSON object: `iss`, `aud`, `sub`, `iat`, `exp`, `jti`,
/// `resource`, `definition`, and `patient`, `intent`, `idp_hint` when the launch carries
/// them. `aud` is the audience the launch was accepted for.
///
/// The same object is what `koppeltaal verify` prints, what `serve` answers, and what the C
/// ABI writes, so a program can move between them without re-mapping fields.
pub fn launch_json(launch: &HtiLaunch) -> Value {
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
    let optional = [
        ("patient", launch.patient()),
        ("intent", launch.intent()),
        ("idp_hint", launch.idp_hint()),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            claims[name] = json!(value);
        }
    }
    claims
}
