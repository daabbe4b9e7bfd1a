//! Reading an HTTP/1.1 request head from untrusted bytes: what the connection loop calls on
//! what it has read so far, a pure function so it can be fuzzed and tested without sockets.

use std::net::IpAddr;

/// The most header fields a request may carry.
pub const MAX_HEADERS: usize = 32;

/// Why a request is not handled: each maps to the status it is answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// Not an HTTP/1.x request head (400).
    Malformed,
    /// `Content-Length` not a plain run of digits, or two that differ (400; RFC 9112 6.3).
    BadContentLength,
    /// No `Host`, several, or one that is not an authority (400; RFC 9112 3.2).
    BadHost,
    /// A `Transfer-Encoding` (411: send a `Content-Length`).
    LengthRequired,
    /// The head is longer than the cap (431).
    HeadTooLarge,
    /// The body is longer than the cap (413).
    BodyTooLarge,
    /// The request took longer than its deadline (408).
    TooSlow,
}

impl HttpError {
    /// The status code this refusal is answered with.
    pub fn status(self) -> u16 {
        match self {
            HttpError::Malformed | HttpError::BadContentLength | HttpError::BadHost => 400,
            HttpError::LengthRequired => 411,
            HttpError::HeadTooLarge => 431,
            HttpError::BodyTooLarge => 413,
            HttpError::TooSlow => 408,
        }
    }

    /// A one-line explanation for the client.
    pub fn message(self) -> &'static str {
        match self {
            HttpError::Malformed => "malformed request\n",
            HttpError::BadContentLength => "malformed Content-Length\n",
            HttpError::BadHost => "missing or malformed Host\n",
            HttpError::LengthRequired => "send a Content-Length\n",
            HttpError::HeadTooLarge => "request head too large\n",
            HttpError::BodyTooLarge => "request body too large\n",
            HttpError::TooSlow => "request took too long\n",
        }
    }
}

/// A parsed request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string (after `?`), if any.
    pub query: Option<String>,
    /// The header fields in order, names lower-cased, values as sent (lossy UTF-8).
    pub headers: Vec<(String, String)>,
    /// The body's length.
    pub content_length: usize,
    /// Whether the client keeps the connection open after the answer.
    pub keep_alive: bool,
    /// The head's length in bytes, the blank line included: the body starts here.
    pub len: usize,
}

/// Parses the head at the start of `bytes`: `Ok(None)` while it is incomplete and shorter
/// than `max_head`; the head once complete; otherwise why the request is refused. The head may
/// be at most `max_head` bytes, blank line included; the body at most `max_body`.
///
/// ```
/// use koppeltaal_gateway::http::{HttpError, parse_head};
/// let head = parse_head(b"POST /launch HTTP/1.1\r\nHost: m.example\r\nContent-Length: 7\r\n\r\ntoken=x", 8192, 1024)
///     .unwrap().unwrap();
/// assert_eq!((head.method.as_str(), head.content_length, head.len), ("POST", 7, 61));
/// assert_eq!(parse_head(b"POST / HTTP/1.1\r\nHost: m\r\nContent-Length: +7\r\n\r\n", 8192, 1024),
///            Err(HttpError::BadContentLength));
/// ```
pub fn parse_head(
    bytes: &[u8],
    max_head: usize,
    max_body: usize,
) -> Result<Option<Head>, HttpError> {
    let Some(len) = head_end(&bytes[..bytes.len().min(max_head)]) else {
        return match bytes.len() >= max_head {
            true => Err(HttpError::HeadTooLarge),
            false => Ok(None),
        };
    };
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut fields);
    match parsed.parse(&bytes[..len]) {
        // httparse also ends a head at a bare LF LF; a head whose end is not the first CRLF
        // CRLF would be framed differently by other parsers: refused.
        Ok(httparse::Status::Complete(parsed_len)) if parsed_len == len => {}
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeadTooLarge),
        _ => return Err(HttpError::Malformed),
    }
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|field| {
            (
                field.name.to_ascii_lowercase(),
                // Only optional whitespace (SP, HTAB) is trimmed, never Unicode spaces.
                String::from_utf8_lossy(field.value.trim_ascii_ows()).into_owned(),
            )
        })
        .collect();
    let all = |name: &'static str| {
        headers
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    if all("transfer-encoding").next().is_some() {
        return Err(HttpError::LengthRequired);
    }
    let content_length = content_length(all("content-length"))?;
    if content_length > max_body {
        return Err(HttpError::BodyTooLarge);
    }
    let version = parsed.version.unwrap_or(0);
    let mut hosts = all("host");
    match (hosts.next(), hosts.next()) {
        (Some(host), None) if is_authority(host) => {}
        (None, None) if version == 0 => {}
        _ => return Err(HttpError::BadHost),
    }
    let connection = |token: &str| {
        all("connection").any(|value| {
            value
                .split(',')
                .any(|word| word.trim().eq_ignore_ascii_case(token))
        })
    };
    let keep_alive = match version {
        1 => !connection("close"),
        _ => connection("keep-alive"),
    };
    let target = parsed.path.unwrap_or("");
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
        None => (target.to_owned(), None),
    };
    Ok(Some(Head {
        method: parsed.method.unwrap_or("").to_owned(),
        path,
        query,
        headers,
        content_length,
        keep_alive,
        len,
    }))
}

