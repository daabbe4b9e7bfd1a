//! The host adapter's error type: the core's errors, plus what networks, files and servers add.

use std::fmt;

/// Everything a host operation can fail with.
///
/// [`code`](HostError::code) gives one stable number per failure for logs and user-facing
/// pages: the core's own code for [`HostError::Core`], and 9xx for what only the host meets.
#[derive(Debug)]
#[non_exhaustive]
pub enum HostError {
    /// A check of the core failed: verification, key loading, token production.
    Core(koppeltaal_core::Error),
    /// The URL is plain `http` to a host that is not loopback, and that was not allowed.
    InsecureUrl(String),
    /// The URL could not be parsed, or has no host.
    InvalidUrl(String),
    /// No connection: refused, unknown host, TLS failure.
    Unreachable(String),
    /// No complete answer within the configured time.
    Timeout,
    /// More redirects than allowed (a loop, usually).
    TooManyRedirects,
    /// The response body is larger than the configured cap.
    ResponseTooLarge {
        /// The cap, in bytes.
        limit: u64,
    },
    /// An HTTP status the protocol does not expect; the start of the body is kept.
    Status {
        /// The status code.
        status: u16,
        /// At most 512 bytes of the body, lossily decoded.
        body: String,
    },
    /// The body is not what the protocol says (not JSON, a missing or mistyped field).
    InvalidResponse(String),
    /// An OAuth 2.0 error response (RFC 6749 §5.2).
    OAuth {
        /// The status code.
        status: u16,
        /// The `error` member, e.g. `invalid_client`.
        error: String,
        /// The `error_description` member, if any.
        description: Option<String>,
    },
    /// A key could not be read, parsed, generated or written.
    Key(String),
    /// An I/O failure (key files, the replay journal).
    Io(std::io::Error),
    /// The introspection endpoint answered `"active": false`.
    Inactive,
    /// A launch form body is malformed: no `token` field, two of them, or too large.
    BadForm(&'static str),
    /// The replay store could not be reached or did not answer in time; the launch is
    /// refused rather than accepted unchecked.
    ReplayStoreUnavailable(String),
    /// A server answered an authorized request with an error status.
    Refused {
        /// The status code.
        status: u16,
        /// The whole body (within the response size cap), lossily decoded.
        body: String,
        /// The text of a FHIR `OperationOutcome` in the body, if there is one.
        outcome: Option<String>,
    },
}

impl HostError {
    /// The stable numeric code: the core's code for [`HostError::Core`], 9xx otherwise.
    pub fn code(&self) -> u16 {
        match self {
            HostError::Core(error) => error.code(),
            HostError::InsecureUrl(_) => 900,
            HostError::InvalidUrl(_) => 901,
            HostError::Unreachable(_) => 902,
            HostError::Timeout => 903,
            HostError::TooManyRedirects => 904,
            HostError::ResponseTooLarge { .. } => 905,
            HostError::Status { .. } => 906,
            HostError::InvalidResponse(_) => 907,
            HostError::OAuth { .. } => 908,
            HostError::Key(_) => 909,
            HostError::Io(_) => 910,
            HostError::Inactive => 911,
            HostError::BadForm(_) => 912,
            HostError::ReplayStoreUnavailable(_) => 913,
            HostError::Refused { .. } => 914,
        }
    }

    /// The codes only the host has, ascending (the core's are `koppeltaal_core::Error::CODES`).
    pub const CODES: &'static [u16] = &[
        900, 901, 902, 903, 904, 905, 906, 907, 908, 909, 910, 911, 912, 913, 914,
    ];

    /// A one-line description of the error with `code`, the core's or the host's; `None` for
    /// an unknown code. Static, for tables and the C ABI.
    pub const fn summary_of(code: u16) -> Option<&'static str> {
        match code {
            900 => Some("refusing plain http to a host that is not loopback"),
            901 => Some("not a usable URL"),
            902 => Some("could not connect"),
            903 => Some("no answer in time"),
            904 => Some("too many redirects"),
            905 => Some("response larger than the configured cap"),
            906 => Some("unexpected HTTP status"),
            907 => Some("unexpected response"),
            908 => Some("the authorization server refused the request"),
            909 => Some("a key could not be read, parsed, generated or written"),
            910 => Some("input/output failure"),
            911 => Some("the token is not active"),
            912 => Some("the launch form is malformed"),
            913 => Some("replay store unavailable"),
            914 => Some("the server refused the request"),
            _ => koppeltaal_core::Error::summary_of(code),
        }
    }

    /// The variant's name (the core's variant name for [`HostError::Core`]).
    pub fn name(&self) -> &'static str {
        match self {
            HostError::Core(error) => error.name(),
            HostError::InsecureUrl(_) => "InsecureUrl",
            HostError::InvalidUrl(_) => "InvalidUrl",
            HostError::Unreachable(_) => "Unreachable",
            HostError::Timeout => "Timeout",
            HostError::TooManyRedirects => "TooManyRedirects",
            HostError::ResponseTooLarge { .. } => "ResponseTooLarge",
            HostError::Status { .. } => "Status",
            HostError::InvalidResponse(_) => "InvalidResponse",
            HostError::OAuth { .. } => "OAuth",
            HostError::Key(_) => "Key",
            HostError::Io(_) => "Io",
            HostError::Inactive => "Inactive",
            HostError::BadForm(_) => "BadForm",
            HostError::ReplayStoreUnavailable(_) => "ReplayStoreUnavailable",
            HostError::Refused { .. } => "Refused",
        }
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Core(error) => error.fmt(f),
            HostError::InsecureUrl(url) => write!(
                f,
                "refusing plain http to a host that is not loopback: {url}"
            ),
            HostError::InvalidUrl(url) => write!(f, "not a usable URL: {url}"),
            HostError::Unreachable(why) => write!(f, "could not connect: {why}"),
            HostError::Timeout => f.write_str("no answer in time"),
            HostError::TooManyRedirects => f.write_str("too many redirects"),
            HostError::ResponseTooLarge { limit } => {
                write!(f, "response larger than {limit} bytes")
            }
            HostError::Status { status, body } => {
                write!(f, "unexpected HTTP status {status}: {body}")
            }
            HostError::InvalidResponse(why) => write!(f, "unexpected response: {why}"),
            HostError::OAuth {
                status,
                error,
                description,
            } => match description {
                Some(description) => {
                    write!(f, "OAuth error {error} (HTTP {status}): {description}")
                }
                None => write!(f, "OAuth error {error} (HTTP {status})"),
            },
            HostError::Key(why) => write!(f, "key: {why}"),
            HostError::Io(error) => write!(f, "I/O: {error}"),
            HostError::Inactive => f.write_str("the token is not active"),
            HostError::BadForm(why) => write!(f, "launch form: {why}"),
            HostError::ReplayStoreUnavailable(why) => write!(f, "replay store unavailable: {why}"),
            HostError::Refused {
                status,
                body,
                outcome,
            } => match outcome {
                Some(outcome) => write!(f, "HTTP {status}: {outcome}"),
                None => write!(
                    f,
                    "HTTP {status}: {}",
                    body.chars().take(512).collect::<String>()
                ),
            },
        }
    }
}

impl std::error::Error for HostError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HostError::Core(error) => Some(error),
            HostError::Io(error) => Some(error),
            _ => None,
        }
    }
}

impl From<koppeltaal_core::Error> for HostError {
    fn from(error: koppeltaal_core::Error) -> Self {
        HostError::Core(error)
    }
}

impl From<std::io::Error> for HostError {
    fn from(error: std::io::Error) -> Self {
        HostError::Io(error)
    }
}
