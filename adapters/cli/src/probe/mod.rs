//! `koppeltaal probe`: act as a portal a module trusts, post it a battery of launches, and
//! report what it did with each against what HTI 2.0 requires.
//!
//! Bounded: one request at a time, each with a timeout, the battery's few dozen requests and
//! no more; redirects are answers, never followed.

mod bait;
mod battery;
mod forge;

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use koppeltaal_host::http::{HttpClient, HttpOptions};
use koppeltaal_host::{Clock, PrivateKey, SystemClock};
use regex::Regex;
use serde_json::{Map, Value, json};

use crate::Failure;
use crate::findings::{Profile, Severity};
use bait::Bait;
use battery::{BATTERY, Case, Expect, KOPPELTAAL, Make, Setting};
use forge::Forger;

/// Arguments of `probe`.
#[derive(Args)]
pub(crate) struct ProbeArgs {
    /// The module's launch URL (HTI: form POST, field `token`).
    #[arg(long)]
    launch_url: String,
    /// A portal key the module trusts: it has this key's JWKS (`koppeltaal jwks --key`).
    #[arg(long)]
    key: PathBuf,
    /// The portal's `iss`, as the module knows it.
    #[arg(long)]
    issuer: String,
    /// The module's `aud`, e.g. Device/42.
    #[arg(long)]
    audience: String,
    /// A status that means "accepted" (e.g. 302 for a module that redirects into the
    /// application), or a class such as 2xx; repeatable. Default: 2xx.
    #[arg(long = "accept-status", value_parser = parse_status_pattern)]
    accept_statuses: Vec<StatusPattern>,
    /// A regular expression the body of an accepted launch matches (for modules that answer
    /// refusals with 200 and an error page).
    #[arg(long)]
    accept_pattern: Option<Regex>,
    /// `sub` of the launches (a module may look the person up).
    #[arg(long, default_value = "Practitioner/koppeltaal-probe")]
    sub: String,
    /// `resource` of the launches (a module may look the Task up).
    #[arg(long, default_value = "Task/koppeltaal-probe")]
    resource: String,
    /// `definition` of the launches (a module may know only its own).
    #[arg(
        long,
        default_value = "https://koppeltaal-probe.invalid/ActivityDefinition/probe"
    )]
    definition: String,
    /// Seconds each request may take.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Allow plain http to a host that is not loopback (a test network).
    #[arg(long)]
    allow_insecure_http: bool,
    /// Which rules: `hti` (HTI 2.0), or `koppeltaal`, which adds launches Koppeltaal's
    /// portals may send (with `idp_hint`; signed RS384, reported as a note).
    #[arg(long, value_enum, default_value = "hti")]
    profile: Profile,
}

/// What "accepted" means for a status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StatusPattern {
    Exactly(u16),
    /// A class: 2 for 2xx.
    Class(u16),
}

impl StatusPattern {
    fn matches(self, status: u16) -> bool {
        match self {
            StatusPattern::Exactly(code) => status == code,
            StatusPattern::Class(class) => status / 100 == class,
        }
    }
}

fn parse_status_pattern(text: &str) -> Result<StatusPattern, String> {
    let invalid = || format!("`{text}` is not a status (200..599) or a class (2xx..5xx)");
    if let Some(class) = text.strip_suffix("xx").or_else(|| text.strip_suffix("XX")) {
        return match class.parse::<u16>() {
            Ok(class @ 1..=5) => Ok(StatusPattern::Class(class)),
            _ => Err(invalid()),
        };
    }
    match text.parse::<u16>() {
        Ok(code @ 100..=599) => Ok(StatusPattern::Exactly(code)),
        _ => Err(invalid()),
    }
}

/// What the module did with one launch.
enum Answer {
    Status { status: u16, accepted: bool },
    Nothing(String),
}

impl Answer {
    fn accepted(&self) -> bool {
        matches!(self, Answer::Status { accepted: true, .. })
    }

    /// A refusal by a server error (5xx): the module crashed rather than refused.
    fn server_error(&self) -> bool {
        matches!(
            self,
            Answer::Status {
                status: 500..=599,
                accepted: false
            }
        )
    }

    fn describe(&self) -> String {
        match self {
            Answer::Status { status, accepted } => {
                format!(
                    "{status} ({})",
                    if *accepted { "accepted" } else { "refused" }
                )
            }
            Answer::Nothing(reason) => format!("no answer: {reason}"),
        }
    }
}

