//! Per-client rate limiting: a token bucket per client address. The client is the TCP peer,
//! unless the peer is a configured trusted proxy, in which case it is the right-most address
//! of `X-Forwarded-For` that is not itself a trusted proxy: a client cannot choose its own
//! address by sending the header, since only what trusted proxies appended is believed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The client address of a request.
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let Some(header) = forwarded_for else {
        return Some(peer);
    };
    let mut client = peer;
    for hop in header.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !trusted.contains(&ip) {
                    break;
                }
            }
            // An unparsable hop: stop at the last address a trusted proxy vouched for.
            Err(_) => break,
        }
    }
    Some(client)
}

/// How many requests a client may make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests allowed in a burst.
    pub burst: f64,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets per client address.
pub struct RateLimiter {
    limit: RateLimit,
    trusted: Vec<IpAddr>,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

/// Buckets kept before idle (full) ones are dropped.
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    /// A limiter with this limit, believing `X-Forwarded-For` only from `trusted` proxies.
    pub fn new(limit: RateLimit, trusted: Vec<IpAddr>) -> Self {
        Self {
            limit,
            trusted,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for the request's client; `Err(wait)` when it has none left.
    pub fn check(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Result<(), Duration> {
        let Some(ip) = client_ip(peer, forwarded_for, &self.trusted) else {
            return Ok(());
        };
        self.take(ip, Instant::now())
    }

    fn take(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let RateLimit { per_second, burst } = self.limit;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < burst
            });
        }
        let b = buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * per_second).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy = ip("10.0.0.1");
        let trusted = [proxy, ip("10.0.0.2")];
        // Not a proxy: the header is ignored, whatever it says.
        assert_eq!(
            client_ip(Some(ip("203.0.113.9")), Some("1.2.3.4"), &trusted),
            Some(ip("203.0.113.9"))
        );
        // From the proxy: the right-most untrusted hop.
        assert_eq!(
            client_ip(Some(proxy), Some("1.2.3.4, 198.51.100.7"), &trusted),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            client_ip(
                Some(proxy),
                Some("1.2.3.4, 198.51.100.7, 10.0.0.2"),
                &trusted
            ),
            Some(ip("198.51.100.7"))
        );
        // A client-forged left part does not matter; garbage stops the walk.
        assert_eq!(
            client_ip(Some(proxy), Some("evil, 198.51.100.7"), &trusted),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            client_ip(Some(proxy), Some("198.51.100.7, garbage"), &trusted),
            Some(proxy)
        );
        assert_eq!(client_ip(Some(proxy), None, &trusted), Some(proxy));
    }

    #[test]
    fn buckets_refill_at_the_configured_rate() {
        let limiter = RateLimiter::new(
            RateLimit {
                per_second: 10.0,
                burst: 3.0,
            },
            vec![],
        );
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            assert!(limiter.take(a, t0).is_ok());
        }
        let wait = limiter.take(a, t0).unwrap_err();
        assert!(wait > Duration::from_millis(90) && wait <= Duration::from_millis(100));
        // Another client has its own bucket.
        assert!(limiter.take(ip("192.0.2.2"), t0).is_ok());
        // 100 ms later, one more token.
        assert!(limiter.take(a, t0 + Duration::from_millis(101)).is_ok());
        assert!(limiter.take(a, t0 + Duration::from_millis(101)).is_err());
    }
}
