//! Blocking HTTP through `ureq`, bounded in time and size, `https` unless loopback, with
//! Koppeltaal's trace headers ([`trace`](crate::trace)): the one client every outbound call of
//! this crate (and of the `koppeltaal` command and gateway) goes through.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ureq::http::Uri;

use crate::error::HostError;
use crate::trace::TraceContext;

/// Limits and rules for every HTTP call an [`HttpClient`] makes.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Longest a whole request may take, connection, redirects and body included.
    pub timeout: Duration,
    /// Largest response body accepted, in bytes.
    pub max_response_bytes: u64,
    /// Most redirects followed.
    pub max_redirects: u32,
    /// Allow plain `http` to hosts that are not loopback (for test networks only).
    pub allow_insecure_http: bool,
}

impl Default for HttpOptions {
    /// 5 s to connect, 10 s in all, 1 MiB bodies, 3 redirects, `https` unless loopback.
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            max_response_bytes: 1 << 20,
            max_redirects: 3,
            allow_insecure_http: false,
        }
    }
}

/// A response whose body has been read within the size cap.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) cache_control: Option<String>,
    pub(crate) content_type: Option<String>,
}

impl HttpResponse {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, owned.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The first value of header `name` (case-insensitive) that is visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every value of header `name` (case-insensitive), in order (`Set-Cookie` comes many
    /// times).
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The first 512 bytes of the body, for error messages.
    pub(crate) fn excerpt(&self) -> String {
        let end = self.body.len().min(512);
        String::from_utf8_lossy(&self.body[..end]).into_owned()
    }

    /// An error for a status the caller did not expect.
    pub(crate) fn unexpected(&self) -> HostError {
        HostError::Status {
            status: self.status,
            body: self.excerpt(),
        }
    }
}

/// A `ureq` agent configured by [`HttpOptions`]: the one HTTP client of this crate. Cheap to
/// clone (clones share the agent and its connection pool), `Send` and `Sync`.
///
/// Every URL must be absolute `https`, or `http` to a loopback host (`localhost`,
/// `127.0.0.0/8`, `::1`) unless [`HttpOptions::allow_insecure_http`] is set; redirects are
/// followed up to [`HttpOptions::max_redirects`] and must keep to `https` too.
///
/// ```
/// use koppeltaal_host::http::{HttpClient, HttpOptions};
/// let client = HttpClient::new(HttpOptions::default());
/// assert!(client.check_url("https://portal.example.org/jwks").is_ok());
/// assert!(client.check_url("http://127.0.0.1:8080/jwks").is_ok());
/// assert!(client.check_url("http://portal.example.org/jwks").is_err());
/// ```
#[derive(Clone, Debug)]
pub struct HttpClient {
    agent: ureq::Agent,
    options: Arc<HttpOptions>,
}

impl Default for HttpClient {
    /// A client with [`HttpOptions::default`].
    fn default() -> Self {
        HttpClient::new(HttpOptions::default())
    }
}

impl From<HttpOptions> for HttpClient {
    fn from(options: HttpOptions) -> Self {
        HttpClient::new(options)
    }
}

impl HttpClient {
    /// A client (with its own connection pool) keeping to `options`.
    pub fn new(options: HttpOptions) -> HttpClient {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(options.connect_timeout))
            .timeout_global(Some(options.timeout))
            .max_redirects(options.max_redirects)
            .http_status_as_error(false)
            .user_agent(concat!("koppeltaal-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        HttpClient {
            agent,
            options: Arc::new(options),
        }
    }

    /// The options it keeps to.
    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// Checks `url` is absolute `https`, or `http` to a loopback address (or anywhere when
    /// insecure http is allowed). Returns whether it is `https`.
    pub fn check_url(&self, url: &str) -> Result<bool, HostError> {
        let uri: Uri = url
            .parse()
            .map_err(|_| HostError::InvalidUrl(url.to_owned()))?;
        let host = uri
            .host()
            .ok_or_else(|| HostError::InvalidUrl(url.to_owned()))?;
        match uri.scheme_str() {
            Some("https") => Ok(true),
            Some("http") if self.options.allow_insecure_http || is_loopback(host) => Ok(false),
            Some("http") => Err(HostError::InsecureUrl(url.to_owned())),
            _ => Err(HostError::InvalidUrl(url.to_owned())),
        }
    }

    /// Checks `url`, found in a document fetched from `source`: as [`check_url`](Self::check_url),
    /// and `https` unless `source` itself is plain `http` (a loopback test server the operator
    /// configured) or insecure http is allowed. A discovery document served over `https` cannot
    /// send this client to plain `http`, not even on loopback (a request forgery towards local
    /// services).
    pub fn check_discovered_url(&self, url: &str, source: &str) -> Result<bool, HostError> {
        let https = self.check_url(url)?;
        let source_is_https = self.check_url(source).unwrap_or(true);
        if !https && source_is_https && !self.options.allow_insecure_http {
            return Err(HostError::InsecureUrl(url.to_owned()));
        }
        Ok(https)
    }

