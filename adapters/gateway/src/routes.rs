//! What each request gets: HTI and SHOF launches, the hand-off to the application, the
//! module's JWKS, a health check; one log line and one metrics count per launch outcome, with
//! the time it really took.

use std::sync::Arc;
use std::time::Instant;

use koppeltaal_host::{
    Clock, HostError, LaunchError, LaunchErrorKind, LaunchReceiver, RemoteKeys, SystemClock,
};
use serde_json::{Value, json};

use koppeltaal_host::trace::TraceContext;

use crate::audit::AuditLog;
use crate::budget::Budgets;
use crate::http::{Request, Response};
use crate::log::{Event, LogFormat, json_line, log_line, text_line};
use crate::metrics::Metrics;
use crate::pages::{Language, Pages, Situation};
use crate::shof::{ShofGateway, launched_page, shof_json};
use crate::upstream::{Origin, Upstream};

/// The request handling of a gateway.
pub(crate) struct Routes {
    pub(crate) receiver: LaunchReceiver,
    pub(crate) shof: Option<ShofGateway>,
    pub(crate) own_jwks: Option<String>,
    pub(crate) log: LogFormat,
    pub(crate) upstream: Option<Upstream>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) remote_keys: Option<Arc<RemoteKeys>>,
    pub(crate) pages: Pages,
    pub(crate) expensive: Budgets,
    pub(crate) audit: Option<AuditLog>,
}

/// What is known of a refused launch: its claims, when it was verified before the refusal
/// (a replay).
#[derive(Default)]
struct Known<'a> {
    issuer: Option<&'a str>,
    sub: Option<&'a str>,
    task: Option<&'a str>,
    launch_id: Option<&'a str>,
}

/// How a refusal or failure is answered.
struct Answer<'a> {
    request_id: &'a str,
    /// A trusted proxy's `X-Correlation-Id`.
    correlation_id: Option<&'a str>,
    language: Language,
    wants_json: bool,
}

impl Routes {
    /// Answers `request`, in its trace context: every request the gateway sends on its behalf
    /// (keys, introspection, the SHOF exchange, the hand-off) carries its id as
    /// `X-Correlation-Id`, and a trusted proxy's `X-Trace-Id`.
    pub(crate) fn handle(&self, request: &Request) -> Response {
        let request_id = self.request_id(request);
        let correlation_id = trusted_id(request, "x-correlation-id");
        let trace = TraceContext::new(&request_id, trusted_id(request, "x-trace-id"));
        let answer = Answer {
            request_id: &request_id,
            correlation_id,
            language: Language::from_accept_language(request.header("accept-language")),
            wants_json: request
                .header("accept")
                .is_some_and(|accept| accept.contains("application/json")),
        };
        let response = trace.enter(|| self.route(request, &answer));
        response.with_header("X-Request-Id", request_id.clone())
    }

    /// The request's id: a trusted proxy's `X-Request-Id` when it is a plain token, else new.
    fn request_id(&self, request: &Request) -> String {
        trusted_id(request, "x-request-id")
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
    }

