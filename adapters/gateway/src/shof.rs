//! The gateway's SMART HTI on FHIR (SHOF) launches: a form post with `iss` and `launch` is
//! answered with a 303 to the authorization server and a cookie holding the launch in progress,
//! sealed (AES-256-GCM under the gateway's cookie key); the browser comes back to the redirect
//! URI's path, where the launch is finished.
//!
//! Nothing is kept in the gateway's memory per launch, so no flood of launch forms can crowd
//! out genuine ones, and a launch begun on one instance finishes on any other that shares the
//! cookie key; the `state` is used once, recorded in the replay store (shared by instances
//! that share one). Each launch has a cookie of its own (named after its `state`), so two tabs
//! do not collide; the cookie is `__Host-` prefixed (`Secure`, `Path=/`, no `Domain`), so a
//! sibling subdomain cannot plant one, except for a loopback redirect URI served over plain
//! http in development. The outbound calls (discovery, code exchange, JWKS) run within their
//! own bound of concurrent launches, so a hanging FHIR server cannot take the workers that
//! HTI launches need.

use std::sync::atomic::{AtomicUsize, Ordering};

use koppeltaal_host::{
    HostError, LaunchError,
    shof::{PendingShof, ShofLaunch, ShofLauncher},
};
use serde_json::{Value, json};

use crate::http::{Request, Response};
use crate::pages::escape_html;
use crate::seal::CookieKeys;

/// What the sealed cookie's associated data names.
const PURPOSE: &[u8] = b"shof-pending";
/// How many characters of the `state` name a launch's cookie.
const NAME_STATE_CHARS: usize = 16;
/// The most launch cookies a browser keeps: beginning another deletes them.
pub const MAX_PENDING_COOKIES: usize = 4;
/// The longest `state` looked up (the launcher's are 43 characters: 32 random bytes).
const MAX_STATE_LEN: usize = 128;

/// The SHOF side of the gateway.
pub struct ShofGateway {
    launcher: ShofLauncher,
    keys: CookieKeys,
    /// The path of the redirect URI (where the browser comes back).
    return_path: String,
    /// Whether cookies are `__Host-` and `Secure` (not for a loopback redirect URI over http).
    secure_cookie: bool,
    /// SHOF requests making outbound calls now, and the most allowed.
    busy: AtomicUsize,
    max_busy: usize,
}

/// A slot for one SHOF request's outbound calls.
struct Busy<'a>(&'a AtomicUsize);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl ShofGateway {
    /// SHOF launches through `launcher` (its `redirect_uri` is where browsers come back),
    /// sealed under `keys`, with at most `max_busy` launches making outbound calls at once.
    pub fn new(
        launcher: ShofLauncher,
        keys: CookieKeys,
        max_busy: usize,
    ) -> Result<ShofGateway, HostError> {
        let redirect_uri = launcher.options().redirect_uri.clone();
        let (return_path, loopback_http) = Self::parts_of(&redirect_uri)
            .ok_or_else(|| HostError::InvalidUrl(redirect_uri.clone()))?;
        Ok(ShofGateway {
            launcher,
            keys,
            return_path,
            secure_cookie: !loopback_http,
            busy: AtomicUsize::new(0),
            max_busy: max_busy.max(1),
        })
    }

    /// The path browsers come back to.
    pub fn return_path(&self) -> &str {
        &self.return_path
    }

