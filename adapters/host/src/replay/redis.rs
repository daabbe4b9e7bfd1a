//! A replay store shared by every instance of a module, on Redis.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use koppeltaal_core::{Error, ReplayKey};

use crate::error::HostError;
use crate::replay::ReplayStore;

/// What to do when Redis cannot be reached or does not answer in time.
#[derive(Clone, Default)]
pub enum RedisFailure {
    /// Refuse the launch ([`HostError::ReplayStoreUnavailable`], code 913). The default: a
    /// launch is never accepted without its replay check.
    #[default]
    FailClosed,
    /// Check against this store instead (for example a [`MemoryReplayStore`](super::MemoryReplayStore)
    /// of this instance): launches keep working, but a token replayed to *another* instance
    /// during the outage is not caught. An explicit, logged choice of the operator.
    FallBackTo(Arc<dyn ReplayStore>),
}

/// How to reach Redis.
#[derive(Clone)]
pub struct RedisOptions {
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Longest wait for each command's answer.
    pub io_timeout: Duration,
    /// Prepended to every key, so several modules can share one Redis.
    pub prefix: String,
    /// The failure policy.
    pub on_failure: RedisFailure,
    /// How much longer than strictly needed an entry is kept: the largest clock difference
    /// between the instances sharing the store that stays harmless (an entry recorded by an
    /// instance whose clock runs ahead must outlive the token on the others' clocks).
    pub clock_skew_margin: Duration,
}

impl Default for RedisOptions {
    /// 1 s to connect, 1 s per command, prefix `koppeltaal:replay:`, fail closed, 60 s of
    /// clock skew between instances tolerated.
    fn default() -> Self {
        RedisOptions {
            connect_timeout: Duration::from_secs(1),
            io_timeout: Duration::from_secs(1),
            prefix: "koppeltaal:replay:".into(),
            on_failure: RedisFailure::FailClosed,
            clock_skew_margin: Duration::from_secs(60),
        }
    }
}

/// Replay protection shared through Redis: check and record is one atomic command,
/// `SET <prefix><digest> <attempt> NX GET PX <ttl>` (Redis 7.0 or later), so of any number of
/// instances presented the same launch at the same moment exactly one succeeds. The key is the
/// hex of the core's [`ReplayKey`] (SHA-256 of issuer and `jti`).
///
/// Time: the expiry is relative (`PX`: the token's remaining life on this instance's clock
/// plus [`RedisOptions::clock_skew_margin`]), so Redis's own clock and the instances' clocks
/// need not agree; and like the core's guards the store keeps the highest `now` it has been
/// given, refusing as `Expired` a token whose life ended before it.
///
/// Faults: connections are pooled, each with the configured timeouts. A call whose first
/// attempt fails (Redis restarted, or an answer that did not come in time) is tried once more
/// on a fresh connection. The retry is idempotent: every call stores a value unique to it,
/// and `GET` returns what the key held, so a first attempt that was executed but whose answer
/// was lost is recognised as this call's own ("accepted"), never as a replay. If Redis is
/// still unreachable the [`RedisFailure`] policy decides.
pub struct RedisReplayStore {
    client: redis::Client,
    options: RedisOptions,
    idle: Mutex<Vec<redis::Connection>>,
    high_water: AtomicU64,
}

impl RedisReplayStore {
    /// A store on the Redis at `url` (`redis://host:port/db`). Does not connect yet: an
    /// unreachable Redis is met at the first launch, under the failure policy.
    pub fn new(url: &str, options: RedisOptions) -> Result<RedisReplayStore, HostError> {
        let client = redis::Client::open(url)
            .map_err(|error| HostError::InvalidUrl(format!("{url}: {error}")))?;
        Ok(RedisReplayStore {
            client,
            options,
            idle: Mutex::new(Vec::new()),
            high_water: AtomicU64::new(0),
        })
    }

    /// The Redis key for `key`.
    pub fn redis_key(&self, key: &ReplayKey) -> String {
        let mut name = self.options.prefix.clone();
        for byte in key.as_bytes() {
            name.push_str(&format!("{byte:02x}"));
        }
        name
    }

    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let connection = self
            .client
            .get_connection_with_timeout(self.options.connect_timeout)?;
        connection.set_read_timeout(Some(self.options.io_timeout))?;
        connection.set_write_timeout(Some(self.options.io_timeout))?;
        Ok(connection)
    }

    /// `SET key value NX GET PX ttl`: `Ok(true)` when recorded by this call (now, or by an
    /// earlier attempt of it whose answer was lost), `Ok(false)` when recorded by another.
    fn set_if_absent(&self, name: &str, value: &str, ttl_ms: u64) -> redis::RedisResult<bool> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let attempt = |connection: &mut redis::Connection| {
            redis::cmd("SET")
                .arg(name)
                .arg(value)
                .arg("NX")
                .arg("GET")
                .arg("PX")
                .arg(ttl_ms)
                .query::<Option<String>>(connection)
                .map(|previous| previous.is_none_or(|previous| previous == value))
        };
        let (connection, outcome) = match pooled {
            Some(mut connection) => {
                let outcome = attempt(&mut connection);
                match outcome {
                    // A pooled connection that broke (Redis restarted) or an answer that did
                    // not come in time: one fresh attempt (idempotent, see the type's docs).
                    Err(error) if error.is_io_error() || error.is_connection_dropped() => {
                        let mut fresh = self.connect()?;
                        let outcome = attempt(&mut fresh);
                        (fresh, outcome)
                    }
                    outcome => (connection, outcome),
                }
            }
            None => {
                let mut fresh = self.connect()?;
                match attempt(&mut fresh) {
                    Err(error) if error.is_io_error() || error.is_connection_dropped() => {
                        let mut second = self.connect()?;
                        let outcome = attempt(&mut second);
                        (second, outcome)
                    }
                    outcome => (fresh, outcome),
                }
            }
        };
        // A connection that failed is dropped, not pooled.
        if outcome.is_ok() && redis::ConnectionLike::is_open(&connection) {
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(connection);
        }
        outcome
    }
}

impl ReplayStore for RedisReplayStore {
    fn check_and_record(&self, key: ReplayKey, forget_at: u64, now: u64) -> Result<(), HostError> {
        let now = self.high_water.fetch_max(now, Ordering::SeqCst).max(now);
        if forget_at <= now {
            // This store may already have forgotten it (or never will need to remember it).
            return Err(HostError::Core(Error::ReplayWindowClosed {
                forget_at,
                high_water: now,
            }));
        }
        let ttl_ms = (forget_at - now).saturating_mul(1000).saturating_add(
            u64::try_from(self.options.clock_skew_margin.as_millis()).unwrap_or(u64::MAX),
        );
        let attempt = crate::random::new_jti();
        match self.set_if_absent(&self.redis_key(&key), &attempt, ttl_ms) {
            Ok(true) => Ok(()),
            Ok(false) => Err(HostError::Core(Error::Replayed)),
            Err(error) => match &self.options.on_failure {
                RedisFailure::FailClosed => {
                    Err(HostError::ReplayStoreUnavailable(format!("redis: {error}")))
                }
                RedisFailure::FallBackTo(fallback) => {
                    fallback.check_and_record(key, forget_at, now)
                }
            },
        }
    }
}
