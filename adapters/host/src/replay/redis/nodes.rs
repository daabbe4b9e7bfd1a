//! Connections to the Redis deployment a [`RedisAddress`] names: one server, the primary the
//! sentinels point to, or a cluster; each with TLS and ACL credentials as configured.

use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConnection};
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{
    Client, ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo, RedisConnectionInfo,
    RedisError, RedisResult, TlsCertificates, Value,
};

use super::RedisOptions;
use super::address::{Node, RedisAddress, Topology};

/// Where connections come from.
pub(super) struct Nodes {
    kind: Kind,
    connect_timeout: Duration,
    /// Per command: the configured I/O timeout plus, with `min_replicas`, the `WAIT` time.
    answer_timeout: Duration,
}

enum Kind {
    Standalone(Client),
    /// The sentinels, asked in order, and the name of the primary they monitor; `node`
    /// turns the address a sentinel gives into a client with this store's TLS and ACL user.
    Sentinel {
        sentinels: Vec<Client>,
        master: String,
        node: NodeTemplate,
    },
    Cluster(ClusterClient),
}

/// TLS and credentials for a data node whose address is learnt at run time.
struct NodeTemplate {
    tls: Option<TlsCertificates>,
    use_tls: bool,
    settings: RedisConnectionInfo,
}

impl NodeTemplate {
    fn client(&self, node: &Node) -> RedisResult<Client> {
        client_for(node, self.use_tls, &self.tls, self.settings.clone())
    }
}

/// One open connection, to a server or to a cluster.
pub(super) enum Link {
    Server(redis::Connection),
    Cluster(Box<ClusterConnection>),
}

/// What one `SET NX GET` (and, when asked, its `WAIT`) returned.
pub(super) struct Recorded {
    /// What the key held before: `None` when this command recorded it.
    pub(super) previous: Option<String>,
    /// How many replicas acknowledged the write (`WAIT`), when asked and it wrote.
    pub(super) acknowledged: Option<u64>,
}

impl Nodes {
    pub(super) fn open(address: &RedisAddress, options: &RedisOptions) -> RedisResult<Nodes> {
        // The options' credentials win over the URL's; a user named only in the URL still counts.
        let given = options.credentials.as_ref();
        let user = given
            .and_then(|c| c.user.as_deref())
            .or(address.user.as_deref());
        let password = given
            .map(|c| c.password.as_str())
            .or(address.password.as_deref());
        // Named in `CLIENT LIST` (Redis 7.2 and later), so operators see who is connected.
        let settings = signed_in(
            RedisConnectionInfo::default()
                .set_db(address.db)
                .set_lib_name("koppeltaal", env!("CARGO_PKG_VERSION")),
            user,
            password,
        );
        let tls = options.tls.certificates();
        let answer_timeout = match options.min_replicas {
            0 => options.io_timeout,
            _ => options.io_timeout + options.replica_timeout,
        };
        let kind = match &address.topology {
            Topology::Standalone(node) => {
                Kind::Standalone(client_for(node, address.tls, &tls, settings)?)
            }
            Topology::Sentinel { sentinels, master } => {
                let sentinel = options.sentinel_credentials.as_ref();
                let sentinel_settings = signed_in(
                    RedisConnectionInfo::default(),
                    sentinel.and_then(|c| c.user.as_deref()),
                    sentinel.map(|c| c.password.as_str()),
                );
                Kind::Sentinel {
                    sentinels: sentinels
                        .iter()
                        .map(|node| client_for(node, address.tls, &tls, sentinel_settings.clone()))
                        .collect::<RedisResult<Vec<Client>>>()?,
                    master: master.clone(),
                    node: NodeTemplate {
                        tls,
                        use_tls: address.tls,
                        settings,
                    },
                }
            }
            Topology::Cluster(nodes) => {
                let initial =
                    nodes
                        .iter()
                        .map(|node| {
                            Ok(connection_info(node, address.tls)?
                                .set_redis_settings(settings.clone()))
                        })
                        .collect::<RedisResult<Vec<ConnectionInfo>>>()?;
                let mut builder = ClusterClientBuilder::new(initial)
                    .connection_timeout(options.connect_timeout)
                    .response_timeout(answer_timeout)
                    // A node that is gone is an outage of its slots, met at once: one retry
                    // (for a MOVED or a reconnect), not the crate's sixteen with back-off.
                    .retries(1);
                if let Some(tls) = tls {
                    builder = builder.certs(tls);
                }
                Kind::Cluster(builder.build()?)
            }
        };
        Ok(Nodes {
            kind,
            connect_timeout: options.connect_timeout,
            answer_timeout,
        })
    }

