//! [`Verifier`]: the engines behind one API, shaped like [`crate::hash::Hasher`]. It holds the
//! CPU engine and optionally the GPU RSA engine, and picks one per batch: [`Engine::Auto`]
//! takes the GPU only on a hardware adapter and for batches of at least the crossover that
//! `aocu bench verify` measured (RSA signatures per batch; ed25519 always runs on the CPU). A
//! GPU failure is answered by the CPU, whose verdicts are identical.

use std::time::Instant;

use super::batch::{self, Waiting};
use super::gpu::{GpuRsa, RsaInput};
use super::rsa_pss::{self, Operands};
use super::stats::{Counters, EngineKind};
use super::{Engine, Item, Scheme, Verdict, VerifyError, VerifyStats};
use crate::hash::gpu::{AdapterChoice, GpuHasher, GpuOptions};

/// Verifies batches of signatures on the CPU or the GPU, with counters.
#[derive(Debug, Default)]
pub struct Verifier {
    engine: Engine,
    gpu: Option<GpuSide>,
    /// RSA signatures per batch from which [`Engine::Auto`] takes the GPU.
    crossover: Option<usize>,
    counters: Counters,
}

/// The GPU engine and what the dispatcher needs to know of its adapter.
#[derive(Debug)]
struct GpuSide {
    rsa: GpuRsa,
    adapter: String,
    software: bool,
}

impl Verifier {
    /// A verifier with the CPU engine only.
    pub fn cpu() -> Verifier {
        Verifier::default()
    }

    /// A verifier with the GPU engine on `hasher`'s device.
    pub fn on_gpu(
        engine: Engine,
        hasher: &GpuHasher,
        crossover: Option<usize>,
    ) -> Result<Verifier, VerifyError> {
        Ok(Verifier {
            engine,
            gpu: Some(GpuSide {
                rsa: GpuRsa::on_hasher(hasher)?,
                adapter: hasher.adapter_info().name.clone(),
                software: hasher.is_software(),
            }),
            crossover,
            counters: Counters::default(),
        })
    }

    /// The verifier `engine` asks for: the CPU for `cpu` and for `auto` without a crossover;
    /// the GPU for `gpu` (on `hasher`'s device when given, else on a device of its own), and
    /// for `auto` with a crossover when a hardware adapter opens (else the CPU, logged).
    pub fn open(
        engine: Engine,
        crossover: Option<usize>,
        hasher: Option<&GpuHasher>,
    ) -> Result<Verifier, VerifyError> {
        if engine == Engine::Cpu || (engine == Engine::Auto && crossover.is_none()) {
            return Ok(Verifier::cpu());
        }
        if let Some(hasher) = hasher {
            return Verifier::on_gpu(engine, hasher, crossover);
        }
        let own = if engine == Engine::Gpu {
            GpuHasher::new()?
        } else {
            let options = GpuOptions {
                adapter: AdapterChoice::HardwareOnly,
                ..GpuOptions::default()
            };
            match GpuHasher::with_options(options) {
                Ok(h) => h,
                Err(e) => {
                    tracing::info!(error = %e, "signature verification stays on the CPU");
                    return Ok(Verifier::cpu());
                }
            }
        };
        Verifier::on_gpu(engine, &own, crossover)
    }

    /// The adapter of the GPU engine, if there is one.
    pub fn gpu_adapter(&self) -> Option<&str> {
        self.gpu.as_ref().map(|g| g.adapter.as_str())
    }

    /// Whether the GPU engine runs on a hardware adapter (not a software rasterizer).
    pub fn gpu_is_hardware(&self) -> bool {
        self.gpu.as_ref().is_some_and(|g| !g.software)
    }

    /// One verdict per item, in order, on `engine`; a GPU failure is an error here (for
    /// tests and benches; the node uses [`Verifier::verify`]).
    pub fn verify_batch(
        &self,
        items: &[Item<'_>],
        engine: Engine,
    ) -> Result<Vec<Verdict>, VerifyError> {
        match engine {
            Engine::Cpu => Ok(self.on_cpu(items)),
            Engine::Gpu => self.on_gpu_engine(items),
            Engine::Auto if self.auto_picks_gpu(items) => self.on_gpu_engine(items),
            Engine::Auto => Ok(self.on_cpu(items)),
        }
    }

    /// One verdict per item on this verifier's engine; never fails: when the GPU fails, the
    /// CPU answers (identical verdicts) and the failure is logged.
    pub fn verify(&self, items: &[Item<'_>]) -> Vec<Verdict> {
        match self.verify_batch(items, self.engine) {
            Ok(verdicts) => verdicts,
            Err(e) => {
                tracing::warn!(error = %e, items = items.len(), "GPU verification failed; the CPU answers");
                self.on_cpu(items)
            }
        }
    }

    /// Whether [`Engine::Auto`] sends this batch to the GPU.
    fn auto_picks_gpu(&self, items: &[Item<'_>]) -> bool {
        let Some(gpu) = &self.gpu else { return false };
        let rsa = items
            .iter()
            .filter(|i| i.scheme() == Scheme::RsaPss)
            .count();
        !gpu.software && self.crossover.is_some_and(|c| rsa >= c)
    }

    fn on_cpu(&self, items: &[Item<'_>]) -> Vec<Verdict> {
        let verdicts = match batch::verify(items, |w| {
            Ok::<_, std::convert::Infallible>(batch::cpu_public_ops(w))
        }) {
            Ok(v) => v,
            Err(never) => match never {},
        };
        self.counters
            .count(EngineKind::Cpu, |_| EngineKind::Cpu, items, &verdicts);
        verdicts
    }

    fn on_gpu_engine(&self, items: &[Item<'_>]) -> Result<Vec<Verdict>, VerifyError> {
        let gpu = self.gpu.as_ref().ok_or(VerifyError::NoGpu)?;
        let start = Instant::now();
        let verdicts = batch::verify(items, |w| gpu_public_ops(&gpu.rsa, w))?;
        self.counters.gpu_busy(start.elapsed());
        // RSA on the GPU; ed25519 always on the CPU.
        let engine_of = |s: Scheme| match s {
            Scheme::RsaPss => EngineKind::Gpu,
            Scheme::Ed25519 => EngineKind::Cpu,
        };
        self.counters
            .count(EngineKind::Gpu, engine_of, items, &verdicts);
        Ok(verdicts)
    }

    /// What this verifier has done since it was made.
    pub fn stats(&self) -> VerifyStats {
        self.counters.snapshot()
    }
}

/// The GPU engine's public operations: Montgomery operands in one GPU batch (sub-batches as
/// the adapter's limits say), the rare others on the CPU in arbitrary precision.
fn gpu_public_ops(gpu: &GpuRsa, waiting: &[Waiting<'_, '_>]) -> Result<Vec<Vec<u8>>, VerifyError> {
    let inputs: Vec<RsaInput<'_>> = waiting
        .iter()
        .filter_map(|w| match (&w.pending.operands, w.item) {
            (
                Operands::Montgomery { .. },
                Item::RsaPss {
                    modulus, signature, ..
                },
            ) => Some(RsaInput { modulus, signature }),
            _ => None,
        })
        .collect();
    let mut results = gpu.public_op(&inputs)?.into_iter();
    Ok(waiting
        .iter()
        .map(|w| match &w.pending.operands {
            Operands::Montgomery { .. } => results.next().map(|r| r.to_vec()).unwrap_or_default(),
            Operands::General { n, s } => rsa_pss::general_op(n, s),
        })
        .collect())
}
