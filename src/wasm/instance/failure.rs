//! Why an evaluation failed, told apart from what wasmtime and the host report.

use std::time::Duration;

use serde_json::Value;
use wasmtime::Trap;

use super::abi::CallError;
use super::result::EvalResult;
use crate::wasm::host::{HostExit, Longjmp};
use crate::wasm::limits::Limits;

/// Why an evaluation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The process returned a result with an `Error` (e.g. a Lua `error()`).
    ProcessError,
    /// The message used all the fuel of its compute limit.
    OutOfFuel {
        /// The limit.
        limit: u64,
    },
    /// The message ran past the wall-clock timeout.
    Timeout {
        /// The timeout.
        limit: Duration,
    },
    /// The memory limit refused a growth and the message failed.
    MemoryLimit {
        /// The limit in bytes.
        limit: u64,
    },
    /// A WebAssembly trap.
    Trap(String),
    /// The module ended through the host (`exit`, `abort`, an unavailable feature).
    Exit(String),
    /// The module's answer is not an AO result.
    BadResult(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::ProcessError => write!(f, "the process returned an error"),
            Failure::OutOfFuel { limit } => {
                write!(
                    f,
                    "out of compute: the message used its whole Compute-Limit of {limit}"
                )
            }
            Failure::Timeout { limit } => {
                write!(
                    f,
                    "timeout: the message ran longer than {} ms",
                    limit.as_millis()
                )
            }
            Failure::MemoryLimit { limit } => {
                write!(
                    f,
                    "out of memory: the process reached its Memory-Limit of {limit} bytes"
                )
            }
            Failure::Trap(t) => write!(f, "trap: {t}"),
            Failure::Exit(e) => write!(f, "{e}"),
            Failure::BadResult(e) => write!(f, "invalid result from the process: {e}"),
        }
    }
}

/// Whether AOS answered that its buffer allocation failed: an answer without `Error` that is
/// still not kept (the message's memory is discarded, as AO's CU does).
pub(super) fn buffer_allocation_error(result: &EvalResult) -> bool {
    const NEEDLE: &str = "not enough memory for buffer allocation";
    match &result.output {
        Some(Value::String(s)) => s.ends_with(NEEDLE),
        Some(Value::Object(o)) => o
            .get("data")
            .and_then(|d| d.get("output"))
            .and_then(Value::as_str)
            .is_some_and(|s| s.ends_with(NEEDLE)),
        _ => false,
    }
}

/// The failure a failed call stands for; `memory_exceeded` says whether the memory limit
/// refused a growth during the call (a trap that follows is blamed on the limit).
pub(super) fn classify(e: CallError, memory_exceeded: bool, limits: &Limits) -> Failure {
    let e = match e {
        CallError::Wasm(e) => e,
        other => return Failure::BadResult(other.to_string()),
    };
    if let Some(trap) = e.downcast_ref::<Trap>() {
        return match trap {
            Trap::OutOfFuel => Failure::OutOfFuel {
                limit: limits.compute,
            },
            Trap::Interrupt => Failure::Timeout {
                limit: limits.timeout,
            },
            _ if memory_exceeded => Failure::MemoryLimit {
                limit: limits.memory_bytes,
            },
            other => Failure::Trap(other.to_string()),
        };
    }
    if memory_exceeded {
        return Failure::MemoryLimit {
            limit: limits.memory_bytes,
        };
    }
    if let Some(exit) = e.downcast_ref::<HostExit>() {
        return Failure::Exit(exit.0.clone());
    }
    if e.is::<Longjmp>() {
        return Failure::Trap("longjmp without a matching setjmp".into());
    }
    Failure::Trap(format!("{e:#}"))
}
