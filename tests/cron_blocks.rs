//! Block-based crons (`Cron-Interval: N-blocks`) fed by the gateway's block metadata, as AO's
//! Node CU reads it (`GetBlocks`): between two scheduled messages, every block strictly between
//! them whose height is a multiple of N past the process' own block yields a cron message with
//! that block's height and timestamp. The gateway here is a stub producing one block a second.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod common;
mod prereq;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aocu::ao::{DataItem, Id};
use common::Server;
use serde_json::{Value, json};

/// The height every scheduled message carries (config `block-height`; the stub serves no
/// `/info`).
const ORIGIN: i64 = 1000;

/// A gateway stub: block `h` (from `ORIGIN` up) has timestamp `t0 + (h - ORIGIN)` seconds; it
/// records the `min` of every `GetBlocks` page asked.
fn gateway(t0: i64, asked: Arc<Mutex<Vec<i64>>>) -> std::net::SocketAddr {
    common::stub::serve(move |request| {
        if request.path != "/graphql" {
            return Some((404, b"Not Found".to_vec()));
        }
        let body: Value = serde_json::from_str(&request.body).unwrap_or_default();
        if !request.body.contains("GetBlocks") {
            let empty = json!({"data": {"transactions": {"edges": []}}});
            return Some((200, empty.to_string().into_bytes()));
        }
        let min = body["variables"]["min"].as_i64().unwrap_or(0).max(ORIGIN);
        let limit = body["variables"]["limit"].as_i64().unwrap_or(100);
        asked.lock().unwrap().push(min);
        let edges: Vec<Value> = (min..min + limit)
            .map(|h| json!({"node": {"height": h, "timestamp": t0 + (h - ORIGIN)}}))
            .collect();
        let page = json!({"data": {"blocks": {"pageInfo": {"hasNextPage": true}, "edges": edges}}});
        Some((200, page.to_string().into_bytes()))
    })
}

fn post(node: &Server, item: &DataItem) {
    let (status, body) = node.request("POST", "/", &item.to_bytes());
    assert_eq!(status, 202, "{body}");
}

fn eval(node: &Server, pid: &str, code: &str) -> String {
    let target = pid.parse::<Id>().ok().map(Id::into_bytes);
    let wallet = common::shared_wallet();
    let item = DataItem::signed(
        wallet,
        target,
        None,
        common::ao_tags("Message", &[("Action", "Eval")]),
        code.into(),
    )
    .unwrap();
    post(node, &item);
    item.id()
}

/// The timestamps of a process' slots, from its SU page.
fn slot_timestamps(node: &Server, pid: &str) -> Vec<i64> {
    let (_, page) = node.get_json(&format!("/{pid}?limit=100"));
    common::page_timestamps(&page)
}

#[test]
fn block_crons_run_at_the_gateways_blocks() {
    let Some(aos) = prereq::testdata("wasm/aos-2-pure.wasm") else {
        return;
    };
    let t0 = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()) as i64;
    let asked = Arc::new(Mutex::new(Vec::new()));
    let stub = gateway(t0, asked.clone());
    let dir = tempfile::tempdir().unwrap();
    let gateways = format!("gateways=[\"http://{stub}\"]");
    let height = format!("block-height={ORIGIN}");
    let args = ["--set", "executors=1", "--set", &gateways, "--set", &height];
    let node = Server::start_with_wallet(dir.path(), &common::shared_wallet_path(), &args);
    let wallet = common::shared_wallet();
    let module = aocu::ao::module_item::build(wallet, std::fs::read(&aos).unwrap(), &[]).unwrap();
    let (status, body) = node.request("POST", "/~module@1.0", &module.to_bytes());
    assert_eq!(status, 200, "{body}");
    let crons = [
        ("Module", module.id()),
        ("Scheduler", wallet.address().to_string()),
        ("Cron-Interval", "2-blocks".into()),
        ("Cron-Tag-Action", "Tick".into()),
    ];
    let crons: Vec<(&str, &str)> = crons.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let spawn = DataItem::signed(
        wallet,
        None,
        None,
        common::ao_tags("Process", &crons),
        b"1984".to_vec(),
    )
    .unwrap();
    post(&node, &spawn);
    let pid = spawn.id();
    let ticker = "Ticks = 0\nHandlers.add('tick', Handlers.utils.hasMatchingTag('Action', 'Tick'), \
                  function(m) Ticks = Ticks + 1; print('tick ' .. m['Block-Height'] .. ' at ' .. m.Timestamp) end)\n\
                  return 'ticking'";
    eval(&node, &pid, ticker);
    std::thread::sleep(Duration::from_millis(4500));
    let last = eval(&node, &pid, "return Ticks");
    let (status, result) = node.get_json(&format!("/result/{last}?process-id={pid}"));
    assert_eq!(status, 200, "{result}");
    let ticks: usize = result["Output"]["data"].as_str().unwrap().parse().unwrap();

    // Every tick is a block strictly between slots 1 and 2, an even number of blocks past the
    // process' own, with that block's timestamp.
    let ts = slot_timestamps(&node, &pid);
    let (t1, t2) = (ts[1], ts[2]);
    let (_, page) = node.get_json(&format!("/cron/{pid}?to={}", t2 - 1));
    let printed: Vec<(i64, i64)> = page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            let text = e["node"]["Output"]["data"].as_str()?.to_string();
            let rest = text.strip_prefix("tick ")?;
            let (h, at) = rest.split_once(" at ")?;
            Some((h.trim().parse().ok()?, at.trim().parse().ok()?))
        })
        .collect();
    assert!(ticks >= 1, "{result}");
    assert_eq!(printed.len(), ticks, "{page}");
    for (h, at) in &printed {
        assert!(*h > ORIGIN && (h - ORIGIN) % 2 == 0, "height {h}");
        assert_eq!(*at, (t0 + (h - ORIGIN)) * 1000, "the block's own timestamp");
        assert!(t1 < *at && *at < t2, "{at} between {t1} and {t2}");
    }
    let naive = (ORIGIN + 1..ORIGIN + 100)
        .filter(|h| (h - ORIGIN) % 2 == 0)
        .filter(|h| (t1 + 1..t2).contains(&((t0 + (h - ORIGIN)) * 1000)))
        .count();
    assert!(
        ticks + 1 >= naive && ticks <= naive,
        "{ticks} ticks, {naive} blocks on the cron"
    );
    assert!(
        !asked.lock().unwrap().is_empty(),
        "the blocks came from the gateway"
    );
}
