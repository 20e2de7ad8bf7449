//! The dispatcher: one object that hashes batches on the CPU or the GPU, chosen per batch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;

use super::gpu::{AdapterChoice, GpuHasher, GpuOptions};
use super::{Algorithm, ChainLink, CpuEngine, Digest, Engine, HashError, chain, merkle};

/// Batch hashing on the engine [`Engine`] says, with counters for metering.
#[derive(Debug)]
pub struct Hasher {
    engine: Engine,
    cpu: CpuEngine,
    gpu: Option<GpuHasher>,
    crossover: Option<u64>,
    counters: Counters,
}

/// What a [`Hasher`] has done so far (for metering).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct HashStats {
    /// Input bytes hashed on the CPU.
    pub cpu_bytes: u64,
    /// Input bytes hashed on the GPU.
    pub gpu_bytes: u64,
    /// Batches hashed on the CPU.
    pub cpu_batches: u64,
    /// Batches hashed on the GPU.
    pub gpu_batches: u64,
    /// Wall time of GPU batches, from submission to digests back (busy time as the node sees
    /// it), in nanoseconds.
    pub gpu_busy_ns: u64,
}

#[derive(Debug, Default)]
struct Counters {
    cpu_bytes: AtomicU64,
    gpu_bytes: AtomicU64,
    cpu_batches: AtomicU64,
    gpu_batches: AtomicU64,
    gpu_busy_ns: AtomicU64,
}

impl Hasher {
    /// The CPU engine only.
    pub fn cpu() -> Hasher {
        Hasher::assemble(Engine::Cpu, None, None)
    }

    /// Opens what `engine` needs: for [`Engine::Gpu`] the best adapter (a software one when it
    /// is all there is; no adapter is an error); for [`Engine::Auto`] a hardware adapter when
    /// `crossover` is known and one exists (otherwise the CPU alone, silently: that is the safe
    /// default); for [`Engine::Cpu`] nothing.
    pub fn open(engine: Engine, crossover: Option<u64>) -> Result<Hasher, HashError> {
        let gpu = match engine {
            Engine::Cpu => None,
            Engine::Gpu => Some(GpuHasher::new()?),
            Engine::Auto if crossover.is_some() => {
                let options = GpuOptions {
                    adapter: AdapterChoice::HardwareOnly,
                    ..GpuOptions::default()
                };
                GpuHasher::with_options(options)
                    .inspect_err(|e| tracing::info!(error = %e, "batch hashing stays on the CPU"))
                    .ok()
            }
            Engine::Auto => None,
        };
        Ok(Hasher::assemble(engine, gpu, crossover))
    }

    /// A dispatcher around a GPU hasher the caller opened. With [`Engine::Auto`], a software
    /// adapter is still never chosen.
    pub fn with_gpu(engine: Engine, gpu: GpuHasher, crossover: Option<u64>) -> Hasher {
        Hasher::assemble(engine, Some(gpu), crossover)
    }

    fn assemble(engine: Engine, gpu: Option<GpuHasher>, crossover: Option<u64>) -> Hasher {
        Hasher {
            engine,
            cpu: CpuEngine::new(),
            gpu,
            crossover,
            counters: Counters::default(),
        }
    }

    /// The engine setting.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The GPU hasher, when one is open.
    pub fn gpu(&self) -> Option<&GpuHasher> {
        self.gpu.as_ref()
    }

    /// The CPU engine.
    pub fn cpu_engine(&self) -> &CpuEngine {
        &self.cpu
    }

    /// The batch size (bytes) from which [`Engine::Auto`] uses the GPU.
    pub fn crossover(&self) -> Option<u64> {
        self.crossover
    }

    /// The engine a batch of `bytes` input bytes runs on: [`Engine::Cpu`] or [`Engine::Gpu`].
    pub fn choose(&self, bytes: u64) -> Engine {
        match self.engine {
            Engine::Cpu => Engine::Cpu,
            Engine::Gpu => Engine::Gpu,
            Engine::Auto => match (&self.gpu, self.crossover) {
                (Some(gpu), Some(crossover)) if !gpu.is_software() && bytes >= crossover => {
                    Engine::Gpu
                }
                _ => Engine::Cpu,
            },
        }
    }

