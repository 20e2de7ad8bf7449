//! `aocu bench verify`: signatures verified per second per engine, scheme, batch size and
//! thread count, each against two baselines measured in the same run: the `rsa` crate (what
//! aocu verified with before, one signature at a time) and OpenSSL's `openssl speed
//! -seconds N rsa4096` verify rate (one core), plus the time to verify an SU page of 1,000
//! slots (2,000 RSA signatures: each message and its assignment).

use std::process::Command;
use std::time::Duration;

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::ao::Wallet;
use crate::ao::signature::ed25519 as ao_ed25519;
use crate::bench::hash::{Threads, best_time};
use crate::verify::{Engine, Item, Scheme, Verifier};

/// Batch sizes every full run measures.
pub const BATCH_SIZES: [usize; 4] = [1, 64, 4096, 65536];

/// Valid signatures to verify: RSA-PSS-4096 from two wallets (salt 32, as the node signs; the
/// verifier's cost does not depend on the salt length) and ed25519 from two keys, over random
/// 48-byte messages (deep hashes). Batches repeat them.
pub struct Corpus {
    rsa: Vec<(Vec<u8>, [u8; 32], Vec<u8>)>,
    ed25519: Vec<([u8; 32], [u8; 48], [u8; 64])>,
}

impl Corpus {
    /// `count` signatures of each scheme (generating the RSA keys takes seconds).
    pub fn new(count: usize) -> Result<Corpus, String> {
        let wallets = [Wallet::generate(), Wallet::generate()]
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let keys = [ao_ed25519::Key::generate(), ao_ed25519::Key::generate()];
        let messages: Vec<[u8; 48]> = (0..count)
            .map(|i| {
                let mut m = [0u8; 48];
                crate::bench::hash::fill(&mut m, i as u64 + 1);
                m
            })
            .collect();
        let rsa = messages
            .par_iter()
            .enumerate()
            .map(|(i, m)| {
                let w = &wallets[i % 2];
                let sig = w.sign(m).map_err(|e| e.to_string())?;
                Ok((w.owner().to_vec(), Sha256::digest(m).into(), sig))
            })
            .collect::<Result<_, String>>()?;
        let ed25519 = messages
            .iter()
            .enumerate()
            .map(|(i, m)| (keys[i % 2].public(), *m, keys[i % 2].sign(m)))
            .collect();
        Ok(Corpus { rsa, ed25519 })
    }

    /// A batch of `size` items of `scheme`.
    pub fn items(&self, scheme: Scheme, size: usize) -> Vec<Item<'_>> {
        (0..size)
            .map(|i| match scheme {
                Scheme::RsaPss => {
                    let (n, digest, sig) = &self.rsa[i % self.rsa.len()];
                    Item::RsaPss {
                        modulus: n,
                        digest: *digest,
                        signature: sig,
                    }
                }
                Scheme::Ed25519 => {
                    let (key, message, sig) = &self.ed25519[i % self.ed25519.len()];
                    Item::Ed25519 {
                        key,
                        message,
                        signature: sig,
                    }
                }
            })
            .collect()
    }

    /// The `rsa` crate's verification of the first RSA signature (the baseline).
    pub fn rsa_crate_verify(&self) -> impl Fn() -> bool + '_ {
        let (n, digest, sig) = &self.rsa[0];
        let key = rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(n),
            rsa::BigUint::from(crate::verify::rsa_pss::EXPONENT),
        );
        move || {
            key.as_ref()
                .is_ok_and(|k| k.verify(rsa::Pss::new::<Sha256>(), digest, sig).is_ok())
        }
    }
}

/// OpenSSL's RSA-4096 verifications per second on one core: `openssl speed -seconds N
/// rsa4096`, the last figure of its `rsa 4096 bits` line.
pub fn openssl_rsa4096_verify_per_sec(seconds: u32) -> Result<f64, String> {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", &seconds.to_string(), "rsa4096"])
        .output()
        .map_err(|e| format!("running openssl: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.trim_start().starts_with("rsa 4096 bits"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no 'rsa 4096 bits' line in openssl's output: {text}"))
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct VerifyBenchOptions {
    /// Batch sizes.
    pub batch_sizes: Vec<usize>,
    /// Least time per figure.
    pub min_time: Duration,
    /// Seconds of `openssl speed` (0: skip OpenSSL).
    pub openssl_seconds: u32,
    /// Engines to measure (`cpu`, `gpu`).
    pub engines: Vec<Engine>,
}

/// One measured rate.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct VerifyMeasurement {
    /// Scheme.
    pub scheme: Scheme,
    /// `cpu` or `gpu`.
    pub engine: Engine,
    /// Threads of the CPU engine.
    pub threads: Threads,
    /// Signatures per batch.
    pub batch: usize,
    /// Best time of one batch, seconds.
    pub seconds: f64,
    /// Signatures per second.
    pub per_s: f64,
    /// Over the `rsa` crate on one core (RSA rows).
    pub vs_rsa_crate: Option<f64>,
    /// Over `openssl speed` on one core (RSA rows).
    pub vs_openssl: Option<f64>,
}

