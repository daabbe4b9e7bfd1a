//! Who the client is: the TCP peer, or, for a peer that is a configured trusted proxy, the
//! address and protocol it forwards (`Forwarded`, else `X-Forwarded-For` and
//! `X-Forwarded-Proto`). Forwarding headers from any other peer are ignored: anyone can send
//! them.

use std::net::IpAddr;
use std::str::FromStr;

/// An IP network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or one address).
///
/// ```
/// use koppeltaal_gateway::Cidr;
/// let network: Cidr = "10.1.0.0/16".parse().unwrap();
/// assert!(network.contains("10.1.2.3".parse().unwrap()));
/// assert!(!network.contains("10.2.0.1".parse().unwrap()));
/// assert!("10.1.0.0/33".parse::<Cidr>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let bad = || format!("`{text}` is not an address or a network (a.b.c.d/n, x::/n)");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.trim().parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.trim().parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { network, prefix })
    }
}

impl Cidr {
    /// Whether `address` is in this network (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, canonical(address)) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address as IPv4; every other address as it is.
pub(crate) fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The key under which a client's connections and budgets are counted: an IPv4 address, or
/// the /64 network of an IPv6 address (one subscriber's usual allocation: counting single
/// IPv6 addresses would make the per-client caps unlimited).
pub(crate) fn client_group(address: IpAddr) -> IpAddr {
    match canonical(address) {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & (u128::MAX << 64)).into()),
        v4 => v4,
    }
}

/// Which forwarding header the trusted proxies set (and overwrite or append to): only that
/// one is read. Reading whichever is present would let a client behind a proxy that sets
/// `X-Forwarded-For` but passes `Forwarded` through untouched choose its own address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` and `X-Forwarded-Proto` (nginx's `proxy_add_x_forwarded_for`, most
    /// load balancers): the default.
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239) with `for=` and `proto=`.
    Forwarded,
}

/// The proxies whose forwarding headers are believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    networks: Vec<Cidr>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// Trust the peers in `networks`, reading `X-Forwarded-For` / `X-Forwarded-Proto`.
    pub fn new(networks: Vec<Cidr>) -> TrustedProxies {
        TrustedProxies {
            networks,
            header: ForwardedHeader::XForwardedFor,
        }
    }

    /// The same proxies, read through `header` instead.
    pub fn reading(mut self, header: ForwardedHeader) -> TrustedProxies {
        self.header = header;
        self
    }

    /// Whether `peer` is one of them.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.networks.iter().any(|network| network.contains(peer))
    }

    /// The client and protocol of a request from `peer` with `headers` (names lower-case).
    /// From a trusted peer: the nearest address in the chain of the configured forwarding
    /// header that is not itself a trusted proxy (walking from the right, the hops the proxies
    /// appended), and the protocol the nearest proxy reports; otherwise the peer and `http`.
    ///
    /// ```
    /// use koppeltaal_gateway::{Cidr, TrustedProxies};
    /// let proxies = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
    /// let headers = [("x-forwarded-for".to_string(), "6.6.6.6, 192.0.2.7, 10.0.0.3".to_string()),
    ///                ("x-forwarded-proto".to_string(), "https".to_string())];
    /// assert_eq!(proxies.client("10.0.0.2".parse().unwrap(), &headers),
    ///            ("192.0.2.7".parse().unwrap(), "https"));
    /// // The same headers from anyone else are ignored.
    /// assert_eq!(proxies.client("192.0.2.9".parse().unwrap(), &headers),
    ///            ("192.0.2.9".parse().unwrap(), "http"));
    /// ```
    pub fn client(&self, peer: IpAddr, headers: &[(String, String)]) -> (IpAddr, &'static str) {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return (peer, "http");
        }
        let values = |name: &str| -> Vec<&str> {
            headers
                .iter()
                .filter(|(key, _)| key == name)
                .flat_map(|(_, value)| value.split(','))
                .map(str::trim)
                .collect()
        };
        let (chain, proto): (Vec<Option<IpAddr>>, Option<&str>) = if self.header
            == ForwardedHeader::Forwarded
        {
            let forwarded = values("forwarded");
            let chain = forwarded
                .iter()
                .map(|element| forwarded_param(element, "for").and_then(|node| node_address(&node)))
                .collect();
            let proto = forwarded
                .last()
                .and_then(|element| forwarded_param(element, "proto"));
            (chain, proto.map(|proto| scheme(&proto)))
        } else {
            let chain = values("x-forwarded-for")
                .iter()
                .map(|node| node_address(node))
                .collect();
            let proto = values("x-forwarded-proto")
                .last()
                .map(|proto| scheme(proto));
            (chain, proto)
        };
        let mut client = peer;
        for hop in chain.iter().rev() {
            match hop {
                Some(address) => {
                    client = canonical(*address);
                    if !self.trusts(client) {
                        break;
                    }
                }
                // An unreadable hop: nothing beyond it can be believed.
                None => break,
            }
        }
        (client, proto.unwrap_or("http"))
    }
}

