//! The GPU engine: BLAKE3 and SHA-256 for many messages per dispatch, on wgpu compute shaders
//! (`shaders/blake3.wgsl`, `shaders/sha256.wgsl`).
//!
//! A batch is packed into one storage buffer (every message at a 4-byte aligned offset) with a
//! table of offsets and lengths, cut into sub-batches that fit the adapter's limits. SHA-256 runs
//! one invocation per message (long messages over several short dispatches). BLAKE3 runs one
//! invocation per 1024-byte chunk across the whole sub-batch, then merges the chunk chaining values
//! level by level on the GPU. Two sets of grow-only buffers alternate between sub-batches, so
//! packing and reading back one overlaps the GPU's work on the other, and nothing is allocated
//! per batch once they have grown. [`ResidentBatch`] keeps data on the device to hash it again
//! without the host-to-device copy; [`BandwidthProbe`] measures the copies that bound the engine.

mod adapter;
mod bandwidth;
mod engine;
mod pipelines;
mod plan;
mod resident;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use adapter::AdapterChoice;
pub use bandwidth::BandwidthProbe;
pub use pipelines::storage_entry;
pub use resident::ResidentBatch;

use super::{Algorithm, Digest};
use engine::Slots;
use pipelines::Kernels;
use plan::Caps;

/// Default data bytes per sub-batch: large enough to amortize a dispatch, small enough that two
/// in flight overlap well and stay modest in memory.
pub const DEFAULT_SUB_BATCH_BYTES: u64 = 64 << 20;

/// Why the GPU engine could not hash.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// No adapter of the kind asked for exists.
    #[error("no usable GPU adapter: {0}")]
    NoAdapter(String),
    /// The adapter lacks something the kernels need.
    #[error("the GPU adapter cannot run the hash kernels: {0}")]
    Unsupported(String),
    /// The adapter refused to open a device.
    #[error("opening a device on {adapter} failed: {reason}")]
    RequestDevice {
        /// The adapter, `name (backend)`.
        adapter: String,
        /// What wgpu said.
        reason: String,
    },
    /// A shader failed validation or compilation (a bug, or a driver that cannot take it).
    #[error("the hash shaders failed to build: {0}")]
    Shader(String),
    /// Mapping a buffer for reading or writing failed.
    #[error("mapping a GPU buffer failed: {0}")]
    MapFailed(String),
    /// One input cannot fit the device even in a sub-batch of its own.
    #[error("batch item {index} ({len} bytes) is too large for the GPU: {reason}")]
    ItemTooLarge {
        /// Its index in the batch.
        index: usize,
        /// Its length in bytes.
        len: u64,
        /// Which device limit it breaks.
        reason: String,
    },
    /// The device reported an error (lost, out of memory) or a wait failed.
    #[error("GPU device error: {0}")]
    Device(String),
    /// A [`ResidentBatch`] was given to a hasher other than the one that uploaded it.
    #[error("the resident batch was uploaded by another GpuHasher")]
    ForeignBatch,
}

/// Options for [`GpuHasher::with_options`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuOptions {
    /// Which adapters may be used.
    pub adapter: AdapterChoice,
    /// Target data bytes per sub-batch (capped by the device's limits).
    pub sub_batch_bytes: u64,
}

impl Default for GpuOptions {
    fn default() -> Self {
        GpuOptions {
            adapter: AdapterChoice::default(),
            sub_batch_bytes: DEFAULT_SUB_BATCH_BYTES,
        }
    }
}

