//! Process IDs that no configured SU had, remembered for a few seconds.
//!
//! Without it, every request for an ID this node does not hold makes one GET per configured
//! SU, so anyone could make the node query its SUs at the rate they ask for random IDs. A miss
//! is remembered for a short time only (a process spawned on its SU a moment after it was first
//! asked for here is found soon after), and the set is bounded.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a miss is remembered by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5);
/// The most misses remembered by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Recent misses: ID → when no SU had it.
#[derive(Debug)]
pub struct Misses {
    ttl: Duration,
    capacity: usize,
    seen: Mutex<HashMap<String, Instant>>,
}

impl Misses {
    /// Misses kept for `ttl`, at most `capacity` of them (at least one).
    pub fn new(ttl: Duration, capacity: usize) -> Misses {
        Misses {
            ttl,
            capacity: capacity.max(1),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `id` missed within the last `ttl`.
    pub fn recent(&self, id: &str) -> bool {
        let seen = self.lock();
        seen.get(id).is_some_and(|at| at.elapsed() < self.ttl)
    }

    /// Remember that no SU had `id` now. When full, expired misses go first, then the oldest.
    pub fn record(&self, id: &str) {
        let mut seen = self.lock();
        if seen.len() >= self.capacity && !seen.contains_key(id) {
            let ttl = self.ttl;
            seen.retain(|_, at| at.elapsed() < ttl);
            if seen.len() >= self.capacity
                && let Some(oldest) = seen
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(k, _)| k.clone())
            {
                seen.remove(&oldest);
            }
        }
        seen.insert(id.to_string(), Instant::now());
    }

    /// Misses remembered now (expired ones included until they are pruned).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        // Plain timestamps: a panic elsewhere cannot leave the map unusable.
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for Misses {
    fn default() -> Misses {
        Misses::new(DEFAULT_TTL, DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misses_expire_and_stay_bounded() {
        let misses = Misses::new(Duration::from_millis(50), 3);
        assert!(!misses.recent("a"));
        misses.record("a");
        assert!(misses.recent("a"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(!misses.recent("a"), "a miss is forgotten after the ttl");
        for id in ["b", "c", "d"] {
            misses.record(id);
        }
        // Full: "a" (expired) made room; one more evicts the oldest live one.
        assert_eq!(misses.len(), 3);
        misses.record("e");
        assert_eq!(misses.len(), 3);
        assert!(!misses.recent("b") && misses.recent("e"));
    }
}