/// The body length from every `Content-Length` field: each a plain run of digits (no sign,
/// no list), all the same; none is 0.
fn content_length<'a>(mut values: impl Iterator<Item = &'a str>) -> Result<usize, HttpError> {
    let Some(first) = values.next() else {
        return Ok(0);
    };
    let digits = |value: &str| {
        if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HttpError::BadContentLength);
        }
        value
            .parse::<u64>()
            .map_err(|_| HttpError::BadContentLength)
    };
    let length = digits(first)?;
    for other in values {
        if digits(other)? != length {
            return Err(HttpError::BadContentLength);
        }
    }
    usize::try_from(length).map_err(|_| HttpError::BodyTooLarge)
}

/// Whether `host` is a `Host` value: `host[:port]`, the host a DNS name or IPv4 address
/// (letters, digits, `.`, `-`, `_`) or a bracketed IPv6 address, the port digits.
pub fn is_authority(host: &str) -> bool {
    if host.is_empty() || host.len() > 255 {
        return false;
    }
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let Some((address, after)) = rest.split_once(']') else {
            return false;
        };
        if address.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => ("v6", Some(port)),
                None => return false,
            },
        }
    } else {
        match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    let port_ok = port.is_none_or(|port| {
        !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
    });
    name_ok && port_ok
}

/// Trimming of HTTP's optional whitespace (SP and HTAB) only.
trait TrimOws {
    fn trim_ascii_ows(&self) -> &[u8];
}

impl TrimOws for [u8] {
    fn trim_ascii_ows(&self) -> &[u8] {
        let ows = |b: &u8| *b == b' ' || *b == b'\t';
        let start = self.iter().position(|b| !ows(b)).unwrap_or(self.len());
        let end = self
            .iter()
            .rposition(|b| !ows(b))
            .map_or(start, |at| at + 1);
        &self[start..end.max(start)]
    }
}