/// The GPU hashing engine: owns the device, its queue, the pipelines and the reusable buffers.
///
/// Methods take `&self`; concurrent calls are serialized on the buffers.
pub struct GpuHasher {
    info: wgpu::AdapterInfo,
    software: bool,
    device: wgpu::Device,
    queue: wgpu::Queue,
    kernels: Kernels,
    caps: Caps,
    /// Offset alignment of the per-dispatch parameter blocks.
    params_align: u64,
    slots: Mutex<Slots>,
    /// The first error the device reported outside an error scope.
    device_error: Arc<Mutex<Option<String>>>,
    /// Identifies this hasher to the resident batches it uploads.
    id: u64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl GpuHasher {
    /// Opens the best adapter: hardware preferred, a software rasterizer when it is the only one.
    pub fn new() -> Result<GpuHasher, GpuError> {
        GpuHasher::with_options(GpuOptions::default())
    }

    /// Opens an adapter as `options` say.
    ///
    /// When the best adapter fails to open or to build the kernels, the next one is tried; the
    /// error of the first is returned if none works.
    pub fn with_options(options: GpuOptions) -> Result<GpuHasher, GpuError> {
        let mut first_error = None;
        for adapter in adapter::candidates(options.adapter)? {
            let name = adapter::describe(&adapter.get_info());
            match GpuHasher::with_adapter_options(adapter, options) {
                Ok(hasher) => return Ok(hasher),
                Err(e) => {
                    tracing::warn!(adapter = %name, error = %e, "GPU adapter unusable for hashing");
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| GpuError::NoAdapter("no candidate adapter".into())))
    }

    /// Runs on the given adapter with default options.
    pub fn with_adapter(adapter: wgpu::Adapter) -> Result<GpuHasher, GpuError> {
        GpuHasher::with_adapter_options(adapter, GpuOptions::default())
    }

    /// Runs on the given adapter (`options.adapter` is not consulted).
    pub fn with_adapter_options(
        adapter: wgpu::Adapter,
        options: GpuOptions,
    ) -> Result<GpuHasher, GpuError> {
        let info = adapter.get_info();
        let (device, queue) = adapter::open(&adapter)?;
        let device_error = Arc::new(Mutex::new(None));
        let sink = Arc::clone(&device_error);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            tracing::error!(error = %e, "GPU device error");
            if let Ok(mut slot) = sink.lock() {
                slot.get_or_insert_with(|| e.to_string());
            }
        }));
        let kernels = Kernels::new(&device)?;
        let limits = device.limits();
        let caps = Caps::new(&limits, options.sub_batch_bytes, kernels.workgroup);
        let params_align = plan::round_up(
            plan::PARAMS_SIZE,
            u64::from(limits.min_uniform_buffer_offset_alignment.max(4)),
        );
        tracing::debug!(adapter = %adapter::describe(&info), ?caps, "GPU hasher ready");
        let slots = Mutex::new(Slots::new(&device));
        Ok(GpuHasher {
            software: crate::hw::gpu::is_software(&info),
            info,
            device,
            queue,
            kernels,
            caps,
            params_align,
            slots,
            device_error,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// The adapter this hasher runs on.
    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    /// Whether the adapter is a software rasterizer (lavapipe, llvmpipe, SwiftShader, WARP).
    pub fn is_software(&self) -> bool {
        self.software
    }

    /// The device's limits, as the hasher uses them.
    pub fn limits(&self) -> wgpu::Limits {
        self.device.limits()
    }

    /// The wgpu device (for measurements next to the hasher's own work).
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The wgpu queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// Hashes every input with `alg`; digests come back in input order.
    pub fn hash_batch(&self, alg: Algorithm, inputs: &[&[u8]]) -> Result<Vec<Digest>, GpuError> {
        let lens: Vec<u64> = inputs.iter().map(|i| i.len() as u64).collect();
        let parts = plan::split(&lens, &self.caps)?;
        let jobs = parts.into_iter().map(|range| {
            let (msgs, data_bytes) = plan::msg_table(&lens[range.clone()]);
            engine::Job {
                source: engine::Source::Host(&inputs[range.clone()]),
                range,
                msgs: msgs.into(),
                data_bytes,
            }
        });
        self.run(alg, inputs.len(), jobs)
    }

    /// Uploads a batch to stay on the device, to be hashed by [`Self::hash_resident`].
    pub fn upload(&self, inputs: &[&[u8]]) -> Result<ResidentBatch, GpuError> {
        resident::upload(self, inputs)
    }

    /// Hashes a batch already on the device: no host-to-device copy of the data.
    pub fn hash_resident(
        &self,
        alg: Algorithm,
        batch: &ResidentBatch,
    ) -> Result<Vec<Digest>, GpuError> {
        if batch.owner() != self.id {
            return Err(GpuError::ForeignBatch);
        }
        self.run(alg, batch.len(), batch.jobs())
    }

    /// How many times a reusable batch buffer has been replaced by a larger one: it stops
    /// rising once the buffers have grown to the largest sub-batch seen (no per-batch allocation
    /// after warm-up). Resident batches own their buffers and are not counted.
    pub fn buffer_growths(&self) -> u64 {
        match self.slots.lock() {
            Ok(slots) => slots.growths(),
            Err(poisoned) => poisoned.into_inner().growths(),
        }
    }

    /// Fails with the first error the device reported since the last check.
    fn check_device(&self) -> Result<(), GpuError> {
        let taken = match self.device_error.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        taken.map_or(Ok(()), |e| Err(GpuError::Device(e)))
    }
}

impl std::fmt::Debug for GpuHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuHasher")
            .field("adapter", &adapter::describe(&self.info))
            .field("software", &self.software)
            .field("caps", &self.caps)
            .finish_non_exhaustive()
    }
}
