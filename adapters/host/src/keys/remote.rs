//! Issuers' keys fetched from their JWKS URLs, cached, refreshed on rotation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use koppeltaal_core::{Error, KeySet};

use crate::clock::Clock;
use crate::error::HostError;
use crate::http::HttpClient;
#[cfg(doc)]
use crate::http::HttpOptions;

/// How many keys one issuer's JWKS may hold (more is [`Error::TooManyKeys`]).
pub const MAX_KEYS_PER_ISSUER: usize = 32;

/// One issuer's keys, as a [`KeySource`](super::KeySource) hands them to the verifier.
pub type IssuerKeys = KeySet<MAX_KEYS_PER_ISSUER>;

/// How long fetched keys are trusted, and how often they may be fetched.
#[derive(Clone, Debug)]
pub struct KeyCacheOptions {
    /// Freshness when the response has no `Cache-Control: max-age`.
    pub default_ttl: Duration,
    /// Least freshness, whatever the server says (also for `no-cache`/`no-store`).
    pub min_ttl: Duration,
    /// Most freshness, whatever the server says.
    pub max_ttl: Duration,
    /// Least time between two fetches for one issuer: an unknown `kid` (a rotation, or a
    /// flood of bogus ones) triggers at most one fetch per cooldown.
    pub refetch_cooldown: Duration,
    /// How long after the keys went stale they are still used when refetching fails.
    pub serve_stale_for: Duration,
}

impl Default for KeyCacheOptions {
    /// 5 min default, between 1 min and 24 h; 30 s cooldown; stale keys served for 1 h.
    fn default() -> Self {
        KeyCacheOptions {
            default_ttl: Duration::from_secs(300),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            refetch_cooldown: Duration::from_secs(30),
            serve_stale_for: Duration::from_secs(3600),
        }
    }
}

#[derive(Default)]
struct Cached {
    keys: Option<Arc<IssuerKeys>>,
    fresh_until: u64,
    stale_until: u64,
    last_attempt: Option<u64>,
}

struct Source {
    url: String,
    cache: RwLock<Cached>,
    /// Held while fetching, so concurrent callers wait for one fetch instead of each making
    /// their own.
    fetching: Mutex<()>,
}

/// The keys of trusted issuers, each fetched from its configured JWKS URL (never from a
/// token), cached, and refreshed when a token names a `kid` the cache does not have.
///
/// Cheap to clone (clones share the cache), `Send` and `Sync`.
///
/// ```
/// use koppeltaal_host::RemoteKeys;
/// let keys = RemoteKeys::builder()
///     .issuer("https://portal.example.org", "https://portal.example.org/.well-known/jwks.json")
///     .build()?;
/// assert_eq!(keys.issuers().collect::<Vec<_>>(), ["https://portal.example.org"]);
/// # Ok::<(), koppeltaal_host::HostError>(())
/// ```
#[derive(Clone)]
pub struct RemoteKeys {
    inner: Arc<Shared>,
}

struct Shared {
    fetches: std::sync::atomic::AtomicU64,
    http: HttpClient,
    options: KeyCacheOptions,
    clock: Arc<dyn Clock>,
    sources: HashMap<String, Source>,
}

/// Configures [`RemoteKeys`]: the issuers and their JWKS URLs, and optionally the HTTP client
/// (default: [`HttpOptions::default`]), the cache rules and the clock (default: the system's).
pub struct RemoteKeysBuilder {
    http: Option<HttpClient>,
    cache: KeyCacheOptions,
    clock: Arc<dyn Clock>,
    issuers: Vec<(String, String)>,
}

impl RemoteKeysBuilder {
    /// Trusts `issuer` (compared exactly) with the keys published at `jwks_url`, which must be
    /// `https` unless it is loopback or the client allows insecure http (checked by
    /// [`build`](Self::build)). Repeatable; a second URL for one issuer replaces the first.
    pub fn issuer(mut self, issuer: &str, jwks_url: &str) -> Self {
        self.issuers.push((issuer.to_owned(), jwks_url.to_owned()));
        self
    }

    /// The HTTP client to fetch with (share one between the clients of an application).
    pub fn http(mut self, client: impl Into<HttpClient>) -> Self {
        self.http = Some(client.into());
        self
    }

    /// How long fetched keys are trusted, and how often they may be fetched.
    pub fn cache(mut self, options: KeyCacheOptions) -> Self {
        self.cache = options;
        self
    }

    /// The clock (by default [`SystemClock`](crate::SystemClock)).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The key source; [`HostError::InsecureUrl`] or [`HostError::InvalidUrl`] for a JWKS URL
    /// the client would not fetch, [`Error::InvalidConfiguration`] for an empty issuer.
    pub fn build(self) -> Result<RemoteKeys, HostError> {
        let http = self.http.unwrap_or_default();
        let mut sources = HashMap::new();
        for (issuer, url) in self.issuers {
            http.check_url(&url)?;
            if issuer.is_empty() {
                return Err(Error::InvalidConfiguration.into());
            }
            sources.insert(
                issuer,
                Source {
                    url,
                    cache: RwLock::new(Cached::default()),
                    fetching: Mutex::new(()),
                },
            );
        }
        Ok(RemoteKeys {
            inner: Arc::new(Shared {
                fetches: std::sync::atomic::AtomicU64::new(0),
                http,
                options: self.cache,
                clock: self.clock,
                sources,
            }),
        })
    }
}