    /// What this hasher has done so far.
    pub fn stats(&self) -> HashStats {
        let c = &self.counters;
        HashStats {
            cpu_bytes: c.cpu_bytes.load(Ordering::Relaxed),
            gpu_bytes: c.gpu_bytes.load(Ordering::Relaxed),
            cpu_batches: c.cpu_batches.load(Ordering::Relaxed),
            gpu_batches: c.gpu_batches.load(Ordering::Relaxed),
            gpu_busy_ns: c.gpu_busy_ns.load(Ordering::Relaxed),
        }
    }

    /// Hashes every input with `alg`; digests in input order.
    pub fn hash_batch(&self, alg: Algorithm, inputs: &[&[u8]]) -> Result<Vec<Digest>, HashError> {
        let mut out = vec![[0u8; 32]; inputs.len()];
        self.hash_batch_into(alg, inputs, &mut out)?;
        Ok(out)
    }

    /// Hashes every input into `out` (same index; the lengths must match).
    pub fn hash_batch_into(
        &self,
        alg: Algorithm,
        inputs: &[&[u8]],
        out: &mut [Digest],
    ) -> Result<(), HashError> {
        if inputs.len() != out.len() {
            return Err(HashError::LengthMismatch {
                what: "inputs and digest slots",
                left: inputs.len(),
                right: out.len(),
            });
        }
        let bytes: u64 = inputs.iter().map(|i| i.len() as u64).sum();
        let c = &self.counters;
        match self.choose(bytes) {
            Engine::Gpu => {
                let gpu = self.gpu.as_ref().ok_or(HashError::NoGpu)?;
                let started = Instant::now();
                let digests = gpu.hash_batch(alg, inputs)?;
                let busy = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                out.copy_from_slice(&digests);
                c.gpu_busy_ns.fetch_add(busy, Ordering::Relaxed);
                c.gpu_bytes.fetch_add(bytes, Ordering::Relaxed);
                c.gpu_batches.fetch_add(1, Ordering::Relaxed);
            }
            _ => self.hash_on_cpu(alg, inputs, out),
        }
        Ok(())
    }

    /// Hashes a batch on the CPU engine whatever the setting, counted as CPU work.
    pub(crate) fn hash_on_cpu(&self, alg: Algorithm, inputs: &[&[u8]], out: &mut [Digest]) {
        let bytes: u64 = inputs.iter().map(|i| i.len() as u64).sum();
        self.cpu.hash_into(alg, inputs, out);
        let c = &self.counters;
        c.cpu_bytes.fetch_add(bytes, Ordering::Relaxed);
        c.cpu_batches.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether each input hashes to its expected digest (e.g. SHA-256 of ANS-104 signatures
    /// against the raw message IDs).
    pub fn verify_batch(
        &self,
        alg: Algorithm,
        inputs: &[&[u8]],
        expected: &[Digest],
    ) -> Result<Vec<bool>, HashError> {
        if inputs.len() != expected.len() {
            return Err(HashError::LengthMismatch {
                what: "inputs and expected digests",
                left: inputs.len(),
                right: expected.len(),
            });
        }
        let digests = self.hash_batch(alg, inputs)?;
        Ok(verdicts(&digests, expected))
    }

    /// Whether each hash-chain link holds, all checked independently in one SHA-256 batch.
    pub fn verify_chain(&self, links: &[ChainLink<'_>]) -> Result<Vec<bool>, HashError> {
        chain::verify_with(links, |inputs| self.hash_batch(Algorithm::Sha256, inputs))
    }

    /// The Merkle root of `leaves` (see [`merkle`](super::merkle)): one batch per tree level.
    pub fn merkle_root(&self, alg: Algorithm, leaves: &[&[u8]]) -> Result<Digest, HashError> {
        merkle::root_with(leaves, |inputs| self.hash_batch(alg, inputs))
    }
}

/// Whether each computed digest equals the expected one at its index.
pub(crate) fn verdicts(digests: &[Digest], expected: &[Digest]) -> Vec<bool> {
    digests.iter().zip(expected).map(|(d, e)| d == e).collect()
}
