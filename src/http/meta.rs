//! `~meta@1.0`: the node describes itself — hardware, identity, profile, prices, metering.
//!
//! Modelled on the AO-Core node software's meta device: `GET /~meta@1.0/info` is the node
//! message (lower-case, hyphenated keys), `GET /~meta@1.0/info/<key>/<key>...` one value inside
//! it, `GET /~meta@1.0/build` the build facts. `POST /~meta@1.0/info`, signed by the
//! operator, changes it ([`crate::operator`]); `info/node-history` lists the changes.

use super::Body;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};

use super::NodeState;
use super::query::query_pairs;
use super::response::{ApiError, HttpResponse, json as json_response};
use crate::store::AccountOf;

/// Devices this node offers, in AO-Core's `name@version` form.
pub const DEVICES: &[&str] = &["meta@1.0"];

/// The node message as of now.
pub fn node_message(state: &NodeState) -> Value {
    let profile = state.profile.as_ref();
    json!({
        "node": state.identity.section(),
        // The node's wallet address (its scheduler's); `null` while a first start generates it.
        "address": state.scheduler.ready().map(crate::sched::Scheduler::address),
        "hardware": state.hardware,
        "profile": profile.map(|m| json!({
            "name": m.profile.name,
            "description": m.profile.description,
            "source": m.source,
            "reasons": m.reasons,
            "capacity": m.profile.capacity,
        })),
        "price": state.price.get(),
        "ledger": state.store.account(AccountOf::Node).ok(),
        "metering": metering(state),
        "executors": state.executors.as_ref().map(crate::exec::PoolMonitor::to_json),
        "devices": DEVICES,
        "block-height": block_height(state),
        "operator": super::signed::known_operator(state),
        "initialized": match &state.operator {
            Some(operator) if operator.is_permanent() => json!("permanent"),
            _ => json!(true),
        },
        "node-history": state.operator.as_ref().map_or_else(Vec::new, |o| o.history()),
        "simple-pay": state.pay.as_ref().map_or_else(
            || json!({"enabled": false}),
            |pay| json!({"enabled": true, "price": pay.price()}),
        ),
    })
}

/// Most bytes of a `POST /~meta@1.0/info` body: a change is a few header fields.
const MAX_CHANGE_BODY_BYTES: u64 = 64 * 1024;

/// `POST /~meta@1.0/info`: apply the change the operator signed (RFC 9421, `rsa-pss-sha512`),
/// answering as AO-Core's meta device does (`history-length`), with what changed.
pub async fn post_info(state: &NodeState, req: Request<Body>) -> Result<HttpResponse, ApiError> {
    let Some(operator) = state.operator.clone() else {
        return Err(ApiError::not_found(
            "this node's message cannot be changed".to_string(),
        ));
    };
    let address = super::signed::operator_address(state).await?;
    let (parts, body) = super::signed::read_whole(req, MAX_CHANGE_BODY_BYTES).await?;
    let message = super::signed::message(&parts, &body);
    match operator.change(&address, &message, crate::clock::now_ms()) {
        Ok(entry) => {
            tracing::info!(signer = %entry.signer, applied = ?entry.applied, "node message changed by the operator");
            Ok(json_response(&json!({
                "body": format!("Node message updated. History: {} updates.", entry.index),
                "history-length": entry.index,
                "applied": entry.applied,
            })))
        }
        Err(refusal) => {
            tracing::warn!(error = %refusal, "a change of the node message was refused");
            Err(ApiError {
                status: StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::FORBIDDEN),
                kind: refusal.kind(),
                message: refusal.to_string(),
                allow: None,
            })
        }
    }
}

/// The embedded SU's block height and where it came from (`source`: `gateway`, `stored`,
/// `config`; `gateway` and `read-at` for the first two).
fn block_height(state: &NodeState) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("height".into(), json!(state.block_height.get()));
    if let Value::Object(fields) = state.block_height.describe() {
        for (key, value) in fields {
            let key = key.trim_start_matches("block_height_").replace('_', "-");
            out.insert(key, value);
        }
    }
    Value::Object(out)
}