/// One line of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Pass,
    Fail,
    /// A refusal that proves nothing, because the module refused the valid launch too.
    Inconclusive,
}

/// Runs the probe; `Ok(true)` when every MUST holds.
pub(crate) fn run(args: ProbeArgs) -> Result<bool, Failure> {
    let http = client(args.timeout, args.allow_insecure_http);
    http.check_url(&args.launch_url)?;
    let portal = PrivateKey::read_pem_file(&args.key)?;
    let forger = Forger::new(&portal)?;
    let bait = Bait::start(json!({"keys": [forger.stranger_jwk()]}).to_string())?;
    let accept = if args.accept_statuses.is_empty() {
        vec![StatusPattern::Class(2)]
    } else {
        args.accept_statuses.clone()
    };

    let extra: &[Case] = match args.profile {
        Profile::Hti => &[],
        Profile::Koppeltaal => KOPPELTAAL,
    };
    let cases: Vec<&Case> = BATTERY
        .iter()
        .chain(extra)
        .filter(|case| !needs_rs384(case) || forger.signs_rs384())
        .collect();
    println!(
        "probe of {}: {} launches as {} for {}",
        args.launch_url,
        cases.len(),
        args.issuer,
        args.audience
    );
    println!(
        "{:<12}  {:<6}  {:<60}  {:<16}  rule",
        "result", "level", "check", "module"
    );
    let mut first_token = None;
    let mut valid_accepted = true;
    let mut failures = Vec::new();
    let mut server_errors = 0;
    for (index, case) in cases.into_iter().enumerate() {
        let token = match case.make {
            Make::RepeatFirst => first_token.clone().unwrap_or_default(),
            Make::Fresh(mutation) => {
                let now = SystemClock.now();
                let setting = Setting {
                    now,
                    stranger_key_id: forger.stranger_key_id(),
                    stranger_jwk: forger.stranger_jwk(),
                    bait_url: bait.url(),
                };
                let (mut header, mut claims) = valid_launch(&args, &forger, now);
                let signing = mutation(&setting, &mut header, &mut claims);
                forger.token(&header, &claims, signing)?
            }
        };
        if first_token.is_none() {
            first_token = Some(token.clone());
        }
        let answer = post(
            &http,
            &args.launch_url,
            &token,
            &accept,
            args.accept_pattern.as_ref(),
        );
        let verdict = match (case.expect, answer.accepted()) {
            // After the valid launch was refused, a refusal proves nothing either way.
            (_, false) if !valid_accepted => Verdict::Inconclusive,
            (Expect::Accepted, true) | (Expect::Refused, false) => Verdict::Pass,
            _ => Verdict::Fail,
        };
        if index == 0 {
            valid_accepted = answer.accepted();
        }
        if verdict == Verdict::Fail && case.severity != Severity::Note {
            failures.push(case.severity);
        }
        if case.expect == Expect::Refused && answer.server_error() {
            server_errors += 1;
        }
        print_line(case, verdict, &answer);
    }
    let fetched = bait.fetches();
    if fetched > 0 {
        failures.push(Severity::Must);
        print_row(
            "FAIL",
            Severity::Must,
            "the module fetched the key URL (jku) a token named",
            &format!("{fetched} fetch(es)"),
            "HTI 2.0 ② iss: keys come from the issuer's configuration, never from the token",
        );
    }
    if server_errors > 0 {
        failures.push(Severity::Should);
        print_row(
            "FAIL",
            Severity::Should,
            "refusals are answered as errors the user can read",
            &format!("{server_errors} with 5xx"),
            "HTI 2.0 ③ errors: a human understandable message, a 4xx status; not a server error",
        );
    }
    let musts = failures.iter().filter(|s| **s == Severity::Must).count();
    let shoulds = failures.len() - musts;
    if !valid_accepted {
        println!(
            "the module refused the valid launch: its refusals prove nothing (check --issuer, \
             --audience, that it has this key's JWKS, and --accept-status/--accept-pattern)"
        );
    }
    if musts == 0 && valid_accepted {
        println!("conformant: every MUST holds ({shoulds} SHOULD not met)");
        Ok(true)
    } else {
        println!("not conformant: {musts} MUST broken, {shoulds} SHOULD not met");
        Ok(false)
    }
}

fn print_line(case: &Case, verdict: Verdict, answer: &Answer) {
    let result = match verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "FAIL",
        Verdict::Inconclusive => "inconclusive",
    };
    print_row(
        result,
        case.severity,
        case.check,
        &answer.describe(),
        case.clause,
    );
}

