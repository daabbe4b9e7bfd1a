//! One line naming why Redis could not be used, in the operator's terms (a wrong CA, a wrong
//! password, a plain-text server) rather than the client library's.

use redis::{ErrorKind, RedisError, ServerErrorKind};

/// Why `error` happened, followed by the library's own words; `tls`: whether the URL asked
/// for TLS (a plain-text server never answers a TLS handshake, which looks like a timeout).
pub(super) fn describe(error: &RedisError, tls: bool) -> String {
    let text = error.to_string();
    let cause = match cause(error, &text) {
        Some(NO_ANSWER) if tls => Some(
            "no answer in time (a plain-text server does not answer a TLS handshake: if it is one, use redis://)",
        ),
        cause => cause,
    };
    match cause {
        Some(cause) => format!("{cause} ({text})"),
        None => text,
    }
}

const NO_ANSWER: &str = "no answer in time";

fn cause(error: &RedisError, text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    if let Some(code) = error.code() {
        match code {
            "WRONGPASS" => return Some("authentication refused: wrong user name or password"),
            "NOAUTH" => return Some("the server requires a password and none was given"),
            "NOPERM" => {
                return Some(
                    "the ACL user lacks a permission the replay store needs (see SECURITY.md)",
                );
            }
            "READONLY" => {
                return Some("the server is a read-only replica, not the primary (a failover?)");
            }
            "CLUSTERDOWN" => return Some("the cluster cannot serve this key's slot"),
            "MASTERDOWN" => return Some("the primary is down"),
            "LOADING" => return Some("the server is still loading its data"),
            _ => {}
        }
    }
    match error.kind() {
        ErrorKind::AuthenticationFailed => {
            return Some("authentication refused: wrong user name or password");
        }
        ErrorKind::Server(ServerErrorKind::ReadOnly) => {
            return Some("the server is not the primary");
        }
        _ => {}
    }
    if lower.contains("certificaterequired") {
        return Some("TLS: the server requires a client certificate and none was given");
    }
    if lower.contains("alert") || lower.contains("handshake") {
        return Some(
            "TLS: the server refused the handshake (a client certificate it does not trust?)",
        );
    }
    if lower.contains("certificate") || lower.contains("unknownissuer") {
        return Some(
            "TLS: the server's certificate is not trusted (check the CA given and the host name)",
        );
    }
    if lower.contains("corrupt message") || lower.contains("invalidcontenttype") {
        return Some("TLS: the server does not speak TLS (a plain-text Redis? use redis://)");
    }
    if error.is_connection_refusal() || lower.contains("connection refused") {
        return Some("connection refused: nothing listens there");
    }
    if error.is_timeout() || lower.contains("timed out") || lower.contains("would block") {
        return Some(NO_ANSWER);
    }
    if error.is_connection_dropped() || lower.contains("broken pipe") || lower.contains("reset") {
        return Some(
            "the server closed the connection (a TLS-only server? use rediss://; or it restarted)",
        );
    }
    None
}
