//! Real Redis deployments on loopback ports, for a test, from Debian's `redis-server` and
//! `redis-sentinel`: one server (plain, TLS, with ACL users), a primary with a replica and
//! three sentinels, and a three-primary cluster. Every process is killed when its handle is
//! dropped, and every wait is bounded.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use crate::test_ca::TestCa;

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether `program` is installed; says loudly that the calling test skips when not.
fn available(program: &str, package: &str) -> bool {
    if crate::peers::installed(program) {
        return true;
    }
    crate::peers::missing(
        program,
        &format!("the Debian package {package} (`cargo xtask test` installs it)"),
    );
    false
}

/// A directory of this test process, removed when dropped.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A new, empty directory under the system's temporary directory.
    pub fn new(label: &str) -> ScratchDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "koppeltaal-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        ScratchDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to `name` in it, returning the file's path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A Redis server (or sentinel) the test controls.
pub struct RedisServer {
    port: u16,
    program: &'static str,
    args: Vec<String>,
    tls: bool,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts `redis-server` on a free loopback port, without persistence.
    ///
    /// None, after saying loudly on stderr that the calling test skips, when `redis-server` is
    /// not installed (`cargo xtask test` installs the Debian package where it may); panics
    /// instead when `KOPPELTAAL_REQUIRE_PEERS` is set (CI, or `cargo xtask test` once every
    /// peer is there), so that a skip cannot hide there.
    pub fn start() -> Option<RedisServer> {
        RedisServer::start_with(&[] as &[&str])
    }

    /// As [`start`](Self::start), with more `redis-server` arguments (`--requirepass x`,
    /// `--replicaof 127.0.0.1 6379`, `--user ...`).
    pub fn start_with(args: &[impl AsRef<str>]) -> Option<RedisServer> {
        if !available("redis-server", "redis-server") {
            return None;
        }
        let port = free_port();
        let mut all = plain_server_args(port);
        all.extend(args.iter().map(|arg| arg.as_ref().to_owned()));
        Some(RedisServer::launch("redis-server", port, all, false))
    }

    /// A server that speaks only TLS, with a certificate for `127.0.0.1` and `localhost`
    /// issued by `ca`; with `require_client_certificate`, a client must present one `ca`
    /// issued.
    pub fn start_tls(
        ca: &TestCa,
        require_client_certificate: bool,
        args: &[impl AsRef<str>],
    ) -> Option<RedisServer> {
        if !available("redis-server", "redis-server") {
            return None;
        }
        let port = free_port();
        let files = ca.server_files();
        // Port 0: no plain-text listener.
        let mut all = plain_server_args(0);
        all.extend(
            [
                "--tls-port",
                &port.to_string(),
                "--tls-cert-file",
                files.cert.to_str().unwrap(),
                "--tls-key-file",
                files.key.to_str().unwrap(),
                "--tls-ca-cert-file",
                files.ca.to_str().unwrap(),
                "--tls-auth-clients",
                if require_client_certificate {
                    "yes"
                } else {
                    "no"
                },
            ]
            .iter()
            .map(|arg| arg.to_string()),
        );
        all.extend(args.iter().map(|arg| arg.as_ref().to_owned()));
        Some(RedisServer::launch("redis-server", port, all, true))
    }

    fn launch(program: &'static str, port: u16, args: Vec<String>, tls: bool) -> RedisServer {
        let mut server = RedisServer {
            port,
            program,
            args,
            tls,
            child: None,
        };
        server.resume();
        server
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/` (`rediss://` for a TLS server).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    /// Stops the server as a crash would (SIGKILL: its data is gone).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, with the same arguments, and waits until it accepts
    /// connections.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(self.program)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("`{}` runs: {error}", self.program));
        self.child = Some(child);
        wait_for_port(self.port);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(std::env::temp_dir().join(snapshot_name(self.port)));
    }
}

