//! The launch endpoint's request handling, shared by `serve` and `demo`: HTI and SHOF launches,
//! the hand-off to an upstream application, one log line per launch, and the metrics.

use std::sync::Arc;
use std::time::Instant;

use koppeltaal_host::{Clock, HostError, LaunchError, LaunchReceiver, RemoteKeys, SystemClock};
use serde_json::{Value, json};

use crate::gateway::{Origin, Upstream};
use crate::http_server::{Request, Response};
use crate::metrics::Metrics;
use crate::output::launch_claims;
use crate::shof_endpoint::{ShofEndpoint, launched_page, shof_json};

/// How launches are logged on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Nothing.
    Off,
    /// `launch accepted code=0 iss=... sub=...`.
    Text,
    /// One JSON object per launch: time, request id, flow, code, name, issuer, audience, the
    /// pseudonymous `sub`; never a token, never other personal data.
    Json,
}

/// A launch endpoint.
pub(crate) struct Endpoint {
    pub(crate) receiver: LaunchReceiver,
    /// SHOF launches, when configured.
    pub(crate) shof: Option<ShofEndpoint>,
    pub(crate) own_jwks: Option<String>,
    pub(crate) log: LogFormat,
    /// Where accepted launches are handed on, when the endpoint is a gateway.
    pub(crate) upstream: Option<Upstream>,
    pub(crate) metrics: Arc<Metrics>,
    /// The key source whose fetches are counted, when keys come from a JWKS URL.
    pub(crate) remote_keys: Option<Arc<RemoteKeys>>,
}

/// One launch, as logged.
struct Event<'a> {
    request_id: &'a str,
    flow: &'static str,
    code: u16,
    name: &'static str,
    issuer: Option<&'a str>,
    sub: Option<&'a str>,
    detail: Option<String>,
}

impl Endpoint {
    /// A plain endpoint (no SHOF, no upstream, no own JWKS).
    pub(crate) fn new(receiver: LaunchReceiver, log: LogFormat) -> Endpoint {
        Endpoint {
            receiver,
            shof: None,
            own_jwks: None,
            log,
            upstream: None,
            metrics: Arc::new(Metrics::default()),
            remote_keys: None,
        }
    }

    pub(crate) fn handle(&self, request: &Request) -> Response {
        let wants_json = request
            .accept
            .as_deref()
            .is_some_and(|accept| accept.contains("application/json"));
        if let Some(shof) = &self.shof
            && request.method == "GET"
            && request.path == shof.return_path
        {
            return self.timed(request, |request_id| {
                let clear = shof.cookie("", 0);
                let response = match shof.finish(request) {
                    Ok(launch) => {
                        let body = shof_json(&launch);
                        let event = Event {
                            request_id,
                            flow: "shof",
                            code: 0,
                            name: "Accepted",
                            issuer: Some(&launch.fhir_server),
                            sub: Some(launch.id_token.subject()),
                            detail: None,
                        };
                        self.accepted(event, &body, request, wants_json, |body| {
                            Response::new(200, "text/html; charset=utf-8", launched_page(body))
                        })
                    }
                    Err(error) => self.refused(request_id, "shof", &error, wants_json),
                };
                response.with_header("Set-Cookie", clear)
            });
        }
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/healthz") => Response::text(200, "ok\n"),
            ("GET", "/metrics") => Response::new(
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                self.metrics
                    .render(self.remote_keys.as_ref().map_or(0, |keys| keys.fetches())),
            ),
            ("GET", "/.well-known/jwks.json") => match &self.own_jwks {
                Some(jwks) => Response::new(200, "application/json", jwks.clone()),
                None => Response::text(404, "no key configured\n"),
            },
            ("POST", "/launch") => self.timed(request, |request_id| {
                if let Some(shof) = &self.shof
                    && let Some((iss, launch)) = shof_form(&request.body)
                {
                    return match shof.begin(&iss, &launch) {
                        Ok(redirect) => {
                            self.log_event(&Event {
                                request_id,
                                flow: "shof",
                                code: 0,
                                name: "Started",
                                issuer: Some(&iss),
                                sub: None,
                                detail: None,
                            });
                            redirect
                        }
                        Err(error) => self.refused(request_id, "shof", &error, wants_json),
                    };
                }
                match self.receiver.receive_form(&request.body) {
                    Ok(launch) => {
                        let body = launch_claims(&launch);
                        let event = Event {
                            request_id,
                            flow: "hti",
                            code: 0,
                            name: "Accepted",
                            issuer: Some(launch.issuer()),
                            sub: Some(launch.subject()),
                            detail: None,
                        };
                        self.accepted(event, &body, request, wants_json, |body| {
                            Response::new(200, "application/json", body.to_string())
                        })
                    }
                    Err(error) => self.refused(request_id, "hti", &error, wants_json),
                }
            }),
            (_, "/launch") => Response::text(405, "POST a form with a `token` field\n"),
            _ => Response::text(404, "not found\n"),
        }
    }

    /// Runs `handle` with a fresh request id, and adds the id to the answer.
    fn timed(&self, _request: &Request, handle: impl FnOnce(&str) -> Response) -> Response {
        let request_id = koppeltaal_host::new_jti();
        handle(&request_id).with_header("X-Request-Id", request_id.clone())
    }

    /// An accepted launch: handed on to the application when there is one (its answer goes
    /// back to the browser), else answered with `page` (or the JSON itself).
    fn accepted(
        &self,
        event: Event<'_>,
        body: &Value,
        request: &Request,
        wants_json: bool,
        page: impl FnOnce(&Value) -> Response,
    ) -> Response {
        let started = Instant::now();
        let Some(upstream) = &self.upstream else {
            self.log_event(&event);
            self.metrics
                .launch(event.flow, 0, "Accepted", started.elapsed());
            return if wants_json {
                Response::new(200, "application/json", body.to_string())
            } else {
                page(body)
            };
        };
        let origin = Origin {
            client: request.peer,
            host: request.host.as_deref(),
            request_id: event.request_id,
        };
        match upstream.deliver(body, &origin, SystemClock.now()) {
            Ok(answer) => {
                self.metrics.upstream(answer.status);
                self.log_event(&Event {
                    detail: Some(format!("upstream={}", answer.status)),
                    ..event
                });
                self.metrics
                    .launch(event.flow, 0, "Accepted", started.elapsed());
                answer
            }
            Err(error) => {
                self.metrics.upstream_failure();
                let status = if matches!(error, HostError::Timeout) {
                    504
                } else {
                    502
                };
                let error = LaunchError::from(error);
                self.log_event(&Event {
                    code: error.code(),
                    name: error.name(),
                    detail: Some(format!(
                        "the launch was accepted; the application: {}",
                        error.error()
                    )),
                    ..event
                });
                self.metrics
                    .launch(event.flow, error.code(), error.name(), started.elapsed());
                unavailable_page(status, &error, wants_json)
            }
        }
    }

    fn refused(
        &self,
        request_id: &str,
        flow: &'static str,
        error: &LaunchError,
        wants_json: bool,
    ) -> Response {
        self.log_event(&Event {
            request_id,
            flow,
            code: error.code(),
            name: error.name(),
            issuer: None,
            sub: None,
            detail: Some(error.error().to_string()),
        });
        self.metrics
            .launch(flow, error.code(), error.name(), std::time::Duration::ZERO);
        refusal(error, wants_json)
    }

    fn log_event(&self, event: &Event<'_>) {
        match self.log {
            LogFormat::Off => {}
            LogFormat::Text => {
                let outcome = if event.code == 0 {
                    "accepted"
                } else {
                    "refused"
                };
                let mut line = format!(
                    "{} launch {outcome} code={} name={} request={}",
                    event.flow, event.code, event.name, event.request_id
                );
                if let Some(issuer) = event.issuer {
                    line.push_str(&format!(" iss={issuer}"));
                }
                if let Some(sub) = event.sub {
                    line.push_str(&format!(" sub={sub}"));
                }
                if let Some(detail) = &event.detail {
                    line.push_str(&format!(": {detail}"));
                }
                log_line(format_args!("{line}"));
            }
            LogFormat::Json => {
                let line = json!({
                    "time": rfc3339(SystemClock.now()),
                    "request_id": event.request_id,
                    "event": "launch",
                    "flow": event.flow,
                    "code": event.code,
                    "name": event.name,
                    "issuer": event.issuer,
                    "audience": self.receiver.policy().audience(),
                    "sub": event.sub,
                    "detail": event.detail,
                });
                log_line(format_args!("{line}"));
            }
        }
    }
}

