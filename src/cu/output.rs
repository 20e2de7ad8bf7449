//! The shapes of evaluation results as AO's legacy CU answers them.
//!
//! The CU folds each process answer into `{Memory, Error, Messages, Assignments, Spawns,
//! Output, GasUsed}` (`servers/cu/src/effects/worker/evaluate.js`, `mergeOutput`): the outbox
//! lists default to `[]`, `Output` to `""` (a number becomes its decimal string), and `Error` and
//! `GasUsed` stay absent unless the process set them. `GET /result` and `POST /dry-run` answer
//! that object without `Memory`; `GET /results` answers, per evaluation, `{Messages,
//! Assignments, Spawns, Output, Error}` (`domain/lib/gatherResults.js`), where an absent
//! `Output` or `Error` is left out of the JSON.

use serde_json::{Map, Value};

/// The result of one evaluation as `GET /result` answers it.
///
/// `raw` is what the process answered (`{Output, Messages, Spawns, Assignments, Error,
/// GasUsed}`, any field possibly absent); fields outside those are dropped.
pub fn result_json(raw: &Value) -> Value {
    let get = |name: &str| raw.get(name).filter(|v| !v.is_null());
    let mut out = Map::new();
    out.insert("Messages".into(), list(get("Messages")));
    out.insert("Assignments".into(), list(get("Assignments")));
    out.insert("Spawns".into(), list(get("Spawns")));
    out.insert("Output".into(), output_value(get("Output")));
    if let Some(error) = get("Error") {
        out.insert("Error".into(), error.clone());
    }
    if let Some(gas) = get("GasUsed") {
        out.insert("GasUsed".into(), gas.clone());
    }
    Value::Object(out)
}

/// One node of `GET /results`: the outbox of an evaluation, from its stored result.
pub fn results_node(result: &Value) -> Value {
    let get = |name: &str| result.get(name).filter(|v| !v.is_null());
    let mut out = Map::new();
    out.insert("Messages".into(), list(get("Messages")));
    out.insert("Assignments".into(), list(get("Assignments")));
    out.insert("Spawns".into(), list(get("Spawns")));
    if let Some(output) = get("Output") {
        out.insert("Output".into(), output.clone());
    }
    if let Some(error) = get("Error") {
        out.insert("Error".into(), error.clone());
    }
    Value::Object(out)
}

/// Whether a stored result carries an `Error` that JavaScript would treat as true: AO's CU
/// leaves such evaluations out of `GET /results`.
pub fn has_error(result: &Value) -> bool {
    match result.get("Error") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// An outbox list: the array as given, `[]` when absent or not an array.
fn list(value: Option<&Value>) -> Value {
    match value {
        Some(Value::Array(items)) => Value::Array(items.clone()),
        _ => Value::Array(Vec::new()),
    }
}

/// `Output` is always a string or an object; a number becomes its decimal text.
fn output_value(value: Option<&Value>) -> Value {
    match value {
        None => Value::String(String::new()),
        Some(Value::Number(n)) => Value::String(n.to_string()),
        Some(other) => other.clone(),
    }
}

/// The answer of one evaluation: [`result_json`] of what the process answered, with the fuel
/// it used as `GasUsed` when the process set none (AO's loader reports the gas it metered).
pub fn answer(evaluation: &crate::wasm::Evaluation) -> Value {
    let mut raw = evaluation.result.to_json();
    if evaluation.result.gas_used.is_none()
        && let Value::Object(map) = &mut raw
    {
        map.insert("GasUsed".into(), evaluation.metering.fuel.into());
    }
    result_json(&raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn result_defaults_and_passthrough() {
        let r = result_json(&json!({ "Output": 7, "Memory": "x", "Other": 1 }));
        assert_eq!(
            r,
            json!({ "Messages": [], "Assignments": [], "Spawns": [], "Output": "7" })
        );
        let r = result_json(&json!({
            "Output": { "data": "2", "prompt": "> " },
            "Messages": [{ "Target": "T" }],
            "Error": "boom",
            "GasUsed": 123
        }));
        assert_eq!(r["Output"]["data"], "2");
        assert_eq!(r["Messages"][0]["Target"], "T");
        assert_eq!(r["Error"], "boom");
        assert_eq!(r["GasUsed"], 123);
        assert_eq!(result_json(&json!({}))["Output"], "");
        assert!(
            result_json(&json!({ "Error": null }))
                .get("Error")
                .is_none()
        );
    }

    #[test]
    fn results_node_leaves_absent_fields_out() {
        let n = results_node(&json!({ "Output": "x", "GasUsed": 5 }));
        assert_eq!(
            n,
            json!({ "Messages": [], "Assignments": [], "Spawns": [], "Output": "x" })
        );
        assert!(results_node(&json!({})).get("Output").is_none());
    }

    #[test]
    fn error_truthiness_is_javascripts() {
        assert!(has_error(&json!({ "Error": "boom" })));
        assert!(has_error(&json!({ "Error": { "x": 1 } })));
        assert!(!has_error(&json!({ "Error": "" })));
        assert!(!has_error(&json!({ "Error": null })));
        assert!(!has_error(&json!({ "Error": 0 })));
        assert!(!has_error(&json!({ "Output": "x" })));
    }
}
