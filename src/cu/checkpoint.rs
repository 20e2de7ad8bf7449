//! Checkpoints as the store keeps them: a process snapshot (memory and globals, encoded by the
//! runtime) compressed with zstd, framed with the slot it was taken after and two blake3
//! digests: of the stored payload (any changed byte is caught before decompressing) and of the
//! uncompressed snapshot (what is restored is what was taken). Both are checked before every
//! restore: a checkpoint that does not decode or does not match is refused, and the caller
//! rebuilds the process by replay.
//!
//! Frame (integers little-endian):
//! `AOCUCKP1` ‖ slot (u64) ‖ codec (u8: 0 none, 1 zstd) ‖ snapshot length (u64) ‖
//! blake3(snapshot) (32 bytes) ‖ blake3(payload) (32 bytes) ‖ payload.

use crate::ao::checkpoint_item::CheckpointMeta;
use crate::hash::{Algorithm, shared};
use crate::store::{Store, StoreError};

const MAGIC: &[u8; 8] = b"AOCUCKP1";
const HEADER: usize = 8 + 8 + 1 + 8 + 32 + 32;
const CODEC_NONE: u8 = 0;
const CODEC_ZSTD: u8 = 1;
/// zstd level: memory images are mostly zero pages, which the fastest level already squeezes;
/// a checkpoint is taken on the executor, so speed matters more than the last few percent.
const ZSTD_LEVEL: i32 = 1;
/// Largest snapshot a frame may announce (64 GiB: above any memory limit this CU grants), so
/// that a corrupt length cannot make the decoder allocate without bound.
const MAX_SNAPSHOT: u64 = 64 << 30;

/// What AO's Arweave checkpoint item says of `process`'s state after `slot` (of `module`): the
/// position of the message at that slot, as the store holds it. One function for the node's
/// publisher and `aocu checkpoint export`, so both describe a state alike.
pub fn item_meta(
    store: &Store,
    process: &str,
    module: &str,
    slot: u64,
) -> Result<CheckpointMeta, StoreError> {
    let at = store.messages(process, slot, slot, 1)?.into_iter().next();
    let assignment = at.as_ref().map(|m| &m.assignment);
    Ok(CheckpointMeta {
        process: process.to_string(),
        module: module.to_string(),
        nonce: slot,
        timestamp: assignment.map_or(0, |a| a.timestamp),
        block_height: assignment.map_or(0, |a| a.block_height),
        assignment: assignment_id(store, process, slot)?,
        hash_chain: assignment.map(|a| a.hash_chain.clone()),
        epoch: assignment.map_or(0, |a| a.epoch),
    })
}

/// The ID of the assignment at `slot`: the first item of the `[assignment, message]` bundle
/// the store keeps for slots scheduled here or copied from an SU; else, for the process' last
/// slot, the ID its record links the next hash-chain link from (HyperBEAM's slots keep no
/// bundle). `None` when neither is known.
fn assignment_id(store: &Store, process: &str, slot: u64) -> Result<Option<String>, StoreError> {
    let from_bundle = store
        .item(process, slot)?
        .and_then(|raw| crate::ao::bundle::decode(&raw).ok())
        .and_then(|items| items.into_iter().next())
        .filter(|first| first.tags.get("Type") == Some("Assignment"))
        .map(|assignment| assignment.id());
    if from_bundle.is_some() {
        return Ok(from_bundle);
    }
    Ok(store
        .process(process)?
        .filter(|r| r.next_slot == slot + 1 && !r.last_message_id.is_empty())
        .map(|r| r.last_message_id))
}

/// A stored checkpoint that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The frame is too short or has the wrong magic.
    #[error("not an aocu checkpoint: {0}")]
    Format(String),
    /// The frame was taken at another slot than the store says.
    #[error("checkpoint says slot {found}, stored under slot {expected}")]
    Slot {
        /// Slot of the store key.
        expected: u64,
        /// Slot in the frame.
        found: u64,
    },
    /// The payload does not decompress to the announced length.
    #[error("checkpoint payload does not decompress: {0}")]
    Decompress(String),
    /// The digest of the decompressed snapshot differs from the recorded one.
    #[error("checkpoint digest mismatch: recorded {recorded}, computed {computed}")]
    Digest {
        /// What the frame says.
        recorded: String,
        /// What the bytes hash to.
        computed: String,
    },
}

