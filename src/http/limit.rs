//! The per-client rate limit (config `rate-limit-per-minute`; 0, the default, is off).
//!
//! Each client has a bucket of `rate-limit-per-minute` requests that refills evenly over a
//! minute (one request every `60 s / limit`): a client may send a minute's worth at once, then
//! one per interval. This is GCRA: per client one number, the time its bucket is full again, so
//! the hot path is one lock, one map lookup and a few additions.
//!
//! Clients are keyed by the peer address of the connection (IPv6 by its /64, which one host
//! usually holds whole). The map is bounded: a client whose bucket is full again is the same as
//! one never seen and is dropped at the next sweep; when [`MAX_CLIENTS`] clients are all active
//! at once, a new one is refused until some bucket fills, so that many addresses cannot make the
//! node grow without bound.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most clients tracked at once (about 40 bytes each).
pub const MAX_CLIENTS: usize = 65_536;

/// A refusal: when the client may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// Time until the next request is accepted.
    pub retry_after: Duration,
}

impl Limited {
    /// `Retry-After` in whole seconds, rounded up (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_nanos().div_ceil(1_000_000_000).max(1) as u64
    }
}

/// Requests per minute per client.
#[derive(Debug)]
pub struct RateLimiter {
    /// Time between two requests once the burst is spent.
    interval: u64,
    /// How far ahead of now a client's bucket may be full again: the burst, less one interval.
    tolerance: u64,
    start: Instant,
    clients: Mutex<Clients>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Clients {
    /// Client → the time (ns after `start`) its bucket is full again.
    full_at: HashMap<IpAddr, u64>,
    /// When the map was last swept of full buckets.
    swept_at: u64,
}

impl RateLimiter {
    /// A limiter of `per_minute` requests per minute per client; `None` for 0 (off).
    pub fn new(per_minute: u32) -> Option<RateLimiter> {
        RateLimiter::with_capacity(per_minute, MAX_CLIENTS)
    }

    /// As [`new`](Self::new), tracking at most `capacity` clients.
    pub fn with_capacity(per_minute: u32, capacity: usize) -> Option<RateLimiter> {
        if per_minute == 0 {
            return None;
        }
        let minute = 60_000_000_000u64;
        let interval = minute / u64::from(per_minute);
        Some(RateLimiter {
            interval,
            tolerance: minute - interval,
            start: Instant::now(),
            clients: Mutex::new(Clients::default()),
            capacity: capacity.max(1),
        })
    }

    /// Count one request of `client`: `Err` when it is over its limit.
    pub fn check(&self, client: IpAddr) -> Result<(), Limited> {
        self.check_at(client, self.start.elapsed())
    }

    fn check_at(&self, client: IpAddr, now: Duration) -> Result<(), Limited> {
        let now = now.as_nanos() as u64;
        let key = key_of(client);
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let full_at = match clients.full_at.get(&key) {
            Some(&t) => t.max(now),
            None => {
                if clients.full_at.len() >= self.capacity {
                    self.sweep(&mut clients, now);
                }
                if clients.full_at.len() >= self.capacity {
                    // Every tracked client is active: the earliest bucket to fill frees a place.
                    let first = clients.full_at.values().min().copied().unwrap_or(now);
                    return Err(Limited {
                        retry_after: Duration::from_nanos(first.saturating_sub(now)),
                    });
                }
                now
            }
        };
        if full_at - now > self.tolerance {
            return Err(Limited {
                retry_after: Duration::from_nanos(full_at - now - self.tolerance),
            });
        }
        clients.full_at.insert(key, full_at + self.interval);
        Ok(())
    }

    /// Drop the clients whose bucket is full again (at most once per interval: a full map of
    /// active clients is not swept on every request).
    fn sweep(&self, clients: &mut Clients, now: u64) {
        if now < clients.swept_at.saturating_add(self.interval) && clients.swept_at != 0 {
            return;
        }
        clients.swept_at = now.max(1);
        clients.full_at.retain(|_, full_at| *full_at > now);
    }

