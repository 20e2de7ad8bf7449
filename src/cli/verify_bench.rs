//! `aocu bench verify`: signature verification rates on this machine (see
//! [`crate::bench::verify`]), printed as a table or JSON.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use super::Outcome;
use crate::bench::hash::Threads;
use crate::bench::verify::{self as vb, BATCH_SIZES, VerifyBenchOptions, VerifyBenchReport};
use crate::hash::Engine;
use crate::verify::Verifier;

/// Arguments of `aocu bench verify`.
#[derive(Debug, Args)]
pub struct VerifyBenchArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Milliseconds per measurement (the best run counts).
    #[arg(long, default_value_t = 500)]
    pub min_time_ms: u64,
    /// Batch sizes (default 1, 64, 4096, 65536).
    #[arg(long, value_delimiter = ',')]
    pub batch: Vec<usize>,
    /// Seconds of `openssl speed rsa4096` for the baseline (0: skip it).
    #[arg(long, default_value_t = 3)]
    pub openssl_seconds: u32,
    /// Measure the CPU only.
    #[arg(long)]
    pub no_gpu: bool,
    /// Write this machine's hardware profile, with the measured GPU crossover
    /// (`verify-gpu-crossover-signatures`), to PATH.
    #[arg(long, value_name = "PATH")]
    pub write_profile: Option<PathBuf>,
}

/// Runs the measurements, prints them, and writes the profile when asked.
pub fn run(loaded: &crate::config::Loaded, args: &VerifyBenchArgs) -> anyhow::Result<Outcome> {
    let gpu = if args.no_gpu {
        None
    } else {
        crate::hash::gpu::GpuHasher::new()
            .inspect_err(|e| eprintln!("aocu: no GPU measurements: {e}"))
            .ok()
    };
    let verifier = match &gpu {
        Some(hasher) => Verifier::on_gpu(Engine::Auto, hasher, None)
            .inspect_err(|e| eprintln!("aocu: no GPU measurements: {e}"))
            .unwrap_or_else(|_| Verifier::cpu()),
        None => Verifier::cpu(),
    };
    let mut engines = vec![Engine::Cpu];
    if verifier.gpu_adapter().is_some() {
        engines.push(Engine::Gpu);
    }
    let options = VerifyBenchOptions {
        batch_sizes: if args.batch.is_empty() {
            BATCH_SIZES.to_vec()
        } else {
            args.batch.clone()
        },
        min_time: Duration::from_millis(args.min_time_ms),
        openssl_seconds: args.openssl_seconds,
        engines,
    };
    let report = vb::run(&options, &verifier)
        .map_err(anyhow::Error::msg)
        .context("verification benchmark")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    if let Some(path) = &args.write_profile {
        let crossover = report.gpu_crossover_signatures;
        super::bench::write_profile(loaded, path, |capacity| {
            capacity.verify_gpu_crossover_signatures = crossover;
        })?;
        eprintln!("aocu: wrote {}", path.display());
    }
    Ok(Outcome::Success)
}

/// The human-readable table.
pub fn render(report: &VerifyBenchReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "RSA backend: {}", report.rsa_backend);
    let _ = writeln!(
        out,
        "baselines (one core): rsa crate {:.0}/s   openssl speed rsa4096 {}",
        report.rsa_crate_per_s,
        report.openssl_per_s.map_or_else(
            || format!(
                "unavailable ({})",
                report.openssl_error.as_deref().unwrap_or("?")
            ),
            |r| format!("{r:.0}/s")
        )
    );
    let _ = writeln!(
        out,
        "{:<8} {:<4} {:<4} {:>6} {:>12} {:>9} {:>9}",
        "scheme", "eng", "thr", "batch", "sigs/s", "x rsa", "x openssl"
    );
    let ratio = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.2}"));
    for m in &report.measurements {
        let _ = writeln!(
            out,
            "{:<8} {:<4} {:<4} {:>6} {:>12.0} {:>9} {:>9}",
            m.scheme.name(),
            format!("{:?}", m.engine).to_lowercase(),
            match m.threads {
                Threads::One => "1",
                Threads::All => "all",
            },
            m.batch,
            m.per_s,
            ratio(m.vs_rsa_crate),
            ratio(m.vs_openssl)
        );
    }
    let _ = writeln!(
        out,
        "SU page of 1,000 slots (2,000 RSA signatures), every core: {:.1} ms",
        report.su_page_1000_ms
    );
    let _ = writeln!(
        out,
        "GPU: {}   verify-gpu-crossover-signatures: {}",
        report.gpu_adapter.as_deref().unwrap_or("none"),
        report
            .gpu_crossover_signatures
            .map_or("absent (CPU only)".into(), |c| c.to_string())
    );
    out
}
