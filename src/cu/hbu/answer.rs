//! The answers HyperBEAM reads, in the Node CU's shapes.
//!
//! HyperBEAM turns a result into a message (`dev_json_iface:json_to_message/2`): any top-level
//! `Error` key makes the whole result an error, its data is `Output.data` when `Output` is an
//! object (a string `Output` loses the data and the outbox), and `Messages` become the outbox in
//! list order. So an answer here has no `Error` key on success and an `Output` object that
//! always has `data`.

use serde_json::{Value, json};

/// The `ao-types` header of a `/result` answer (`routes/result.js`).
pub const AO_TYPES: &str = "timestamp=integer,block-height=integer,slot=integer,cold-start=atom,cu-cached=atom,eval-stream-length=integer";

/// The answer to `POST /result/{slot}`.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotAnswer {
    /// The result, as HyperBEAM reads it.
    pub result: Value,
    /// The message at the slot (`Message` header).
    pub message_id: String,
    /// The slot (`slot`).
    pub slot: u64,
    /// Its timestamp (`timestamp`).
    pub timestamp: u64,
    /// Its block height (`block-height`).
    pub block_height: u64,
    /// The process was read from HyperBEAM by this request (`cold-start`).
    pub cold_start: bool,
    /// The result was already stored (`cu-cached`).
    pub cached: bool,
    /// Messages evaluated for this answer (`eval-stream-length`).
    pub evaluated: u64,
}

impl SlotAnswer {
    /// The headers of the answer, names and values as the Node CU sends them.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Message", self.message_id.clone()),
            ("timestamp", self.timestamp.to_string()),
            ("block-height", self.block_height.to_string()),
            ("slot", self.slot.to_string()),
            ("ao-types", AO_TYPES.to_string()),
            ("cold-start", self.cold_start.to_string()),
            ("cu-cached", self.cached.to_string()),
            ("eval-stream-length", self.evaluated.to_string()),
        ]
    }
}

/// A stored result as HyperBEAM reads it: `Output` an object with `data` (a text `Output`
/// becomes its `data`), no `Error` key unless the evaluation failed; the rest unchanged.
pub fn hbu_result(result: &Value) -> Value {
    let mut out = match result {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    let output = match out.remove("Output") {
        Some(Value::Object(mut object)) => {
            object.entry("data").or_insert_with(|| json!(""));
            Value::Object(object)
        }
        Some(Value::String(text)) => json!({ "data": text }),
        Some(Value::Null) | None => json!({ "data": "" }),
        Some(other) => json!({ "data": other.to_string() }),
    };
    out.insert("Output".into(), output);
    if out.get("Error").is_some_and(Value::is_null) {
        out.remove("Error");
    }
    for list in ["Messages", "Assignments", "Spawns"] {
        if !out.get(list).is_some_and(Value::is_array) {
            out.insert(list.into(), json!([]));
        }
    }
    Value::Object(out)
}

/// A checkpoint taken for `POST /snapshot/{process}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The process.
    pub process: String,
    /// Its module.
    pub module: String,
    /// The message of the slot it was taken after.
    pub message: String,
    /// That slot's hash-chain link (empty when it has none).
    pub hash_chain: String,
    /// That slot's timestamp.
    pub timestamp: u64,
    /// That slot's block height.
    pub block_height: u64,
    /// That slot's epoch.
    pub epoch: u64,
    /// The slot (the Node CU's nonce and ordinate).
    pub slot: u64,
    /// Where it is kept.
    pub file: String,
}

impl Snapshot {
    /// The `snapshot-*` headers HyperBEAM stores (`routes/snapshot.js`).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("snapshot-timestamp", self.timestamp.to_string()),
            ("snapshot-ordinate", self.slot.to_string()),
            ("snapshot-block-height", self.block_height.to_string()),
            ("snapshot-module-id", self.module.clone()),
            ("snapshot-nonce", self.slot.to_string()),
            ("snapshot-epoch", self.epoch.to_string()),
        ];
        if !self.hash_chain.is_empty() {
            headers.push(("snapshot-hash-chain", self.hash_chain.clone()));
        }
        headers
    }

    /// The body (`{success, message, processId, file, timestamp, ordinate, snapshot}`).
    pub fn body(&self) -> Value {
        let hash_chain = (!self.hash_chain.is_empty()).then_some(&self.hash_chain);
        json!({
            "success": true,
            "message": format!("File snapshot forced for process {}", self.process),
            "processId": self.process,
            "file": self.file,
            "timestamp": self.timestamp,
            "ordinate": self.slot.to_string(),
            "snapshot": {
                "processId": self.process,
                "moduleId": self.module,
                "messageId": self.message,
                "assignmentId": Value::Null,
                "hashChain": hash_chain,
                "timestamp": self.timestamp,
                "epoch": self.epoch,
                "nonce": self.slot,
                "blockHeight": self.block_height,
                "ordinate": self.slot.to_string(),
                "encoding": "zstd",
                "cron": Value::Null,
                "memoryId": Value::Null,
                "memoryEncoding": Value::Null,
            }
        })
    }
}

/// The body of a `/snapshot` for a process with no memory to keep (404).
pub fn no_memory(process: &str) -> Value {
    json!({
        "success": false,
        "message": format!("No cached memory found for process {process}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_always_an_object_with_data() {
        let r = hbu_result(&json!({"Output": "7", "Messages": [{"Target": "A"}, {"Target": "B"}]}));
        assert_eq!(r["Output"], json!({"data": "7"}));
        assert_eq!(r["Messages"][1]["Target"], "B", "outbox order kept");
        assert!(r.get("Error").is_none());
        let r = hbu_result(&json!({"Output": {"prompt": "> "}, "Error": null}));
        assert_eq!(r["Output"]["data"], "");
        assert!(
            r.get("Error").is_none(),
            "a null Error is no error for HyperBEAM"
        );
        assert_eq!(r["Spawns"], json!([]));
        let r = hbu_result(&json!({"Output": {"data": "x"}, "Error": "boom"}));
        assert_eq!(r["Error"], "boom");
    }

    #[test]
    fn headers_are_the_node_cus() {
        let a = SlotAnswer {
            result: json!({}),
            message_id: "M".into(),
            slot: 4,
            timestamp: 10,
            block_height: 2,
            cold_start: false,
            cached: true,
            evaluated: 0,
        };
        let h = a.headers();
        assert!(h.contains(&("slot", "4".into())));
        assert!(h.contains(&("ao-types", AO_TYPES.into())));
        assert!(h.contains(&("cu-cached", "true".into())));
    }
}