/// A server without persistence; a replica still writes the snapshot it receives from its
/// primary, so that goes to a file of its own in the temporary directory (removed on drop),
/// never into the working directory.
fn plain_server_args(port: u16) -> Vec<String> {
    [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        std::env::temp_dir().to_str().unwrap(),
        "--dbfilename",
        &snapshot_name(port),
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect()
}

fn snapshot_name(port: u16) -> String {
    format!("koppeltaal-test-{}-{port}.rdb", std::process::id())
}

fn wait_for_port(port: u16) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nothing listens on port {port} within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `127.0.0.1:a,127.0.0.1:b,...` for `servers`.
fn host_list(servers: &[RedisServer]) -> String {
    let hosts: Vec<String> = servers
        .iter()
        .map(|server| format!("127.0.0.1:{}", server.port))
        .collect();
    hosts.join(",")
}

/// What the gateway's ACL user needs and nothing more (SECURITY.md): its key prefix and the
/// commands the store sends. A test adds `--user NAME on >PASSWORD` before these.
pub const GATEWAY_ACL: &[&str] = &[
    "~koppeltaal:replay:*",
    "+set",
    "+wait",
    "+pexpire",
    "+ping",
    "+role",
];

/// `redis-server` arguments creating the ACL user `name` with `password` and [`GATEWAY_ACL`],
/// plus `extra` rules.
pub fn gateway_user(name: &str, password: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--user".to_owned(),
        name.to_owned(),
        "on".to_owned(),
        format!(">{password}"),
    ];
    args.extend(GATEWAY_ACL.iter().chain(extra).map(|rule| rule.to_string()));
    args
}

/// Polls `condition` every 50 ms until it holds; panics naming `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < limit,
            "{what}: not within {} s",
            limit.as_secs_f32()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One command to a plain server, with a short timeout; `None` when it cannot be reached.
pub fn query(port: u16, args: &[&str]) -> Option<redis::Value> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).ok()?;
    let mut connection = client
        .get_connection_with_timeout(Duration::from_millis(500))
        .ok()?;
    connection
        .set_read_timeout(Some(Duration::from_secs(2)))
        .ok()?;
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command.query(&mut connection).ok()
}

/// A primary, its replicas and three sentinels watching them as `mymaster` (quorum 2,
/// a primary unreachable for 1 s is failed over).
pub struct SentinelDeployment {
    /// The primary at start.
    pub primary: RedisServer,
    /// Its replicas at start.
    pub replicas: Vec<RedisServer>,
    /// The three sentinels.
    pub sentinels: Vec<RedisServer>,
    _dir: ScratchDir,
}

/// The name the sentinels monitor.
pub const SENTINEL_MASTER: &str = "mymaster";

impl SentinelDeployment {
    /// Starts it with `replicas` replicas and waits (at most 30 s each) until they are in sync,
    /// the primary lists them all, and every sentinel knows them and the two other sentinels.
    pub fn start(replicas: usize) -> Option<SentinelDeployment> {
        if !available("redis-sentinel", "redis-sentinel") {
            return None;
        }
        let primary = RedisServer::start()?;
        let primary_port = primary.port.to_string();
        let replicas = (0..replicas)
            .map(|_| RedisServer::start_with(&["--replicaof", "127.0.0.1", &primary_port]))
            .collect::<Option<Vec<RedisServer>>>()?;
        let dir = ScratchDir::new("sentinel");
        let sentinels: Vec<RedisServer> = (0..3)
            .map(|index| {
                let port = free_port();
                // A sentinel rewrites its configuration file: each needs its own.
                let config = dir.write(
                    &format!("sentinel-{index}.conf"),
                    format!(
                        "port {port}\nbind 127.0.0.1\nsentinel monitor {SENTINEL_MASTER} 127.0.0.1 {} 2\nsentinel down-after-milliseconds {SENTINEL_MASTER} 1000\nsentinel failover-timeout {SENTINEL_MASTER} 10000\nsentinel parallel-syncs {SENTINEL_MASTER} 1\n",
                        primary.port
                    ),
                );
                RedisServer::launch(
                    "redis-sentinel",
                    port,
                    vec![config.to_str().unwrap().to_owned()],
                    false,
                )
            })
            .collect();
        let deployment = SentinelDeployment {
            primary,
            replicas,
            sentinels,
            _dir: dir,
        };
        for replica in &deployment.replicas {
            wait_until(
                "the replicas in sync with the primary",
                Duration::from_secs(30),
                || {
                    matches!(query(replica.port, &["INFO", "replication"]),
                        Some(redis::Value::BulkString(info)) if String::from_utf8_lossy(&info).contains("master_link_status:up"))
                },
            );
        }
        let replica_count = deployment.replicas.len();
        // A replica reports its link up before the primary counts it: wait for the primary's
        // own list (`ROLE`, what a store's start-up check reads) to hold every replica too.
        wait_until(
            "the primary listing every replica",
            Duration::from_secs(30),
            || {
                matches!(query(deployment.primary.port, &["ROLE"]),
                    Some(redis::Value::Array(role)) if matches!(role.get(2),
                        Some(redis::Value::Array(listed)) if listed.len() == replica_count))
            },
        );
        for sentinel in &deployment.sentinels {
            wait_until(
                "every sentinel knowing the replica and the other sentinels",
                Duration::from_secs(30),
                || {
                    let count = |kind: &str| match query(
                        sentinel.port,
                        &["SENTINEL", kind, SENTINEL_MASTER],
                    ) {
                        Some(redis::Value::Array(items)) => items.len(),
                        _ => 0,
                    };
                    count("replicas") == replica_count && count("sentinels") == 2
                },
            );
        }
        Some(deployment)
    }

