//! `aocu bench` with no subcommand: every measurement an operator or reviewer needs, in one
//! run and one table. The sections:
//!
//! - `hashing`: batch hashing per engine, algorithm, message size and thread count
//!   (`aocu bench hash`), against the `blake3`/`sha2` crates in the same run;
//! - `verification`: signatures per engine, scheme and batch (`aocu bench verify`), against
//!   the `rsa` crate and `openssl speed` in the same run;
//! - `evaluation`: AOS `return 1+1` messages per second on one pinned executor, on every
//!   planned executor pinned, and on as many unpinned threads ([`crate::bench::eval`]);
//! - `dry-run`: `POST /dry-run` requests per second and their p50/p99 latency over loopback
//!   HTTP against an `aocu serve` child ([`crate::bench::dryrun`]).
//!
//! Each section runs again until its figures agree within `--spread` over the last runs (or
//! `--max-runs`); the table shows the median and spread. The last two sections need an AOS
//! module (`--module`); without one they are listed as skipped, with the reason.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::Outcome;
use crate::bench::suite::{self, Figure, Row, Stability};
use crate::bench::{dryrun, eval, hash as hb, verify as vb};
use crate::config::Loaded;

/// Arguments of `aocu bench` (every section).
#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// Short runs: the whole suite in under a minute on a 2-core machine.
    #[arg(long)]
    pub quick: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// An AOS module (`aos-2-pure.wasm`): needed by the evaluation and dry-run sections.
    #[arg(long, value_name = "PATH")]
    pub module: Option<PathBuf>,
    /// Measure the CPU only.
    #[arg(long)]
    pub no_gpu: bool,
    /// Enough runs when the last ones agree within this fraction (default 0.05; 0.25 quick).
    #[arg(long, value_name = "FRACTION")]
    pub spread: Option<f64>,
    /// Runs of a section at most (default 8; 3 quick).
    #[arg(long, value_name = "N")]
    pub max_runs: Option<usize>,
    /// Write this machine's hardware profile with what was measured (the GPU crossovers,
    /// `messages-per-second`, `suggested-per-message`) to PATH; `aocu info` and `aocu serve`
    /// then match it.
    #[arg(long, value_name = "PATH")]
    pub write_profile: Option<PathBuf>,
}

/// What the sections leave for the profile.
#[derive(Debug, Default)]
struct Measured {
    hash_crossover: Option<u64>,
    verify_crossover: Option<u64>,
    messages_per_second: Option<f64>,
    suggested_per_message: Option<u64>,
}

