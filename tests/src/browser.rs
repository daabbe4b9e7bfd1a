//! A scripted browser for SHOF launches: follows redirects by hand, keeps cookies per host,
//! and signs in at oidc-provider's development login form. Plain HTTP on loopback.

use std::collections::HashMap;
use std::time::Duration;

/// A response as the browser saw it.
#[derive(Clone, Debug)]
pub struct Page {
    /// The URL that answered.
    pub url: String,
    /// The status code.
    pub status: u16,
    /// The `Location` header, resolved against `url`.
    pub location: Option<String>,
    /// The body.
    pub body: String,
}

/// A cookie jar and an HTTP client that does not follow redirects.
pub struct Browser {
    agent: ureq::Agent,
    /// Cookies by host (`127.0.0.1:<port>`), name to value.
    jar: HashMap<String, HashMap<String, String>>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

fn origin(url: &str) -> (&str, &str) {
    let (scheme, rest) = url.split_once("://").expect("an absolute URL");
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    (scheme, authority)
}

/// `location` resolved against `base` (absolute, or a path on the same origin).
fn resolve(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let (scheme, authority) = origin(base);
    format!("{scheme}://{authority}{location}")
}

impl Browser {
    /// An empty jar.
    pub fn new() -> Browser {
        let agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        Browser {
            agent,
            jar: HashMap::new(),
        }
    }

    /// The cookie `name` this browser holds for `url`'s host.
    pub fn cookie(&self, url: &str, name: &str) -> Option<&str> {
        self.jar.get(origin(url).1)?.get(name).map(String::as_str)
    }

    /// Gives the origin of `to` the cookies of the origin of `from`: two servers on two
    /// loopback ports standing for one site behind a load balancer, whose cookies a real browser
    /// keeps in one jar.
    pub fn share_cookies(&mut self, from: &str, to: &str) {
        let cookies = self.jar.get(origin(from).1).cloned().unwrap_or_default();
        self.jar
            .entry(origin(to).1.to_owned())
            .or_default()
            .extend(cookies);
    }

    /// Sets cookie `name` for the origin of `url` (a cookie kept or stolen from earlier).
    pub fn set_cookie(&mut self, url: &str, name: &str, value: &str) {
        self.jar
            .entry(origin(url).1.to_owned())
            .or_default()
            .insert(name.to_owned(), value.to_owned());
    }

    fn cookie_header(&self, url: &str) -> Option<String> {
        let cookies = self.jar.get(origin(url).1)?;
        (!cookies.is_empty()).then(|| {
            cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn store(&mut self, url: &str, set_cookie: &str) {
        let Some((name, rest)) = set_cookie.split_once('=') else {
            return;
        };
        let value = rest.split(';').next().unwrap_or("").trim();
        let expired = set_cookie
            .to_ascii_lowercase()
            .contains("expires=thu, 01 jan 1970")
            || set_cookie.to_ascii_lowercase().contains("max-age=0");
        let host = self.jar.entry(origin(url).1.to_owned()).or_default();
        if value.is_empty() || expired {
            host.remove(name.trim());
        } else {
            host.insert(name.trim().to_owned(), value.to_owned());
        }
    }

    fn finish(&mut self, url: &str, mut response: ureq::http::Response<ureq::Body>) -> Page {
        for set_cookie in response.headers().get_all("set-cookie") {
            if let Ok(text) = set_cookie.to_str() {
                self.store(url, text);
            }
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .map(|location| resolve(url, location));
        Page {
            url: url.to_owned(),
            status: response.status().as_u16(),
            location,
            body: response.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    /// `GET url` with this browser's cookies.
    pub fn get(&mut self, url: &str) -> Page {
        let mut request = self.agent.get(url);
        if let Some(cookies) = self.cookie_header(url) {
            request = request.header("Cookie", cookies);
        }
        let response = request.call().expect("the server answers");
        self.finish(url, response)
    }

    /// `POST url` with a form.
    pub fn post_form(&mut self, url: &str, fields: &[(&str, &str)]) -> Page {
        let mut request = self.agent.post(url);
        if let Some(cookies) = self.cookie_header(url) {
            request = request.header("Cookie", cookies);
        }
        let response = request
            .send_form(fields.iter().copied())
            .expect("the server answers");
        self.finish(url, response)
    }

    /// Follows redirects from `page` until one leads to `stop_at` (returned unfollowed, its
    /// `location` the URL), signing in as `login` at oidc-provider's development login form on
    /// the way.
    pub fn until(&mut self, mut page: Page, stop_at: &str, login: &str) -> Page {
        for _ in 0..10 {
            if page
                .location
                .as_deref()
                .is_some_and(|location| location.starts_with(stop_at))
                || (page.status < 300 && !page.body.contains("name=\"login\""))
            {
                return page;
            }
            page = if (300..400).contains(&page.status) {
                let next = page.location.clone().expect("a redirect has a Location");
                self.get(&next)
            } else {
                let action = form_action(&page.body).unwrap_or_else(|| page.url.clone());
                self.post_form(
                    &action,
                    &[("prompt", "login"), ("login", login), ("password", "x")],
                )
            };
        }
        panic!("more than ten steps without reaching {stop_at}: {page:?}");
    }
}

/// The `action` of the first form of an HTML page.
fn form_action(html: &str) -> Option<String> {
    let form = &html[html.find("<form")?..];
    let action = &form[form.find("action=\"")? + 8..];
    Some(action[..action.find('"')?].replace("&amp;", "&"))
}

/// The query parameter `name` of `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