    /// `redis+sentinel://127.0.0.1:s1,127.0.0.1:s2,127.0.0.1:s3/mymaster`.
    pub fn url(&self) -> String {
        format!(
            "redis+sentinel://{}/{SENTINEL_MASTER}",
            host_list(&self.sentinels)
        )
    }

    /// The port of the server the first sentinel now calls the primary.
    pub fn current_primary_port(&self) -> Option<u16> {
        let answer = query(
            self.sentinels[0].port,
            &["SENTINEL", "get-master-addr-by-name", SENTINEL_MASTER],
        )?;
        match answer {
            redis::Value::Array(parts) => match parts.get(1) {
                Some(redis::Value::BulkString(port)) => String::from_utf8_lossy(port).parse().ok(),
                _ => None,
            },
            _ => None,
        }
    }
}

/// A Redis Cluster of three primaries (no replicas), every slot assigned.
pub struct ClusterDeployment {
    /// The three nodes.
    pub nodes: Vec<RedisServer>,
    _dir: ScratchDir,
}

impl ClusterDeployment {
    /// Starts the nodes (each with the extra `redis-server` arguments `args`, such as ACL
    /// users), joins them with `redis-cli --cluster create`, and waits (at most 30 s) until
    /// every node reports `cluster_state:ok`.
    pub fn start(args: &[impl AsRef<str>]) -> Option<ClusterDeployment> {
        if !available("redis-server", "redis-server") || !available("redis-cli", "redis-tools") {
            return None;
        }
        let dir = ScratchDir::new("cluster");
        let extra = args;
        let nodes: Vec<RedisServer> = (0..3)
            .map(|index| {
                let port = free_port();
                let mut args = plain_server_args(port);
                args.extend(
                    [
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        dir.path()
                            .join(format!("nodes-{index}.conf"))
                            .to_str()
                            .unwrap(),
                        "--cluster-node-timeout",
                        "2000",
                        // A lost node is an outage of its slots only, not of the cluster.
                        "--cluster-require-full-coverage",
                        "no",
                        "--dir",
                        dir.path().to_str().unwrap(),
                    ]
                    .iter()
                    .map(|arg| arg.to_string()),
                );
                args.extend(extra.iter().map(|arg| arg.as_ref().to_owned()));
                RedisServer::launch("redis-server", port, args, false)
            })
            .collect();
        let addresses: Vec<String> = host_list(&nodes).split(',').map(str::to_owned).collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("redis-cli runs");
        assert!(
            created.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        for node in &nodes {
            wait_until("the cluster state ok", Duration::from_secs(30), || {
                matches!(query(node.port, &["CLUSTER", "INFO"]),
                    Some(redis::Value::BulkString(info)) if String::from_utf8_lossy(&info).contains("cluster_state:ok"))
            });
        }
        Some(ClusterDeployment { nodes, _dir: dir })
    }

    /// `redis+cluster://127.0.0.1:a,127.0.0.1:b,127.0.0.1:c`.
    pub fn url(&self) -> String {
        format!("redis+cluster://{}", host_list(&self.nodes))
    }

    /// How many keys each node holds (`DBSIZE`), in node order.
    pub fn key_counts(&self) -> Vec<i64> {
        self.nodes
            .iter()
            .map(|node| match query(node.port, &["DBSIZE"]) {
                Some(redis::Value::Int(count)) => count,
                _ => -1,
            })
            .collect()
    }
}
