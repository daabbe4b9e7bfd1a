//! A replay store shared by every instance of a module, on Redis.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use koppeltaal_core::{Error, ReplayKey};

use crate::error::HostError;
use crate::replay::ReplayStore;

mod address;
mod cause;
mod nodes;

use address::RedisAddress;
use nodes::{Link, Nodes};

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

/// An ACL user and password (`AUTH user password`; without a user, Redis's `default` user).
#[derive(Clone, PartialEq, Eq)]
pub struct RedisCredentials {
    /// The ACL user; `None` for `default`.
    pub user: Option<String>,
    /// The password.
    pub password: String,
}

impl RedisCredentials {
    /// The password from the first line of `path` (a trailing newline is not part of it), for
    /// a user given here or in the URL: so that no secret sits in a process list or a
    /// configuration file.
    pub fn from_password_file(
        user: Option<String>,
        path: impl AsRef<Path>,
    ) -> Result<RedisCredentials, HostError> {
        let text = std::fs::read_to_string(path.as_ref()).map_err(HostError::Io)?;
        let password = text.lines().next().unwrap_or("").to_owned();
        if password.is_empty() {
            return Err(HostError::Key(format!(
                "{}: the password file is empty",
                path.as_ref().display()
            )));
        }
        Ok(RedisCredentials { user, password })
    }
}

/// Never shows the password.
impl fmt::Debug for RedisCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCredentials")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

/// TLS material for `rediss` URLs (PEM). Without a CA, the system's roots are trusted; with
/// one, only that CA (a managed service's or your own). The server's name is always checked.
#[derive(Clone, Default)]
pub struct RedisTls {
    /// CA certificates to trust instead of the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// A client certificate chain, for servers that require one (`tls-auth-clients yes`).
    pub client_cert_pem: Option<Vec<u8>>,
    /// The client certificate's private key.
    pub client_key_pem: Option<Vec<u8>>,
}

impl RedisTls {
    /// Reads the files that are given.
    pub fn from_files(
        ca: Option<&Path>,
        client_cert: Option<&Path>,
        client_key: Option<&Path>,
    ) -> Result<RedisTls, HostError> {
        let read = |path: Option<&Path>| path.map(std::fs::read).transpose().map_err(HostError::Io);
        Ok(RedisTls {
            ca_pem: read(ca)?,
            client_cert_pem: read(client_cert)?,
            client_key_pem: read(client_key)?,
        })
    }

    fn certificates(&self) -> Option<redis::TlsCertificates> {
        let client_tls = match (&self.client_cert_pem, &self.client_key_pem) {
            (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
                client_cert: cert.clone(),
                client_key: key.clone(),
            }),
            _ => None,
        };
        match (&client_tls, &self.ca_pem) {
            (None, None) => None,
            _ => Some(redis::TlsCertificates {
                client_tls,
                root_cert: self.ca_pem.clone(),
            }),
        }
    }
}

/// Never shows the key.
impl fmt::Debug for RedisTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTls")
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .field(
                "client_cert_pem",
                &self.client_cert_pem.as_ref().map(Vec::len),
            )
            .field(
                "client_key_pem",
                &self.client_key_pem.as_ref().map(|_| "***"),
            )
            .finish()
    }
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
    /// Credentials for the data nodes, instead of the URL's (for example from a file).
    pub credentials: Option<RedisCredentials>,
    /// Credentials for the sentinels of a `redis+sentinel` URL, when they require any.
    pub sentinel_credentials: Option<RedisCredentials>,
    /// TLS trust and client identity for `rediss` URLs.
    pub tls: RedisTls,
    /// Accept a launch only once this many replicas acknowledged its record (`WAIT`): with 1
    /// or more, a failover (one failure at a time) cannot lose a recorded launch. 0: do not
    /// wait (replication is asynchronous: a launch recorded a moment before the primary is
    /// lost can be accepted again after the failover).
    pub min_replicas: u32,
    /// How long to wait for those acknowledgements before refusing the launch (913).
    pub replica_timeout: Duration,
}

impl Default for RedisOptions {
    /// 1 s to connect, 1 s per command, prefix `koppeltaal:replay:`, fail closed, 60 s of
    /// clock skew between instances tolerated, credentials from the URL, system TLS roots,
    /// no replica acknowledgement required (500 ms allowed when one is).
    fn default() -> Self {
        RedisOptions {
            connect_timeout: Duration::from_secs(1),
            io_timeout: Duration::from_secs(1),
            prefix: "koppeltaal:replay:".into(),
            on_failure: RedisFailure::FailClosed,
            clock_skew_margin: Duration::from_secs(60),
            credentials: None,
            sentinel_credentials: None,
            tls: RedisTls::default(),
            min_replicas: 0,
            replica_timeout: Duration::from_millis(500),
        }
    }
}