/// `https` or `http` (anything else reads as `http`).
fn scheme(proto: &str) -> &'static str {
    match proto.trim().eq_ignore_ascii_case("https") {
        true => "https",
        false => "http",
    }
}

/// The value of parameter `name` in one `Forwarded` element (`for=...;proto=...`), unquoted.
fn forwarded_param(element: &str, name: &str) -> Option<String> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// The address of a forwarding node: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711` or a bare IPv6 address.
fn node_address(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(address) = node.parse() {
        return Some(address);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    node.rsplit_once(':')?.0.parse().ok()
}

/// `text` as an RFC 7239 quoted-string (`"` and `\` escaped).
pub(crate) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        if matches!(character, '"' | '\\') {
            out.push('\\');
        }
        out.push(character);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn forwarded_is_read_from_trusted_peers_only() {
        let proxies = TrustedProxies::new(vec![
            "127.0.0.1".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ])
        .reading(ForwardedHeader::Forwarded);
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let forwarded = headers(&[(
            "forwarded",
            "for=6.6.6.6, for=\"[2001:db8::7]:4711\";proto=https, for=10.1.1.1;proto=https",
        )]);
        assert_eq!(
            proxies.client(local, &forwarded),
            ("2001:db8::7".parse().unwrap(), "https")
        );
        let stranger: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(proxies.client(stranger, &forwarded), (stranger, "http"));
        // Nothing forwarded: the proxy itself.
        assert_eq!(proxies.client(local, &[]), (local, "http"));
        // Only the configured header is read: a client's own `Forwarded` passed through by a
        // proxy that sets `X-Forwarded-For` changes nothing.
        let xff = TrustedProxies::new(vec![
            "127.0.0.1".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ]);
        let both = headers(&[
            ("forwarded", "for=203.0.113.77"),
            ("x-forwarded-for", "198.51.100.4"),
        ]);
        assert_eq!(
            xff.client(local, &both).0,
            "198.51.100.4".parse::<IpAddr>().unwrap()
        );
        assert_eq!(xff.client(local, &forwarded), (local, "http"));
        // An unreadable hop stops the walk at the last good one.
        let garbage = headers(&[("x-forwarded-for", "1.2.3.4, nonsense, 10.0.0.9")]);
        assert_eq!(
            xff.client(local, &garbage).0,
            "10.0.0.9".parse::<IpAddr>().unwrap()
        );
        let spoof = headers(&[("x-forwarded-for", "10.0.0.8, 10.0.0.9")]);
        assert_eq!(
            xff.client(local, &spoof).0,
            "10.0.0.8".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn ipv6_clients_are_grouped_by_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_group(a), client_group(b));
        assert_ne!(client_group(a), client_group(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(client_group(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn cidr_edges() {
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
        assert!(!all.contains("::1".parse().unwrap()));
        let one: Cidr = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!("::/129".parse::<Cidr>().is_err());
        assert!("nonsense".parse::<Cidr>().is_err());
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