impl RemoteKeys {
    /// No issuers yet: add them with [`RemoteKeysBuilder::issuer`].
    pub fn builder() -> RemoteKeysBuilder {
        RemoteKeysBuilder {
            http: None,
            cache: KeyCacheOptions::default(),
            clock: Arc::new(crate::SystemClock),
            issuers: Vec::new(),
        }
    }

    /// The trusted issuers.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.inner.sources.keys().map(String::as_str)
    }

    /// The keys to verify a token from `issuer` naming `kid`.
    ///
    /// Served from the cache while it is fresh and knows `kid`. Otherwise fetched, at most
    /// once per cooldown and by one thread at a time. When a fetch fails, the last good set is
    /// served until `serve_stale_for` after it went stale. A set without `kid` may be returned
    /// (the verifier then reports [`Error::UnknownKeyId`]); an untrusted issuer is
    /// [`Error::WrongIssuer`].
    pub fn keys_for(&self, issuer: &str, kid: &str) -> Result<Arc<IssuerKeys>, HostError> {
        let source = self
            .inner
            .sources
            .get(issuer)
            .ok_or(HostError::Core(Error::WrongIssuer))?;
        let now = self.inner.clock.now();
        if let Some(keys) = Self::usable(
            &source.cache.read().unwrap_or_else(|e| e.into_inner()),
            now,
            kid,
        ) {
            return Ok(keys);
        }
        let _fetching = source.fetching.lock().unwrap_or_else(|e| e.into_inner());
        let (cached_keys, stale_until, may_fetch) = {
            let cache = source.cache.read().unwrap_or_else(|e| e.into_inner());
            if let Some(keys) = Self::usable(&cache, now, kid) {
                return Ok(keys);
            }
            let cooldown = self.inner.options.refetch_cooldown.as_secs();
            let may_fetch = cache
                .last_attempt
                .is_none_or(|last| now >= last.saturating_add(cooldown));
            (cache.keys.clone(), cache.stale_until, may_fetch)
        };
        let serve_stale = |error: HostError| match &cached_keys {
            Some(keys) if now < stale_until => Ok(Arc::clone(keys)),
            _ => Err(error),
        };
        if !may_fetch {
            return serve_stale(HostError::Unreachable(format!(
                "keys of {issuer} not fetched again yet (cooldown)"
            )));
        }
        source
            .cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .last_attempt = Some(now);
        match self.fetch(&source.url) {
            Ok((keys, ttl)) => {
                let keys = Arc::new(keys);
                let mut cache = source.cache.write().unwrap_or_else(|e| e.into_inner());
                cache.keys = Some(Arc::clone(&keys));
                cache.fresh_until = now.saturating_add(ttl);
                cache.stale_until = cache
                    .fresh_until
                    .saturating_add(self.inner.options.serve_stale_for.as_secs());
                Ok(keys)
            }
            Err(error) => serve_stale(error),
        }
    }

    /// The cached keys if they are fresh and know `kid`.
    fn usable(cache: &Cached, now: u64, kid: &str) -> Option<Arc<IssuerKeys>> {
        let keys = cache.keys.as_ref()?;
        (now < cache.fresh_until && keys.find(kid).is_some()).then(|| Arc::clone(keys))
    }

    /// Fetches and parses a JWKS, returning the keys and their freshness in seconds.
    /// How many JWKS fetches have been attempted (successful or not), for metrics.
    pub fn fetches(&self) -> u64 {
        self.inner
            .fetches
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn fetch(&self, url: &str) -> Result<(IssuerKeys, u64), HostError> {
        self.inner
            .fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let response = self.inner.http.get_json(url)?;
        if response.status != 200 {
            return Err(response.unexpected());
        }
        let keys = KeySet::from_jwks(&response.body)?;
        let ttl = self.ttl(response.cache_control.as_deref());
        Ok((keys, ttl))
    }

    /// Freshness from `Cache-Control`, clamped to the configured bounds.
    fn ttl(&self, cache_control: Option<&str>) -> u64 {
        let (min, max) = (
            self.inner.options.min_ttl.as_secs(),
            self.inner.options.max_ttl.as_secs(),
        );
        let Some(header) = cache_control else {
            return self.inner.options.default_ttl.as_secs().clamp(min, max);
        };
        let mut ttl = None;
        for directive in header.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-cache" || lower == "no-store" {
                return min;
            }
            if let Some(seconds) = lower.strip_prefix("max-age=") {
                ttl = seconds.trim_matches('"').parse::<u64>().ok();
            }
        }
        ttl.unwrap_or(self.inner.options.default_ttl.as_secs())
            .clamp(min, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;

    #[test]
    fn cache_control_is_clamped() {
        let keys = RemoteKeys::builder()
            .clock(FixedClock::new(0))
            .build()
            .unwrap();
        assert_eq!(keys.ttl(None), 300);
        assert_eq!(keys.ttl(Some("public, max-age=600")), 600);
        assert_eq!(keys.ttl(Some("max-age=5")), 60);
        assert_eq!(keys.ttl(Some("max-age=99999999")), 86_400);
        assert_eq!(keys.ttl(Some("no-store")), 60);
        assert_eq!(keys.ttl(Some("max-age=garbage")), 300);
        assert_eq!(keys.ttl(Some("Max-Age=120")), 120);
    }
}
