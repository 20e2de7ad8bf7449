//! Which executor owns a process.
//!
//! The rule, stable across restarts, machines and releases: take the first 8 bytes of the
//! BLAKE3 hash of the process ID's UTF-8 bytes as a little-endian `u64` key, and map it to one
//! of `n` executors with Lamping and Veach's jump consistent hash ("A Fast, Minimal Memory,
//! Consistent Hash Algorithm", 2014). Jump hash spreads keys as evenly as `key % n` does, and
//! when `n` changes from `n` to `n + 1` only about `1/(n + 1)` of the processes move, so a
//! node whose executor count changes keeps most processes' warm state on the same executor.

/// The executor index (`0..executors`) that owns `process_id`. `executors` of 0 is treated as 1.
pub fn executor_for(process_id: &str, executors: usize) -> usize {
    let digest = blake3::hash(process_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    jump_hash(u64::from_le_bytes(first), executors.max(1))
}

/// Jump consistent hash: a bucket in `0..buckets` for `key`.
fn jump_hash(mut key: u64, buckets: usize) -> usize {
    let buckets = buckets as u64;
    let (mut bucket, mut next) = (0u64, 0u64);
    while next < buckets {
        bucket = next;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        // The next bucket where this key would jump, drawn from the key's top 31 bits. The
        // float arithmetic is IEEE-754 double, exact and the same on every platform.
        let draw = ((key >> 33) + 1) as f64;
        next = ((bucket + 1) as f64 * ((1u64 << 31) as f64 / draw)) as u64;
    }
    bucket as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_executor_takes_everything() {
        for id in ["", "a", "process"] {
            assert_eq!(executor_for(id, 1), 0);
            assert_eq!(executor_for(id, 0), 0);
        }
    }

    #[test]
    fn jump_hash_moves_few_keys_when_growing() {
        let keys: Vec<u64> = (0..10_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        for n in 1..12usize {
            let moved = keys
                .iter()
                .filter(|k| jump_hash(**k, n) != jump_hash(**k, n + 1))
                .count();
            // Every key that moves goes to the new bucket, and about 1/(n+1) of them do.
            assert!(
                keys.iter()
                    .filter(|k| jump_hash(**k, n) != jump_hash(**k, n + 1))
                    .all(|k| jump_hash(*k, n + 1) == n)
            );
            let expected = keys.len() / (n + 1);
            assert!(
                moved.abs_diff(expected) < expected / 5 + 50,
                "n={n} moved={moved}"
            );
        }
    }
}
