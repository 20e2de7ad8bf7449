//! A process state loaded from outside the node: HyperBEAM's `POST /state`.
//!
//! After `genesis-wasm@1.0/import` HyperBEAM holds an Arweave checkpoint of the process and,
//! before its next compute, hands the CU the checkpoint's gzipped memory with the item's tags
//! as headers (`process`, `module`, `nonce`, `timestamp`, `block-height`, `assignment`,
//! `hash-chain`, `sha-256`, ...). AO's Node CU caches that memory as the process' state at slot
//! `nonce` (`routes/state.js`, `readStateFromCheckpoint`), so the next `POST /result` is slot
//! `nonce + 1`.
//!
//! Here the tags are read by the same reader as an Arweave checkpoint import
//! ([`checkpoint_item::meta_of`], [`checkpoint_item::unpack`]: gzip within the process' memory
//! limit, `SHA-256` checked when given), the memory is restored into a fresh instance of the
//! process' module to prove it fits, and then the state becomes the process' base in one store
//! transaction ([`Store::put_loaded_state`](crate::store::Store::put_loaded_state)): the
//! record continues after slot `nonce` with that slot's assignment and hash-chain link, the slot
//! answers the Node CU's fixed empty result, and its checkpoint holds the memory. The held
//! instance (if any) is dropped, so the next job restores the base as after any restart.
//!
//! A process that already holds slot `nonce` keeps its own state: its history evaluated here
//! is the same slots, and replacing it could only lose results.

use serde_json::{Map, Value};

use super::held::{Context, ProcessModule, SKIP_FIELD, skipped_result};
use super::query::InvalidInput;
use super::{CuError, checkpoint};
use crate::ao::Tags;
use crate::ao::checkpoint_item::{self, CheckpointMeta};
use crate::store::{Assignment, ScheduledMessage, StoreError};
use crate::wasm::Process;

/// A state to load: the checkpoint's tags and its data (the gzipped memory).
#[derive(Debug, Clone)]
pub struct LoadedState {
    /// The checkpoint item's tags (names as AO writes them).
    pub tags: Tags,
    /// The gzipped memory.
    pub data: Vec<u8>,
}

/// What loading did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// The memory is the process' state at this slot now.
    At(u64),
    /// The process already holds this slot; its own state is kept.
    Kept(u64),
}

impl LoadedState {
    /// The checkpoint's metadata (the slot is its `Nonce`).
    pub fn meta(&self) -> Result<CheckpointMeta, CuError> {
        checkpoint_item::meta_of(&self.tags).map_err(|e| invalid("headers", e.to_string()))
    }
}

/// Make `state` the base of its process (run on the process' executor, with nothing of the
/// process held there).
pub fn install(ctx: &Context, state: &LoadedState) -> Result<Loaded, CuError> {
    let meta = state.meta()?;
    let record = ctx
        .store
        .process(&meta.process)?
        .ok_or_else(|| CuError::UnknownProcess(meta.process.clone()))?;
    if meta.module != record.module {
        return Err(invalid(
            "module",
            format!(
                "the state was taken with module {}, process {} runs {}",
                meta.module, meta.process, record.module
            ),
        ));
    }
    if record.next_slot > meta.nonce {
        return Ok(Loaded::Kept(meta.nonce));
    }
    let module = ProcessModule::of(ctx, &record)?;
    let memory = checkpoint_item::unpack(&state.tags, &state.data, module.limits.memory_bytes)
        .map_err(|e| invalid("body", e.to_string()))?;
    // As the Node CU loads a checkpoint: a fresh instance, then the memory.
    let mut snapshot = Process::spawn(module.loaded.clone(), module.limits)
        .map_err(|e| CuError::Module(format!("module {}: {e}", record.module)))?
        .snapshot();
    snapshot.memory = memory;
    Process::restore(module.loaded.clone(), module.limits, &snapshot)
        .map_err(|e| invalid("body", format!("the memory does not load: {e}")))?;
    let frame = checkpoint::encode(meta.nonce, &snapshot.to_bytes());
    let at = stand_in(&meta);
    let mut next = record;
    next.next_slot = meta.nonce + 1;
    next.last_message_id = meta.assignment.clone().unwrap_or_default();
    next.last_hash_chain = meta.hash_chain.clone().unwrap_or_default();
    next.last_timestamp = meta.timestamp;
    match ctx
        .store
        .put_loaded_state(&next, &at, &skipped_result(&at), &frame)
    {
        Ok(()) => Ok(Loaded::At(meta.nonce)),
        // Another request stored the slot in the meantime: its history stands.
        Err(StoreError::Conflict(_)) => Ok(Loaded::Kept(meta.nonce)),
        Err(e) => Err(e.into()),
    }
}

/// The stored stand-in for the loaded slot's message: its assignment, marked skipped so that
/// nothing could ever evaluate it.
fn stand_in(meta: &CheckpointMeta) -> ScheduledMessage {
    let mut fields = Map::new();
    fields.insert(SKIP_FIELD.into(), Value::String("true".into()));
    ScheduledMessage {
        id: meta.assignment.clone().unwrap_or_default(),
        assignment: Assignment {
            process: meta.process.clone(),
            slot: meta.nonce,
            epoch: meta.epoch,
            timestamp: meta.timestamp,
            block_height: meta.block_height,
            hash_chain: meta.hash_chain.clone().unwrap_or_default(),
        },
        message: Value::Object(fields),
    }
}

fn invalid(field: &str, message: String) -> CuError {
    CuError::Invalid(InvalidInput {
        field: field.into(),
        message,
    })
}