/// Run every section, print the table (or JSON), write the profile when asked.
pub fn run(loaded: &Loaded, args: &SuiteArgs) -> anyhow::Result<Outcome> {
    let stability = Stability {
        min_runs: 2,
        max_runs: args.max_runs.unwrap_or(if args.quick { 3 } else { 8 }),
        bound: args.spread.unwrap_or(if args.quick { 0.25 } else { 0.05 }),
    };
    if stability.bound.is_nan() || stability.bound < 0.0 {
        anyhow::bail!("--spread must be a fraction of 0 or more");
    }
    let hardware = crate::hw::discover(Duration::from_millis(
        loaded.config.gpu_discovery_timeout_ms,
    ));
    let gpu = (!args.no_gpu)
        .then(|| crate::hash::gpu::GpuHasher::new().ok())
        .flatten();
    let mut measured = Measured::default();
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    rows.extend(hashing(args, stability, gpu.as_ref(), &mut measured)?);
    rows.extend(verification(args, stability, gpu.as_ref(), &mut measured)?);
    match &args.module {
        Some(path) => {
            let wasm = std::fs::read(path)
                .with_context(|| format!("reading the module {}", path.display()))?;
            rows.extend(evaluation(loaded, args, stability, &wasm, &mut measured)?);
            rows.extend(dry_run(args, stability, &wasm)?);
        }
        None => {
            for section in ["evaluation", "dry-run"] {
                skipped.push(json!({"section": section, "why": "no --module (an AOS module)"}));
            }
        }
    }
    let device = device(&hardware);
    if args.json {
        let report = json!({
            "device": device, "quick": args.quick, "spread-bound": stability.bound,
            "rows": rows, "skipped": skipped,
            "hash-gpu-crossover-bytes": measured.hash_crossover,
            "verify-gpu-crossover-signatures": measured.verify_crossover,
            "messages-per-second": measured.messages_per_second,
            "suggested-per-message": measured.suggested_per_message,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let header = device_header(&device, &skipped);
        print!("{}", suite::render(&header, &rows));
        if let Some(price) = measured.suggested_per_message {
            println!(
                "\nsuggested per-message price (the AOS message's fuel and memory under the \
                 profile's [price]): {price}"
            );
        }
    }
    if let Some(path) = &args.write_profile {
        super::bench::write_profile(loaded, path, |capacity| {
            capacity.hash_gpu_crossover_bytes = measured.hash_crossover;
            capacity.verify_gpu_crossover_signatures = measured.verify_crossover;
            capacity.messages_per_second = measured.messages_per_second;
            capacity.suggested_per_message = measured.suggested_per_message;
        })?;
        eprintln!("aocu: wrote {}", path.display());
    }
    Ok(Outcome::Success)
}

/// A spinner on stderr for one section (drawn only on a terminal).
fn progress(section: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
        bar.set_style(style);
    }
    bar.set_message(format!("{section}: run 1"));
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Run one section until stable, with its spinner.
fn section(
    name: &'static str,
    stability: Stability,
    once: impl FnMut() -> Result<Vec<Figure>, String>,
) -> anyhow::Result<Vec<Row>> {
    let bar = progress(name);
    let rows = suite::until_stable(name, stability, once, |done| {
        bar.set_message(format!("{name}: run {}", done + 1));
    });
    bar.finish_and_clear();
    rows.map_err(anyhow::Error::msg)
        .with_context(|| format!("bench section {name}"))
}

fn hashing(
    args: &SuiteArgs,
    stability: Stability,
    gpu: Option<&crate::hash::gpu::GpuHasher>,
    measured: &mut Measured,
) -> anyhow::Result<Vec<Row>> {
    let options = if args.quick {
        hb::HashBenchOptions {
            cpu_batch_bytes: 1 << 20,
            gpu_batch_bytes: 1 << 20,
            min_time: Duration::from_millis(20),
        }
    } else {
        hb::HashBenchOptions::default()
    };
    section("hashing", stability, || {
        let report = hb::run(&options, gpu).map_err(|e| e.to_string())?;
        measured.hash_crossover = report.profile_crossover;
        Ok(report
            .measurements
            .iter()
            .map(|m| {
                let threads = match m.threads {
                    hb::Threads::One => "1 thread",
                    hb::Threads::All => "all threads",
                };
                let test = format!(
                    "{} {} B messages, {threads}, {}",
                    m.alg.name(),
                    m.msg_len,
                    m.engine
                );
                (test, "B/s", m.bytes_per_s)
            })
            .collect())
    })
}

fn verification(
    args: &SuiteArgs,
    stability: Stability,
    gpu: Option<&crate::hash::gpu::GpuHasher>,
    measured: &mut Measured,
) -> anyhow::Result<Vec<Row>> {
    let verifier = match gpu {
        Some(hasher) => crate::verify::Verifier::on_gpu(crate::hash::Engine::Auto, hasher, None)
            .unwrap_or_else(|_| crate::verify::Verifier::cpu()),
        None => crate::verify::Verifier::cpu(),
    };
    let mut engines = vec![crate::hash::Engine::Cpu];
    if verifier.gpu_adapter().is_some() {
        engines.push(crate::hash::Engine::Gpu);
    }
    let options = vb::VerifyBenchOptions {
        batch_sizes: if args.quick {
            vec![1, 64]
        } else {
            vb::BATCH_SIZES.to_vec()
        },
        min_time: Duration::from_millis(if args.quick { 20 } else { 250 }),
        openssl_seconds: if args.quick { 1 } else { 3 },
        engines,
    };
    section("verification", stability, || {
        let report = vb::run(&options, &verifier)?;
        measured.verify_crossover = report.gpu_crossover_signatures;
        let mut figures: Vec<Figure> = vec![(
            "rsa crate, RSA-PSS-4096, 1 core".into(),
            "sig/s",
            report.rsa_crate_per_s,
        )];
        if let Some(openssl) = report.openssl_per_s {
            figures.push(("openssl speed rsa4096, 1 core".into(), "sig/s", openssl));
        }
        figures.extend(report.measurements.iter().map(|m| {
            let threads = match m.threads {
                hb::Threads::One => "1 thread",
                hb::Threads::All => "all threads",
            };
            let engine = format!("{:?}", m.engine).to_lowercase();
            let test = format!("{} batch {}, {threads}, {engine}", m.scheme.name(), m.batch);
            (test, "sig/s", m.per_s)
        }));
        Ok(figures)
    })
}

fn evaluation(
    loaded: &Loaded,
    args: &SuiteArgs,
    stability: Stability,
    wasm: &[u8],
    measured: &mut Measured,
) -> anyhow::Result<Vec<Row>> {
    let engine = crate::wasm::WasmEngine::new().context("starting the wasm engine")?;
    let module = crate::wasm::ModuleCache::new(engine)
        .load(wasm)
        .context("loading the module")?;
    let cpu = crate::hw::cpu::discover();
    let plan = crate::exec::CorePlan::new(&loaded.config.executors, &cpu)
        .context("planning executors (key `executors`)")?;
    let one = crate::exec::CorePlan::new(&crate::exec::ExecutorsSetting::Count(1), &cpu)
        .context("planning one executor")?;
    let per_executor = if args.quick { 48 } else { 400 };
    let n = plan.len();
    let mut rigs = [
        (
            "AOS return 1+1, 1 executor, pinned".to_string(),
            one.len(),
            eval::Placement::Pinned,
            &one,
        ),
        (
            format!("AOS return 1+1, {n} executors, pinned"),
            n,
            eval::Placement::Pinned,
            &plan,
        ),
        (
            format!("AOS return 1+1, {n} executors, unpinned"),
            n,
            eval::Placement::Unpinned,
            &plan,
        ),
    ]
    .into_iter()
    .map(|(test, executors, placement, plan)| {
        eval::EvalRig::new(module.clone(), plan, placement).map(|rig| (test, executors, rig))
    })
    .collect::<Result<Vec<_>, _>>()
    .map_err(anyhow::Error::msg)
    .context("starting the evaluation rigs")?;
    let rows = section("evaluation", stability, || {
        rigs.iter_mut()
            .map(|(test, executors, rig)| {
                rig.run(per_executor * *executors)
                    .map(|rate| (test.clone(), "msg/s", rate))
            })
            .collect()
    })?;
    measured.messages_per_second = rows
        .iter()
        .find(|r| r.test.ends_with(&format!("{n} executors, pinned")))
        .map(|r| r.median);
    // The resource price of one benchmark message as a flat price: the schedule's terms for
    // its fuel and memory, without the flat term itself.
    let price = super::bench::matched_profile(loaded)?.map_or_else(crate::price::free, |p| p.price);
    let resources = crate::hw::profile::Price {
        per_message: 0,
        ..price
    };
    measured.suggested_per_message = rigs
        .first()
        .and_then(|(_, _, rig)| rig.last_record())
        .map(|record| crate::price::charge(&resources, record, "", false).amount)
        .map(|amount| u64::try_from(amount).unwrap_or(u64::MAX));
    Ok(rows)
}

fn dry_run(args: &SuiteArgs, stability: Stability, wasm: &[u8]) -> anyhow::Result<Vec<Row>> {
    let exe = std::env::current_exe().context("finding this binary")?;
    let wallet = crate::ao::Wallet::generate().context("a wallet for the measured node")?;
    let node = dryrun::LocalNode::start(&exe, &wallet).map_err(anyhow::Error::msg)?;
    let pid = dryrun::warm_process(&node, &wallet, wasm)
        .map_err(anyhow::Error::msg)
        .context("a warm AOS process on the measured node")?;
    let count = if args.quick { 40 } else { 400 };
    section("dry-run", stability, || {
        let mut latencies = dryrun::dry_runs(&node, &pid, count)?;
        let total: Duration = latencies.iter().sum();
        Ok(vec![
            (
                "POST /dry-run, one client, keep-alive".into(),
                "req/s",
                count as f64 / total.as_secs_f64(),
            ),
            (
                "POST /dry-run p50 latency".into(),
                "s",
                dryrun::quantile(&mut latencies, 0.50).as_secs_f64(),
            ),
            (
                "POST /dry-run p99 latency".into(),
                "s",
                dryrun::quantile(&mut latencies, 0.99).as_secs_f64(),
            ),
        ])
    })
}

/// The machine, for the header and the JSON.
fn device(hardware: &crate::hw::Hardware) -> serde_json::Value {
    json!({
        "aocu": crate::node::VERSION,
        "cpu": hardware.cpu.model_name,
        "logical-cpus": hardware.cpu.logical_cpus,
        "physical-cores": hardware.cpu.physical_cores,
        "memory-bytes": hardware.memory.allowed_bytes(),
        "gpus": hardware.gpu.adapters.iter()
            .map(|a| format!("{} ({})", a.name, a.backend)).collect::<Vec<_>>(),
    })
}

fn device_header(device: &serde_json::Value, skipped: &[serde_json::Value]) -> Vec<String> {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "?".into(),
        other => other.to_string(),
    };
    let gpus = device["gpus"]
        .as_array()
        .map(|g| g.iter().map(text).collect::<Vec<_>>().join(", "))
        .filter(|g| !g.is_empty())
        .unwrap_or_else(|| "none".into());
    let mut header = vec![
        format!("aocu {} bench", text(&device["aocu"])),
        format!(
            "* Device: {}, {} logical CPUs, {} physical cores, {} memory",
            text(&device["cpu"]),
            text(&device["logical-cpus"]),
            text(&device["physical-cores"]),
            suite::si(device["memory-bytes"].as_f64().unwrap_or(0.0), "B"),
        ),
        format!("* GPUs: {gpus}"),
    ];
    for s in skipped {
        header.push(format!(
            "* skipped: {} ({})",
            text(&s["section"]),
            text(&s["why"])
        ));
    }
    header
}