fn print_row(result: &str, severity: Severity, check: &str, answer: &str, rule: &str) {
    println!("{result:<12}  {severity:<6}  {check:<60}  {answer:<16}  {rule}");
}

/// The header and claims of a valid launch from this portal, issued `now`.
fn valid_launch(
    args: &ProbeArgs,
    forger: &Forger,
    now: u64,
) -> (Map<String, Value>, Map<String, Value>) {
    let header = Map::from_iter([
        ("alg".to_owned(), json!(forger.portal_algorithm())),
        ("kid".to_owned(), json!(forger.portal_key_id())),
        ("typ".to_owned(), json!("JWT")),
    ]);
    let claims = Map::from_iter([
        ("iss".to_owned(), json!(args.issuer)),
        ("aud".to_owned(), json!(args.audience)),
        ("sub".to_owned(), json!(args.sub)),
        ("iat".to_owned(), json!(now)),
        ("exp".to_owned(), json!(now + 300)),
        ("jti".to_owned(), json!(koppeltaal_host::random::new_jti())),
        ("resource".to_owned(), json!(args.resource)),
        ("definition".to_owned(), json!(args.definition)),
        ("hti-version".to_owned(), json!("2.0")),
    ]);
    (header, claims)
}

/// Whether `case` signs RS384 with the portal's key (left out for a portal key that is not RSA).
fn needs_rs384(case: &Case) -> bool {
    let Make::Fresh(mutation) = case.make else {
        return false;
    };
    let setting = Setting {
        now: 1_700_000_000,
        stranger_key_id: "",
        stranger_jwk: &Value::Null,
        bait_url: "",
    };
    matches!(
        mutation(&setting, &mut Map::new(), &mut Map::new()),
        forge::Signing::PortalRs384
    )
}

/// The probe's HTTP client: `timeout_seconds` (at least 1) per request, redirects never
/// followed, answers read up to 1 MiB, `https` unless loopback or allowed.
fn client(timeout_seconds: u64, allow_insecure_http: bool) -> HttpClient {
    let timeout = Duration::from_secs(timeout_seconds.max(1));
    HttpClient::new(HttpOptions {
        connect_timeout: timeout,
        timeout,
        max_response_bytes: 1 << 20,
        max_redirects: 0,
        allow_insecure_http,
    })
}

/// Posts the launch form and reads the answer (the body within 1 MiB, for the pattern).
fn post(
    http: &HttpClient,
    url: &str,
    token: &str,
    accept: &[StatusPattern],
    pattern: Option<&Regex>,
) -> Answer {
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .finish();
    let content_type = [("Content-Type", "application/x-www-form-urlencoded")];
    let response = match http.send("POST", url, &content_type, form.as_bytes()) {
        Ok(response) => response,
        Err(error) => return Answer::Nothing(error.to_string()),
    };
    let status = response.status();
    let status_accepted = accept.iter().any(|pattern| pattern.matches(status));
    let body_accepted =
        pattern.is_none_or(|pattern| pattern.is_match(&String::from_utf8_lossy(response.body())));
    Answer::Status {
        status,
        accepted: status_accepted && body_accepted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use koppeltaal_host::HostError;

    #[test]
    fn status_patterns_parse_and_match() {
        assert_eq!(parse_status_pattern("302"), Ok(StatusPattern::Exactly(302)));
        assert_eq!(parse_status_pattern("2xx"), Ok(StatusPattern::Class(2)));
        assert!(parse_status_pattern("6xx").is_err());
        assert!(parse_status_pattern("99").is_err());
        assert!(parse_status_pattern("abc").is_err());
        assert!(StatusPattern::Class(2).matches(204));
        assert!(!StatusPattern::Class(2).matches(302));
        assert!(StatusPattern::Exactly(303).matches(303));
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let check = |url: &str, allow: bool| client(10, allow).check_url(url).map(|_| ());
        assert!(check("http://127.0.0.1:8080/launch", false).is_ok());
        assert!(check("http://[::1]:8080/launch", false).is_ok());
        assert!(check("http://localhost/launch", false).is_ok());
        assert!(check("https://module.example.org/launch", false).is_ok());
        assert!(matches!(
            check("http://module.example.org/launch", false),
            Err(HostError::InsecureUrl(_))
        ));
        assert!(check("http://module.example.org/launch", true).is_ok());
        assert!(matches!(
            check("ftp://x/launch", false),
            Err(HostError::InvalidUrl(_))
        ));
    }
}