/// Replay protection shared through Redis: check and record is one atomic command,
/// `SET <prefix><digest> <attempt> NX GET PX <ttl>` (Redis 7.0 or later), so of any number of
/// instances presented the same launch at the same moment exactly one succeeds. The key is the
/// hex of the core's [`ReplayKey`] (SHA-256 of issuer and `jti`).
///
/// Where it connects (the URL forms):
/// - `redis://[user:password@]host:port[/db]`, and `rediss://` for TLS (server name and chain
///   always checked; [`RedisOptions::tls`] for a private CA or a client certificate);
/// - `redis+sentinel://[user:password@]s1:26379,s2:26379/MASTER[/db]` (and `rediss+sentinel`):
///   each fresh connection asks the sentinels in turn for the primary and trusts it only if
///   `ROLE` says `master`; after an error every pooled connection is dropped, so a failover
///   is followed at the next launch, and a demoted primary's `READONLY` is never taken for
///   an answer;
/// - `redis+cluster://[user:password@]n1:7000,n2:7001,...` (and `rediss+cluster`): keys spread
///   over the slots, `MOVED`/`ASK` followed; a lost node is an outage of its slots only.
///
/// Time: the expiry is relative (`PX`: the token's remaining life on this instance's clock
/// plus [`RedisOptions::clock_skew_margin`]), so Redis's own clock and the instances' clocks
/// need not agree; and like the core's guards the store keeps the highest `now` it has been
/// given, refusing as `Expired` a token whose life ended before it.
///
/// Replication: with [`RedisOptions::min_replicas`] `N > 0` a launch is accepted only once `N`
/// replicas acknowledged its record (`WAIT N`); fewer in time refuses it (913), and the record
/// stays: a retry of that launch is then refused as `Replayed` (the operator's side of the
/// trade: never accept twice, sometimes refuse once).
///
/// Faults: connections are pooled, each with the configured timeouts. A call whose first
/// attempt fails (Redis restarted, a failover, an answer that did not come in time) is tried
/// once more on a fresh connection. The retry is idempotent: every call stores a value unique
/// to it, and `GET` returns what the key held, so a first attempt that was executed but whose
/// answer was lost is recognised as this call's own ("accepted"), never as a replay. If Redis
/// is still unusable the [`RedisFailure`] policy decides; the error names the cause (TLS trust,
/// credentials, a replica, a timeout).
pub struct RedisReplayStore {
    address: RedisAddress,
    nodes: Nodes,
    options: RedisOptions,
    idle: Mutex<Vec<Link>>,
    high_water: AtomicU64,
}

/// How one attempt ended.
enum Attempt {
    Accepted,
    Replayed,
    /// Recorded, but fewer replicas than required acknowledged it in time.
    Unreplicated(u64),
}

impl RedisReplayStore {
    /// A store on the Redis that `url` names (see the type's docs for the forms). Does not
    /// connect yet: an unreachable Redis is met at the first launch, under the failure
    /// policy; call [`check`](Self::check) to meet it now.
    ///
    /// Errors: `InvalidUrl` for a URL it cannot use (the message never repeats a password),
    /// `Key` for TLS material that does not parse.
    pub fn new(url: &str, options: RedisOptions) -> Result<RedisReplayStore, HostError> {
        let address = RedisAddress::parse(url).map_err(HostError::InvalidUrl)?;
        let nodes = Nodes::open(&address, &options).map_err(|error| match error.kind() {
            redis::ErrorKind::Io => HostError::Key(format!("redis TLS: {error}")),
            _ => HostError::InvalidUrl(format!("{address}: {error}")),
        })?;
        Ok(RedisReplayStore {
            address,
            nodes,
            options,
            idle: Mutex::new(Vec::new()),
            high_water: AtomicU64::new(0),
        })
    }

    /// Connects now and asks what it reached, for a start-up check: a wrong CA, a wrong
    /// password, a plain-text server or a replica fail here, with the cause named, instead of
    /// at the first launch. Returns a line for the log, such as
    /// `rediss://gateway@cache:6380/0: a primary with 1 connected replica`.
    ///
    /// A primary with fewer connected replicas than [`RedisOptions::min_replicas`] is not an
    /// error (a replica may be resyncing), but the line says that launches will be refused
    /// until enough are connected.
    pub fn check(&self) -> Result<String, HostError> {
        let mut link = self.nodes.connect().map_err(|e| self.unavailable(&e))?;
        let (reached, replicas) = link.describe().map_err(|e| self.unavailable(&e))?;
        self.pool(link);
        let required = self.options.min_replicas;
        match replicas {
            Some(replicas) if replicas < required as usize => Ok(format!(
                "{}: {reached}, fewer than the {required} required: launches are refused until enough are connected",
                self.address
            )),
            _ => Ok(format!("{}: {reached}", self.address)),
        }
    }

