//! The process' answer: the NUL-terminated JSON string `handle` returns, read from memory and
//! parsed the way AO's loader and CU read it.

use std::ffi::CStr;

use serde_json::{Map, Value};
use wasmtime::{Memory, Store};

use crate::wasm::host::HostState;

/// What the process answered. As AO's CU records a result, absent `Messages`, `Spawns` and
/// `Assignments` become empty lists; an absent `Output` or `Error` stays absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalResult {
    /// `Output` (AOS: `{data, prompt, ...}`).
    pub output: Option<Value>,
    /// Outbox messages.
    pub messages: Option<Value>,
    /// Outbox spawns.
    pub spawns: Option<Value>,
    /// Outbox assignments.
    pub assignments: Option<Value>,
    /// `Error`, when the evaluation failed.
    pub error: Option<Value>,
    /// `GasUsed`, when the module reports one.
    pub gas_used: Option<Value>,
}

impl EvalResult {
    /// A result that carries only an error (the outbox is empty, as AO's CU reports it).
    pub fn from_error(error: Value) -> EvalResult {
        EvalResult {
            messages: Some(Value::Array(vec![])),
            spawns: Some(Value::Array(vec![])),
            assignments: Some(Value::Array(vec![])),
            error: Some(error),
            ..EvalResult::default()
        }
    }

    /// `{Output, Messages, Spawns, Assignments, Error, GasUsed}` with absent fields left out.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        let fields = [
            ("Output", &self.output),
            ("Messages", &self.messages),
            ("Spawns", &self.spawns),
            ("Assignments", &self.assignments),
            ("Error", &self.error),
            ("GasUsed", &self.gas_used),
        ];
        for (name, value) in fields {
            if let Some(v) = value {
                map.insert(name.into(), v.clone());
            }
        }
        Value::Object(map)
    }

    /// Whether `Error` is set to a value JavaScript would treat as true (how AO's CU decides).
    pub fn has_error(&self) -> bool {
        self.error.as_ref().is_some_and(truthy)
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// Why the module's answer is not an AO result. The evaluation fails with
/// [`Failure::BadResult`](super::Failure::BadResult) carrying this text.
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    /// The answer's address lies outside the memory.
    #[error("result pointer {0:#x} is out of bounds")]
    OutOfBounds(u64),
    /// No NUL byte ends the answer before the end of the memory.
    #[error("result string is not NUL-terminated")]
    NotNulTerminated,
    /// The answer does not parse as JSON.
    #[error("result is not JSON: {0}")]
    NotJson(serde_json::Error),
    /// The answer is JSON but not an object.
    #[error("result is not a JSON object")]
    NotObject,
    /// `ok: true` without a `response` object.
    #[error("result has no `response` object")]
    NoResponse,
}

/// Read and parse the NUL-terminated answer at `at`.
pub(super) fn read_result(
    store: &Store<HostState>,
    memory: Memory,
    at: u64,
) -> Result<EvalResult, ResultError> {
    let mem = memory.data(store);
    let tail = usize::try_from(at)
        .ok()
        .and_then(|s| mem.get(s..))
        .ok_or(ResultError::OutOfBounds(at))?;
    let text = CStr::from_bytes_until_nul(tail).map_err(|_| ResultError::NotNulTerminated)?;
    parse_result(text.to_bytes())
}

/// `{ok: true, response: {...}}` → its fields; `ok: false` → the response (or `error`) as `Error`,
/// as AO's loader throws it and AO's CU records it.
pub fn parse_result(bytes: &[u8]) -> Result<EvalResult, ResultError> {
    let value: Value = serde_json::from_slice(bytes).map_err(ResultError::NotJson)?;
    let Value::Object(mut top) = value else {
        return Err(ResultError::NotObject);
    };
    let ok = top.get("ok").and_then(Value::as_bool).unwrap_or(false);
    let response = top.remove("response");
    if !ok {
        let error = response
            .or_else(|| top.remove("error"))
            .unwrap_or_else(|| Value::String("the process answered ok: false".into()));
        return Ok(EvalResult::from_error(error));
    }
    let Some(Value::Object(mut r)) = response else {
        return Err(ResultError::NoResponse);
    };
    Ok(EvalResult {
        output: r.remove("Output"),
        messages: Some(r.remove("Messages").unwrap_or_else(|| Value::Array(vec![]))),
        spawns: Some(r.remove("Spawns").unwrap_or_else(|| Value::Array(vec![]))),
        assignments: Some(
            r.remove("Assignments")
                .unwrap_or_else(|| Value::Array(vec![])),
        ),
        error: r.remove("Error").filter(|e| !e.is_null()),
        gas_used: r.remove("GasUsed"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_parse_like_the_loader() {
        let r = parse_result(br#"{"ok":true,"response":{"Output":{"data":"2"},"Messages":[],"Spawns":[],"Assignments":[]}}"#).unwrap();
        assert_eq!(r.output.unwrap()["data"], "2");
        assert!(r.error.is_none());
        let r = parse_result(br#"{"ok":false,"response":"bad"}"#).unwrap();
        assert!(r.has_error());
        assert!(parse_result(b"nope").is_err());
        assert!(parse_result(br#"{"ok":true}"#).is_err());
        let r = parse_result(br#"{"ok":true,"response":{"Error":""}}"#).unwrap();
        assert!(!r.has_error());
    }

    #[test]
    fn result_errors_keep_their_text() {
        let text = |bytes: &[u8]| parse_result(bytes).unwrap_err().to_string();
        assert!(text(b"nope").starts_with("result is not JSON: "));
        assert_eq!(text(b"[1]"), "result is not a JSON object");
        assert_eq!(text(br#"{"ok":true}"#), "result has no `response` object");
    }
}
