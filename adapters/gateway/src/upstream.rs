//! The gateway's hand-off of a verified launch to the module application.
//!
//! The launch, verified and recorded, is posted to the application as JSON (the same object
//! `koppeltaal verify` prints; for a SHOF launch the person and the context), with
//! `Forwarded`, `X-Forwarded-For`, a request id, a delivery id and, with a secret, a signature
//! over the time, the delivery id, the client address and the body, which the application
//! checks (and it refuses a delivery id it has seen: the signature alone does not stop a
//! replay within its time window). The application's answer (status, `Location`,
//! `Set-Cookie`, `Content-Type` when it has one, body) goes back to the browser, so the
//! application starts its own session and redirects into its UI. Nothing is retried: the
//! launch is used up once recorded, and a second delivery would be a second launch.

use std::time::Duration;

use hmac::{Hmac, Mac};
use koppeltaal_host::HostError;
use koppeltaal_host::http::{HttpClient, HttpOptions};
use sha2::Sha256;

use crate::client::quoted;
use crate::http::Response;

/// The headers of the application's answer that reach the browser; every other (hop-by-hop
/// ones, `Server`, ...) stays behind.
const RELAYED: [&str; 3] = ["location", "set-cookie", "content-type"];
/// The largest answer relayed.
const MAX_ANSWER: u64 = 1 << 20;

/// Where verified launches go.
pub struct Upstream {
    url: String,
    secret: Option<Vec<u8>>,
    http: HttpClient,
}

/// Who asked, for the forwarding headers.
pub(crate) struct Origin<'a> {
    /// The client (as the gateway established it: the peer, or what a trusted proxy forwards).
    pub(crate) client: std::net::IpAddr,
    /// The request's `Host` (validated as an authority by the request reader).
    pub(crate) host: Option<&'a str>,
    /// `http` or `https`.
    pub(crate) proto: &'static str,
    pub(crate) request_id: &'a str,
}

impl Upstream {
    /// The application at `url`, answering within `timeout`; its launches signed with `secret`
    /// when given.
    ///
    /// The hand-off goes through the host's [`HttpClient`], with no redirect followed, an
    /// answer of at most 1 MiB, and plain `http` allowed to any host: the URL is the operator's
    /// own configuration (an application beside the gateway, on a private network), never
    /// something a request named.
    pub fn new(url: &str, secret: Option<Vec<u8>>, timeout: Duration) -> Upstream {
        let http = HttpClient::new(HttpOptions {
            connect_timeout: timeout,
            timeout,
            max_response_bytes: MAX_ANSWER,
            max_redirects: 0,
            allow_insecure_http: true,
        });
        Upstream {
            url: url.to_owned(),
            secret,
            http,
        }
    }

    /// The signature header of a hand-off: `t=<unix>,v1=<hex HMAC-SHA256 over
    /// "<unix>.<delivery id>.<client address>." followed by the body>`.
    ///
    /// ```
    /// use koppeltaal_gateway::Upstream;
    /// let header = Upstream::signature(b"key", 1_700_000_000, "d-1", "192.0.2.7", b"{}");
    /// assert!(header.starts_with("t=1700000000,v1="));
    /// ```
    pub fn signature(
        secret: &[u8],
        timestamp: u64,
        delivery: &str,
        client: &str,
        body: &[u8],
    ) -> String {
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(secret)
            .expect("HMAC takes keys of any length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(delivery.as_bytes());
        mac.update(b".");
        mac.update(client.as_bytes());
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
        let delivery = uuid::Uuid::new_v4().to_string();
        let client = origin.client.to_string();
        let node = match origin.client {
            std::net::IpAddr::V6(v6) => quoted(&format!("[{v6}]")),
            v4 => v4.to_string(),
        };
        let host = origin
            .host
            .map(|host| format!(";host={}", quoted(host)))
            .unwrap_or_default();
        let forwarded = format!("for={node}{host};proto={}", origin.proto);
        let signature = self
            .secret
            .as_ref()
            .map(|secret| Upstream::signature(secret, now, &delivery, &client, body.as_bytes()));
        let mut headers = vec![
            ("Content-Type", "application/json"),
            ("X-Request-Id", origin.request_id),
            ("X-Koppeltaal-Delivery", delivery.as_str()),
            ("Forwarded", forwarded.as_str()),
            ("X-Forwarded-For", client.as_str()),
            ("X-Forwarded-Proto", origin.proto),
        ];
        if let Some(signature) = &signature {
            headers.push(("X-Koppeltaal-Signature", signature.as_str()));
        }
        let answer = self
            .http
            .send("POST", &self.url, &headers, body.as_bytes())
            .map_err(|error| match error {
                HostError::Timeout => HostError::Timeout,
                other => HostError::Unreachable(other.to_string()),
            })?;
        let status = answer.status();
        let headers: Vec<(String, String)> = RELAYED
            .iter()
            .flat_map(|name| {
                answer
                    .headers_named(name)
                    .map(|value| ((*name).to_owned(), value.to_owned()))
            })
            .collect();
        let body = answer.into_body();
        // An answer without a type is relayed without one (RFC 9110 §8.3): the gateway does
        // not know the type either, and a guess would be a claim.
        let mut response = Response::new(status, "", body).without_content_type();
        for (name, value) in headers {
            match name.as_str() {
                "content-type" if response.content_type.is_none() => {
                    response.content_type = Some(value.into());
                }
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
    fn the_signature_covers_time_delivery_client_and_body() {
        let sign = |key: &[u8], t: u64, delivery: &str, client: &str, body: &[u8]| {
            Upstream::signature(key, t, delivery, client, body)
        };
        let signature = sign(b"key", 1_700_000_000, "d", "192.0.2.1", b"{}");
        // HMAC-SHA256("key", "1700000000.d.192.0.2.1.{}"), computed with Python's hmac module.
        assert_eq!(
            signature,
            "t=1700000000,v1=ba0b1110aa050c81d41d912fddeb5f1cd7c12212591d47d606a2b599499dd762"
        );
        assert_ne!(
            signature,
            sign(b"key", 1_700_000_000, "d", "192.0.2.1", b"{ }")
        );
        assert_ne!(
            signature,
            sign(b"key", 1_700_000_001, "d", "192.0.2.1", b"{}")
        );
        assert_ne!(
            signature,
            sign(b"key", 1_700_000_000, "e", "192.0.2.1", b"{}")
        );
        assert_ne!(
            signature,
            sign(b"key", 1_700_000_000, "d", "192.0.2.2", b"{}")
        );
        assert_ne!(
            signature,
            sign(b"kex", 1_700_000_000, "d", "192.0.2.1", b"{}")
        );
    }
}
