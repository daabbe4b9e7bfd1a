//! Shared helpers for the cross-crate tests in `tests/`.

use std::time::{SystemTime, UNIX_EPOCH};

/// The portal every test launch comes from.
pub const ISSUER: &str = "https://portal.example.org";
/// The module every test launch is for.
pub const AUDIENCE: &str = "Device/42";

/// The current Unix time: independent libraries check `exp` against their own clock.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Unpadded base64url.
pub fn b64(bytes: &[u8]) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::encode_string(bytes)
}

pub mod browser;
pub mod faulty_module;
pub mod fhir_validator;
pub mod http_stub;
pub mod koppeltaal_auth;
pub mod oidc;
pub mod peers;
pub mod redis;
pub mod resource_server;
pub mod test_ca;
