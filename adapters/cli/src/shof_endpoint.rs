//! `serve`'s SMART HTI on FHIR (SHOF) launches: a form post with `iss` and `launch` is answered
//! with a 303 to the authorization server and a cookie holding the launch's `state`; the browser
//! comes back to the redirect URI's path, where the launch is finished.

use koppeltaal_host::{HostError, LaunchError, ShofLaunch, ShofLauncher};
use serde_json::{Value, json};

use crate::http_server::{Request, Response};

/// The cookie that binds a launch's `state` to the browser that started it.
pub(crate) const STATE_COOKIE: &str = "koppeltaal_shof";

/// The SHOF side of a launch endpoint.
pub(crate) struct ShofEndpoint {
    pub(crate) launcher: ShofLauncher,
    /// The path of the redirect URI (where the browser comes back).
    pub(crate) return_path: String,
    /// Whether the cookie gets `Secure` (not for a loopback redirect URI, served over http).
    pub(crate) secure_cookie: bool,
}

impl ShofEndpoint {
    /// The redirect URI's path, and whether its host is loopback.
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
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let path = path.split(['?', '#']).next().unwrap_or("/").to_owned();
        (!scheme.is_empty() && !host.is_empty()).then_some((path, loopback))
    }

    /// The `Set-Cookie` value holding `value` for `max_age` seconds (0: delete it).
    pub(crate) fn cookie(&self, value: &str, max_age: u64) -> String {
        format!(
            "{STATE_COOKIE}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
            self.return_path,
            if self.secure_cookie { "; Secure" } else { "" }
        )
    }

    /// The form post of a SHOF launch: the 303 to the authorization server, with the cookie.
    pub(crate) fn begin(&self, iss: &str, launch: &str) -> Result<Response, LaunchError> {
        let redirect = self.launcher.begin(iss, launch)?;
        let max_age = self.launcher.options().state_lifetime.as_secs();
        Ok(Response::new(
            303,
            "text/plain; charset=utf-8",
            "continue at the authorization server\n",
        )
        .with_header("Location", redirect.url)
        .with_header("Set-Cookie", self.cookie(&redirect.state, max_age)))
    }

    /// The browser's return (`code` and `state`, or `error`, and the state cookie): the
    /// finished launch.
    pub(crate) fn finish(&self, request: &Request) -> Result<ShofLaunch, LaunchError> {
        let query = request.query_pairs();
        let field = |name: &str| {
            query
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        let state = field("state").unwrap_or("");
        if state.is_empty() || request.cookie(STATE_COOKIE) != Some(state) {
            // Not the browser that started this launch (or no state at all).
            return Err(HostError::UnknownState.into());
        }
        if let Some(error) = field("error") {
            self.launcher.cancel(state);
            return Err(HostError::OAuth {
                status: 400,
                error: error.to_owned(),
                description: field("error_description").map(str::to_owned),
            }
            .into());
        }
        Ok(self.launcher.finish(field("code").unwrap_or(""), state)?)
    }
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
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
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
            ShofEndpoint::parts_of("http://127.0.0.1:8080/shof/return"),
            Some(("/shof/return".into(), true))
        );
        assert_eq!(
            ShofEndpoint::parts_of("https://module.example.org/return?x=1"),
            Some(("/return".into(), false))
        );
        assert_eq!(
            ShofEndpoint::parts_of("http://localhost"),
            Some(("/".into(), true))
        );
        assert_eq!(ShofEndpoint::parts_of("/relative"), None);
    }
}
