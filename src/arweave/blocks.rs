//! Block metadata (height, timestamp) for block-based crons, read as AO's Node CU reads it:
//! the gateway's `blocks` GraphQL query from a height upwards (`GetBlocks`, `HEIGHT_ASC`), page
//! after page until a block is later than the span needs. Gateways give block timestamps in
//! seconds; they are returned in milliseconds, as the cron schedule counts them.

use serde_json::json;

use super::{Attempt, GatewayError, Gateways};
use crate::ao::cron::Block;

/// The Node CU's block query.
const BLOCKS_QUERY: &str = "query GetBlocks($min: Int!, $limit: Int!) { blocks(height: \
    { min: $min }, first: $limit, sort: HEIGHT_ASC) { pageInfo { hasNextPage } edges { node { \
    timestamp height } } } }";

/// Blocks asked for per page.
const PAGE: u64 = 100;

/// Pages read at most for one span (100,000 blocks: about seven months of Arweave).
const MAX_PAGES: u32 = 1000;

impl Gateways {
    /// The blocks from height `min` up to the last whose timestamp is at most
    /// `max_timestamp_ms` (milliseconds), ascending.
    pub async fn blocks(
        &self,
        min: u64,
        max_timestamp_ms: i64,
    ) -> Result<Vec<Block>, GatewayError> {
        let max_s = max_timestamp_ms.div_euclid(1000);
        let mut out = Vec::new();
        let mut from = min;
        for _ in 0..MAX_PAGES {
            let (page, more) = self.blocks_page(from).await?;
            for block in &page {
                if block.timestamp.div_euclid(1000) > max_s {
                    return Ok(out);
                }
                out.push(*block);
            }
            match page.last() {
                Some(last) if more => {
                    // A gateway that answers the same or an older page again would be asked
                    // forever: the next page must start past this one.
                    let next = u64::try_from(last.height).unwrap_or(0).saturating_add(1);
                    if next <= from {
                        return Err(GatewayError::Protocol {
                            url: "gateways".into(),
                            message: format!(
                                "the blocks page from height {from} ends at height {}: the \
                                 pages do not advance",
                                last.height
                            ),
                        });
                    }
                    from = next;
                }
                _ => return Ok(out),
            }
        }
        Err(GatewayError::Protocol {
            url: "gateways".into(),
            message: format!(
                "more than {} blocks after height {min}",
                u64::from(MAX_PAGES) * PAGE
            ),
        })
    }

    /// One page of blocks from height `min`, and whether there is a next one.
    async fn blocks_page(&self, min: u64) -> Result<(Vec<Block>, bool), GatewayError> {
        self.rotate(|url, _| async move {
            let variables = json!({"min": min, "limit": PAGE});
            let data = self.graphql_on(&url, BLOCKS_QUERY, variables).await?;
            let blocks = &data["blocks"];
            let more = blocks["pageInfo"]["hasNextPage"].as_bool().unwrap_or(false);
            let edges = blocks["edges"].as_array().cloned().unwrap_or_default();
            let page = edges
                .iter()
                .map(|edge| {
                    let node = &edge["node"];
                    match (node["height"].as_i64(), node["timestamp"].as_i64()) {
                        (Some(height), Some(seconds)) if height >= 0 => Ok(Block {
                            height,
                            timestamp: seconds.saturating_mul(1000),
                        }),
                        _ => Err(Attempt::Again(GatewayError::Protocol {
                            url: url.to_string(),
                            message: format!(
                                "a block record without a height (0 or more) and a \
                                 timestamp: {node}"
                            ),
                        })),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((page, more))
        })
        .await
    }
}
