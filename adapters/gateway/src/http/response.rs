//! A response and how it is written.

use std::borrow::Cow;
use std::io::{self, Write};

/// A response.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`; `None` writes none (RFC 9110 §8.3: a sender that does not know the
    /// type leaves the field out, rather than guess one).
    pub content_type: Option<Cow<'static, str>>,
    /// More header fields (`Location`, `Set-Cookie`, ...); a value holding CR or LF is never
    /// added (see [`with_header`](Response::with_header)).
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with `status`, `content_type` and `body`.
    pub fn new(
        status: u16,
        content_type: impl Into<Cow<'static, str>>,
        body: impl Into<Vec<u8>>,
    ) -> Response {
        Response {
            status,
            content_type: Some(content_type.into()),
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Without a `Content-Type` field: for a body whose type is not known.
    pub fn without_content_type(mut self) -> Response {
        self.content_type = None;
        self
    }

    /// With one more header field (dropped if its value could split the response).
    pub fn with_header(mut self, name: &'static str, value: String) -> Response {
        if !value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            self.headers.push((name, value));
        }
        self
    }

    /// A plain-text response.
    pub fn text(status: u16, body: &str) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body)
    }

    /// The value of header field `name` (case-insensitive), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// The reason phrase of `status`.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        302 => "Found",
        303 => "See Other",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Writes `response`, saying whether the connection stays open; without its body for the
/// answer to a `HEAD` request (its `Content-Length` still that of the body).
pub(crate) fn write_response(
    stream: &mut impl Write,
    response: &Response,
    keep_alive: bool,
    with_body: bool,
) -> io::Result<()> {
    let splits = |text: &str| text.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    // A type that could split the head is no type: left out, like an unknown one.
    if let Some(content_type) = response
        .content_type
        .as_deref()
        .filter(|value| !splits(value))
    {
        head.push_str("Content-Type: ");
        head.push_str(content_type);
        head.push_str("\r\n");
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nCache-Control: no-store\r\nConnection: {}\r\n",
        response.body.len(),
        if keep_alive { "keep-alive" } else { "close" },
    ));
    // Fields set directly (the struct's fields are public) are checked here too.
    for (name, value) in response
        .headers
        .iter()
        .filter(|(name, value)| !splits(name) && !splits(value))
    {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut whole = head.into_bytes();
    if with_body {
        whole.extend_from_slice(&response.body);
    }
    stream.write_all(&whole)?;
    stream.flush()
}