    /// A fresh connection: to the server, to the primary the sentinels name now (checked
    /// with `ROLE`), or to the cluster.
    pub(super) fn connect(&self) -> RedisResult<Link> {
        match &self.kind {
            Kind::Standalone(client) => self.connect_server(client).map(Link::Server),
            Kind::Sentinel {
                sentinels,
                master,
                node,
            } => self
                .connect_primary(sentinels, master, node)
                .map(Link::Server),
            Kind::Cluster(client) => {
                let connection = client.get_connection()?;
                Ok(Link::Cluster(Box::new(connection)))
            }
        }
    }

    fn connect_server(&self, client: &Client) -> RedisResult<redis::Connection> {
        let connection = client.get_connection_with_timeout(self.connect_timeout)?;
        connection.set_read_timeout(Some(self.answer_timeout))?;
        connection.set_write_timeout(Some(self.answer_timeout))?;
        Ok(connection)
    }

    /// The Sentinel client protocol (redis.io, "Sentinel client spec"): ask each sentinel in
    /// turn for the primary's address, connect, and trust it only if `ROLE` says `master`.
    /// Written here rather than taken from the `redis` crate's `sentinel` module, whose
    /// blocking client connects to sentinels without a timeout (an unreachable sentinel would
    /// hold a launch for the system's TCP timeout, minutes) and caches behind `&mut self`.
    fn connect_primary(
        &self,
        sentinels: &[Client],
        master: &str,
        node: &NodeTemplate,
    ) -> RedisResult<redis::Connection> {
        let mut last_error = None;
        for sentinel in sentinels {
            let answer = self.connect_server(sentinel).and_then(|mut connection| {
                redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(master)
                    .query::<Option<(String, u16)>>(&mut connection)
            });
            let (host, port) = match answer {
                Ok(Some(address)) => address,
                Ok(None) => {
                    last_error = Some(RedisError::from((
                        ErrorKind::Server(redis::ServerErrorKind::ResponseError),
                        "a sentinel does not know the primary",
                        master.to_owned(),
                    )));
                    continue;
                }
                Err(error) => {
                    last_error = Some(error);
                    continue;
                }
            };
            let primary = Node { host, port };
            let checked = node.client(&primary).and_then(|client| {
                let mut connection = self.connect_server(&client)?;
                match role(&mut connection)? {
                    Role::Primary { .. } => Ok(connection),
                    Role::Other(role) => Err(RedisError::from((
                        ErrorKind::Server(redis::ServerErrorKind::ReadOnly),
                        "the node a sentinel named as primary is not one",
                        format!("{primary} says it is a {role}"),
                    ))),
                }
            });
            match checked {
                Ok(connection) => return Ok(connection),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            RedisError::from((ErrorKind::InvalidClientConfig, "no sentinel given"))
        }))
    }
}

/// What `ROLE` says of a server.
pub(super) enum Role {
    Primary { replicas: usize },
    Other(String),
}

/// Asks a server its `ROLE`.
pub(super) fn role(connection: &mut redis::Connection) -> RedisResult<Role> {
    let answer: Vec<Value> = redis::cmd("ROLE").query(connection)?;
    let name = match answer.first() {
        Some(Value::BulkString(name)) => String::from_utf8_lossy(name).into_owned(),
        Some(Value::SimpleString(name)) => name.clone(),
        _ => String::from("unknown role"),
    };
    match name.as_str() {
        "master" => Ok(Role::Primary {
            replicas: match answer.get(2) {
                Some(Value::Array(replicas)) => replicas.len(),
                _ => 0,
            },
        }),
        _ => Ok(Role::Other(name)),
    }
}

impl Link {
    /// `SET name value NX GET PX ttl_ms`, followed, when `wait` is given and the command
    /// wrote, by `WAIT replicas timeout_ms` on the same server.
    pub(super) fn record(
        &mut self,
        name: &str,
        value: &str,
        ttl_ms: u64,
        wait: Option<(u32, u64)>,
    ) -> RedisResult<Recorded> {
        let mut set = redis::cmd("SET");
        set.arg(name)
            .arg(value)
            .arg("NX")
            .arg("GET")
            .arg("PX")
            .arg(ttl_ms);
        match (self, wait) {
            (Link::Server(connection), Some((replicas, timeout_ms))) => {
                // One round trip: WAIT after a SET that did not write returns at once.
                let (previous, acknowledged): (Option<String>, u64) = redis::pipe()
                    .add_command(set)
                    .cmd("WAIT")
                    .arg(replicas)
                    .arg(timeout_ms)
                    .query(connection)?;
                Ok(Recorded {
                    acknowledged: previous.is_none().then_some(acknowledged),
                    previous,
                })
            }
            (Link::Server(connection), None) => Ok(Recorded {
                previous: set.query(connection)?,
                acknowledged: None,
            }),
            (Link::Cluster(connection), wait) => {
                let previous: Option<String> = set.query(connection.as_mut())?;
                let acknowledged = match (wait, &previous) {
                    (Some((replicas, timeout_ms)), None) => {
                        Some(cluster_wait(connection, name, replicas, timeout_ms)?)
                    }
                    _ => None,
                };
                Ok(Recorded {
                    previous,
                    acknowledged,
                })
            }
        }
    }

