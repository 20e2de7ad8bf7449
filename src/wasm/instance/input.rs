//! One message as the process' `handle` receives it.

use serde_json::Value;

/// One message to evaluate: the message JSON, the environment JSON, and the clock value the
/// host's time functions return while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInput {
    /// The message JSON (`Id`, `Owner`, `From`, `Tags`, `Data`, `Timestamp`, ...).
    pub message: String,
    /// The environment JSON (`{Process: {Id, Owner, Tags}, Module: {Id, Tags}}`).
    pub env: String,
    /// Milliseconds since the epoch: the message's `Timestamp`.
    pub timestamp_ms: u64,
    /// The message's `Block-Height` (0 when absent).
    pub block_height: u64,
}

impl MessageInput {
    /// Serialize a message and environment; the clock is the message's `Timestamp` (a number or
    /// a decimal string; 0 when absent).
    pub fn new(message: &Value, env: &Value) -> MessageInput {
        MessageInput {
            message: message.to_string(),
            env: env.to_string(),
            timestamp_ms: number(message, "Timestamp"),
            block_height: number(message, "Block-Height"),
        }
    }
}

/// A message field that is a number or a decimal string; 0 when absent or neither.
fn number(message: &Value, field: &str) -> u64 {
    match message.get(field) {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}
