//! Per-process limits: memory (bytes), compute (fuel per message) and wall-clock time per message.
//!
//! As AO's legacy CU does, `Memory-Limit` and `Compute-Limit` are read from the process' tags,
//! falling back to the module's tags. `Memory-Limit` is written like `1-gb` or `500-mb`: the dash
//! is dropped and the rest is parsed with binary multiples (`kb` = 1024 bytes), as the `bytes`
//! npm package does; `Compute-Limit` is an integer. The node's configured maxima cap both.

use std::time::Duration;

use crate::ao::Tags;

/// Node-wide maxima and defaults (from the configuration keys `max-memory-bytes`, `max-compute`,
/// `message-timeout-ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeLimits {
    /// Largest memory any process may have, in bytes.
    pub max_memory_bytes: u64,
    /// Largest compute (fuel) any single message may use.
    pub max_compute: u64,
    /// Longest wall-clock time one message may run.
    pub message_timeout: Duration,
}

impl Default for NodeLimits {
    fn default() -> NodeLimits {
        NodeLimits {
            max_memory_bytes: 4 << 30,
            // The reference loader is started with computeLimit 9e12 by AO's CU.
            max_compute: 9_000_000_000_000,
            message_timeout: Duration::from_secs(30),
        }
    }
}

/// The limits one process runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Memory limit in bytes.
    pub memory_bytes: u64,
    /// Fuel per message.
    pub compute: u64,
    /// Wall-clock time per message.
    pub timeout: Duration,
}

impl Limits {
    /// The node maxima themselves (for tests and tools).
    pub fn from_node(node: &NodeLimits) -> Limits {
        Limits {
            memory_bytes: node.max_memory_bytes,
            compute: node.max_compute,
            timeout: node.message_timeout,
        }
    }

    /// Limits from the `Memory-Limit` / `Compute-Limit` tag values (process tag first, else the
    /// module's), capped by the node maxima. A tag that cannot be parsed is an error naming it.
    pub fn from_tags(
        memory_limit: Option<&str>,
        compute_limit: Option<&str>,
        node: &NodeLimits,
    ) -> Result<Limits, LimitError> {
        let memory = match memory_limit.filter(|v| !v.is_empty()) {
            Some(text) => parse_memory_limit(text)?,
            None => node.max_memory_bytes,
        };
        let compute = match compute_limit.filter(|v| !v.is_empty()) {
            Some(text) => parse_compute_limit(text)?,
            None => node.max_compute,
        };
        Ok(Limits {
            memory_bytes: memory.min(node.max_memory_bytes),
            compute: compute.min(node.max_compute),
            timeout: node.message_timeout,
        })
    }

    /// Limits from a process' tags, else its module's (`Memory-Limit`, `Compute-Limit`).
    pub fn from_process_and_module(
        process_tags: &Tags,
        module_tags: &Tags,
        node: &NodeLimits,
    ) -> Result<Limits, LimitError> {
        let find = |name: &str| process_tags.get(name).or_else(|| module_tags.get(name));
        Limits::from_tags(find("Memory-Limit"), find("Compute-Limit"), node)
    }
}

/// A limit tag that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// `Memory-Limit` is not a size like `1-gb`.
    #[error("Memory-Limit `{0}` is not a size like `1-gb` or `500-mb`")]
    Memory(String),
    /// `Compute-Limit` is not a non-negative integer.
    #[error("Compute-Limit `{0}` is not a non-negative integer")]
    Compute(String),
}

/// Parse `1-gb`, `500-mb`, `1.5gb`, `65536` (bytes) the way AO's CU does.
pub fn parse_memory_limit(text: &str) -> Result<u64, LimitError> {
    let bad = || LimitError::Memory(text.to_string());
    let cleaned = text.replacen('-', "", 1).trim().to_ascii_lowercase();
    let split = cleaned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(cleaned.len());
    let (number, unit) = cleaned.split_at(split);
    let value: f64 = number.parse().map_err(|_| bad())?;
    let shift = match unit.trim() {
        "" | "b" => 0,
        "kb" => 10,
        "mb" => 20,
        "gb" => 30,
        "tb" => 40,
        "pb" => 50,
        _ => return Err(bad()),
    };
    let bytes = (value * (1u64 << shift) as f64).floor();
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// Parse a `Compute-Limit` value: leading decimal digits, as JavaScript's `parseInt` reads them.
pub fn parse_compute_limit(text: &str) -> Result<u64, LimitError> {
    let digits: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits
        .parse()
        .map_err(|_| LimitError::Compute(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_limits_parse_like_the_cu() {
        assert_eq!(parse_memory_limit("1-gb").unwrap(), 1 << 30);
        assert_eq!(parse_memory_limit("500-mb").unwrap(), 500 << 20);
        assert_eq!(parse_memory_limit("16-MB").unwrap(), 16 << 20);
        assert_eq!(parse_memory_limit("1.5gb").unwrap(), 3 << 29);
        assert_eq!(parse_memory_limit("4096").unwrap(), 4096);
        assert!(parse_memory_limit("lots").is_err());
        assert!(parse_memory_limit("1-zb").is_err());
    }

    #[test]
    fn compute_limits_parse_like_parse_int() {
        assert_eq!(
            parse_compute_limit("9000000000000").unwrap(),
            9_000_000_000_000
        );
        assert_eq!(parse_compute_limit("42abc").unwrap(), 42);
        assert!(parse_compute_limit("x").is_err());
    }

    #[test]
    fn node_maxima_cap_the_tags() {
        let node = NodeLimits {
            max_memory_bytes: 256 << 20,
            max_compute: 1000,
            message_timeout: Duration::from_millis(5),
        };
        let l = Limits::from_tags(Some("1-gb"), Some("10"), &node).unwrap();
        assert_eq!(l.memory_bytes, 256 << 20);
        assert_eq!(l.compute, 10);
        let tags = Tags::from(vec![crate::ao::Tag::new("Compute-Limit", "99999")]);
        let module = Tags::from(vec![crate::ao::Tag::new("Memory-Limit", "1-mb")]);
        let l = Limits::from_process_and_module(&tags, &module, &node).unwrap();
        assert_eq!((l.memory_bytes, l.compute), (1 << 20, 1000));
    }
}
