//! AO checkpoints on Arweave: the GraphQL search AO's Node CU runs for a process' checkpoints
//! (`GetAoProcessCheckpoints`: tags `Process`, `Type: Checkpoint`, `Data-Protocol: ao`, by
//! trusted owners, newest blocks first), the download of one's data (`GET /raw/{id}`), and the
//! upload of a new one to a bundler ([`upload`]).

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::{Attempt, GatewayError, Gateways};
use crate::ao::Tags;
use crate::net::{Call, Client, Url};

/// The Node CU's checkpoint query.
const CHECKPOINTS_QUERY: &str = "query GetAoProcessCheckpoints($owners: [String!]!, \
    $processId: String!, $limit: Int!) { transactions(tags: [\
    { name: \"Process\", values: [$processId] }, { name: \"Type\", values: [\"Checkpoint\"] }, \
    { name: \"Data-Protocol\", values: [\"ao\"] }], owners: $owners, first: $limit, \
    sort: HEIGHT_DESC) { edges { node { id owner { address } tags { name value } } } } }";

/// One checkpoint a gateway lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Its item ID.
    pub id: String,
    /// Its signer's address.
    pub owner: String,
    /// Its tags.
    pub tags: Tags,
}

#[derive(Debug, Deserialize)]
struct Node {
    id: String,
    owner: Owner,
    #[serde(default)]
    tags: Tags,
}

#[derive(Debug, Deserialize)]
struct Owner {
    address: String,
}

impl Gateways {
    /// Up to `limit` checkpoints of `process` signed by one of `owners`, as the gateway orders
    /// them (newest blocks first).
    pub async fn checkpoints(
        &self,
        process: &str,
        owners: &[String],
        limit: u32,
    ) -> Result<Vec<Candidate>, GatewayError> {
        let variables = json!({"owners": owners, "processId": process, "limit": limit});
        self.rotate(|url, _| {
            let variables = variables.clone();
            async move {
                let data = self.graphql_on(&url, CHECKPOINTS_QUERY, variables).await?;
                let edges = data["transactions"]["edges"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                edges
                    .into_iter()
                    .map(|edge| {
                        let node: Node =
                            serde_json::from_value(edge["node"].clone()).map_err(|e| {
                                Attempt::Again(GatewayError::Protocol {
                                    url: url.to_string(),
                                    message: format!(
                                        "a checkpoint record of unexpected shape: {e}"
                                    ),
                                })
                            })?;
                        Ok(Candidate {
                            id: node.id,
                            owner: node.owner.address,
                            tags: node.tags,
                        })
                    })
                    .collect()
            }
        })
        .await
    }

    /// The data of transaction `id` (`GET /raw/{id}`), up to `max_bytes`; `None` when no gateway
    /// has it.
    pub async fn raw(&self, id: &str, max_bytes: usize) -> Result<Option<Bytes>, GatewayError> {
        self.weave_get(&format!("/raw/{id}"), max_bytes).await
    }
}

/// Upload a signed item to a bundler as AO's Node CU uploads checkpoints: `POST {url}/tx/arweave`
/// with the raw item; the ID the bundler answers.
pub async fn upload(client: &Client, url: &Url, item: Bytes) -> Result<String, GatewayError> {
    let call = Call {
        method: hyper::Method::POST,
        body: Some(("application/octet-stream", item)),
        ..Call::get(url, "/tx/arweave", 1 << 20)
    };
    let answer = client.send(call).await.map_err(|e| GatewayError::Request {
        url: url.to_string(),
        source: e.last,
    })?;
    let protocol = |message: String| GatewayError::Protocol {
        url: url.to_string(),
        message,
    };
    if !answer.status.is_success() {
        return Err(protocol(format!(
            "POST /tx/arweave answered {}: {}",
            answer.status,
            answer.excerpt()
        )));
    }
    let json: serde_json::Value = serde_json::from_slice(&answer.body)
        .map_err(|e| protocol(format!("POST /tx/arweave: the answer is not JSON: {e}")))?;
    json["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| protocol(format!("POST /tx/arweave answered no `id`: {json}")))
}
