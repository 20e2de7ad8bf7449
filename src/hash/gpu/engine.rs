//! Running sub-batches on two slots of grow-only buffers used in turn: while the GPU works on
//! one slot's sub-batch, the host reads back the slot before and packs the next one.
//!
//! Per slot, host-to-device traffic goes through one mapped upload buffer (parameter blocks,
//! BLAKE3 tree table, message table, packed data), copied on the GPU timeline into the storage
//! buffers the kernels bind; digests come back through one mapped readback buffer. Buffers only
//! grow, so a steady stream of batches allocates nothing after the first.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::mpsc::{self, Receiver, TryRecvError};

use super::plan::{self, MsgEntry, REGION_ALIGN, Tree};
use super::{GpuError, GpuHasher};
use crate::hash::{Algorithm, Digest};

/// Smallest buffer made (bindings must not be empty).
const MIN_BUFFER: u64 = 256;

/// Bytes of packed input each rayon task copies: packing runs on the host while the GPU works
/// on the other slot, and one core's memcpy would be slower than the bus it feeds.
const PACK_PIECE: u64 = 4 << 20;

/// Copies `inputs` into the mapped `buffer` at byte `at` (a multiple of 8) plus the offsets of
/// their entries, zeroing the padding. Pieces of about [`PACK_PIECE`] bytes, cut at message
/// boundaries, are copied in parallel, each through its own mapped view.
pub(super) fn pack_inputs(
    buffer: &wgpu::Buffer,
    at: u64,
    inputs: &[&[u8]],
    msgs: &[MsgEntry],
) -> Result<(), GpuError> {
    use rayon::prelude::*;
    let mut pieces = Vec::new();
    let (mut first, mut base) = (0, 0u64);
    for (i, m) in msgs.iter().enumerate() {
        let end = u64::from(m.offset) + plan::round_up(u64::from(m.len), 4);
        // Views must start at a multiple of MAP_ALIGNMENT.
        let cut = end - base >= PACK_PIECE && (at + end).is_multiple_of(wgpu::MAP_ALIGNMENT);
        if cut || i + 1 == msgs.len() {
            if end > base {
                pieces.push((base..end, first..i + 1));
            }
            (first, base) = (i + 1, end);
        }
    }
    pieces.into_par_iter().try_for_each(|(bytes, range)| {
        let mut view = buffer
            .get_mapped_range_mut(at + bytes.start..at + bytes.end)
            .map_err(|e| GpuError::MapFailed(e.to_string()))?;
        for (input, m) in inputs[range.clone()].iter().zip(&msgs[range]) {
            let start = (u64::from(m.offset) - bytes.start) as usize;
            let padded = plan::round_up(input.len() as u64, 4) as usize;
            view.slice(start..start + input.len())
                .copy_from_slice(input);
            // The shaders mask padding off; zeroing it keeps the upload deterministic.
            view.slice(start + input.len()..start + padded).fill(0);
        }
        Ok(())
    })
}

/// Where a sub-batch's data and message table come from.
pub(crate) enum Source<'a> {
    /// Inputs in host memory, uploaded through the slot.
    Host(&'a [&'a [u8]]),
    /// Buffers already on the device ([`super::ResidentBatch`]).
    Resident {
        data: &'a wgpu::Buffer,
        msgs: &'a wgpu::Buffer,
    },
}

/// One sub-batch to hash.
pub(crate) struct Job<'a> {
    pub source: Source<'a>,
    /// Where its digests go in the batch.
    pub range: Range<usize>,
    pub msgs: Cow<'a, [MsgEntry]>,
    /// Packed data bytes (each message padded to 4).
    pub data_bytes: u64,
}

/// A buffer replaced by a larger one when a sub-batch needs more.
struct GrowBuffer {
    buffer: wgpu::Buffer,
    label: &'static str,
    usage: wgpu::BufferUsages,
    /// Times it was replaced by a larger one.
    grown: u64,
}

impl GrowBuffer {
    fn new(device: &wgpu::Device, label: &'static str, usage: wgpu::BufferUsages) -> GrowBuffer {
        GrowBuffer {
            buffer: create(device, label, MIN_BUFFER, usage),
            label,
            usage,
            grown: 0,
        }
    }

    /// Makes the buffer at least `needed` bytes: the next power of two, up to `limit`.
    /// Returns whether a new buffer was made (a mappable one comes mapped).
    fn ensure(&mut self, device: &wgpu::Device, needed: u64, limit: u64) -> Result<bool, GpuError> {
        if needed <= self.buffer.size() {
            return Ok(false);
        }
        if needed > limit {
            return Err(GpuError::Device(format!(
                "{} needs {needed} bytes, over the device's limit of {limit}",
                self.label
            )));
        }
        let size = needed.next_power_of_two().min(limit).max(needed);
        self.buffer = create(device, self.label, size, self.usage);
        self.grown += 1;
        Ok(true)
    }
}