/// Everything `aocu bench verify` reports.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct VerifyBenchReport {
    /// The CPU backend of the RSA lanes.
    pub rsa_backend: &'static str,
    /// The `rsa` crate, one core, signatures per second.
    pub rsa_crate_per_s: f64,
    /// `openssl speed` verify rate, one core (absent when OpenSSL could not run).
    pub openssl_per_s: Option<f64>,
    /// Why OpenSSL is absent.
    pub openssl_error: Option<String>,
    /// Milliseconds to verify the 2,000 RSA signatures of a 1,000-slot SU page, every core.
    pub su_page_1000_ms: f64,
    /// The GPU adapter measured, if any.
    pub gpu_adapter: Option<String>,
    /// The smallest measured RSA batch from which the GPU beats every core (and keeps beating
    /// them at every larger size); absent when it never does or the adapter is a software one.
    pub gpu_crossover_signatures: Option<u64>,
    /// The measurements.
    pub measurements: Vec<VerifyMeasurement>,
}

/// Runs the measurements on `verifier`.
pub fn run(options: &VerifyBenchOptions, verifier: &Verifier) -> Result<VerifyBenchReport, String> {
    let (openssl_per_s, openssl_error) = match options.openssl_seconds {
        0 => (None, Some("skipped".to_string())),
        s => match openssl_rsa4096_verify_per_sec(s) {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e)),
        },
    };
    let corpus = Corpus::new(256)?;
    let baseline = corpus.rsa_crate_verify();
    let one = best_time(options.min_time, || {
        std::hint::black_box(baseline());
    });
    let rsa_crate_per_s = 1.0 / one.as_secs_f64();
    let one_core = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| e.to_string())?;
    let mut measurements = Vec::new();
    for &engine in &options.engines {
        for scheme in Scheme::ALL {
            for &batch in &options.batch_sizes {
                let items = corpus.items(scheme, batch);
                for threads in [Threads::One, Threads::All] {
                    if engine == Engine::Gpu && threads == Threads::One {
                        continue;
                    }
                    let measure = || {
                        best_time(options.min_time, || {
                            std::hint::black_box(verifier.verify_batch(&items, engine).ok());
                        })
                    };
                    let t = match threads {
                        Threads::One => one_core.install(measure),
                        Threads::All => measure(),
                    };
                    let per_s = batch as f64 / t.as_secs_f64();
                    let rsa_row = scheme == Scheme::RsaPss;
                    measurements.push(VerifyMeasurement {
                        scheme,
                        engine,
                        threads,
                        batch,
                        seconds: t.as_secs_f64(),
                        per_s,
                        vs_rsa_crate: rsa_row.then(|| per_s / rsa_crate_per_s),
                        vs_openssl: openssl_per_s.filter(|_| rsa_row).map(|o| per_s / o),
                    });
                }
            }
        }
    }
    let gpu_crossover_signatures = crossover(&measurements, verifier);
    let page = corpus.items(Scheme::RsaPss, 2000);
    let su_page = best_time(options.min_time, || {
        std::hint::black_box(verifier.verify(&page));
    });
    Ok(VerifyBenchReport {
        rsa_backend: crate::verify::rsa::Backend::detect().name(),
        rsa_crate_per_s,
        openssl_per_s,
        openssl_error,
        su_page_1000_ms: su_page.as_secs_f64() * 1e3,
        gpu_adapter: verifier.gpu_adapter().map(str::to_string),
        gpu_crossover_signatures,
        measurements,
    })
}

/// See [`VerifyBenchReport::gpu_crossover_signatures`].
fn crossover(measurements: &[VerifyMeasurement], verifier: &Verifier) -> Option<u64> {
    if !verifier.gpu_is_hardware() {
        return None;
    }
    let rate = |engine: Engine, batch: usize| {
        measurements
            .iter()
            .find(|m| {
                m.scheme == Scheme::RsaPss
                    && m.engine == engine
                    && m.threads == Threads::All
                    && m.batch == batch
            })
            .map(|m| m.per_s)
    };
    let mut batches: Vec<usize> = measurements.iter().map(|m| m.batch).collect();
    batches.sort_unstable();
    batches.dedup();
    let wins: Vec<bool> = batches
        .iter()
        .map(|&b| matches!((rate(Engine::Gpu, b), rate(Engine::Cpu, b)), (Some(g), Some(c)) if g > c))
        .collect();
    // The first size from which every larger one is a win too.
    let first = wins.iter().rposition(|w| !w).map_or(0, |i| i + 1);
    batches.get(first).map(|&b| b as u64)
}