    /// For a key an earlier attempt of this call wrote on another connection: writes it
    /// again (`PEXPIRE`, so that this connection has a write to wait for) and `WAIT`s.
    pub(super) fn confirm(
        &mut self,
        name: &str,
        ttl_ms: u64,
        replicas: u32,
        timeout_ms: u64,
    ) -> RedisResult<u64> {
        let mut refresh = redis::cmd("PEXPIRE");
        refresh.arg(name).arg(ttl_ms);
        match self {
            Link::Server(connection) => {
                let (_, acknowledged): (i64, u64) = redis::pipe()
                    .add_command(refresh)
                    .cmd("WAIT")
                    .arg(replicas)
                    .arg(timeout_ms)
                    .query(connection)?;
                Ok(acknowledged)
            }
            Link::Cluster(connection) => {
                let _: i64 = refresh.query(connection.as_mut())?;
                cluster_wait(connection, name, replicas, timeout_ms)
            }
        }
    }

    pub(super) fn is_open(&self) -> bool {
        match self {
            Link::Server(connection) => redis::ConnectionLike::is_open(connection),
            Link::Cluster(connection) => redis::ConnectionLike::is_open(connection.as_ref()),
        }
    }

    /// What this connection reached, for a start-up log line, and how many replicas the
    /// primary has (`None` for a cluster); fails as a launch would (TLS, credentials,
    /// permissions).
    pub(super) fn describe(&mut self) -> RedisResult<(String, Option<usize>)> {
        match self {
            Link::Server(connection) => {
                let _: String = redis::cmd("PING").query(connection)?;
                match role(connection)? {
                    Role::Primary { replicas } => Ok((
                        format!(
                            "a primary with {replicas} connected replica{}",
                            if replicas == 1 { "" } else { "s" }
                        ),
                        Some(replicas),
                    )),
                    Role::Other(role) => Err(RedisError::from((
                        ErrorKind::Server(redis::ServerErrorKind::ReadOnly),
                        "not a primary",
                        format!("the server is a {role}"),
                    ))),
                }
            }
            Link::Cluster(connection) => {
                // Routed to every primary: all of them must answer.
                let _: String = redis::cmd("PING").query(connection.as_mut())?;
                Ok(("a cluster whose primaries all answer".into(), None))
            }
        }
    }
}

/// `WAIT` on the primary that holds `name`'s slot (the crate would send a keyless `WAIT`
/// to every primary and take the smallest answer).
fn cluster_wait(
    connection: &mut ClusterConnection,
    name: &str,
    replicas: u32,
    timeout_ms: u64,
) -> RedisResult<u64> {
    let mut wait = redis::cmd("WAIT");
    wait.arg(replicas).arg(timeout_ms);
    let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::with_key(
        name,
        SlotAddr::Master,
    )));
    match connection.route_command(&wait, route)? {
        Value::Int(count) => Ok(u64::try_from(count).unwrap_or(0)),
        other => Err(RedisError::from((
            ErrorKind::UnexpectedReturnType,
            "WAIT did not answer a number",
            format!("{other:?}"),
        ))),
    }
}

/// `settings` logging in as `user` (none: Redis's `default`) with `password`, when given.
fn signed_in(
    mut settings: RedisConnectionInfo,
    user: Option<&str>,
    password: Option<&str>,
) -> RedisConnectionInfo {
    if let Some(user) = user {
        settings = settings.set_username(user);
    }
    if let Some(password) = password {
        settings = settings.set_password(password);
    }
    settings
}

fn connection_info(node: &Node, tls: bool) -> RedisResult<ConnectionInfo> {
    let address = match tls {
        true => ConnectionAddr::TcpTls {
            host: node.host.clone(),
            port: node.port,
            insecure: false,
            tls_params: None,
        },
        false => ConnectionAddr::Tcp(node.host.clone(), node.port),
    };
    address.into_connection_info()
}

fn client_for(
    node: &Node,
    tls: bool,
    certificates: &Option<TlsCertificates>,
    settings: RedisConnectionInfo,
) -> RedisResult<Client> {
    let info = connection_info(node, tls)?.set_redis_settings(settings);
    match (tls, certificates) {
        (true, Some(certificates)) => Client::build_with_tls(info, certificates.clone()),
        _ => Client::open(info),
    }
}
