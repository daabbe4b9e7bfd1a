//! A replay store shared by every instance of a module, on Redis.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use koppeltaal_core::{Error, ReplayKey};

use crate::error::HostError;
use crate::replay_store::ReplayStore;

/// What to do when Redis cannot be reached or does not answer in time.
#[derive(Clone, Default)]
pub enum RedisFailure {
    /// Refuse the launch ([`HostError::ReplayStoreUnavailable`], code 913). The default: a
    /// launch is never accepted without its replay check.
    #[default]
    FailClosed,
    /// Check against this store instead (for example a [`MemoryReplayStore`](crate::MemoryReplayStore)
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
}

impl Default for RedisOptions {
    /// 1 s to connect, 1 s per command, prefix `koppeltaal:replay:`, fail closed.
    fn default() -> Self {
        RedisOptions {
            connect_timeout: Duration::from_secs(1),
            io_timeout: Duration::from_secs(1),
            prefix: "koppeltaal:replay:".into(),
            on_failure: RedisFailure::FailClosed,
        }
    }
}

/// Replay protection shared through Redis: check and record is one atomic command,
/// `SET <prefix><digest> 1 NX EXAT <forget-at>`, so of any number of instances presented the
/// same launch at the same moment exactly one succeeds, and the entry expires when the
/// token does. The key is the hex of the core's [`ReplayKey`] (SHA-256 of issuer and `jti`).
///
/// Connections are pooled; each has the configured timeouts. A call whose connection has
/// broken (Redis restarted) reconnects once; if Redis is still unreachable the
/// [`RedisFailure`] policy decides.
pub struct RedisReplayStore {
    client: redis::Client,
    options: RedisOptions,
    idle: Mutex<Vec<redis::Connection>>,
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

    /// `SET key 1 NX EXAT forget_at`: `Ok(true)` when recorded, `Ok(false)` when present.
    fn set_if_absent(&self, name: &str, forget_at: u64) -> redis::RedisResult<bool> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let attempt = |connection: &mut redis::Connection| {
            redis::cmd("SET")
                .arg(name)
                .arg(1)
                .arg("NX")
                .arg("EXAT")
                .arg(forget_at)
                .query::<Option<String>>(connection)
                .map(|answer| answer.is_some())
        };
        let (connection, outcome) = match pooled {
            Some(mut connection) => {
                let outcome = attempt(&mut connection);
                match outcome {
                    // A pooled connection that broke (Redis restarted): one fresh attempt.
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
                let outcome = attempt(&mut fresh);
                (fresh, outcome)
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
        if forget_at <= now {
            // Already past its expiry: refused as expired before it gets here, and nothing
            // to remember (Redis refuses an EXAT in the past).
            return Ok(());
        }
        match self.set_if_absent(&self.redis_key(&key), forget_at) {
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