fn create(
    device: &wgpu::Device,
    label: &str,
    size: u64,
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: plan::round_up(size, wgpu::COPY_BUFFER_ALIGNMENT),
        usage,
        // Upload buffers are written by the host first: hand them out mapped.
        mapped_at_creation: usage.contains(wgpu::BufferUsages::MAP_WRITE),
    })
}

type MapResult = Result<(), wgpu::BufferAsyncError>;

/// Where the upload buffer stands between uses.
enum UploadState {
    /// Mapped: the host may write it.
    Mapped,
    /// A map request waits for the submission that read it.
    Pending {
        rx: Receiver<MapResult>,
        after: wgpu::SubmissionIndex,
    },
}

/// A submitted sub-batch whose digests are not read yet.
struct InFlight {
    range: Range<usize>,
    rx: Receiver<MapResult>,
    after: wgpu::SubmissionIndex,
}

/// One set of buffers for a sub-batch in flight.
struct Slot {
    upload: GrowBuffer,
    upload_state: UploadState,
    params: GrowBuffer,
    segs: GrowBuffer,
    msgs: GrowBuffer,
    data: GrowBuffer,
    cvs: GrowBuffer,
    digests: GrowBuffer,
    readback: GrowBuffer,
    in_flight: Option<InFlight>,
}

impl Slot {
    fn new(device: &wgpu::Device) -> Slot {
        use wgpu::BufferUsages as U;
        let input = U::STORAGE | U::COPY_DST;
        Slot {
            upload: GrowBuffer::new(device, "aocu-hash-upload", U::MAP_WRITE | U::COPY_SRC),
            upload_state: UploadState::Mapped,
            params: GrowBuffer::new(device, "aocu-hash-params", U::UNIFORM | U::COPY_DST),
            segs: GrowBuffer::new(device, "aocu-hash-segs", input),
            msgs: GrowBuffer::new(device, "aocu-hash-msgs", input),
            data: GrowBuffer::new(device, "aocu-hash-data", input),
            cvs: GrowBuffer::new(device, "aocu-hash-cvs", U::STORAGE),
            digests: GrowBuffer::new(device, "aocu-hash-digests", U::STORAGE | U::COPY_SRC),
            readback: GrowBuffer::new(device, "aocu-hash-readback", U::MAP_READ | U::COPY_DST),
            in_flight: None,
        }
    }
}

/// The two slots a hasher alternates between.
pub(crate) struct Slots {
    slots: [Slot; 2],
    /// False after a failed or interrupted run: buffers are rebuilt before the next.
    clean: bool,
}

impl Slots {
    pub fn new(device: &wgpu::Device) -> Slots {
        Slots {
            slots: [Slot::new(device), Slot::new(device)],
            clean: true,
        }
    }

    /// Buffers replaced by larger ones since these slots were made.
    pub fn growths(&self) -> u64 {
        self.slots
            .iter()
            .flat_map(|s| {
                [
                    &s.upload,
                    &s.params,
                    &s.segs,
                    &s.msgs,
                    &s.data,
                    &s.cvs,
                    &s.digests,
                    &s.readback,
                ]
            })
            .map(|b| b.grown)
            .sum()
    }
}

/// Byte offsets of the regions of one sub-batch's upload.
struct UploadLayout {
    params: u64,
    segs: u64,
    msgs: u64,
    data: u64,
    end: u64,
}

impl UploadLayout {
    fn new(
        params_bytes: u64,
        segs_bytes: u64,
        msgs_bytes: u64,
        data_bytes: u64,
        host: bool,
    ) -> Self {
        let segs = plan::round_up(params_bytes, REGION_ALIGN);
        let msgs = segs + plan::round_up(segs_bytes, REGION_ALIGN);
        let data = msgs + plan::round_up(msgs_bytes, REGION_ALIGN);
        let end = if host {
            data + plan::round_up(data_bytes, 4)
        } else {
            msgs
        };
        UploadLayout {
            params: 0,
            segs,
            msgs,
            data,
            end,
        }
    }
}

