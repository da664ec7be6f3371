//! Allowances per client address: a token bucket per address. One instance counts failed
//! authentications (only 401s drain it), another the requests to the public routes. A client with a valid token never touches it (so clients sharing an address, a
//! NAT or a proxy, are not held back by each other's traffic), while guessing tokens, and
//! the audit write each 401 costs, are bounded per address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses tracked at once. Past it, addresses whose bucket has refilled are forgotten
/// first (they carry no state); a flood from more addresses than this is forgotten whole
/// (logged), which fails open rather than growing without bound.
const MAX_TRACKED: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// Whether the address's going over the limit was logged (once per episode).
    warned: bool,
}

pub struct AuthFailures {
    /// What the allowance is of, for the log line when an address exceeds it.
    what: &'static str,
    burst: f64,
    per_sec: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl AuthFailures {
    /// `burst` at once, refilled at `per_minute`.
    pub fn new(what: &'static str, burst: u32, per_minute: u32) -> Self {
        AuthFailures {
            what,
            burst: f64::from(burst.max(1)),
            per_sec: f64::from(per_minute.max(1)) / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let dt = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + dt * self.per_sec).min(self.burst);
        b.at = now;
    }

    /// `None` when `ip` may try to authenticate now; else how long until it may.
    pub fn blocked_for(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = map.get_mut(&ip)?;
        self.refill(b, now);
        if b.tokens >= 1.0 {
            b.warned = false;
            return None;
        }
        Some(Duration::from_secs_f64((1.0 - b.tokens) / self.per_sec))
    }

    /// Count one failed authentication (or one public request) of `ip`.
    pub fn spend(&self, ip: IpAddr, now: Instant) {
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_TRACKED && !map.contains_key(&ip) {
            let (burst, per_sec) = (self.burst, self.per_sec);
            map.retain(|_, b| {
                let dt = now.saturating_duration_since(b.at).as_secs_f64();
                b.tokens + dt * per_sec < burst
            });
            if map.len() >= MAX_TRACKED {
                tracing::warn!(
                    addresses = map.len(),
                    "failed authentications from too many addresses to track; forgetting them"
                );
                map.clear();
            }
        }
        let b = map.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            at: now,
            warned: false,
        });
        self.refill(b, now);
        b.tokens = (b.tokens - 1.0).max(0.0);
        if b.tokens < 1.0 && !b.warned {
            b.warned = true;
            tracing::warn!(%ip, what = self.what, "client address over its allowance; answering 429");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_drain_and_time_refills() {
        let l = AuthFailures::new("test", 3, 60);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        assert_eq!(l.blocked_for(a, t0), None);
        for _ in 0..3 {
            l.spend(a, t0);
        }
        let wait = l.blocked_for(a, t0).expect("blocked after the burst");
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        // Another address is not affected.
        assert_eq!(l.blocked_for(b, t0), None);
        // One per second at 60 per minute.
        assert_eq!(l.blocked_for(a, t0 + Duration::from_millis(1001)), None);
        l.spend(a, t0 + Duration::from_millis(1001));
        assert!(l.blocked_for(a, t0 + Duration::from_millis(1002)).is_some());
    }
}
