//! The RSA public operation `s^65537 mod n` for many signatures per dispatch, on a wgpu compute
//! shader (`shaders/rsa.wgsl`), for moduli up to 4096 bits (Arweave's RSA-PSS keys).
//!
//! The host checks every input, computes each modulus' Montgomery constants (n0' and R² mod n)
//! with [`rsa::BigUint`], and packs a sub-batch limb-major into one storage buffer, uploaded
//! once; one submission of two dispatches (one invocation per signature, ten and nine Montgomery
//! multiplications) raises every signature to 65537 by 16 squarings and one multiplication, and
//! the results come back through one readback buffer. Batches larger
//! than [`GpuRsa::max_batch`] are cut into sub-batches. The engine shares a device with the hash
//! engine ([`GpuRsa::on_hasher`]).
//!
//! This is the raw public operation only: padding checks (PSS, PKCS#1) are the caller's.

mod kernel;
mod prepare;

use std::sync::Mutex;

use kernel::{Buffers, Kernel};

/// Default cap on inputs per dispatch: about 52 MB of input and 35 MB of state per sub-batch,
/// enough threads to fill a large GPU.
pub const DEFAULT_MAX_BATCH: usize = 32 * 1024;

/// One RSA public operation: `signature^65537 mod modulus`.
#[derive(Debug, Clone, Copy)]
pub struct RsaInput<'a> {
    /// The modulus n, big-endian, at most 512 bytes (leading zeros allowed).
    pub modulus: &'a [u8],
    /// The signature s, big-endian, at most 512 bytes (leading zeros allowed), below n.
    pub signature: &'a [u8],
}

/// Why the GPU RSA engine could not compute.
#[derive(Debug, thiserror::Error)]
pub enum GpuRsaError {
    /// A modulus is longer than 512 bytes.
    #[error(
        "batch item {index}: the modulus is {len} bytes, over the 512 bytes (4096 bits) supported"
    )]
    ModulusTooLong {
        /// Its index in the batch.
        index: usize,
        /// Its length in bytes.
        len: usize,
    },
    /// A signature is longer than 512 bytes.
    #[error("batch item {index}: the signature is {len} bytes, over the 512 bytes supported")]
    SignatureTooLong {
        /// Its index in the batch.
        index: usize,
        /// Its length in bytes.
        len: usize,
    },
    /// A modulus is 0 or 1.
    #[error("batch item {index}: the modulus is 0 or 1")]
    ModulusTooSmall {
        /// Its index in the batch.
        index: usize,
    },
    /// A modulus is even (Montgomery arithmetic needs an odd one; RSA moduli are odd).
    #[error("batch item {index}: the modulus is even")]
    ModulusEven {
        /// Its index in the batch.
        index: usize,
    },
    /// A signature is not below its modulus.
    #[error("batch item {index}: the signature is not below the modulus")]
    SignatureNotBelowModulus {
        /// Its index in the batch.
        index: usize,
    },
    /// The device lacks something the kernel needs.
    #[error("the GPU device cannot run the RSA kernel: {0}")]
    Unsupported(String),
    /// The shader failed validation or compilation (a bug, or a driver that cannot take it).
    #[error("the RSA shader failed to build: {0}")]
    Shader(String),
    /// The device ran out of memory for the buffers.
    #[error("the GPU ran out of memory: {0}")]
    OutOfMemory(String),
    /// The device rejected a buffer, binding or dispatch.
    #[error("GPU device error: {0}")]
    Device(String),
    /// Mapping the result buffer failed.
    #[error("mapping a GPU buffer failed: {0}")]
    MapFailed(String),
    /// The device was lost, or waiting on it failed.
    #[error("the GPU device was lost or a wait on it failed: {0}")]
    DeviceLost(String),
}

/// The GPU RSA engine: the pipeline on a shared device, and its reusable buffers.
///
/// Methods take `&self`; concurrent calls are serialized on the buffers.
pub struct GpuRsa {
    device: wgpu::Device,
    queue: wgpu::Queue,
    kernel: Kernel,
    buffers: Mutex<Option<Buffers>>,
    max_batch: usize,
}