    /// The redirect URI's path, and whether it is plain `http` to a loopback host.
    pub(crate) fn parts_of(redirect_uri: &str) -> Option<(String, bool)> {
        let (scheme, rest) = redirect_uri.split_once("://")?;
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, "/"),
        };
        let host = authority
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(authority, |(host, _)| host)
            .trim_start_matches('[')
            .trim_end_matches(']');
        let loopback = koppeltaal_host::http::is_loopback(host);
        let path = path.split(['?', '#']).next().unwrap_or("/").to_owned();
        (!scheme.is_empty() && !host.is_empty())
            .then_some((path, loopback && scheme.eq_ignore_ascii_case("http")))
    }

    /// The name of the cookie of the launch whose state is `state`.
    pub fn cookie_name(&self, state: &str) -> String {
        let id: String = state.chars().take(NAME_STATE_CHARS).collect();
        match self.secure_cookie {
            true => format!("__Host-koppeltaal-shof-{id}"),
            false => format!("koppeltaal-shof-{id}"),
        }
    }

    /// The `Set-Cookie` value holding `value` under `name` for `max_age` seconds (0: delete).
    fn cookie(&self, name: &str, value: &str, max_age: u64) -> String {
        format!(
            "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
            if self.secure_cookie { "; Secure" } else { "" }
        )
    }

    fn busy(&self) -> Result<Busy<'_>, LaunchError> {
        if self.busy.fetch_add(1, Ordering::SeqCst) >= self.max_busy {
            self.busy.fetch_sub(1, Ordering::SeqCst);
            return Err(HostError::TooManyPendingLaunches.into());
        }
        Ok(Busy(&self.busy))
    }

    /// The form post of a SHOF launch (`request`, whose `iss` and `launch` fields are given):
    /// the 303 to the authorization server, with the sealed cookie. A browser that already
    /// holds [`MAX_PENDING_COOKIES`] launch cookies has them deleted, so no page can fill its
    /// cookie jar (and every later request) with launches it starts cross-site.
    pub fn begin(
        &self,
        request: &Request,
        iss: &str,
        launch: &str,
    ) -> Result<Response, LaunchError> {
        let _busy = self.busy()?;
        let redirect = self.launcher.begin(iss, launch)?;
        let max_age = self.launcher.options().state_lifetime.as_secs();
        let sealed = self.keys.seal(PURPOSE, &redirect.pending.to_bytes());
        let name = self.cookie_name(&redirect.pending.state);
        let mut response = Response::new(
            303,
            "text/plain; charset=utf-8",
            "continue at the authorization server\n",
        )
        .with_header("Location", redirect.url);
        let prefix = self.cookie_name("");
        let pending: Vec<&str> = request
            .cookies()
            .map(|(key, _)| key)
            .filter(|key| key.starts_with(&prefix) && is_base64url(&key[prefix.len()..]))
            .collect();
        if pending.len() >= MAX_PENDING_COOKIES {
            for old in pending.into_iter().take(64) {
                response = response.with_header("Set-Cookie", self.cookie(old, "", 0));
            }
        }
        Ok(response.with_header("Set-Cookie", self.cookie(&name, &sealed, max_age)))
    }

    /// The browser's return (`code` and `state`, or `error`, and the launch's cookie): the
    /// finished launch, and the `Set-Cookie` that deletes the cookie (when there was one).
    pub fn finish(&self, request: &Request) -> (Result<ShofLaunch, LaunchError>, Option<String>) {
        let query = request.query_pairs();
        let field = |name: &str| {
            query
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        let state = field("state").unwrap_or("");
        // Only a state this gateway could have made names a cookie: base64url, of a sensible
        // length; anything else is not looked up (nor echoed into a `Set-Cookie`).
        let well_formed =
            (NAME_STATE_CHARS..=MAX_STATE_LEN).contains(&state.len()) && is_base64url(state);
        let name = self.cookie_name(state);
        let sealed = match well_formed {
            false => None,
            true => request.cookie(&name),
        };
        let clear = sealed.map(|_| self.cookie(&name, "", 0));
        // No cookie, or one this gateway did not seal: not the browser that started it.
        let Some(pending) = sealed
            .and_then(|sealed| self.keys.open(PURPOSE, sealed))
            .and_then(|bytes| PendingShof::from_bytes(&bytes).ok())
        else {
            return (Err(HostError::UnknownState.into()), clear);
        };
        if let Some(error) = field("error") {
            if let Err(used) = self.launcher.cancel(state, &pending) {
                return (Err(used), clear);
            }
            let error = HostError::OAuth {
                status: 400,
                error: error.chars().take(128).collect(),
                description: field("error_description")
                    .map(|text| text.chars().take(512).collect()),
            };
            return (Err(error.into()), clear);
        }
        let outcome = match self.busy() {
            Ok(_busy) => self
                .launcher
                .finish(field("code").unwrap_or(""), state, &pending),
            Err(error) => Err(error),
        };
        (outcome, clear)
    }
}

/// Whether `text` is all base64url characters (what the launcher's states are made of).
fn is_base64url(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// What a finished SHOF launch is handed on as: the person and the context.
pub(crate) fn shof_json(launch: &ShofLaunch) -> Value {
    json!({
        "person": {
            "sub": launch.id_token.subject(),
            "fhirUser": launch.id_token.fhir_user(),
        },
        "fhir_server": launch.fhir_server,
        "issuer": launch.id_token.issuer(),
        "context": launch.context,
    })
}

/// A short page showing who launched and with what, HTML-escaped.
pub(crate) fn launched_page(body: &Value) -> String {
    let escape = escape_html;
    let person = &body["person"];
    let who = person["fhirUser"]
        .as_str()
        .or_else(|| person["sub"].as_str())
        .unwrap_or("");
    let mut rows = String::new();
    if let Some(context) = body["context"].as_object() {
        for (name, value) in context {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            rows.push_str(&format!(
                "<tr><th>{}</th><td>{}</td></tr>\n",
                escape(name),
                escape(&value)
            ));
        }
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Launched</title></head>\n\
         <body><h1>Launched for {}</h1>\n<table>\n{rows}</table></body></html>\n",
        escape(who)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_parts() {
        assert_eq!(
            ShofGateway::parts_of("http://127.0.0.1:8080/shof/return"),
            Some(("/shof/return".into(), true))
        );
        assert_eq!(
            ShofGateway::parts_of("https://module.example.org/return?x=1"),
            Some(("/return".into(), false))
        );
        assert_eq!(
            ShofGateway::parts_of("https://localhost/return"),
            Some(("/return".into(), false)),
            "https on loopback: Secure cookies work"
        );
        assert_eq!(
            ShofGateway::parts_of("http://localhost"),
            Some(("/".into(), true))
        );
        assert_eq!(ShofGateway::parts_of("/relative"), None);
    }
}
