//! Batches kept on the device: uploaded once, hashed any number of times without the
//! host-to-device copy (what the device's own bandwidth allows, as opposed to the bus's).

use super::engine::{Job, Source, pack_inputs};
use super::plan::{self, MsgEntry};
use super::{GpuError, GpuHasher};

/// A batch of messages resident in device memory, made by [`GpuHasher::upload`].
#[derive(Debug)]
pub struct ResidentBatch {
    owner: u64,
    parts: Vec<Part>,
    len: usize,
    bytes: u64,
}

/// One sub-batch's worth of resident data.
#[derive(Debug)]
struct Part {
    range: std::ops::Range<usize>,
    msgs: Vec<MsgEntry>,
    data_bytes: u64,
    data: wgpu::Buffer,
    table: wgpu::Buffer,
}

impl ResidentBatch {
    /// Messages in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch has no message.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Message bytes in the batch (without padding).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub(super) fn owner(&self) -> u64 {
        self.owner
    }

    /// One job per resident part.
    pub(super) fn jobs(&self) -> impl Iterator<Item = Job<'_>> {
        self.parts.iter().map(|part| Job {
            source: Source::Resident {
                data: &part.data,
                msgs: &part.table,
            },
            range: part.range.clone(),
            msgs: part.msgs.as_slice().into(),
            data_bytes: part.data_bytes,
        })
    }
}

/// Uploads `inputs` in parts that fit the device, each written straight into a buffer created
/// mapped (no staging copy).
pub(super) fn upload(hasher: &GpuHasher, inputs: &[&[u8]]) -> Result<ResidentBatch, GpuError> {
    let lens: Vec<u64> = inputs.iter().map(|i| i.len() as u64).collect();
    let mut parts = Vec::new();
    for range in plan::split(&lens, &hasher.caps)? {
        let (msgs, data_bytes) = plan::msg_table(&lens[range.clone()]);
        let data = mapped_storage(hasher, "aocu-resident-data", data_bytes);
        pack_inputs(&data, 0, &inputs[range.clone()], &msgs)?;
        data.unmap();
        let table_bytes: &[u8] = bytemuck::cast_slice(&msgs);
        let table = mapped_storage(hasher, "aocu-resident-msgs", table_bytes.len() as u64);
        table
            .get_mapped_range_mut(..)
            .map_err(|e| GpuError::MapFailed(e.to_string()))?
            .slice(..table_bytes.len())
            .copy_from_slice(table_bytes);
        table.unmap();
        parts.push(Part {
            range,
            msgs,
            data_bytes,
            data,
            table,
        });
    }
    hasher.check_device()?;
    Ok(ResidentBatch {
        owner: hasher.id,
        parts,
        len: inputs.len(),
        bytes: lens.iter().sum(),
    })
}

/// A storage buffer of at least `bytes`, mapped (and zeroed) for the host to fill first.
fn mapped_storage(hasher: &GpuHasher, label: &str, bytes: u64) -> wgpu::Buffer {
    hasher.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: plan::round_up(bytes, 4).max(256),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: true,
    })
}