    /// The Redis key for `key`.
    pub fn redis_key(&self, key: &ReplayKey) -> String {
        let mut name = self.options.prefix.clone();
        for byte in key.as_bytes() {
            name.push_str(&format!("{byte:02x}"));
        }
        name
    }

    fn unavailable(&self, error: &redis::RedisError) -> HostError {
        HostError::ReplayStoreUnavailable(format!(
            "redis {}: {}",
            self.address,
            cause::describe(error, self.address.tls)
        ))
    }

    fn pool(&self, link: Link) {
        if link.is_open() {
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(link);
        }
    }

    /// After a failure: no pooled connection is trusted any more (it may lead to a primary
    /// that has since been demoted, or to a server that restarted).
    fn forget_pool(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn wait(&self) -> Option<(u32, u64)> {
        match self.options.min_replicas {
            0 => None,
            replicas => Some((
                replicas,
                u64::try_from(self.options.replica_timeout.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1),
            )),
        }
    }

    /// One attempt on `link`. `retry` marks the second attempt of a call, whose own value
    /// may have been written by the first.
    fn attempt(
        &self,
        link: &mut Link,
        name: &str,
        value: &str,
        ttl_ms: u64,
        retry: bool,
    ) -> redis::RedisResult<Attempt> {
        let wait = self.wait();
        let recorded = link.record(name, value, ttl_ms, wait)?;
        let acknowledged = match (recorded.previous.as_deref(), wait) {
            (Some(previous), _) if previous != value => return Ok(Attempt::Replayed),
            (_, None) => return Ok(Attempt::Accepted),
            (None, Some(_)) => recorded.acknowledged.unwrap_or(0),
            // Our own value, written by the first attempt on another connection: that
            // connection's write is not this one's to WAIT for, so write it again here.
            (Some(_), Some((replicas, timeout_ms))) => {
                debug_assert!(
                    retry,
                    "a value unique to this call was found on its first attempt"
                );
                link.confirm(name, ttl_ms, replicas, timeout_ms)?
            }
        };
        match wait {
            Some((replicas, _)) if acknowledged < u64::from(replicas) => {
                Ok(Attempt::Unreplicated(acknowledged))
            }
            _ => Ok(Attempt::Accepted),
        }
    }

    /// Check and record on a pooled connection, or a fresh one; a failure on the first
    /// connection is retried once on a fresh one (a restarted server, a failover).
    fn set_if_absent(&self, name: &str, value: &str, ttl_ms: u64) -> redis::RedisResult<Attempt> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut link = match pooled {
            Some(link) => link,
            None => self.nodes.connect()?,
        };
        let outcome = match self.attempt(&mut link, name, value, ttl_ms, false) {
            Err(error) if retryable(&error) => {
                self.forget_pool();
                link = self.nodes.connect()?;
                self.attempt(&mut link, name, value, ttl_ms, true)
            }
            outcome => outcome,
        };
        match &outcome {
            Ok(Attempt::Accepted | Attempt::Replayed) => self.pool(link),
            // A primary that cannot reach its replicas may be cut off from the rest: look for
            // the primary again next time.
            Ok(Attempt::Unreplicated(_)) | Err(_) => self.forget_pool(),
        }
        outcome
    }
}

/// Whether a fresh connection may succeed where this one failed.
fn retryable(error: &redis::RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_timeout()
        || matches!(
            error.kind(),
            redis::ErrorKind::Server(
                redis::ServerErrorKind::ReadOnly | redis::ServerErrorKind::MasterDown
            )
        )
}

/// Shows the URL without its password.
impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("address", &self.address)
            .field("min_replicas", &self.options.min_replicas)
            .finish_non_exhaustive()
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
            Ok(Attempt::Accepted) => Ok(()),
            Ok(Attempt::Replayed) => Err(HostError::Core(Error::Replayed)),
            // Not a connection problem: falling back to memory would accept a launch whose
            // record may be lost in a failover, which is what min_replicas is there to stop.
            Ok(Attempt::Unreplicated(acknowledged)) => {
                Err(HostError::ReplayStoreUnavailable(format!(
                    "redis {}: only {acknowledged} of {} replicas acknowledged the record within {} ms (the launch stays recorded: a retry is refused as replayed)",
                    self.address,
                    self.options.min_replicas,
                    self.options.replica_timeout.as_millis()
                )))
            }
            Err(error) => match &self.options.on_failure {
                RedisFailure::FailClosed => Err(self.unavailable(&error)),
                RedisFailure::FallBackTo(fallback) => {
                    fallback.check_and_record(key, forget_at, now)
                }
            },
        }
    }
}
