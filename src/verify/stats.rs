//! The verifier's counters: signatures checked and failed per engine and scheme, batches per
//! engine, GPU busy time; and their snapshot for `~meta@1.0` and `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::{Item, Scheme, Verdict, rsa};

/// The engine that gave a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// The CPU.
    Cpu,
    /// The GPU.
    Gpu,
}

/// Signatures verified and failed, per engine and scheme; GPU busy time.
#[derive(Debug, Default)]
pub struct Counters {
    /// `[engine][scheme]`: (checked, failed).
    signatures: [[(AtomicU64, AtomicU64); 2]; 2],
    batches: [AtomicU64; 2],
    gpu_busy_ns: AtomicU64,
}

impl Counters {
    /// Counts a batch: each item on the engine `engine_of` names for its scheme.
    pub fn count(
        &self,
        batch_engine: EngineKind,
        engine_of: impl Fn(Scheme) -> EngineKind,
        items: &[Item<'_>],
        verdicts: &[Verdict],
    ) {
        self.batches[batch_engine as usize].fetch_add(1, Ordering::Relaxed);
        for (item, verdict) in items.iter().zip(verdicts) {
            let scheme = item.scheme();
            let (checked, failed) = &self.signatures[engine_of(scheme) as usize][scheme as usize];
            checked.fetch_add(1, Ordering::Relaxed);
            if verdict.is_err() {
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Adds GPU time.
    pub fn gpu_busy(&self, elapsed: std::time::Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.gpu_busy_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> VerifyStats {
        let engine = |e: EngineKind| {
            let per_scheme = Scheme::ALL
                .iter()
                .map(|&s| {
                    let (checked, failed) = &self.signatures[e as usize][s as usize];
                    SchemeStats {
                        scheme: s,
                        checked: checked.load(Ordering::Relaxed),
                        failed: failed.load(Ordering::Relaxed),
                    }
                })
                .collect();
            EngineStats {
                batches: self.batches[e as usize].load(Ordering::Relaxed),
                schemes: per_scheme,
            }
        };
        VerifyStats {
            cpu: engine(EngineKind::Cpu),
            gpu: engine(EngineKind::Gpu),
            gpu_busy_ms: self.gpu_busy_ns.load(Ordering::Relaxed) as f64 / 1e6,
            rsa_backend: rsa::Backend::detect(),
        }
    }
}

/// What a verifier has done (`~meta@1.0/info/metering/verification`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct VerifyStats {
    /// The CPU engine.
    pub cpu: EngineStats,
    /// The GPU engine.
    pub gpu: EngineStats,
    /// Time the GPU spent on verification batches, in milliseconds.
    pub gpu_busy_ms: f64,
    /// The CPU code that runs RSA.
    pub rsa_backend: rsa::Backend,
}

/// One engine's counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct EngineStats {
    /// Batches it verified.
    pub batches: u64,
    /// Per scheme.
    pub schemes: Vec<SchemeStats>,
}

/// One scheme's counts on one engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SchemeStats {
    /// The scheme.
    pub scheme: Scheme,
    /// Signatures checked.
    pub checked: u64,
    /// Of which did not hold.
    pub failed: u64,
}
