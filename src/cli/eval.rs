//! `aocu eval`: run an AO process module in memory and print one JSON result per message.
//!
//! `--lua CODE` (repeatable) sends each code as an `Eval` message from the owner;
//! `--messages FILE` sends the `message`/`env` pairs of a JSON-lines file (the format of
//! `testdata/golden/aos-dock.jsonl`; `expected` is ignored).

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};

use super::Outcome;
use crate::ao::Tags;
use crate::config::Loaded;
use crate::wasm::{Evaluation, Limits, MessageInput, ModuleCache, Process, WasmEngine};

/// Arguments of `aocu eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The process module (.wasm).
    #[arg(long, value_name = "PATH")]
    pub module: PathBuf,
    /// Owner address of the in-memory process (and sender of `--lua` messages).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "aocu-eval-owner-000000000000000000000000000"
    )]
    pub owner: String,
    /// Lua code to send as an `Eval` message (repeatable, in order).
    #[arg(long, value_name = "CODE", conflicts_with = "messages")]
    pub lua: Vec<String>,
    /// JSON-lines file of `{"message": ..., "env": ...}` to send instead.
    #[arg(long, value_name = "FILE")]
    pub messages: Option<PathBuf>,
    /// Process `Memory-Limit` (e.g. `1-gb`); capped by the node's `max-memory-bytes`.
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Process `Compute-Limit` (fuel per message); capped by the node's `max-compute`.
    #[arg(long, value_name = "FUEL")]
    pub compute_limit: Option<String>,
    /// One compact JSON object per line with the metering figures (for scripts).
    #[arg(long)]
    pub json: bool,
}

const PROCESS_ID: &str = "aocu-eval-process-00000000000000000000000000";

/// Load the module, spawn the process, evaluate every message, print the results.
pub fn run(loaded: &Loaded, args: &EvalArgs) -> anyhow::Result<Outcome> {
    let bytes = std::fs::read(&args.module)
        .with_context(|| format!("reading {}", args.module.display()))?;
    let cache = ModuleCache::new(WasmEngine::new()?);
    let module = cache
        .load(&bytes)
        .with_context(|| format!("loading {}", args.module.display()))?;
    let inputs = match &args.messages {
        Some(path) => read_messages(path)?,
        None if args.lua.is_empty() => bail!("give --lua CODE (repeatable) or --messages FILE"),
        None => lua_messages(args, &module.hash.to_hex()),
    };
    let env = inputs.first().map(|i| i.1.clone()).unwrap_or(Value::Null);
    let limits = match (&args.memory_limit, &args.compute_limit) {
        (None, None) => Limits::from_process_and_module(
            &Tags::from_json(&env["Process"]["Tags"]),
            &Tags::from_json(&env["Module"]["Tags"]),
            &loaded.config.node_limits(),
        )?,
        (m, c) => Limits::from_tags(m.as_deref(), c.as_deref(), &loaded.config.node_limits())?,
    };
    let mut process = Process::spawn(module, limits).context("spawning the process")?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = 0usize;
    for (message, env) in &inputs {
        let evaluation = process.evaluate(MessageInput::new(message, env));
        failed += usize::from(evaluation.failure.is_some());
        let line = report(&evaluation);
        if args.json {
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "{}", serde_json::to_string_pretty(&line)?)?;
        }
    }
    if !args.json {
        eprintln!("{} message(s), {failed} failed", inputs.len());
    }
    Ok(Outcome::Success)
}

/// One result line: the process' answer plus `Metering` (and `Failure` when it failed).
pub fn report(evaluation: &Evaluation) -> Value {
    let mut line = evaluation.result.to_json();
    if let Value::Object(map) = &mut line {
        map.insert(
            "Metering".into(),
            json!({
                "fuel": evaluation.metering.fuel,
                "wall-ns": evaluation.metering.wall_ns,
                "memory-bytes": evaluation.metering.memory_bytes,
            }),
        );
        if let Some(failure) = &evaluation.failure {
            map.insert("Failure".into(), json!(failure.to_string()));
            map.insert("Reverted".into(), json!(evaluation.reverted));
        }
    }
    line
}

fn read_messages(path: &PathBuf) -> anyhow::Result<Vec<(Value, Value)>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not JSON", path.display(), i + 1))?;
        let (Some(message), Some(env)) = (value.get("message"), value.get("env")) else {
            bail!("{}:{}: needs `message` and `env`", path.display(), i + 1);
        };
        out.push((message.clone(), env.clone()));
    }
    Ok(out)
}

fn lua_messages(args: &EvalArgs, module_id: &str) -> Vec<(Value, Value)> {
    let now = crate::clock::now_ms();
    let env = json!({
        "Process": {
            "Id": PROCESS_ID,
            "Owner": args.owner,
            "Tags": [
                {"name": "Name", "value": "aocu-eval"},
                {"name": "Type", "value": "Process"},
                {"name": "Module", "value": module_id},
            ],
        },
        "Module": {
            "Id": module_id,
            "Tags": [{"name": "Module-Format", "value": "wasm64-unknown-emscripten-draft_2024_02_15"}],
        },
    });
    args.lua
        .iter()
        .enumerate()
        .map(|(i, code)| {
            let n = i as u64 + 1;
            let message = json!({
                "Id": format!("aocu-eval-message-{n:025}"),
                "Target": PROCESS_ID,
                "Owner": args.owner,
                "From": args.owner,
                "Block-Height": "1",
                "Timestamp": (now + n).to_string(),
                "Module": module_id,
                "Tags": [{"name": "Action", "value": "Eval"}],
                "Data": code,
            });
            (message, env.clone())
        })
        .collect()
}