    /// Clients tracked now.
    pub fn tracked(&self) -> usize {
        let clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients.full_at.len()
    }
}

/// IPv4 addresses as they are; IPv6 by their /64 (an IPv4-mapped one as its IPv4 address).
fn key_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn off_at_zero() {
        assert!(RateLimiter::new(0).is_none());
    }

    #[test]
    fn burst_then_one_per_interval() {
        // 60 a minute: 60 at once, then one a second.
        let limiter = RateLimiter::new(60).unwrap();
        let a = ip("10.0.0.1");
        let t0 = Duration::from_secs(100);
        for i in 0..60 {
            assert_eq!(limiter.check_at(a, t0), Ok(()), "request {i}");
        }
        let refused = limiter.check_at(a, t0).unwrap_err();
        assert_eq!(refused.retry_after, SEC);
        assert_eq!(refused.retry_after_secs(), 1);
        // Another client is not affected.
        assert_eq!(limiter.check_at(ip("10.0.0.2"), t0), Ok(()));
        // Half a second later: still no; a second later: exactly one more.
        let half = limiter.check_at(a, t0 + SEC / 2).unwrap_err();
        assert_eq!(half.retry_after, SEC / 2);
        assert_eq!(limiter.check_at(a, t0 + SEC), Ok(()));
        assert!(limiter.check_at(a, t0 + SEC).is_err());
        // After a minute idle the whole burst is back.
        let later = t0 + 62 * SEC;
        for _ in 0..60 {
            assert_eq!(limiter.check_at(a, later), Ok(()));
        }
        assert!(limiter.check_at(a, later).is_err());
    }

    #[test]
    fn retry_after_rounds_up() {
        // 7 a minute: one every 8.57 s.
        let limiter = RateLimiter::new(7).unwrap();
        let a = ip("192.0.2.1");
        for _ in 0..7 {
            limiter.check_at(a, SEC).unwrap();
        }
        let refused = limiter.check_at(a, SEC).unwrap_err();
        assert_eq!(refused.retry_after_secs(), 9);
    }

    #[test]
    fn ipv6_by_prefix_and_mapped_v4() {
        let limiter = RateLimiter::new(1).unwrap();
        limiter.check_at(ip("2001:db8::1"), SEC).unwrap();
        assert!(
            limiter.check_at(ip("2001:db8::2"), SEC).is_err(),
            "same /64"
        );
        limiter.check_at(ip("2001:db8:0:1::1"), SEC).unwrap();
        limiter.check_at(ip("10.1.1.1"), SEC).unwrap();
        assert!(limiter.check_at(ip("::ffff:10.1.1.1"), SEC).is_err());
    }

    #[test]
    fn the_map_is_bounded() {
        let limiter = RateLimiter::with_capacity(60, 4).unwrap();
        let t0 = Duration::from_secs(10);
        for i in 1..=4 {
            limiter.check_at(ip(&format!("10.0.0.{i}")), t0).unwrap();
        }
        // Four active clients: a fifth waits until the first bucket is full again (1 s).
        let refused = limiter.check_at(ip("10.0.0.5"), t0).unwrap_err();
        assert_eq!(refused.retry_after, SEC);
        assert_eq!(limiter.tracked(), 4);
        // Known clients still pass.
        limiter.check_at(ip("10.0.0.1"), t0).unwrap();
        // Once their buckets are full again the sweep drops them and new clients come in.
        let later = t0 + 3 * SEC;
        limiter.check_at(ip("10.0.0.5"), later).unwrap();
        assert!(limiter.tracked() <= 4, "{}", limiter.tracked());
        for i in 6..100 {
            let _ = limiter.check_at(ip(&format!("10.0.1.{i}")), later + i * SEC);
            assert!(limiter.tracked() <= 4);
        }
    }
}