/// Frame a snapshot taken after `slot`: compress it and record its digest.
pub fn encode(slot: u64, snapshot: &[u8]) -> Vec<u8> {
    let (codec, payload) = match zstd::bulk::compress(snapshot, ZSTD_LEVEL) {
        Ok(compressed) if compressed.len() < snapshot.len() => (CODEC_ZSTD, compressed),
        // Incompressible (or the codec failed): store it as it is; the digest still guards it.
        _ => (CODEC_NONE, snapshot.to_vec()),
    };
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&slot.to_le_bytes());
    out.push(codec);
    out.extend_from_slice(&(snapshot.len() as u64).to_le_bytes());
    // Both digests in one batch on the node's hasher.
    let digests = shared().digests(Algorithm::Blake3, &[snapshot, &payload]);
    out.extend_from_slice(&digests[0]);
    out.extend_from_slice(&digests[1]);
    out.extend_from_slice(&payload);
    out
}

/// Check and unpack a frame stored under `slot`: the snapshot bytes, verified.
pub fn decode(slot: u64, frame: &[u8]) -> Result<Vec<u8>, CheckpointError> {
    if frame.len() < HEADER || &frame[..8] != MAGIC {
        return Err(CheckpointError::Format(format!(
            "{} bytes, no AOCUCKP1 header",
            frame.len()
        )));
    }
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&frame[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let found = u64_at(8);
    if found != slot {
        return Err(CheckpointError::Slot {
            expected: slot,
            found,
        });
    }
    let codec = frame[16];
    let length = u64_at(17);
    let mut recorded = [0u8; 32];
    recorded.copy_from_slice(&frame[25..57]);
    let mut recorded_payload = [0u8; 32];
    recorded_payload.copy_from_slice(&frame[57..89]);
    let payload = &frame[HEADER..];
    let computed_payload = shared().digest(Algorithm::Blake3, payload);
    if computed_payload != recorded_payload {
        return Err(CheckpointError::Digest {
            recorded: hex::encode(recorded_payload),
            computed: hex::encode(computed_payload),
        });
    }
    if length > MAX_SNAPSHOT {
        return Err(CheckpointError::Format(format!(
            "announced snapshot length {length} is implausible"
        )));
    }
    let snapshot = match codec {
        CODEC_NONE => payload.to_vec(),
        CODEC_ZSTD => zstd::bulk::decompress(payload, length as usize)
            .map_err(|e| CheckpointError::Decompress(e.to_string()))?,
        other => return Err(CheckpointError::Format(format!("unknown codec {other}"))),
    };
    if snapshot.len() as u64 != length {
        return Err(CheckpointError::Decompress(format!(
            "{} bytes, expected {length}",
            snapshot.len()
        )));
    }
    let computed = shared().digest(Algorithm::Blake3, &snapshot);
    if computed != recorded {
        return Err(CheckpointError::Digest {
            recorded: hex::encode(recorded),
            computed: hex::encode(computed),
        });
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    fn memory_like() -> Vec<u8> {
        // Mostly zero pages with some random data, as a process memory is.
        let mut m = vec![0u8; 1 << 20];
        rand::rng().fill_bytes(&mut m[4096..12288]);
        m
    }

    #[test]
    fn round_trip_compresses() {
        let snapshot = memory_like();
        let frame = encode(42, &snapshot);
        assert!(frame.len() < snapshot.len() / 10, "{} bytes", frame.len());
        assert_eq!(decode(42, &frame).unwrap(), snapshot);
    }

    #[test]
    fn incompressible_is_stored_raw() {
        let mut snapshot = vec![0u8; 4096];
        rand::rng().fill_bytes(&mut snapshot);
        let frame = encode(1, &snapshot);
        assert_eq!(frame[16], CODEC_NONE);
        assert_eq!(decode(1, &frame).unwrap(), snapshot);
    }

    #[test]
    fn every_corruption_is_refused() {
        let snapshot = memory_like();
        let frame = encode(7, &snapshot);
        assert!(matches!(
            decode(8, &frame),
            Err(CheckpointError::Slot { .. })
        ));
        assert!(matches!(
            decode(7, &frame[..20]),
            Err(CheckpointError::Format(_))
        ));
        // Flip one bit anywhere in the digest or the payload: never accepted.
        for at in [30, 60, HEADER, HEADER + 5, frame.len() - 1] {
            let mut bad = frame.clone();
            bad[at] ^= 0x10;
            assert!(decode(7, &bad).is_err(), "flip at {at} accepted");
        }
        // A payload that matches its own digest but not the snapshot's is refused too.
        let mut forged = encode(3, &[9u8; 64])[..HEADER].to_vec();
        forged.extend_from_slice(&zstd::bulk::compress(&[8u8; 64], 1).unwrap());
        let digest = blake3::hash(&forged[HEADER..]);
        forged[57..89].copy_from_slice(digest.as_bytes());
        assert!(matches!(
            decode(3, &forged),
            Err(CheckpointError::Digest { .. }) | Err(CheckpointError::Decompress(_))
        ));
        let mut huge = frame.clone();
        huge[17..25].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(decode(7, &huge), Err(CheckpointError::Format(_))));
    }
}
