//! The gateway's log lines on stderr: one per launch outcome, as text or JSON. Client input
//! never reaches a text line unescaped: control characters (CR, LF, ...) are written as
//! `\xNN`, so no `iss`, error description or header can add a line of its own.

use std::fmt::Write as _;

use serde_json::Value;

/// How launches are logged on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Nothing.
    Off,
    /// `hti launch accepted code=0 name=Accepted request=... client=... iss=... sub=...`, then
    /// `: ` and the detail when there is one; client text escaped.
    #[default]
    Text,
    /// One JSON object per launch outcome, with exactly the members `time`, `request_id`,
    /// `event`, `flow`, `outcome`, `code`, `name`, `issuer`, `audience`, `sub`, `client`,
    /// `duration_us` and `detail`, in that order; never a token.
    Json,
}

/// The most characters of one client-supplied field written to a text log line.
const MAX_LOGGED_CHARS: usize = 512;

/// One launch outcome, as logged.
#[derive(Clone, Debug)]
pub(crate) struct Event<'a> {
    pub(crate) request_id: &'a str,
    /// `hti`, `shof_start` or `shof`.
    pub(crate) flow: &'static str,
    /// `accepted`, `refused`, `started`, `failed` (accepted, but the application could not
    /// take it).
    pub(crate) outcome: &'static str,
    pub(crate) code: u16,
    pub(crate) name: &'static str,
    pub(crate) issuer: Option<&'a str>,
    pub(crate) sub: Option<&'a str>,
    pub(crate) client: Option<std::net::IpAddr>,
    pub(crate) detail: Option<String>,
    /// For the AuditEvent, not logged: the launch's Task and `jti` when known, the request's
    /// correlation id, and whether a refusal is the module's own fault.
    pub(crate) task: Option<&'a str>,
    pub(crate) launch_id: Option<&'a str>,
    pub(crate) correlation_id: Option<&'a str>,
    pub(crate) own_fault: bool,
}

/// `text` with every control character (C0 as `\xNN`, C1, Unicode line and paragraph
/// separators and bidirectional overrides as `\u{NNNN}`) escaped and backslashes doubled, cut
/// at 512 characters: safe inside one text log line.
///
/// ```
/// use koppeltaal_gateway::escape_log;
/// assert_eq!(escape_log("evil\nhti launch accepted"), "evil\\x0ahti launch accepted");
/// ```
pub fn escape_log(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_LOGGED_CHARS));
    for (count, character) in text.chars().enumerate() {
        if count == MAX_LOGGED_CHARS {
            out.push_str("...");
            break;
        }
        match character {
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// The text line of `event`.
pub(crate) fn text_line(event: &Event<'_>) -> String {
    let mut line = format!(
        "{} launch {} code={} name={} request={}",
        event.flow,
        event.outcome,
        event.code,
        event.name,
        escape_log(event.request_id)
    );
    if let Some(client) = event.client {
        let _ = write!(line, " client={client}");
    }
    if let Some(issuer) = event.issuer {
        let _ = write!(line, " iss={}", escape_log(issuer));
    }
    if let Some(sub) = event.sub {
        let _ = write!(line, " sub={}", escape_log(sub));
    }
    if let Some(detail) = &event.detail {
        let _ = write!(line, ": {}", escape_log(detail));
    }
    line
}

/// The JSON line of `event`, its members in the documented order whatever serde_json's
/// features (a `Map` is sorted unless `preserve_order` is on somewhere in the build).
pub(crate) fn json_line(event: &Event<'_>, audience: &str, now: u64, micros: u64) -> String {
    let members: [(&str, Value); 13] = [
        ("time", koppeltaal_host::clock::rfc3339(now).into()),
        ("request_id", event.request_id.into()),
        ("event", "launch".into()),
        ("flow", event.flow.into()),
        ("outcome", event.outcome.into()),
        ("code", event.code.into()),
        ("name", event.name.into()),
        ("issuer", event.issuer.into()),
        ("audience", audience.into()),
        ("sub", event.sub.into()),
        (
            "client",
            event.client.map(|client| client.to_string()).into(),
        ),
        ("duration_us", micros.into()),
        ("detail", event.detail.clone().into()),
    ];
    let mut line = String::from("{");
    for (index, (name, value)) in members.iter().enumerate() {
        if index > 0 {
            line.push(',');
        }
        let _ = write!(line, "\"{name}\":{value}");
    }
    line.push('}');
    line
}

/// Writes one line to stderr, ignoring failure: a closed or full stderr must never fail (or,
/// as `eprintln!` would, panic) the request being logged.
pub fn log_line(line: std::fmt::Arguments<'_>) {
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
    fn no_client_text_makes_a_line_of_its_own() {
        let forged =
            "https://fhir.example.org\nhti launch accepted code=0 name=Accepted\r\u{2028}x\\";
        let event = Event {
            request_id: "r1",
            flow: "shof",
            outcome: "refused",
            code: 915,
            name: "UnknownFhirServer",
            issuer: Some(forged),
            sub: None,
            client: None,
            detail: Some(forged.to_owned()),
            task: None,
            launch_id: None,
            correlation_id: None,
            own_fault: false,
        };
        let line = text_line(&event);
        assert!(!line.contains(['\n', '\r', '\u{2028}']), "{line}");
        assert!(line.contains("\\x0ahti launch accepted"), "{line}");
        assert!(line.ends_with("\\u{2028}x\\\\"), "{line}");
        assert_eq!(escape_log("\u{9b}[2J\u{202e}"), "\\u{009b}[2J\\u{202e}");
        assert_eq!(
            escape_log(&"a".repeat(600)).len(),
            515,
            "cut at 512 characters"
        );
    }
}
