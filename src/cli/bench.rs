//! `aocu bench hash`: batch hashing throughput on this machine, and the CPU/GPU crossover written
//! into a hardware profile.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::Outcome;
use crate::bench::hash::{self as hb, HashBenchOptions, HashBenchReport};
use crate::config::Loaded;
use crate::hash::gpu::GpuHasher;
use crate::hw::profile::{Profile, ProfileSet};

/// Arguments of `aocu bench hash`.
#[derive(Debug, Args)]
pub struct HashBenchArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Write this machine's hardware profile, with the measured crossover, to PATH (an existing
    /// profile there is updated; otherwise the matched profile is copied).
    #[arg(long, value_name = "PATH")]
    pub write_profile: Option<PathBuf>,
    /// Measure the CPU only.
    #[arg(long)]
    pub no_gpu: bool,
    /// Milliseconds per measurement (the best run counts).
    #[arg(long, default_value_t = 250)]
    pub min_time_ms: u64,
    /// Bytes per measured batch (each message size fills one batch of about this size).
    #[arg(long, default_value_t = 16 << 20)]
    pub batch_bytes: usize,
}

/// The crossover of the hardware profile this machine matches (`None`: never the GPU).
pub fn profile_crossover(loaded: &Loaded) -> anyhow::Result<Option<u64>> {
    Ok(matched_profile(loaded)?.and_then(|p| p.capacity.hash_gpu_crossover_bytes))
}

/// The hardware profile this machine matches.
pub fn matched_profile(loaded: &Loaded) -> anyhow::Result<Option<Profile>> {
    Ok(profile_match(loaded)?.map(|m| m.profile))
}

/// The match of this machine among the shipped and the operator's profiles, and why.
pub fn profile_match(loaded: &Loaded) -> anyhow::Result<Option<crate::hw::profile::Match>> {
    let config = &loaded.config;
    let hardware = crate::hw::discover(Duration::from_millis(config.gpu_discovery_timeout_ms));
    let profiles =
        ProfileSet::load(Some(&config.profiles_dir)).context("loading hardware profiles")?;
    Ok(profiles.best_match(&hardware))
}

/// Runs the measurements, prints them, and writes the profile when asked.
pub fn run_hash(loaded: &Loaded, args: &HashBenchArgs) -> anyhow::Result<Outcome> {
    let gpu = if args.no_gpu {
        None
    } else {
        GpuHasher::new()
            .inspect_err(|e| eprintln!("aocu: no GPU measurements: {e}"))
            .ok()
    };
    let options = HashBenchOptions {
        min_time: Duration::from_millis(args.min_time_ms),
        cpu_batch_bytes: args.batch_bytes,
        gpu_batch_bytes: args.batch_bytes,
    };
    let report = hb::run(&options, gpu.as_ref()).context("hash benchmark")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    if let Some(path) = &args.write_profile {
        let crossover = report.profile_crossover;
        write_profile(loaded, path, |c| c.hash_gpu_crossover_bytes = crossover)?;
        eprintln!("aocu: wrote {}", path.display());
    }
    Ok(Outcome::Success)
}

/// Updates the profile at `path` (or a copy of the matched one) with what `measured` sets.
pub fn write_profile(
    loaded: &Loaded,
    path: &Path,
    measured: impl FnOnce(&mut crate::hw::profile::Capacity),
) -> anyhow::Result<()> {
    let mut profile = match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str::<Profile>(&text)
            .with_context(|| format!("{} is not a hardware profile", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            matched_profile(loaded)?.context("no hardware profile matches this machine")?
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    measured(&mut profile.capacity);
    let text = format!(
        "# Written by `aocu bench`: the GPU crossovers (absent: the GPU never beat the CPU, or\n\
         # it is a software rasterizer) and messages-per-second are measured on this machine.\n{}",
        toml::to_string(&profile).context("serializing the profile")?
    );
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The human-readable table.
pub fn render(report: &HashBenchReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "CPU lanes: {}   cores: {}",
        report
            .cpu_lanes
            .map_or("none (blake3 crate per message)".into(), |i| format!(
                "{i:?}"
            )),
        report.cores
    );
    if let Some(g) = &report.gpu {
        let _ = writeln!(
            out,
            "GPU: {}{}   host->device {:.2} GB/s   device copy {:.2} GB/s",
            g.adapter,
            if g.software {
                " [software: correctness run only]"
            } else {
                ""
            },
            g.host_to_device_bytes_per_s / 1e9,
            g.device_copy_bytes_per_s / 1e9
        );
    }
    let _ = writeln!(
        out,
        "{:<7} {:<13} {:<4} {:>8} {:>7} {:>10} {:>12} {:>9}",
        "alg", "engine", "thr", "msg", "batch", "GB/s", "hashes/s", "x base"
    );
    for m in &report.measurements {
        let _ = writeln!(
            out,
            "{:<7} {:<13} {:<4} {:>8} {:>7} {:>10.3} {:>12.0} {:>9}",
            m.alg.name(),
            m.engine,
            match m.threads {
                hb::Threads::One => "1",
                hb::Threads::All => "all",
            },
            m.msg_len,
            m.batch,
            m.bytes_per_s / 1e9,
            m.hashes_per_s,
            m.vs_baseline.map_or("-".into(), |r| format!("{r:.2}"))
        );
    }
    for (alg, c) in &report.crossover {
        let _ = writeln!(
            out,
            "crossover {}: {}",
            alg.name(),
            match (c, report.gpu.as_ref().is_some_and(|g| g.software)) {
                (Some(b), _) => format!("{b} bytes"),
                (None, true) => "not searched (software adapter: never chosen)".into(),
                (None, false) => "GPU never faster".into(),
            }
        );
    }
    let _ = writeln!(
        out,
        "profile hash-gpu-crossover-bytes: {}",
        report
            .profile_crossover
            .map_or("absent (CPU only)".into(), |b| b.to_string())
    );
    out
}
