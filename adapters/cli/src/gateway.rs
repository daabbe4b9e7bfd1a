//! `serve --upstream`: the gateway's hand-off of a verified launch to the module application.
//!
//! The launch, verified and recorded, is posted to the application as JSON (the same object
//! `verify` prints; for a SHOF launch the person and the context), with `Forwarded`,
//! `X-Forwarded-For`, a request id and, with a secret, a signature the application checks. The
//! application's answer (status, `Location`, `Set-Cookie`, `Content-Type`, body) goes back to
//! the browser, so the application starts its own session and redirects into its UI. Nothing is
//! retried: the launch is used up once recorded, and a second delivery would be a second launch.

use std::time::Duration;

use hmac::{Hmac, Mac};
use koppeltaal_host::HostError;
use sha2::Sha256;

use crate::http_server::Response;

/// The headers of the application's answer that reach the browser; every other (hop-by-hop
/// ones, `Server`, ...) stays behind.
const RELAYED: [&str; 3] = ["location", "set-cookie", "content-type"];
/// The largest answer relayed.
const MAX_ANSWER: u64 = 1 << 20;

/// Where verified launches go.
pub(crate) struct Upstream {
    url: String,
    secret: Option<Vec<u8>>,
    agent: ureq::Agent,
}

/// Who asked, for the forwarding headers.
pub(crate) struct Origin<'a> {
    pub(crate) client: Option<std::net::IpAddr>,
    pub(crate) host: Option<&'a str>,
    pub(crate) request_id: &'a str,
}

impl Upstream {
    /// The application at `url`, answering within `timeout`; its launches signed with `secret`
    /// when given.
    pub(crate) fn new(url: &str, secret: Option<Vec<u8>>, timeout: Duration) -> Upstream {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("koppeltaal-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Upstream {
            url: url.to_owned(),
            secret,
            agent,
        }
    }

    /// The signature header of `body` at `timestamp`: `t=<unix>,v1=<hex HMAC-SHA256 over
    /// "<unix>." followed by the body>`.
    pub(crate) fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(secret)
            .expect("HMAC takes keys of any length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        let digest = mac.finalize().into_bytes();
        let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        format!("t={timestamp},v1={hex}")
    }

    /// Posts `launch` to the application and returns its answer for the browser; an
    /// application that cannot be reached is [`HostError::Unreachable`], one too slow
    /// [`HostError::Timeout`].
    pub(crate) fn deliver(
        &self,
        launch: &serde_json::Value,
        origin: &Origin<'_>,
        now: u64,
    ) -> Result<Response, HostError> {
        let body = launch.to_string();
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("X-Request-Id", origin.request_id);
        if let Some(client) = origin.client {
            let host = origin
                .host
                .map(|host| format!(";host=\"{host}\""))
                .unwrap_or_default();
            let node = match client {
                std::net::IpAddr::V6(v6) => format!("\"[{v6}]\""),
                v4 => v4.to_string(),
            };
            request = request
                .header("Forwarded", format!("for={node}{host};proto=http"))
                .header("X-Forwarded-For", client.to_string());
        }
        if let Some(secret) = &self.secret {
            request = request.header(
                "X-Koppeltaal-Signature",
                Upstream::signature(secret, now, body.as_bytes()),
            );
        }
        let mut answer = request.send(body.as_bytes()).map_err(|error| match error {
            ureq::Error::Timeout(_) => HostError::Timeout,
            ureq::Error::Io(error) if error.kind() == std::io::ErrorKind::TimedOut => {
                HostError::Timeout
            }
            other => HostError::Unreachable(other.to_string()),
        })?;
        let status = answer.status().as_u16();
        let headers: Vec<(String, String)> = answer
            .headers()
            .iter()
            .filter(|(name, _)| RELAYED.contains(&name.as_str()))
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        let body = answer
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|error| match error {
                ureq::Error::Timeout(_) => HostError::Timeout,
                other => HostError::Unreachable(other.to_string()),
            })?;
        let content_type = headers
            .iter()
            .find(|(name, _)| name == "content-type")
            .map_or_else(
                || "application/octet-stream".to_owned(),
                |(_, value)| value.clone(),
            );
        let mut response = Response::new(status, content_type, body);
        for (name, value) in headers {
            match name.as_str() {
                "location" => response = response.with_header("Location", value),
                "set-cookie" => response = response.with_header("Set-Cookie", value),
                _ => {}
            }
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_time_and_body() {
        // HMAC-SHA256("key", "1700000000.{}"), computed independently.
        let signature = Upstream::signature(b"key", 1_700_000_000, b"{}");
        assert!(signature.starts_with("t=1700000000,v1="));
        assert_eq!(signature.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(
            signature,
            Upstream::signature(b"key", 1_700_000_000, b"{ }")
        );
        assert_ne!(signature, Upstream::signature(b"key", 1_700_000_001, b"{}"));
        assert_ne!(signature, Upstream::signature(b"kex", 1_700_000_000, b"{}"));
    }
}
