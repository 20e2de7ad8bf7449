//! Modules by ID: tags (and owner) through GraphQL as AO's CU asks for them, bytes through
//! `/raw/{id}`, both checked before anything is kept, then cached by ID in the store so that a
//! module is fetched once per node.

use serde::Deserialize;
use serde_json::json;

use super::{Attempt, GatewayError, Gateways};
use crate::ao::{Id, Tags};
use crate::net::Url;
use crate::store::ModuleRecord;

/// What AO's CU reads of a module's transaction (its `loadTransactionMeta`), plus the size.
const MODULE_QUERY: &str = "query GetModule($ids: [ID!]!) { transactions(ids: $ids) { edges { \
    node { id owner { address key } tags { name value } data { size } } } } }";

/// A module: its record (ID, owner, tags, size) and its WASM bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    /// What the store keeps about it.
    pub record: ModuleRecord,
    /// The WASM binary.
    pub bytes: Vec<u8>,
}

#[derive(Debug, Deserialize)]
struct Meta {
    id: String,
    #[serde(default)]
    owner: Option<Owner>,
    #[serde(default)]
    tags: Tags,
    #[serde(default)]
    data: Option<DataSize>,
}

#[derive(Debug, Deserialize)]
struct Owner {
    #[serde(default)]
    address: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DataSize {
    /// A decimal string, as gateways answer it.
    #[serde(default)]
    size: Option<serde_json::Value>,
}

impl Gateways {
    /// The module `id`: from the store when it is there, else fetched from the gateways,
    /// checked (AO's module tags, parsable limits, the WASM header, the size limit) and stored.
    /// A module that fails a check is refused and nothing of it is kept.
    pub async fn module(&self, id: &Id) -> Result<Module, GatewayError> {
        let text = id.to_string();
        if let (Some(record), Some(bytes)) =
            (self.store.module(&text)?, self.store.module_bytes(&text)?)
        {
            return Ok(Module { record, bytes });
        }
        let meta = self.module_meta(&text).await?;
        self.check_meta(&text, &meta)?;
        let bytes = self.module_bytes(&text).await?;
        let refused = |message: String| GatewayError::Refused {
            id: text.clone(),
            message,
        };
        crate::ao::module_item::check_parts(&meta.tags, &bytes)
            .map_err(|e| refused(e.to_string()))?;
        if let Some(size) = declared_size(&meta)
            && size != bytes.len() as u64
        {
            return Err(refused(format!(
                "the gateway declared {size} bytes of data and served {}",
                bytes.len()
            )));
        }
        let record = ModuleRecord {
            id: text.clone(),
            owner: meta.owner.and_then(|o| o.address),
            tags: meta.tags,
            size: bytes.len() as u64,
            added_at_ms: crate::clock::now_ms(),
        };
        self.store.put_module(&record, &bytes)?;
        tracing::info!(module = %text, bytes = bytes.len(), "module fetched from a gateway");
        Ok(Module { record, bytes })
    }

    /// The module's tags and owner; a gateway that does not have it passes to the next one.
    async fn module_meta(&self, id: &str) -> Result<Meta, GatewayError> {
        let asked = self.urls.len() as u32;
        self.rotate(|url, attempt| async move {
            let data = self
                .graphql_on(&url, MODULE_QUERY, json!({"ids": [id]}))
                .await?;
            let node = data["transactions"]["edges"]
                .as_array()
                .and_then(|edges| edges.iter().find(|e| e["node"]["id"] == id))
                .map(|e| e["node"].clone());
            match node {
                Some(node) => serde_json::from_value::<Meta>(node).map_err(|e| {
                    Attempt::Again(GatewayError::Protocol {
                        url: url.to_string(),
                        message: format!("transaction {id}: unexpected shape: {e}"),
                    })
                }),
                // Asked every gateway once: none has it.
                None if attempt + 1 >= asked => {
                    Err(Attempt::Final(GatewayError::NotFound(id.to_string())))
                }
                None => Err(Attempt::Again(GatewayError::NotFound(id.to_string()))),
            }
        })
        .await
    }

    /// Checks on the tags alone, before any byte is fetched.
    fn check_meta(&self, id: &str, meta: &Meta) -> Result<(), GatewayError> {
        let refused = |message: String| GatewayError::Refused {
            id: id.to_string(),
            message,
        };
        if meta.id != id {
            return Err(refused(format!(
                "the gateway answered transaction {}",
                meta.id
            )));
        }
        crate::ao::module_item::check_parts(&meta.tags, b"\0asm\x01\0\0\0")
            .map_err(|e| refused(e.to_string()))?;
        if let Some(limit) = meta.tags.get("Memory-Limit") {
            crate::wasm::limits::parse_memory_limit(limit).map_err(|e| refused(e.to_string()))?;
        }
        if let Some(limit) = meta.tags.get("Compute-Limit") {
            crate::wasm::limits::parse_compute_limit(limit).map_err(|e| refused(e.to_string()))?;
        }
        if let Some(size) = declared_size(meta)
            && size > self.max_module_bytes as u64
        {
            return Err(refused(format!(
                "the module is {size} bytes, over the limit of {} (key `max-module-bytes`)",
                self.max_module_bytes
            )));
        }
        Ok(())
    }

    /// The module's bytes from `/raw/{id}`, within the size limit.
    async fn module_bytes(&self, id: &str) -> Result<Vec<u8>, GatewayError> {
        let limit = self.max_module_bytes;
        let asked = self.urls.len() as u32;
        let path = format!("/raw/{id}");
        self.rotate(|url: Url, attempt| {
            let path = path.as_str();
            async move {
                match self.get_on(&url, path, limit).await {
                    Ok(Some(bytes)) => Ok(bytes.to_vec()),
                    Ok(None) if attempt + 1 >= asked => {
                        Err(Attempt::Final(GatewayError::NotFound(id.to_string())))
                    }
                    Ok(None) => Err(Attempt::Again(GatewayError::NotFound(id.to_string()))),
                    Err(Attempt::Final(GatewayError::Request {
                        source: crate::net::TryError::TooLarge { .. },
                        ..
                    })) => Err(Attempt::Final(GatewayError::Refused {
                        id: id.to_string(),
                        message: format!(
                            "the module is over the limit of {limit} bytes (key `max-module-bytes`)"
                        ),
                    })),
                    Err(e) => Err(e),
                }
            }
        })
        .await
    }
}

/// `data.size` when the gateway gave one (a string or a number).
fn declared_size(meta: &Meta) -> Option<u64> {
    match meta.data.as_ref()?.size.as_ref()? {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    }
}
