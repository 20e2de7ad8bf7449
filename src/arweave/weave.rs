//! What WeaveDrive reads from the gateways: a transaction's header (`GET /tx/{id}`), a block by
//! height (`GET /block/height/{h}`), a transaction's data (`GET /{id}`) and whether an
//! attestation query has any result (`POST /graphql`).
//!
//! Each read rotates over the gateways with the client's retry policy, as every gateway read
//! does; a gateway that does not have the path (404) passes to the next one, and when none has
//! it the answer is `None`.

use bytes::Bytes;
use serde_json::json;

use super::{Attempt, GatewayError, Gateways};

impl Gateways {
    /// `GET path` (e.g. `/tx/{id}`), answers up to `max_bytes`; `None` when no gateway has it.
    pub async fn weave_get(
        &self,
        path: &str,
        max_bytes: usize,
    ) -> Result<Option<Bytes>, GatewayError> {
        let asked = self.urls.len() as u32;
        self.rotate(|url, attempt| async move {
            match self.get_on(&url, path, max_bytes).await? {
                Some(body) => Ok(Some(body)),
                None if attempt + 1 >= asked => Ok(None),
                None => Err(Attempt::Again(GatewayError::NotFound(path.to_string()))),
            }
        })
        .await
    }

    /// Whether the GraphQL `query` finds at least one transaction (`data.transactions.edges`).
    pub async fn graphql_has_edges(&self, query: &str) -> Result<bool, GatewayError> {
        self.rotate(|url, _| async move {
            let data = self.graphql_on(&url, query, json!({})).await?;
            Ok(data["transactions"]["edges"]
                .as_array()
                .is_some_and(|edges| !edges.is_empty()))
        })
        .await
    }
}