/// The meter's totals, what the node's hasher has hashed (`hashing`: engine, crossover,
/// GPU adapter, bytes and batches per engine, GPU busy time), the signatures its verifier has
/// checked (`verification`: per engine and scheme, GPU busy time, the CPU's RSA backend), and
/// the processes resident under the memory budget (`resident`: count, bytes, budget,
/// evictions, restores).
fn metering(state: &NodeState) -> Value {
    let mut metering = state.meter.to_json();
    if let Value::Object(map) = &mut metering {
        let hasher = crate::hash::shared();
        map.insert("hashing".into(), crate::hash::shared::describe(hasher));
        map.insert(
            "verification".into(),
            serde_json::to_value(crate::verify::shared().stats()).unwrap_or(Value::Null),
        );
        if let Some(cu) = &state.cu {
            map.insert("resident".into(), cu.budget().to_json());
        }
    }
    metering
}

/// Handle `GET /~meta@1.0/<rest>?<query>` where `rest` is the path after the device name.
pub fn get(
    state: &NodeState,
    rest: &[&str],
    query: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    match rest {
        ["metering"] => Ok(json_response(&ledger_account(state, query)?)),
        ["info"] => Ok(json_response(&node_message(state))),
        ["info", keys @ ..] => {
            let message = node_message(state);
            let value = lookup(&message, keys).ok_or_else(|| {
                ApiError::not_found(format!("no key `{}` in the node message", keys.join("/")))
            })?;
            Ok(json_response(value))
        }
        ["build"] => Ok(json_response(&crate::node::build_info())),
        _ => Err(ApiError::not_found(format!(
            "~meta@1.0 has no path /{}; try /~meta@1.0/info or /~meta@1.0/build",
            rest.join("/")
        ))),
    }
}

/// `GET /~meta@1.0/metering?process=ID` or `?owner=ADDRESS`: what the ledger charged to one
/// process or one owner (the whole node with neither), in the schedule's currency.
fn ledger_account(state: &NodeState, query: Option<&str>) -> Result<Value, ApiError> {
    let pairs = query_pairs(query)?;
    let process = pairs.iter().find(|(k, _)| k == "process").map(|(_, v)| v);
    let owner = pairs.iter().find(|(k, _)| k == "owner").map(|(_, v)| v);
    let (of, mut out) = match (process, owner) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give `process` or `owner`, not both".to_string(),
            ));
        }
        (Some(id), None) => {
            id.parse::<crate::ao::Id>().map_err(|_| {
                ApiError::bad_request(format!("`process` must be a 43-character ID, got `{id}`"))
            })?;
            (AccountOf::Process(id), json!({"process": id}))
        }
        (None, Some(address)) => {
            if !is_address(address) {
                return Err(ApiError::bad_request(format!(
                    "`owner` must be an address (43-character Arweave or 0x Ethereum), got `{address}`"
                )));
            }
            (AccountOf::Owner(address), json!({"owner": address}))
        }
        (None, None) => (
            AccountOf::Node,
            json!({"node": state.identity.section().name}),
        ),
    };
    let account = state
        .store
        .account(of)
        .map_err(|e| ApiError::internal(format!("reading the ledger: {e}")))?;
    out["currency"] = json!(state.price.get().currency);
    out["ledger"] = json!(account);
    Ok(out)
}

/// Whether `text` can be an owner address: base64url or `0x` hex, of a sane length.
fn is_address(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Follow `keys` into a JSON value: object keys by name, array elements by index.
pub fn lookup<'a>(value: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(value, |v, key| match v {
        Value::Object(map) => map.get(*key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_follows_objects_and_arrays() {
        let v = json!({"a": {"b": [10, {"c": true}]}});
        assert_eq!(lookup(&v, &["a", "b", "0"]), Some(&json!(10)));
        assert_eq!(lookup(&v, &["a", "b", "1", "c"]), Some(&json!(true)));
        assert_eq!(lookup(&v, &["a", "x"]), None);
        assert_eq!(lookup(&v, &["a", "b", "9"]), None);
        assert_eq!(lookup(&v, &[]), Some(&v));
    }
}
