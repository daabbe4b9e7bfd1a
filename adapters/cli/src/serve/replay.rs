//! `serve`'s replay store: in memory, a journal, or Redis (standalone, Sentinel or Cluster,
//! with TLS and ACL users), checked at start-up so that a wrong CA or password stops the
//! gateway before it serves.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use koppeltaal_gateway::log_line;
use koppeltaal_host::replay::{
    JournalOptions, JournalReplayStore, MemoryReplayStore, RedisCredentials, RedisFailure,
    RedisOptions, RedisReplayStore, RedisTls, ReplayStore,
};

use crate::Failure;

/// Where accepted launches are remembered.
#[derive(Args)]
pub(crate) struct ReplayArgs {
    /// Remember accepted launches in this journal, so a restart opens no replay window
    /// (without it, and without --replay-store, they are remembered in memory only).
    #[arg(
        long,
        conflicts_with = "replay_store",
        env = "KOPPELTAAL_REPLAY_JOURNAL"
    )]
    replay_journal: Option<PathBuf>,
    /// Share accepted launches with other instances through Redis: a launch replayed to
    /// another instance is refused too. `redis://[user:password@]host:port[/db]`, `rediss://`
    /// for TLS, `redis+sentinel://s1:26379,s2:26379/MASTER[/db]`, `redis+cluster://n1,n2,n3`
    /// (`rediss+...` likewise). Checked at start-up: a wrong CA or password stops the gateway.
    /// When Redis is unavailable later, launches are refused (code 913) unless
    /// --redis-fallback-memory is given.
    #[arg(long, env = "KOPPELTAAL_REPLAY_STORE")]
    replay_store: Option<String>,
    /// Trust this CA (PEM) for a `rediss` store, instead of the system's roots.
    #[arg(
        long,
        value_name = "FILE",
        requires = "replay_store",
        env = "KOPPELTAAL_REPLAY_STORE_CA"
    )]
    replay_store_ca: Option<PathBuf>,
    /// A client certificate (PEM) for a `rediss` store that requires one.
    #[arg(
        long,
        value_name = "FILE",
        requires_all = ["replay_store", "replay_store_key"],
        env = "KOPPELTAAL_REPLAY_STORE_CERT"
    )]
    replay_store_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(
        long,
        value_name = "FILE",
        requires = "replay_store_cert",
        env = "KOPPELTAAL_REPLAY_STORE_KEY"
    )]
    replay_store_key: Option<PathBuf>,
    /// Read the store's password from this file (its first line), for the URL's user, so that
    /// no secret sits in a process list or a configuration file.
    #[arg(
        long,
        value_name = "FILE",
        requires = "replay_store",
        env = "KOPPELTAAL_REPLAY_STORE_PASSWORD_FILE"
    )]
    replay_store_password_file: Option<PathBuf>,
    /// For `redis+sentinel`: the sentinels' password (first line of the file), when they
    /// require one.
    #[arg(
        long,
        value_name = "FILE",
        requires = "replay_store",
        env = "KOPPELTAAL_REPLAY_STORE_SENTINEL_PASSWORD_FILE"
    )]
    replay_store_sentinel_password_file: Option<PathBuf>,
    /// Accept a launch only once this many replicas acknowledged its record (Redis `WAIT`):
    /// with 1 or more, a failover loses no recorded launch. Fewer in time: 913, and the launch
    /// stays recorded (a retry of it is refused as replayed).
    #[arg(
        long,
        default_value_t = 0,
        requires = "replay_store",
        env = "KOPPELTAAL_REPLAY_STORE_MIN_REPLICAS"
    )]
    replay_store_min_replicas: u32,
    /// How long to wait for those acknowledgements, in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 500,
        env = "KOPPELTAAL_REPLAY_STORE_REPLICA_TIMEOUT"
    )]
    replay_store_replica_timeout: u64,
    /// While Redis is unavailable, check launches against this instance's memory instead of
    /// refusing them (a replay to another instance then goes unnoticed). Not used when too
    /// few replicas acknowledge a record: that is refused.
    #[arg(
        long,
        requires = "replay_store",
        env = "KOPPELTAAL_REDIS_FALLBACK_MEMORY"
    )]
    redis_fallback_memory: bool,
    /// How many unexpired launches the replay store holds.
    #[arg(long, default_value_t = 1 << 16, env = "KOPPELTAAL_REPLAY_CAPACITY")]
    replay_capacity: usize,
}

impl ReplayArgs {
    /// The store; a Redis store is connected to and checked first, and logged.
    pub(crate) fn store(&self) -> Result<Arc<dyn ReplayStore>, Failure> {
        match (&self.replay_journal, &self.replay_store) {
            (Some(path), _) => Ok(Arc::new(JournalReplayStore::open(
                path,
                JournalOptions {
                    capacity: self.replay_capacity,
                    sync: false,
                },
            )?)),
            (None, Some(url)) => {
                let store = RedisReplayStore::new(url, self.redis_options()?)?;
                let reached = store.check()?;
                log_line(format_args!("koppeltaal serve: replay store {reached}"));
                Ok(Arc::new(store))
            }
            (None, None) => Ok(Arc::new(MemoryReplayStore::new(self.replay_capacity))),
        }
    }

    fn redis_options(&self) -> Result<RedisOptions, Failure> {
        let on_failure = match self.redis_fallback_memory {
            true => {
                RedisFailure::FallBackTo(Arc::new(MemoryReplayStore::new(self.replay_capacity)))
            }
            false => RedisFailure::FailClosed,
        };
        let password = |path: &Option<PathBuf>| {
            path.as_ref()
                .map(|path| RedisCredentials::from_password_file(None, path))
                .transpose()
        };
        Ok(RedisOptions {
            on_failure,
            credentials: password(&self.replay_store_password_file)?,
            sentinel_credentials: password(&self.replay_store_sentinel_password_file)?,
            tls: RedisTls::from_files(
                self.replay_store_ca.as_deref(),
                self.replay_store_cert.as_deref(),
                self.replay_store_key.as_deref(),
            )?,
            min_replicas: self.replay_store_min_replicas,
            replica_timeout: Duration::from_millis(self.replay_store_replica_timeout),
            ..RedisOptions::default()
        })
    }
}
