//! Per-client budgets for expensive work: a token bucket per client (an IPv4 address or an
//! IPv6 /64) for requests that cost the gateway far more than they cost the client, such as an
//! encrypted launch (an RSA private-key operation to unwrap, ~1 ms at 2048 bits, whatever the
//! envelope holds).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use crate::client::client_group;

/// How much expensive work one client may ask for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    /// Requests refilled per minute (0: no budget, every request allowed).
    pub per_minute: u32,
    /// Requests allowed in a burst.
    pub burst: u32,
}

impl Default for Budget {
    /// 60 a minute, bursts of 20: far above what a person launching a module does.
    fn default() -> Self {
        Budget {
            per_minute: 60,
            burst: 20,
        }
    }
}

/// The most clients tracked at once; beyond, clients whose buckets are full again are
/// forgotten, and while every tracked client is still spending, a new one is refused (the
/// table's memory stays bounded under a flood from many addresses).
const MAX_CLIENTS: usize = 65_536;

/// The buckets of every client.
pub(crate) struct Budgets {
    budget: Budget,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl Budgets {
    pub(crate) fn new(budget: Budget) -> Budgets {
        Budgets {
            budget,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `client`'s bucket: whether it may go ahead.
    pub(crate) fn spend(&self, client: IpAddr) -> bool {
        self.spend_at(client, Instant::now())
    }

    fn spend_at(&self, client: IpAddr, now: Instant) -> bool {
        if self.budget.per_minute == 0 {
            return true;
        }
        let rate = f64::from(self.budget.per_minute) / 60.0;
        let burst = f64::from(self.budget.burst.max(1));
        let refilled = |(tokens, at): (f64, Instant)| {
            (tokens + now.saturating_duration_since(at).as_secs_f64() * rate).min(burst)
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let group = client_group(client);
        if !buckets.contains_key(&group) && buckets.len() >= MAX_CLIENTS {
            buckets.retain(|_, bucket| refilled(*bucket) < burst);
            if buckets.len() >= MAX_CLIENTS {
                return false;
            }
        }
        let bucket = buckets.entry(group).or_insert((burst, now));
        let tokens = refilled(*bucket);
        if tokens < 1.0 {
            *bucket = (tokens, now);
            return false;
        }
        *bucket = (tokens - 1.0, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_rate() {
        let budgets = Budgets::new(Budget {
            per_minute: 60,
            burst: 3,
        });
        let start = Instant::now();
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(budgets.spend_at(client, start));
        }
        assert!(!budgets.spend_at(client, start));
        assert!(budgets.spend_at(other, start), "another client has its own");
        assert!(!budgets.spend_at(client, start + Duration::from_millis(500)));
        assert!(budgets.spend_at(client, start + Duration::from_millis(1600)));
        // An IPv6 client cannot escape by changing its address within its /64.
        let v6 = |n: u16| IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, n]);
        for n in 0..3 {
            assert!(budgets.spend_at(v6(n), start));
        }
        assert!(!budgets.spend_at(v6(99), start));
        let unlimited = Budgets::new(Budget {
            per_minute: 0,
            burst: 0,
        });
        assert!((0..1000).all(|_| unlimited.spend_at(client, start)));
    }
}