    /// GET `url` accepting JSON.
    pub fn get_json(&self, url: &str) -> Result<HttpResponse, HostError> {
        let https = self.check_url(url)?;
        let mut request = self
            .agent
            .get(url)
            .config()
            .https_only(https)
            .build()
            .header("Accept", "application/json");
        for (name, value) in TraceContext::outgoing_headers() {
            request = request.header(name, value);
        }
        self.finish(request.call())
    }

    /// POST `fields` as `application/x-www-form-urlencoded` to `url`, with a bearer token if
    /// given.
    pub fn post_form(
        &self,
        url: &str,
        fields: &[(&str, &str)],
        bearer: Option<&str>,
    ) -> Result<HttpResponse, HostError> {
        let https = self.check_url(url)?;
        let mut request = self
            .agent
            .post(url)
            .config()
            .https_only(https)
            .build()
            .header("Accept", "application/json");
        if let Some(token) = bearer {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        for (name, value) in TraceContext::outgoing_headers() {
            request = request.header(name, value);
        }
        self.finish(request.send_form(fields.iter().copied()))
    }

    /// Sends `method` to `url` with `headers` and `body` (which may be empty). The trace
    /// headers are added unless `headers` has them already.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<HttpResponse, HostError> {
        use ureq::RequestExt;
        let https = self.check_url(url)?;
        let mut builder = ureq::http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        for (name, value) in TraceContext::outgoing_headers() {
            if !headers
                .iter()
                .any(|(given, _)| given.eq_ignore_ascii_case(name))
            {
                builder = builder.header(name, value);
            }
        }
        let request = builder
            .body(body.to_vec())
            .map_err(|error| HostError::InvalidUrl(format!("{method} {url}: {error}")))?;
        self.finish(
            request
                .with_agent(&self.agent)
                .configure()
                .https_only(https)
                .build()
                .run(),
        )
    }

    /// Reads the response of `sent` within the size cap.
    fn finish(
        &self,
        sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<HttpResponse, HostError> {
        let mut response = sent.map_err(|error| self.map_error(error))?;
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(header, _)| header == name)
                .map(|(_, value)| value.clone())
        };
        let (cache_control, content_type) = (header("cache-control"), header("content-type"));
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(self.options.max_response_bytes)
            .read_to_vec()
            .map_err(|error| self.map_error(error))?;
        Ok(HttpResponse {
            status,
            body,
            headers,
            cache_control,
            content_type,
        })
    }

    fn map_error(&self, error: ureq::Error) -> HostError {
        match error {
            ureq::Error::Timeout(_) => HostError::Timeout,
            ureq::Error::TooManyRedirects => HostError::TooManyRedirects,
            ureq::Error::BodyExceedsLimit(_) => HostError::ResponseTooLarge {
                limit: self.options.max_response_bytes,
            },
            ureq::Error::BadUri(uri) => HostError::InvalidUrl(uri),
            ureq::Error::RequireHttpsOnly(uri) => HostError::InsecureUrl(uri),
            ureq::Error::Io(error) if error.kind() == std::io::ErrorKind::TimedOut => {
                HostError::Timeout
            }
            other => HostError::Unreachable(other.to_string()),
        }
    }
}

/// `localhost`, `127.0.0.0/8` or `::1` (brackets allowed).
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_required_except_for_loopback() {
        let http = HttpClient::new(HttpOptions::default());
        assert_eq!(
            http.check_url("https://auth.example.org/jwks").ok(),
            Some(true)
        );
        assert_eq!(
            http.check_url("http://127.0.0.1:8080/jwks").ok(),
            Some(false)
        );
        assert_eq!(http.check_url("http://[::1]:8080/jwks").ok(), Some(false));
        assert_eq!(http.check_url("http://localhost/jwks").ok(), Some(false));
        assert!(matches!(
            http.check_url("http://auth.example.org/jwks"),
            Err(HostError::InsecureUrl(_))
        ));
        assert!(matches!(
            http.check_url("http://127.0.0.1.evil.example/"),
            Err(HostError::InsecureUrl(_))
        ));
        assert!(matches!(
            http.check_url("ftp://auth.example.org/"),
            Err(HostError::InvalidUrl(_))
        ));
        assert!(matches!(
            http.check_url("/jwks"),
            Err(HostError::InvalidUrl(_))
        ));
        let lax = HttpClient::new(HttpOptions {
            allow_insecure_http: true,
            ..HttpOptions::default()
        });
        assert_eq!(
            lax.check_url("http://auth.example.org/jwks").ok(),
            Some(false)
        );
        assert!(matches!(
            http.check_discovered_url("http://127.0.0.1/token", "https://fhir.example.org/fhir"),
            Err(HostError::InsecureUrl(_))
        ));
        assert_eq!(
            http.check_discovered_url("http://127.0.0.1/token", "http://127.0.0.1:9/fhir")
                .ok(),
            Some(false)
        );
        assert_eq!(
            lax.check_discovered_url("http://127.0.0.1/token", "https://fhir.example.org/fhir")
                .ok(),
            Some(false)
        );
    }
}