impl GpuHasher {
    /// Hashes the sub-batches `jobs` of a batch of `n` messages.
    pub(super) fn run<'a>(
        &self,
        alg: Algorithm,
        n: usize,
        jobs: impl Iterator<Item = Job<'a>>,
    ) -> Result<Vec<Digest>, GpuError> {
        let mut out = vec![[0u8; 32]; n];
        if n == 0 {
            return Ok(out);
        }
        // A panic while the lock was held leaves the slots mid-flight: rebuild them.
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| {
            let mut slots = poisoned.into_inner();
            slots.clean = false;
            slots
        });
        if !slots.clean {
            *slots = Slots::new(&self.device);
        }
        slots.clean = false;
        self.run_locked(&mut slots, alg, jobs, &mut out)?;
        slots.clean = true;
        Ok(out)
    }

    fn run_locked<'a>(
        &self,
        slots: &mut Slots,
        alg: Algorithm,
        jobs: impl Iterator<Item = Job<'a>>,
        out: &mut [Digest],
    ) -> Result<(), GpuError> {
        self.check_device()?;
        let mut next = 0;
        for job in jobs {
            let slot = &mut slots.slots[next % 2];
            // The sub-batch submitted two steps ago used this slot: read it back first.
            self.finish(slot, out)?;
            self.launch(slot, alg, job)?;
            next += 1;
        }
        for k in 0..2 {
            self.finish(&mut slots.slots[(next + k) % 2], out)?;
        }
        self.check_device()
    }

    /// Packs, uploads and submits one sub-batch on `slot`.
    fn launch(&self, slot: &mut Slot, alg: Algorithm, job: Job<'_>) -> Result<(), GpuError> {
        let tree = match alg {
            Algorithm::Blake3 => plan::tree(&job.msgs),
            Algorithm::Sha256 => Tree::default(),
        };
        let dispatches = plan::dispatches(alg, &job.msgs, &tree, &self.caps)?;
        let n = job.msgs.len() as u64;
        let chunks = u64::from(plan::total_chunks(&job.msgs));
        let host = matches!(job.source, Source::Host(_));
        let params_bytes = dispatches.len() as u64 * self.params_align;
        let segs_bytes = 16 * tree.segs.len() as u64;
        let layout = UploadLayout::new(params_bytes, segs_bytes, 16 * n, job.data_bytes, host);

        let (device, caps) = (&self.device, &self.caps);
        if slot.upload.ensure(device, layout.end, caps.buffer)? {
            slot.upload_state = UploadState::Mapped;
        }
        slot.params.ensure(device, params_bytes, caps.buffer)?;
        slot.segs.ensure(device, segs_bytes, caps.binding)?;
        slot.cvs
            .ensure(device, (64 * chunks).max(32 * n), caps.binding)?;
        slot.digests.ensure(device, 32 * n, caps.binding)?;
        slot.readback.ensure(device, 32 * n, caps.buffer)?;
        if host {
            slot.msgs.ensure(device, 16 * n, caps.binding)?;
            slot.data.ensure(device, job.data_bytes, caps.binding)?;
        }

        self.wait_upload(slot)?;
        self.pack(slot, &job, &dispatches, &tree, &layout)?;
        slot.upload.buffer.unmap();

        let (data, msgs) = match job.source {
            Source::Host(_) => (&slot.data.buffer, &slot.msgs.buffer),
            Source::Resident { data, msgs } => (data, msgs),
        };
        let bind_group = self.bind_group(slot, data, msgs);
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("aocu-hash"),
        });
        let upload = &slot.upload.buffer;
        encoder.copy_buffer_to_buffer(upload, layout.params, &slot.params.buffer, 0, params_bytes);
        if segs_bytes > 0 {
            encoder.copy_buffer_to_buffer(upload, layout.segs, &slot.segs.buffer, 0, segs_bytes);
        }
        if host {
            encoder.copy_buffer_to_buffer(upload, layout.msgs, &slot.msgs.buffer, 0, 16 * n);
            let data_bytes = layout.end - layout.data;
            if data_bytes > 0 {
                encoder.copy_buffer_to_buffer(
                    upload,
                    layout.data,
                    &slot.data.buffer,
                    0,
                    data_bytes,
                );
            }
        }
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("aocu-hash"),
                timestamp_writes: None,
            });
            for (i, d) in dispatches.iter().enumerate() {
                let offset = u32::try_from(i as u64 * self.params_align).map_err(|_| {
                    GpuError::Device(format!(
                        "{} dispatches overflow the parameter offsets",
                        dispatches.len()
                    ))
                })?;
                pass.set_pipeline(self.kernels.pipeline(d.kernel));
                pass.set_bind_group(0, &bind_group, &[offset]);
                pass.dispatch_workgroups(d.groups[0], d.groups[1], 1);
            }
        }
        encoder.copy_buffer_to_buffer(&slot.digests.buffer, 0, &slot.readback.buffer, 0, 32 * n);
        let after = self.queue.submit([encoder.finish()]);

        let (tx, rx) = mpsc::channel();
        slot.readback
            .buffer
            .map_async(wgpu::MapMode::Read, 0..32 * n, move |r| {
                let _ = tx.send(r);
            });
        slot.in_flight = Some(InFlight {
            range: job.range,
            rx,
            after: after.clone(),
        });
        let (tx, rx) = mpsc::channel();
        slot.upload
            .buffer
            .map_async(wgpu::MapMode::Write, .., move |r| {
                let _ = tx.send(r);
            });
        slot.upload_state = UploadState::Pending { rx, after };
        Ok(())
    }

    /// Writes parameter blocks, tables and (for host data) the packed inputs into the upload
    /// buffer, which must be mapped.
    fn pack(
        &self,
        slot: &Slot,
        job: &Job<'_>,
        dispatches: &[plan::Dispatch],
        tree: &Tree,
        layout: &UploadLayout,
    ) -> Result<(), GpuError> {
        let host = match job.source {
            Source::Host(inputs) => Some(inputs),
            Source::Resident { .. } => None,
        };
        let tables_end = if host.is_some() {
            layout.data
        } else {
            layout.end
        };
        {
            let mut view = slot
                .upload
                .buffer
                .get_mapped_range_mut(0..tables_end)
                .map_err(|e| GpuError::MapFailed(e.to_string()))?;
            let at = |offset: u64| offset as usize;
            for (i, d) in dispatches.iter().enumerate() {
                let start = at(layout.params + i as u64 * self.params_align);
                let bytes = bytemuck::bytes_of(&d.params);
                view.slice(start..start + bytes.len())
                    .copy_from_slice(bytes);
            }
            let segs: &[u8] = bytemuck::cast_slice(&tree.segs);
            view.slice(at(layout.segs)..at(layout.segs) + segs.len())
                .copy_from_slice(segs);
            if host.is_some() {
                let msgs: &[u8] = bytemuck::cast_slice(&job.msgs);
                view.slice(at(layout.msgs)..at(layout.msgs) + msgs.len())
                    .copy_from_slice(msgs);
            }
        }
        match host {
            Some(inputs) => pack_inputs(&slot.upload.buffer, layout.data, inputs, &job.msgs),
            None => Ok(()),
        }
    }

    fn bind_group(&self, slot: &Slot, data: &wgpu::Buffer, msgs: &wgpu::Buffer) -> wgpu::BindGroup {
        use super::pipelines::binding;
        fn whole(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
            wgpu::BindGroupEntry {
                binding,
                resource: buffer.as_entire_binding(),
            }
        }
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("aocu-hash"),
            layout: &self.kernels.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: binding::PARAMS,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &slot.params.buffer,
                        offset: 0,
                        size: wgpu::BufferSize::new(plan::PARAMS_SIZE),
                    }),
                },
                whole(binding::DATA, data),
                whole(binding::MSGS, msgs),
                whole(binding::SEGS, &slot.segs.buffer),
                whole(binding::CVS, &slot.cvs.buffer),
                whole(binding::DIGESTS, &slot.digests.buffer),
            ],
        })
    }

    /// Waits until the slot's upload buffer is mapped for writing again.
    fn wait_upload(&self, slot: &mut Slot) -> Result<(), GpuError> {
        if let UploadState::Pending { rx, after } = &slot.upload_state {
            self.wait_map(rx, after)?;
            slot.upload_state = UploadState::Mapped;
        }
        Ok(())
    }

    /// Reads back the digests of the slot's sub-batch in flight, if any.
    fn finish(&self, slot: &mut Slot, out: &mut [Digest]) -> Result<(), GpuError> {
        let Some(flight) = slot.in_flight.take() else {
            return Ok(());
        };
        self.wait_map(&flight.rx, &flight.after)?;
        let bytes = 32 * flight.range.len() as u64;
        {
            let view = slot
                .readback
                .buffer
                .get_mapped_range(0..bytes)
                .map_err(|e| GpuError::MapFailed(e.to_string()))?;
            for (digest, got) in out[flight.range].iter_mut().zip(view.chunks_exact(32)) {
                digest.copy_from_slice(got);
            }
        }
        slot.readback.buffer.unmap();
        Ok(())
    }

    /// Waits for a map request issued after submission `after`.
    fn wait_map(
        &self,
        rx: &Receiver<MapResult>,
        after: &wgpu::SubmissionIndex,
    ) -> Result<(), GpuError> {
        // One wait normally suffices: callbacks run before `poll` returns. A few more cover a
        // backend that delivers them a poll later.
        for _ in 0..8 {
            match rx.try_recv() {
                Ok(result) => return result.map_err(|e| GpuError::MapFailed(e.to_string())),
                Err(TryRecvError::Disconnected) => {
                    return Err(GpuError::MapFailed("the map request was dropped".into()));
                }
                Err(TryRecvError::Empty) => {}
            }
            self.device
                .poll(wgpu::PollType::Wait {
                    submission_index: Some(after.clone()),
                    timeout: None,
                })
                .map_err(|e| GpuError::Device(e.to_string()))?;
            self.check_device()?;
        }
        Err(GpuError::MapFailed(
            "the buffer was not mapped after its submission completed".into(),
        ))
    }
}