/// `seconds` since 1970 as an RFC 3339 UTC timestamp (civil date from days, Howard Hinnant's
/// algorithm).
pub(crate) fn rfc3339(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The `iss` and `launch` of a SHOF launch form, if it is one (and has no `token`).
fn shof_form(body: &[u8]) -> Option<(String, String)> {
    if body.len() > koppeltaal_host::MAX_FORM_BODY {
        return None;
    }
    let fields: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let one = |name: &str| {
        let mut values = fields.iter().filter(|(key, _)| key == name);
        match (values.next(), values.next()) {
            (Some((_, value)), None) => Some(value.clone()),
            _ => None,
        }
    };
    if fields.iter().any(|(key, _)| key == "token") {
        return None;
    }
    Some((one("iss")?, one("launch")?))
}

/// The answer to a refused launch: 400 for a malformed form, 503 when the fault is on this
/// side, 403 otherwise; a short page quoting the code (or JSON).
pub(crate) fn refusal(error: &LaunchError, wants_json: bool) -> Response {
    let status = match error.error() {
        HostError::BadForm(_) => 400,
        _ if error.is_temporary() => 503,
        _ => 403,
    };
    if wants_json {
        let body =
            json!({"error": error.name(), "code": error.code(), "message": error.user_message()});
        Response::new(status, "application/json", body.to_string())
    } else {
        Response::new(
            status,
            "text/html; charset=utf-8",
            page(error.user_message(), error.code()),
        )
    }
}

/// The answer when a launch was accepted but the application could not take it: 502 (down)
/// or 504 (too slow). The launch is used up: the user starts again from the portal.
fn unavailable_page(status: u16, error: &LaunchError, wants_json: bool) -> Response {
    let message = "The module could not be reached just now. Please start it again from your portal in a moment.";
    if wants_json {
        let body = json!({"error": error.name(), "code": error.code(), "message": message});
        Response::new(status, "application/json", body.to_string())
    } else {
        Response::new(
            status,
            "text/html; charset=utf-8",
            page(message, error.code()),
        )
    }
}

/// A short page for the person whose launch did not go through, quoting the code to report.
fn page(message: &str, code: u16) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Launch refused</title></head>\n\
         <body><h1>The module could not be started</h1>\n<p>{message}</p>\n<p>If this keeps happening, contact support and quote code {code}.</p></body></html>\n"
    )
}

/// Writes one line to stderr, ignoring failure: a closed or full stderr must never fail (or,
/// as `eprintln!` would, panic) the request being logged.
pub(crate) fn log_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    let _ = stderr
        .write_fmt(line)
        .and_then(|()| stderr.write_all(b"\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
