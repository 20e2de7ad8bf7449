//! The Arweave block height the embedded SU stamps on its assignments and reports in
//! `/timestamp`: read from the gateways (`/info`, else `/block/current`), read again
//! periodically, the last one kept in the store across restarts, and the `block-height` key
//! while none was ever read. It says where it came from.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::{Attempt, GatewayError, Gateways};
use crate::store::Store;

/// The store key of the last height read from a gateway.
const STORE_KEY: &str = "block-height";
/// Largest `/info` answer read.
const MAX_INFO_BYTES: usize = 64 * 1024;

/// Where the current height came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The `block-height` configuration key (no gateway answered yet, none kept).
    Config,
    /// Kept in the store from an earlier read (of `gateway`, at `at_ms`).
    Stored {
        /// The gateway it was read from.
        gateway: String,
        /// When, ms since the epoch.
        at_ms: u64,
    },
    /// Read from `gateway` at `at_ms` by this run.
    Gateway {
        /// The gateway.
        gateway: String,
        /// When, ms since the epoch.
        at_ms: u64,
    },
}

/// The current block height and its source; cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct BlockHeight(Arc<Mutex<(u64, Source)>>);

impl From<u64> for BlockHeight {
    /// A height set by configuration.
    fn from(height: u64) -> BlockHeight {
        BlockHeight(Arc::new(Mutex::new((height, Source::Config))))
    }
}

impl BlockHeight {
    /// The height kept in `store` from an earlier run, else `configured`.
    pub fn restore(store: &Store, configured: u64) -> BlockHeight {
        let stored = store.node_value(STORE_KEY).ok().flatten().and_then(|v| {
            Some((
                v["height"].as_u64()?,
                Source::Stored {
                    gateway: v["gateway"].as_str()?.to_string(),
                    at_ms: v["at"].as_u64()?,
                },
            ))
        });
        BlockHeight(Arc::new(Mutex::new(
            stored.unwrap_or((configured, Source::Config)),
        )))
    }

    /// The height now.
    pub fn get(&self) -> u64 {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    /// The height and where it came from.
    pub fn with_source(&self) -> (u64, Source) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The source as JSON fields: `block_height_source` (`gateway`, `stored`, `config`) and,
    /// for the first two, `block_height_gateway` and `block_height_read_at` (ms, a string).
    pub fn describe(&self) -> Value {
        match self.with_source().1 {
            Source::Config => json!({"block_height_source": "config"}),
            Source::Stored { gateway, at_ms } => json!({
                "block_height_source": "stored",
                "block_height_gateway": gateway,
                "block_height_read_at": at_ms.to_string(),
            }),
            Source::Gateway { gateway, at_ms } => json!({
                "block_height_source": "gateway",
                "block_height_gateway": gateway,
                "block_height_read_at": at_ms.to_string(),
            }),
        }
    }

    /// Take `height` read from `gateway` now, and keep it in `store`. A height lower than the
    /// current one (a gateway behind another) is not taken: the chain does not go back.
    fn set_read(&self, store: &Store, height: u64, gateway: &str) {
        let at_ms = crate::clock::now_ms();
        {
            let mut current = self.0.lock().unwrap_or_else(|p| p.into_inner());
            if height < current.0 && current.1 != Source::Config {
                return;
            }
            *current = (
                height,
                Source::Gateway {
                    gateway: gateway.to_string(),
                    at_ms,
                },
            );
        }
        let kept = json!({"height": height, "gateway": gateway, "at": at_ms});
        if let Err(e) = store.put_node_value(STORE_KEY, &kept) {
            tracing::warn!(error = %e, "cannot keep the block height");
        }
    }
}

impl Gateways {
    /// The current block height as a gateway answers it (`/info` `height`, else
    /// `/block/current` `height`), with the gateway's URL.
    pub async fn block_height(&self) -> Result<(u64, String), GatewayError> {
        self.rotate(|url, _| async move {
            let mut last = None;
            for path in ["/info", "/block/current"] {
                match self.get_on(&url, path, MAX_INFO_BYTES).await {
                    Ok(Some(body)) => match height_of(&body) {
                        Some(h) => return Ok((h, url.to_string())),
                        None => {
                            last = Some(Attempt::Again(GatewayError::Protocol {
                                url: url.to_string(),
                                message: format!("GET {path}: no numeric `height`"),
                            }))
                        }
                    },
                    Ok(None) => {}
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| {
                Attempt::Again(GatewayError::Protocol {
                    url: url.to_string(),
                    message: "neither /info nor /block/current is served".into(),
                })
            }))
        })
        .await
    }

    /// Read the height into `cell` now and then every `every` (`None`: once), for the life of
    /// the runtime. Failures are logged; the last height stays.
    pub async fn follow_height(self: Arc<Self>, cell: BlockHeight, every: Option<Duration>) {
        loop {
            match self.block_height().await {
                Ok((height, gateway)) => {
                    tracing::debug!(height, %gateway, "block height");
                    cell.set_read(&self.store, height, &gateway);
                }
                Err(e) => {
                    let (height, source) = cell.with_source();
                    tracing::warn!(error = %e, height, ?source, "cannot read the block height");
                }
            }
            match every {
                Some(every) => tokio::time::sleep(every).await,
                None => return,
            }
        }
    }
}

/// `height` of an `/info` or `/block/current` answer (a number, or a decimal string).
fn height_of(body: &[u8]) -> Option<u64> {
    let value: Value = serde_json::from_slice(body).ok()?;
    match &value["height"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}