impl GpuRsa {
    /// Builds the pipeline on an already open device (share the hash engine's device).
    pub fn new(device: wgpu::Device, queue: wgpu::Queue) -> Result<GpuRsa, GpuRsaError> {
        GpuRsa::with_max_batch(device, queue, DEFAULT_MAX_BATCH)
    }

    /// Same, on the device of a [`crate::hash::gpu::GpuHasher`].
    pub fn on_hasher(hasher: &crate::hash::gpu::GpuHasher) -> Result<GpuRsa, GpuRsaError> {
        GpuRsa::new(hasher.device().clone(), hasher.queue().clone())
    }

    /// Like [`Self::new`], with at most `cap` inputs per dispatch (at least 1; the device's
    /// limits may lower it further): to bound the memory of one sub-batch, or for tests.
    pub fn with_max_batch(
        device: wgpu::Device,
        queue: wgpu::Queue,
        cap: usize,
    ) -> Result<GpuRsa, GpuRsaError> {
        let kernel = Kernel::new(&device)?;
        let limits = device.limits();
        let item_bytes = 4 * prepare::IN_WORDS.max(prepare::STATE_WORDS) as u64;
        let by_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            / item_bytes;
        let by_groups =
            u64::from(limits.max_compute_workgroups_per_dimension) * u64::from(kernel.workgroup);
        let max_batch = usize::try_from(by_binding.min(by_groups))
            .unwrap_or(usize::MAX)
            .min(cap.max(1));
        if max_batch == 0 {
            return Err(GpuRsaError::Unsupported(format!(
                "a storage binding of {} bytes cannot hold one input of {item_bytes} bytes",
                limits.max_storage_buffer_binding_size
            )));
        }
        Ok(GpuRsa {
            device,
            queue,
            kernel,
            buffers: Mutex::new(None),
            max_batch,
        })
    }

    /// The most inputs one dispatch takes, from the adapter's limits.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// s^65537 mod n for each input as 512 big-endian bytes (leading zeros kept).
    ///
    /// Preconditions checked per item, giving an error naming the item index (never a panic):
    /// modulus odd, modulus > 1, modulus at most 4096 bits, signature < modulus. An empty batch
    /// gives an empty result without touching the device.
    pub fn public_op(&self, inputs: &[RsaInput<'_>]) -> Result<Vec<[u8; 512]>, GpuRsaError> {
        prepare::check(inputs)?;
        let mut out = vec![[0u8; prepare::MAX_BYTES]; inputs.len()];
        if inputs.is_empty() {
            return Ok(out);
        }
        // A panic while the lock was held may leave the buffers mapped: make new ones.
        let mut slot = self.buffers.lock().unwrap_or_else(|poisoned| {
            let mut slot = poisoned.into_inner();
            *slot = None;
            slot
        });
        let mut buffers = match slot.take() {
            Some(buffers) => buffers,
            None => Buffers::new(&self.device, &self.kernel)?,
        };
        for (part, results) in inputs
            .chunks(self.max_batch)
            .zip(out.chunks_mut(self.max_batch))
        {
            let words = prepare::pack(part);
            // max_batch fits the workgroup count, hence u32.
            let count = u32::try_from(part.len()).map_err(|_| {
                GpuRsaError::Unsupported(format!("{} inputs in one dispatch", part.len()))
            })?;
            let got = self
                .kernel
                .run(&self.device, &self.queue, &mut buffers, count, &words)?;
            prepare::unpack(&got, part.len(), results);
        }
        // Only buffers that came through every sub-batch are kept for the next call.
        *slot = Some(buffers);
        Ok(out)
    }
}

impl std::fmt::Debug for GpuRsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuRsa")
            .field("max_batch", &self.max_batch)
            .field("workgroup", &self.kernel.workgroup)
            .finish_non_exhaustive()
    }
}
