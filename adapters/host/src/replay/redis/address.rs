//! The Redis URL forms the replay store accepts, parsed into what to connect to.
//!
//! Hand-written rather than left to the `redis` crate, whose URL parser knows neither the
//! multi-host Sentinel and Cluster forms nor refuses its `#insecure` switch (TLS without
//! certificate checks), which a replay store must never be given by accident.

use std::fmt;

use percent_encoding::percent_decode_str;

/// Which Redis deployment a URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Topology {
    /// One server (`redis://host:port/db`).
    Standalone(Node),
    /// A primary found through sentinels (`redis+sentinel://s1,s2,s3/MASTER/db`).
    Sentinel {
        sentinels: Vec<Node>,
        master: String,
    },
    /// A Redis Cluster, found through any of its nodes (`redis+cluster://n1,n2,n3`).
    Cluster(Vec<Node>),
}

/// One `host:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Node {
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host.contains(':') {
            true => write!(f, "[{}]:{}", self.host, self.port),
            false => write!(f, "{}:{}", self.host, self.port),
        }
    }
}

/// A parsed replay-store URL.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RedisAddress {
    /// `rediss` schemes: every connection (to sentinels too) is TLS.
    pub(crate) tls: bool,
    pub(crate) topology: Topology,
    /// The ACL user (`None`: Redis's `default` user).
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) db: i64,
}

impl RedisAddress {
    /// Parses `url`; the error says what is wrong with it, never repeating a password.
    pub(crate) fn parse(url: &str) -> Result<RedisAddress, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or("expected redis://, rediss://, redis+sentinel:// or redis+cluster://")?;
        let (tls, kind) = match scheme.to_ascii_lowercase().as_str() {
            "redis" => (false, Kind::Standalone),
            "rediss" => (true, Kind::Standalone),
            "redis+sentinel" => (false, Kind::Sentinel),
            "rediss+sentinel" => (true, Kind::Sentinel),
            "redis+cluster" => (false, Kind::Cluster),
            "rediss+cluster" => (true, Kind::Cluster),
            other => {
                return Err(format!(
                    "unknown scheme {other:?}: expected redis, rediss, redis+sentinel, rediss+sentinel, redis+cluster or rediss+cluster"
                ));
            }
        };
        if rest.contains('#') {
            return Err("a fragment (such as #insecure) is not accepted: TLS is always verified; give --replay-store-ca for a private CA".into());
        }
        if rest.contains('?') {
            return Err("query parameters are not accepted: give credentials in the URL or a password file, TLS files as options".into());
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, password, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => {
                let (user, password) = match userinfo.split_once(':') {
                    Some((user, password)) => (user, Some(password)),
                    None => (userinfo, None),
                };
                let user = decode(user, "user")?;
                let password = password.map(|p| decode(p, "password")).transpose()?;
                (
                    (!user.is_empty()).then_some(user),
                    password.filter(|p| !p.is_empty()),
                    hosts,
                )
            }
            None => (None, None, authority),
        };
        let default_port = match kind {
            Kind::Sentinel => 26379,
            Kind::Standalone | Kind::Cluster => 6379,
        };
        let nodes = hosts
            .split(',')
            .map(|host| parse_node(host, default_port))
            .collect::<Result<Vec<Node>, String>>()?;
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (topology, db) = match kind {
            Kind::Standalone => {
                let [node] = <[Node; 1]>::try_from(nodes).map_err(|_| {
                    "several hosts: use redis+sentinel:// or redis+cluster:// for more than one"
                })?;
                let db = match segments.as_slice() {
                    [] => 0,
                    [db] => parse_db(db)?,
                    _ => return Err("the path is at most a database number".into()),
                };
                (Topology::Standalone(node), db)
            }
            Kind::Sentinel => {
                let (master, db) = match segments.as_slice() {
                    [master] => (master, 0),
                    [master, db] => (master, parse_db(db)?),
                    _ => {
                        return Err(
                            "the path is /MASTER or /MASTER/DB: the name the sentinels monitor"
                                .into(),
                        );
                    }
                };
                let master = decode(master, "master name")?;
                (
                    Topology::Sentinel {
                        sentinels: nodes,
                        master,
                    },
                    db,
                )
            }
            Kind::Cluster => {
                if !segments.is_empty() {
                    return Err("a cluster has only database 0: no path".into());
                }
                (Topology::Cluster(nodes), 0)
            }
        };
        Ok(RedisAddress {
            tls,
            topology,
            user,
            password,
            db,
        })
    }
}

/// The URL again, with the password replaced by `***`: for logs and errors.
impl fmt::Display for RedisAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tls = if self.tls { "s" } else { "" };
        let kind = match self.topology {
            Topology::Standalone(_) => "",
            Topology::Sentinel { .. } => "+sentinel",
            Topology::Cluster(_) => "+cluster",
        };
        write!(f, "redis{tls}{kind}://")?;
        match (&self.user, &self.password) {
            (Some(user), Some(_)) => write!(f, "{user}:***@")?,
            (Some(user), None) => write!(f, "{user}@")?,
            (None, Some(_)) => write!(f, ":***@")?,
            (None, None) => {}
        }
        let nodes = match &self.topology {
            Topology::Standalone(node) => std::slice::from_ref(node),
            Topology::Sentinel { sentinels, .. } => sentinels.as_slice(),
            Topology::Cluster(nodes) => nodes.as_slice(),
        };
        for (index, node) in nodes.iter().enumerate() {
            let comma = if index == 0 { "" } else { "," };
            write!(f, "{comma}{node}")?;
        }
        match &self.topology {
            Topology::Sentinel { master, .. } => write!(f, "/{master}/{}", self.db),
            Topology::Standalone(_) => write!(f, "/{}", self.db),
            Topology::Cluster(_) => Ok(()),
        }
    }
}