/// Where a head ends in `buffer` (after its first CRLF CRLF), if it does.
pub(crate) fn head_end(buffer: &[u8]) -> Option<usize> {
    buffer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// A request as the gateway's routes see it.
#[derive(Clone, Debug)]
pub struct Request {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string (after `?`), if any.
    pub query: Option<String>,
    /// The header fields in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The TCP peer (a proxy, when one is in front).
    pub peer: IpAddr,
    /// The client: the TCP peer, or the address a trusted proxy forwarded for.
    pub client: IpAddr,
    /// `https` when a trusted proxy says the client used it, else `http`.
    pub proto: &'static str,
    /// Whether the peer is a trusted proxy (its forwarding headers and request id count).
    pub via_trusted_proxy: bool,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// The first header field `name` (lower-case), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The cookies the request carries, as (name, value), in order.
    pub fn cookies(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .filter(|(key, _)| key == "cookie")
            .flat_map(|(_, value)| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
    }

    /// The value of cookie `name`, if the request carries it.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies()
            .find_map(|(key, value)| (key == name).then_some(value))
    }

    /// The query's parameters.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &str) -> Result<Option<Head>, HttpError> {
        parse_head(head.as_bytes(), 8192, 1024)
    }

    #[test]
    fn content_length_is_digits_and_duplicates_must_agree() {
        let with = |lengths: &[&str]| {
            let mut head = String::from("POST /launch HTTP/1.1\r\nHost: m\r\n");
            for length in lengths {
                head.push_str(&format!("Content-Length: {length}\r\n"));
            }
            head.push_str("\r\n");
            parse(&head).map(|head| head.unwrap().content_length)
        };
        assert_eq!(with(&["5"]), Ok(5));
        assert_eq!(with(&[]), Ok(0));
        assert_eq!(with(&["5", "5"]), Ok(5));
        for bad in [
            &["+5"][..],
            &["-5"],
            &["5, 5"],
            &["0x5"],
            &[""],
            &["5", "6"],
            &["5 5"],
        ] {
            assert_eq!(with(bad), Err(HttpError::BadContentLength), "{bad:?}");
        }
        assert_eq!(
            with(&["99999999999999999999"]),
            Err(HttpError::BadContentLength)
        );
        assert_eq!(with(&["1025"]), Err(HttpError::BodyTooLarge));
    }

    #[test]
    fn the_head_cap_is_exact() {
        let head = "GET / HTTP/1.1\r\nHost: m\r\n\r\n";
        assert!(
            parse_head(head.as_bytes(), head.len(), 0)
                .unwrap()
                .is_some()
        );
        assert_eq!(
            parse_head(head.as_bytes(), head.len() - 1, 0),
            Err(HttpError::HeadTooLarge)
        );
        assert_eq!(parse_head(&head.as_bytes()[..10], head.len(), 0), Ok(None));
    }

    #[test]
    fn host_must_be_one_authority() {
        let host = |value: &str| parse(&format!("GET / HTTP/1.1\r\nHost: {value}\r\n\r\n"));
        for good in [
            "module.example.org",
            "127.0.0.1:8080",
            "[::1]:80",
            "[2001:db8::1]",
            "a_b.local",
        ] {
            assert!(host(good).is_ok(), "{good}");
        }
        for bad in [
            "x\", for=10.6.6.6;host=\"evil",
            "a b",
            "evil;for=1.2.3.4",
            "[::1",
            "[nope]:80",
            "m:80x",
            "m:",
            "",
        ] {
            assert_eq!(host(bad), Err(HttpError::BadHost), "{bad}");
        }
        assert_eq!(parse("GET / HTTP/1.1\r\n\r\n"), Err(HttpError::BadHost));
        assert_eq!(
            parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            Err(HttpError::BadHost)
        );
        assert!(parse("GET / HTTP/1.0\r\n\r\n").unwrap().is_some());
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection() {
        let alive = |head: &str| parse(head).unwrap().unwrap().keep_alive;
        assert!(alive("GET / HTTP/1.1\r\nHost: m\r\n\r\n"));
        assert!(!alive(
            "GET / HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n"
        ));
        assert!(!alive("GET / HTTP/1.0\r\n\r\n"));
        assert!(alive("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    }

    #[test]
    fn heads_framed_differently_by_other_parsers_are_refused() {
        // A bare LF LF ends the head for httparse, before the first CRLF CRLF.
        assert_eq!(
            parse("GET / HTTP/1.1\nHost: a\n\nContent-Length: 5\r\nX: y\r\n\r\nhello"),
            Err(HttpError::Malformed)
        );
        // Unicode spaces are not optional whitespace.
        assert_eq!(
            parse("POST / HTTP/1.1\r\nHost: m\r\nContent-Length: 5\u{a0}\r\n\r\n"),
            Err(HttpError::BadContentLength)
        );
        assert_eq!(
            parse("POST / HTTP/1.1\r\nHost: m\r\nContent-Length: \t5 \r\n\r\n")
                .map(|head| head.unwrap().content_length),
            Ok(5)
        );
    }

    #[test]
    fn transfer_encoding_is_refused() {
        assert_eq!(
            parse("POST / HTTP/1.1\r\nHost: m\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(HttpError::LengthRequired)
        );
    }
}
