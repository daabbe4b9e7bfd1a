//! The host adapter's error type: the core's errors, plus what networks, files and servers add.

use std::ffi::CStr;
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
    /// A SHOF launch names a FHIR server (`iss`) that is not configured: refused before any
    /// request is made to it.
    UnknownFhirServer(String),
    /// A SHOF launch came back with a `state` this module did not make, already used, or
    /// expired.
    UnknownState,
    /// As many SHOF launches are waiting on their servers as configured; a new one is refused
    /// until some finish.
    TooManyPendingLaunches,
    /// The client spent its budget of expensive work (encrypted launches: each costs an RSA
    /// private-key operation); refused until the budget refills.
    Throttled,
    /// The audit outbox holds as many events as it may, and is set to refuse more: the launch
    /// that would go unrecorded is refused.
    OutboxFull,
    /// An audit event larger than the outbox keeps (64 KiB).
    AuditEventTooLarge,
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

/// The host's own failures, each written once: its pattern, code and summary; `code`,
/// `name`, `summary_of`, `summary_c_of` and `CODES` are generated from this table.
macro_rules! host_codes {
    ($( $variant:ident $( ($field:pat) )? $( { $($rest:tt)* } )? = $code:literal, $summary:literal; )*) => {
        impl HostError {
            /// The stable numeric code: the core's code for [`HostError::Core`], 9xx otherwise.
            pub fn code(&self) -> u16 {
                match self {
                    HostError::Core(error) => error.code(),
                    $( HostError::$variant $( ($field) )? $( { $($rest)* } )? => $code, )*
                }
            }

            /// The codes only the host has, ascending (the core's are
            /// `koppeltaal_core::Error::CODES`).
            pub const CODES: &'static [u16] = &[$($code),*];

            /// A one-line description of the error with `code`, the core's or the host's;
            /// `None` for an unknown code. Static, for tables.
            pub const fn summary_of(code: u16) -> Option<&'static str> {
                match code {
                    $( $code => Some($summary), )*
                    _ => koppeltaal_core::Error::summary_of(code),
                }
            }

            /// The name of the error with `code`, the core's or the host's; `None` for an
            /// unknown code.
            pub const fn name_of(code: u16) -> Option<&'static str> {
                match code {
                    $( $code => Some(stringify!($variant)), )*
                    _ => koppeltaal_core::Error::name_of(code),
                }
            }

            /// [`summary_of`](Self::summary_of) as a NUL-terminated C string, for the C ABI.
            pub const fn summary_c_of(code: u16) -> Option<&'static CStr> {
                match code {
                    $( $code => Some(const { c_string(concat!($summary, "\0")) }), )*
                    _ => koppeltaal_core::Error::summary_c_of(code),
                }
            }

            /// [`name_of`](Self::name_of) as a NUL-terminated C string, for the C ABI.
            pub const fn name_c_of(code: u16) -> Option<&'static CStr> {
                match code {
                    $( $code => Some(const { c_string(concat!(stringify!($variant), "\0")) }), )*
                    _ => koppeltaal_core::Error::name_c_of(code),
                }
            }

            /// The variant's name (the core's variant name for [`HostError::Core`]).
            pub fn name(&self) -> &'static str {
                match self {
                    HostError::Core(error) => error.name(),
                    $( HostError::$variant $( ($field) )? $( { $($rest)* } )? => stringify!($variant), )*
                }
            }
        }
    };
}

const fn c_string(text: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(text.as_bytes()) {
        Ok(c_string) => c_string,
        Err(_) => panic!("a summary contains a NUL byte"),
    }
}

host_codes! {
    InsecureUrl(_) = 900, "refusing plain http to a host that is not loopback";
    InvalidUrl(_) = 901, "not a usable URL";
    Unreachable(_) = 902, "could not connect";
    Timeout = 903, "no answer in time";
    TooManyRedirects = 904, "too many redirects";
    ResponseTooLarge { .. } = 905, "response larger than the configured cap";
    Status { .. } = 906, "unexpected HTTP status";
    InvalidResponse(_) = 907, "unexpected response";
    OAuth { .. } = 908, "the authorization server refused the request";
    Key(_) = 909, "a key could not be read, parsed, generated or written";
    Io(_) = 910, "input/output failure";
    Inactive = 911, "the token is not active";
    BadForm(_) = 912, "the launch form is malformed";
    ReplayStoreUnavailable(_) = 913, "replay store unavailable";
    Refused { .. } = 914, "the server refused the request";
    UnknownFhirServer(_) = 915, "the launch names a FHIR server that is not trusted";
    UnknownState = 916, "the launch's state is unknown, used or expired";
    TooManyPendingLaunches = 917, "too many launches are in progress";
    Throttled = 918, "too many expensive requests from this client";
    OutboxFull = 919, "the audit outbox is full";
    AuditEventTooLarge = 920, "the audit event is larger than the outbox keeps";
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
            HostError::UnknownFhirServer(iss) => {
                write!(
                    f,
                    "the launch names a FHIR server that is not trusted: {iss}"
                )
            }
            HostError::UnknownState => {
                f.write_str("the launch's state is unknown, used or expired")
            }
            HostError::TooManyPendingLaunches => f.write_str("too many launches are in progress"),
            HostError::Throttled => f.write_str("too many expensive requests from this client"),
            HostError::OutboxFull => f.write_str("the audit outbox is full"),
            HostError::AuditEventTooLarge => {
                f.write_str("the audit event is larger than the outbox keeps (64 KiB)")
            }
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
