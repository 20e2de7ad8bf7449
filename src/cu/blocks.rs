//! The blocks block-based crons need, from the gateways, kept in memory once read (blocks do not
//! change): the blocks from a height up to a time, for one cron span.
//!
//! Read on the executor thread that evaluates the span, waiting on the node's runtime no longer
//! than the message time limit; a span whose blocks cannot be read fails (the Node CU fails the
//! evaluation the same way) and is tried again on the next read.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ao::cron::Block;
use crate::arweave::Gateways;

/// Block metadata from the gateways, cached.
#[derive(Debug)]
pub struct GatewayBlocks {
    gateways: Arc<Gateways>,
    runtime: tokio::runtime::Handle,
    timeout: Duration,
    /// Height → timestamp (ms) of every block read so far.
    known: Mutex<BTreeMap<i64, i64>>,
}

impl GatewayBlocks {
    /// Blocks read from `gateways` on `runtime`, a read waiting at most `timeout`.
    pub fn new(
        gateways: Arc<Gateways>,
        runtime: tokio::runtime::Handle,
        timeout: Duration,
    ) -> GatewayBlocks {
        GatewayBlocks {
            gateways,
            runtime,
            timeout,
            known: Mutex::new(BTreeMap::new()),
        }
    }

    /// The blocks from height `min` whose timestamp is at most `max_timestamp_ms`, ascending.
    pub fn between(&self, min: i64, max_timestamp_ms: i64) -> Result<Vec<Block>, String> {
        if let Some(known) = self.cached(min, max_timestamp_ms) {
            return Ok(known);
        }
        let gateways = self.gateways.clone();
        let from = u64::try_from(min).unwrap_or(0);
        let read = async move { gateways.blocks(from, max_timestamp_ms).await };
        let deadline = Instant::now() + self.timeout;
        let blocks = match super::bridge::wait_until(&self.runtime, read, deadline) {
            Some(Ok(blocks)) => blocks,
            Some(Err(e)) => return Err(format!("cannot read block metadata: {e}")),
            None => return Err("block metadata: no answer within the time limit".into()),
        };
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known.extend(blocks.iter().map(|b| (b.height, b.timestamp)));
        Ok(blocks)
    }

    /// The answer from memory, when the known blocks run without a gap from `min` to one past
    /// `max_timestamp_ms` (so none can be missing).
    fn cached(&self, min: i64, max_timestamp_ms: i64) -> Option<Vec<Block>> {
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        let max_s = max_timestamp_ms.div_euclid(1000);
        let mut out = Vec::new();
        for (expected, (&height, &timestamp)) in (min..).zip(known.range(min..)) {
            if height != expected {
                return None;
            }
            if timestamp.div_euclid(1000) > max_s {
                return Some(out);
            }
            out.push(Block { height, timestamp });
        }
        None
    }
}