    fn route(&self, request: &Request, answer: &Answer<'_>) -> Response {
        let started = Instant::now();
        if let Some(shof) = &self.shof
            && request.method == "GET"
            && request.path == shof.return_path()
        {
            // A return costs a record in the replay store and a code exchange: it is spent
            // from the client's budget for expensive work, so no client can fill the store.
            if !self.expensive.spend(request.client) {
                let error = LaunchError::from(HostError::Throttled);
                return self.refused("shof", &error, None, request, answer, started);
            }
            if let Some(Err(error)) = self.audit.as_ref().map(AuditLog::check_room) {
                return self.refused("shof", &error, None, request, answer, started);
            }
            let (outcome, clear) = shof.finish(request);
            let response = match outcome {
                Ok(launch) => {
                    let body = shof_json(&launch);
                    let event = Event {
                        request_id: answer.request_id,
                        flow: "shof",
                        outcome: "accepted",
                        code: 0,
                        name: "Accepted",
                        issuer: Some(&launch.fhir_server),
                        sub: Some(launch.id_token.subject()),
                        client: Some(request.client),
                        detail: None,
                        task: launch.context.get("resource").and_then(Value::as_str),
                        launch_id: None,
                        correlation_id: answer.correlation_id,
                        own_fault: false,
                    };
                    self.accepted(event, &body, request, answer, started, |body| {
                        Response::new(200, "text/html; charset=utf-8", launched_page(body))
                    })
                }
                Err(error) => self.refused("shof", &error, None, request, answer, started),
            };
            return match clear {
                Some(clear) => response.with_header("Set-Cookie", clear),
                None => response,
            };
        }
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/healthz") => Response::text(200, "ok\n"),
            ("GET", "/.well-known/jwks.json") => match &self.own_jwks {
                Some(jwks) => Response::new(200, "application/json", jwks.clone()),
                None => Response::text(404, "no key configured\n"),
            },
            ("POST", "/launch") => self.launch(request, answer, started),
            (_, "/launch") => Response::text(405, "POST a form with a `token` field\n"),
            _ => Response::text(404, "not found\n"),
        }
    }

    /// The Prometheus page.
    pub(crate) fn metrics_page(&self) -> Response {
        let mut page = self
            .metrics
            .render(self.remote_keys.as_ref().map_or(0, |keys| keys.fetches()));
        if let Some(audit) = &self.audit {
            audit.render(&mut page);
        }
        Response::new(200, "text/plain; version=0.0.4; charset=utf-8", page)
    }

    fn launch(&self, request: &Request, answer: &Answer<'_>, started: Instant) -> Response {
        if let Some(shof) = &self.shof
            && let Some((iss, launch)) = shof_form(&request.body)
        {
            return match shof.begin(request, &iss, &launch) {
                Ok(redirect) => {
                    let event = Event {
                        request_id: answer.request_id,
                        flow: "shof_start",
                        outcome: "started",
                        code: 0,
                        name: "Started",
                        issuer: Some(&iss),
                        sub: None,
                        client: Some(request.client),
                        detail: None,
                        task: None,
                        launch_id: None,
                        correlation_id: answer.correlation_id,
                        own_fault: false,
                    };
                    self.report(&event, started);
                    redirect
                }
                Err(error) => {
                    self.refused("shof_start", &error, Some(&iss), request, answer, started)
                }
            };
        }
        let token = match koppeltaal_host::launch::form_token(&request.body) {
            Ok(token) => token,
            Err(error) => {
                return self.refused("hti", &error.into(), None, request, answer, started);
            }
        };
        // An encrypted launch (five parts) costs an RSA private-key operation to unwrap.
        if token.bytes().filter(|&b| b == b'.').count() == 4
            && !self.expensive.spend(request.client)
        {
            let error = LaunchError::from(HostError::Throttled);
            return self.refused("hti", &error, None, request, answer, started);
        }
        let room = self.audit.as_ref().map_or(Ok(()), AuditLog::check_room);
        match self.receiver.check_token(token.as_bytes()) {
            // Verified, but it would go unrecorded: refused before it is used up.
            Ok(checked) if room.is_err() => {
                let known = Known {
                    issuer: Some(checked.launch().issuer()),
                    sub: Some(checked.launch().subject()),
                    task: Some(checked.launch().resource()),
                    launch_id: Some(checked.launch().token_id()),
                };
                let error = room.expect_err("the guard checked it");
                self.refusal("hti", &error, known, request, answer, started)
            }
            Ok(checked) => {
                let issuer = checked.launch().issuer().to_owned();
                let sub = checked.launch().subject().to_owned();
                let task = checked.launch().resource().to_owned();
                let jti = checked.launch().token_id().to_owned();
                match checked.record() {
                    Ok(launch) => {
                        let body = koppeltaal_host::launch::launch_json(&launch);
                        let event = Event {
                            request_id: answer.request_id,
                            flow: "hti",
                            outcome: "accepted",
                            code: 0,
                            name: "Accepted",
                            issuer: Some(&issuer),
                            sub: Some(&sub),
                            client: Some(request.client),
                            detail: None,
                            task: Some(&task),
                            launch_id: Some(&jti),
                            correlation_id: answer.correlation_id,
                            own_fault: false,
                        };
                        self.accepted(event, &body, request, answer, started, |body| {
                            Response::new(200, "application/json", body.to_string())
                        })
                    }
                    // Verified but not accepted (a replay, a replay store that failed): its
                    // issuer and subject are known, and logged.
                    Err(error) => self.refusal(
                        "hti",
                        &error,
                        Known {
                            issuer: Some(&issuer),
                            sub: Some(&sub),
                            task: Some(&task),
                            launch_id: Some(&jti),
                        },
                        request,
                        answer,
                        started,
                    ),
                }
            }
            Err(error) => self.refused("hti", &error, None, request, answer, started),
        }
    }

    /// An accepted launch: handed on to the application when there is one (its answer goes
    /// back to the browser), else answered with `page` (or the JSON itself).
    fn accepted(
        &self,
        event: Event<'_>,
        body: &Value,
        request: &Request,
        answer: &Answer<'_>,
        started: Instant,
        page: impl FnOnce(&Value) -> Response,
    ) -> Response {
        let Some(upstream) = &self.upstream else {
            self.report(&event, started);
            return if answer.wants_json {
                Response::new(200, "application/json", body.to_string())
            } else {
                page(body)
            };
        };
        let origin = Origin {
            client: request.client,
            host: request.header("host"),
            proto: request.proto,
            request_id: event.request_id,
        };
        match upstream.deliver(body, &origin, SystemClock.now()) {
            Ok(delivered) => {
                self.metrics.upstream(delivered.status);
                self.report(
                    &Event {
                        detail: Some(format!("upstream={}", delivered.status)),
                        ..event
                    },
                    started,
                );
                delivered
            }
            Err(error) => {
                self.metrics.upstream_failure();
                let status = if matches!(error, HostError::Timeout) {
                    504
                } else {
                    502
                };
                let error = LaunchError::from(error);
                self.report(
                    &Event {
                        outcome: "failed",
                        code: error.code(),
                        name: error.name(),
                        detail: Some(format!(
                            "the launch was accepted; the application: {}",
                            error.reason()
                        )),
                        ..event
                    },
                    started,
                );
                self.page(status, Situation::ApplicationDown, &error, answer)
            }
        }
    }

    fn refused(
        &self,
        flow: &'static str,
        error: &LaunchError,
        issuer: Option<&str>,
        request: &Request,
        answer: &Answer<'_>,
        started: Instant,
    ) -> Response {
        let known = Known {
            issuer,
            ..Known::default()
        };
        self.refusal(flow, error, known, request, answer, started)
    }

    fn refusal(
        &self,
        flow: &'static str,
        error: &LaunchError,
        known: Known<'_>,
        request: &Request,
        answer: &Answer<'_>,
        started: Instant,
    ) -> Response {
        self.report(
            &Event {
                request_id: answer.request_id,
                flow,
                outcome: "refused",
                code: error.code(),
                name: error.name(),
                issuer: known.issuer,
                sub: known.sub,
                client: Some(request.client),
                detail: Some(error.reason().to_string()),
                task: known.task,
                launch_id: known.launch_id,
                correlation_id: answer.correlation_id,
                own_fault: error.kind() == LaunchErrorKind::Temporary,
            },
            started,
        );
        let status = match (error.kind(), error.reason()) {
            (_, HostError::BadForm(_)) => 400,
            (LaunchErrorKind::Throttled, _) => 429,
            (LaunchErrorKind::Temporary, _) => 503,
            _ => 403,
        };
        self.page(status, Situation::of(error), error, answer)
    }

    /// The page (or JSON) for a launch that did not go through.
    fn page(
        &self,
        status: u16,
        situation: Situation,
        error: &LaunchError,
        answer: &Answer<'_>,
    ) -> Response {
        let message = situation.message(answer.language);
        let response = if answer.wants_json {
            let body = json!({
                "error": error.name(),
                "code": error.code(),
                "message": message,
                "request_id": answer.request_id,
            });
            Response::new(status, "application/json", body.to_string())
        } else {
            Response::new(
                status,
                "text/html; charset=utf-8",
                self.pages
                    .render(situation, answer.language, error.code(), answer.request_id),
            )
        };
        match status {
            429 => response.with_header("Retry-After", "60".into()),
            _ => response,
        }
    }

    /// One launch outcome: its log line and its count, with the time since `started` (the
    /// complete request).
    fn report(&self, event: &Event<'_>, started: Instant) {
        if let Some(audit) = &self.audit {
            audit.record(event);
        }
        let took = started.elapsed();
        self.metrics
            .launch(event.flow, event.code, event.name, took);
        match self.log {
            LogFormat::Off => {}
            LogFormat::Text => log_line(format_args!("{}", text_line(event))),
            LogFormat::Json => {
                let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
                let line = json_line(
                    event,
                    self.receiver.policy().audience(),
                    SystemClock.now(),
                    micros,
                );
                log_line(format_args!("{line}"));
            }
        }
    }
}

/// Header `name` when a trusted proxy sent it and it is a plain token (1 to 128 of
/// `A-Za-z0-9-_.`): what the gateway believes of request, correlation and trace ids.
fn trusted_id<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request
        .header(name)
        .filter(|_| request.via_trusted_proxy)
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 128
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
}

/// The `iss` and `launch` of a SHOF launch form, if it is one (and has no `token`).
fn shof_form(body: &[u8]) -> Option<(String, String)> {
    if body.len() > koppeltaal_host::launch::MAX_FORM_BODY {
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