impl fmt::Debug for RedisAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

enum Kind {
    Standalone,
    Sentinel,
    Cluster,
}

fn decode(text: &str, what: &str) -> Result<String, String> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| format!("the {what} is not UTF-8 once percent-decoded"))
}

fn parse_node(text: &str, default_port: u16) -> Result<Node, String> {
    let (host, port) = match text.strip_prefix('[') {
        // An IPv6 literal: [::1]:6379.
        Some(bracketed) => {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| format!("{text:?}: an IPv6 address needs its closing ]"))?;
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(after.strip_prefix(':').ok_or_else(|| {
                        format!("{text:?}: expected :PORT after the IPv6 address")
                    })?),
                ),
            }
        }
        None => match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        },
    };
    if host.is_empty() {
        return Err(format!("{text:?}: a host is missing"));
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
    {
        return Err(format!("{text:?}: not a host name or address"));
    }
    let port = match port {
        None => default_port,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => {
                return Err(format!(
                    "{text:?}: the port is not a number from 1 to 65535"
                ));
            }
        },
    };
    Ok(Node {
        host: host.to_owned(),
        port,
    })
}

fn parse_db(text: &str) -> Result<i64, String> {
    match text.parse::<u16>() {
        Ok(db) => Ok(i64::from(db)),
        Err(_) => Err(format!("{text:?} is not a database number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(host: &str, port: u16) -> Node {
        Node {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn standalone_forms() {
        let plain = RedisAddress::parse("redis://127.0.0.1:6380/2").unwrap();
        assert_eq!(
            plain.topology,
            Topology::Standalone(node("127.0.0.1", 6380))
        );
        assert_eq!(
            (plain.tls, plain.db, plain.user, plain.password),
            (false, 2, None, None)
        );
        let managed = RedisAddress::parse("rediss://gateway:s%40cr%3At@cache.example.net").unwrap();
        assert!(managed.tls);
        assert_eq!(
            managed.topology,
            Topology::Standalone(node("cache.example.net", 6379))
        );
        assert_eq!(managed.user.as_deref(), Some("gateway"));
        assert_eq!(managed.password.as_deref(), Some("s@cr:t"));
        let password_only = RedisAddress::parse("redis://:pw@[::1]:7000/").unwrap();
        assert_eq!(password_only.user, None);
        assert_eq!(password_only.password.as_deref(), Some("pw"));
        assert_eq!(
            password_only.topology,
            Topology::Standalone(node("::1", 7000))
        );
    }

    #[test]
    fn sentinel_and_cluster_forms() {
        let sentinel =
            RedisAddress::parse("rediss+sentinel://u:p@s1,s2:26380,[::1]/mymaster/3").unwrap();
        assert_eq!(
            sentinel.topology,
            Topology::Sentinel {
                sentinels: vec![node("s1", 26379), node("s2", 26380), node("::1", 26379)],
                master: "mymaster".into()
            }
        );
        assert_eq!((sentinel.tls, sentinel.db), (true, 3));
        let cluster = RedisAddress::parse("redis+cluster://a:7000,b:7001,c:7002").unwrap();
        assert_eq!(
            cluster.topology,
            Topology::Cluster(vec![node("a", 7000), node("b", 7001), node("c", 7002)])
        );
    }

    #[test]
    fn display_hides_the_password() {
        for url in [
            "rediss://gateway:secret@cache.example.net:6380/1",
            "redis+sentinel://:secret@s1,s2/primary/0",
            "rediss+cluster://u:secret@a:7000,b:7001",
        ] {
            let shown = RedisAddress::parse(url).unwrap().to_string();
            assert!(!shown.contains("secret"), "{shown}");
            assert!(shown.contains("***"), "{shown}");
        }
        assert_eq!(
            RedisAddress::parse("redis+sentinel://s1,[::1]:1/m")
                .unwrap()
                .to_string(),
            "redis+sentinel://s1:26379,[::1]:1/m/0"
        );
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        for (url, complaint) in [
            ("http://x", "unknown scheme"),
            ("x", "expected redis://"),
            ("rediss://host/#insecure", "fragment"),
            ("redis://host/?protocol=3", "query"),
            ("redis://a,b", "several hosts"),
            ("redis://host:0", "port"),
            ("redis://host:99999", "port"),
            ("redis://:pw@/0", "host is missing"),
            ("redis://host/x", "database number"),
            ("redis://host/1/2", "at most a database"),
            ("redis+sentinel://s1", "/MASTER"),
            ("redis+cluster://a/0", "no path"),
            ("redis://[::1", "closing ]"),
            ("redis://ho st", "not a host"),
            ("redis://u:%FF@h", "not UTF-8"),
        ] {
            let error = RedisAddress::parse(url).unwrap_err();
            assert!(error.contains(complaint), "{url}: {error}");
        }
        // The password never appears in an error.
        let error = RedisAddress::parse("redis://u:hunter2@a,b").unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
    }

    proptest::proptest! {
        /// Any text: an address or a specific complaint, never a panic, and never a password
        /// echoed in the complaint.
        #[test]
        fn any_text_parses_or_is_refused(
            scheme in "(redis|rediss|redis\\+sentinel|rediss\\+cluster|x)",
            rest in "[ -~]{0,60}",
        ) {
            let url = format!("{scheme}://{rest}");
            match RedisAddress::parse(&url) {
                Ok(address) => {
                    let shown = address.to_string();
                    if let Some(password) = address.password.as_deref().filter(|p| p.len() > 3) {
                        let echoed = format!(":{}@", password);
                        proptest::prop_assert!(!shown.contains(&echoed), "{}", shown);
                    }
                }
                Err(complaint) => proptest::prop_assert!(!complaint.is_empty()),
            }
        }
    }
}
