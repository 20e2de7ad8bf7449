//! Node configuration: one TOML file, every key overridable by an `AOCU_*` environment variable
//! and by a command-line flag, in that order of precedence (flag > env > file > default).
//!
//! Keys are kebab-case; a key `a.b-c` (key `b-c` in table `[a]`) is overridden by the environment
//! variable `AOCU_A_B_C` and by the flag `--set a.b-c=VALUE`. Every error names the key and,
//! for the file, the line.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::exec::ExecutorsSetting;

pub mod hyperbeam;
mod settings;

/// Where the configuration file is looked for when no `--config` is given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/aocu/aocu.toml";
/// Default of `executor-queue-depth`: enough to absorb a burst, small enough to push back.
pub const DEFAULT_EXECUTOR_QUEUE_DEPTH: NonZeroUsize = NonZeroUsize::new(1024).unwrap();
/// Default of `gateways`.
pub const DEFAULT_GATEWAY: &str = "https://arweave.net";
/// Share of the RAM this process may use (its cgroup limit included) that resident processes
/// get when `process-memory-budget-bytes` is 0: the rest is for the node itself, module
/// compilation, checkpoints being written and the page cache of the store.
pub const DEFAULT_PROCESS_MEMORY_SHARE_PERCENT: u64 = 50;
/// Prefix of the environment variables that override keys.
pub const ENV_PREFIX: &str = "AOCU_";

/// The effective node configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Config {
    /// Address and port of the HTTP server.
    pub listen: SocketAddr,
    /// Name the node reports in `~meta@1.0`.
    pub node_name: String,
    /// Directory for durable state.
    pub state_dir: PathBuf,
    /// Log filter (`info`, `aocu=debug`, ... as `RUST_LOG`).
    pub log: String,
    /// Directory of the operator's own hardware profiles (override the shipped ones).
    pub profiles_dir: PathBuf,
    /// Longest time GPU discovery may take, in milliseconds.
    pub gpu_discovery_timeout_ms: u64,
    /// Largest HTTP request body accepted, in bytes.
    pub max_body_bytes: u64,
    /// Which CPUs run process executors: `"physical"` (one per physical core), `"all"` (every
    /// allowed hardware thread, physical cores first), a count, or a list of CPU ids.
    pub executors: ExecutorsSetting,
    /// Jobs one executor's queue holds before submitters wait (or get a busy answer).
    pub executor_queue_depth: NonZeroUsize,
    /// Evaluate newly scheduled messages in the background; when false (AO's CU behaviour) a
    /// message is evaluated when its result is first asked for.
    pub eager_evaluation: bool,
    /// Checkpoint a process after this many evaluated messages (0: not by count).
    pub checkpoint_every_messages: u64,
    /// Checkpoint a process when this many seconds passed since its last checkpoint, at the
    /// next evaluated message (0: not by time).
    pub checkpoint_every_seconds: u64,
    /// Largest memory one process may have, in bytes (caps its `Memory-Limit` tag).
    pub max_memory_bytes: u64,
    /// Bound on the memory of all processes held in memory together, in bytes: past it the
    /// least recently used idle ones are checkpointed and dropped (restored on their next
    /// message). 0: half of the RAM this process may use, its cgroup limit included.
    pub process_memory_budget_bytes: u64,
    /// Largest compute (wasm fuel) one message may use (caps its `Compute-Limit` tag).
    pub max_compute: u64,
    /// Longest wall-clock time one message may run, in milliseconds.
    pub message_timeout_ms: u64,
    /// Remote Scheduler Units: scheduler address → `http://` URL of its SU API. A process whose
    /// `Scheduler` tag names one of them is read (and verified) from there, not scheduled here.
    pub schedulers: BTreeMap<String, String>,
    /// Arweave gateways, tried in turn: modules missing from the store are fetched from them
    /// (GraphQL tags, `/raw/{id}` bytes), Scheduler-Location records looked up, and the block
    /// height read. Empty: none (the node uses only what it holds).
    pub gateways: Vec<String>,
    /// Longest time one request to a gateway may take (connect, TLS, whole answer), in ms.
    pub gateway_timeout_ms: u64,
    /// Tries per gateway request, each on the next gateway of the list, with back-off between.
    pub gateway_attempts: u32,
    /// Largest module fetched from a gateway, in bytes.
    pub max_module_bytes: u64,
    /// Whether a process that starts cold looks for its newest checkpoint on the gateways.
    pub checkpoint_import: bool,
    /// Addresses whose checkpoints are imported; empty: the node wallet's own.
    pub checkpoint_trusted_owners: Vec<String>,
    /// Longest the checkpoint search on the gateways may hold a cold start, in ms.
    pub checkpoint_lookup_timeout_ms: u64,
    /// How often the running node publishes a process' checkpoint to `checkpoint-upload-url`,
    /// at most, in seconds (0: never).
    pub checkpoint_publish_every_seconds: u64,
    /// Where `aocu checkpoint export` uploads checkpoint items (`POST {url}/tx/arweave`, as AO's
    /// Node CU does); empty: nowhere.
    pub checkpoint_upload_url: String,
    /// Largest file a process reads through WeaveDrive (a transaction's data, a header), in
    /// bytes.
    pub weavedrive_max_bytes: u64,
    /// The block height the embedded SU reports while no gateway has answered one (and none
    /// was kept from an earlier run).
    pub block_height: u64,
    /// How often the block height is read again from the gateways, in seconds (0: only at start).
    pub block_height_refresh_seconds: u64,
    /// PEM file of CA certificates trusted (besides the platform's roots) for every https peer:
    /// SUs, gateways, HyperBEAM. Empty: the platform's roots only.
    pub tls_ca_file: PathBuf,
    /// Accept any server certificate. For test networks only: anyone on the path can then
    /// impersonate every peer; the node says so loudly at start.
    pub tls_insecure_skip_verify: bool,
    /// The node's Arweave wallet (JWK); empty means `<state-dir>/wallet.json`, generated with
    /// mode 0600 on first use. Its address is the scheduler address.
    pub wallet: PathBuf,
    /// Which engine hashes the node's batches (message IDs, hash chains, checkpoint and
    /// module digests): `auto` (the GPU for batches from the crossover size measured by
    /// `aocu bench hash` into the matched hardware profile, on a hardware adapter only; the
    /// CPU otherwise), `cpu`, or `gpu` (any adapter, a software one included).
    pub hash_engine: crate::hash::Engine,
    /// Which engine verifies the node's batches of signatures (messages on ingest, remote SU
    /// pages, bundles): `auto` (the GPU for batches from the profile's
    /// `verify-gpu-crossover-signatures`, on a hardware adapter only; the CPU otherwise),
    /// `cpu`, or `gpu` (every batch, on any adapter).
    pub verify_engine: crate::hash::Engine,
    /// HyperBEAM mode: the `http://` URL of the HyperBEAM node this CU computes for (its
    /// `HB_URL`). Set, the node serves HyperBEAM's CU routes (`POST /result/{slot}`,
    /// `/snapshot`, `/state`, `/status`) and reads cold processes from its scheduler; empty,
    /// it does not.
    pub hyperbeam_url: String,
    /// Process IDs this node evaluates and serves; empty: every process (`ALLOW_PROCESSES`).
    pub allow_processes: Vec<String>,
    /// Process IDs it refuses, whatever the allow-lists say (`RESTRICT_PROCESSES`).
    pub deny_processes: Vec<String>,
    /// Owner addresses whose processes it evaluates; empty: every owner (`ALLOW_OWNERS`).
    pub allow_owners: Vec<String>,
    /// Requests a minute one client (IP address, IPv6 /64) may send; 0: no limit.
    pub rate_limit_per_minute: u32,
    /// Prices that replace the matched hardware profile's (`per-message = 5`, ...; the keys
    /// of a profile's `[price]`); empty: the profile's.
    pub price: toml::Table,
    /// The operator's Arweave JWK (mode 0600); its address may change the node message with
    /// a signed `POST /~meta@1.0/info`. Empty: the node wallet is the operator.
    pub operator_key: PathBuf,
    /// `true`, or `permanent`: the node message (prices, access lists) is locked for good,
    /// neither a signed `POST /~meta@1.0/info` nor SIGHUP changes it.
    pub initialized: String,
    /// HyperBEAM's `simple-pay@1.0`: every chargeable request pays the price schedule's
    /// `per-message` from its signer's prepaid balance, topped up by the operator.
    pub simple_pay: bool,
    /// The AO router the node joins at start (`[router]`); an empty `url`: none.
    pub router: RouterSetting,
}

/// `[router]`: the route the node offers an AO router ([`crate::router`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct RouterSetting {
    /// The router's base URL; empty: join none at start.
    pub url: String,
    /// The node's public base URL, where the router sends requests.
    pub prefix: String,
    /// Price per request; -1: the price schedule's `per-message`.
    pub price: i64,
    /// The requests offered, a path regex.
    pub template: String,
}

impl RouterSetting {
    /// The route offered, at the schedule's `per_message` price unless `price` sets one.
    pub fn route(&self, per_message: u64) -> crate::router::Route {
        crate::router::Route {
            prefix: self.prefix.clone(),
            price: u64::try_from(self.price).unwrap_or(per_message),
            template: self.template.clone(),
        }
    }

    /// A router to join needs a URL and a route it can use.
    fn check(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Value {
            key: format!("router.{key}"),
            message,
        };
        if self.price < -1 {
            return Err(bad(
                "price",
                "-1 (the schedule's per-message) or more".into(),
            ));
        }
        if self.url.is_empty() {
            return Ok(());
        }
        crate::net::Url::parse(&self.url).map_err(|e| bad("url", e.to_string()))?;
        if self.prefix.is_empty() {
            return Err(bad(
                "prefix",
                "the node's public URL is needed to join a router".into(),
            ));
        }
        self.route(0).check().map_err(|e| match e {
            crate::router::RouterError::Route { field, why } => bad(field, why),
            other => bad("prefix", other.to_string()),
        })
    }
}

impl Default for RouterSetting {
    fn default() -> RouterSetting {
        RouterSetting {
            url: String::new(),
            prefix: String::new(),
            price: -1,
            template: crate::router::DEFAULT_TEMPLATE.to_string(),
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 6363)),
            node_name: "aocu".to_string(),
            state_dir: default_state_dir(),
            log: "info".to_string(),
            profiles_dir: PathBuf::from("/etc/aocu/hwprofiles"),
            gpu_discovery_timeout_ms: 10_000,
            max_body_bytes: 10 * 1024 * 1024,
            executors: ExecutorsSetting::Physical,
            executor_queue_depth: DEFAULT_EXECUTOR_QUEUE_DEPTH,
            eager_evaluation: false,
            checkpoint_every_messages: 1000,
            checkpoint_every_seconds: 600,
            max_memory_bytes: crate::wasm::NodeLimits::default().max_memory_bytes,
            process_memory_budget_bytes: 0,
            max_compute: crate::wasm::NodeLimits::default().max_compute,
            message_timeout_ms: crate::wasm::NodeLimits::default()
                .message_timeout
                .as_millis() as u64,
            schedulers: BTreeMap::new(),
            gateways: vec![DEFAULT_GATEWAY.to_string()],
            gateway_timeout_ms: 30_000,
            gateway_attempts: 4,
            max_module_bytes: 256 * 1024 * 1024,
            weavedrive_max_bytes: 256 * 1024 * 1024,
            checkpoint_upload_url: String::new(),
            checkpoint_import: true,
            checkpoint_trusted_owners: Vec::new(),
            checkpoint_lookup_timeout_ms: 5_000,
            checkpoint_publish_every_seconds: 0,
            block_height: 0,
            block_height_refresh_seconds: 120,
            tls_ca_file: PathBuf::new(),
            tls_insecure_skip_verify: false,
            wallet: PathBuf::new(),
            hash_engine: crate::hash::Engine::Auto,
            verify_engine: crate::hash::Engine::Auto,
            hyperbeam_url: String::new(),
            allow_processes: Vec::new(),
            deny_processes: Vec::new(),
            allow_owners: Vec::new(),
            rate_limit_per_minute: 0,
            price: toml::Table::new(),
            operator_key: PathBuf::new(),
            initialized: "true".to_string(),
            simple_pay: false,
            router: RouterSetting::default(),
        }
    }
}

/// `/var/lib/aocu` for root (a system service), `./aocu-state` for anyone else.
#[allow(unsafe_code)] // geteuid: argued below.
fn default_state_dir() -> PathBuf {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            return PathBuf::from("/var/lib/aocu");
        }
    }
    PathBuf::from("./aocu-state")
}

/// A configuration problem. Each variant names where the bad value came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or a key is unknown or of the wrong type.
    #[error("{path}:{line}:{column}: key `{key}`: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The key at fault (dotted), or `?` when the parser could not tell.
        key: String,
        /// What was expected.
        message: String,
    },
    /// A value has the right type but cannot be used (names the key).
    #[error("key `{key}`: {message}")]
    Value {
        /// The key (dotted).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// An override (environment variable or flag) has a bad key or value.
    #[error("{origin}: key `{key}`: {message}")]
    Override {
        /// `environment variable AOCU_X` or `flag --set x=...`.
        origin: String,
        /// The key.
        key: String,
        /// What was expected.
        message: String,
    },
}

/// Where the effective configuration came from, for `aocu config check`.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The effective configuration.
    pub config: Config,
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
    /// Keys set by environment variables or flags, with their origin.
    pub overrides: Vec<(String, String)>,
    /// HyperBEAM variables that were read but have no effect here, with the reason.
    pub unused: Vec<(String, String)>,
}

/// Load the configuration: defaults, then `file` (or the default path when it exists), then
/// `AOCU_*` variables from `env`, then `flags` (`key=value` pairs).
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    flags: &[(String, String)],
) -> Result<Loaded, ConfigError> {
    let mut table = to_table(&Config::default());
    let env: std::collections::BTreeMap<String, String> = env.into_iter().collect();
    let keys = leaf_keys(&table, "");
    let mut overrides = Vec::new();
    // HyperBEAM's variables sit just above the defaults: aocu's own keys win over them.
    let hb = hyperbeam::map(&env, &keys)?;
    for (key, value, origin) in &hb.keys {
        set_key(&mut table, key, value, origin)?;
        check_override(&table, key, origin)?;
        overrides.push((key.clone(), origin.clone()));
    }
    let file = file.map(Path::to_path_buf).or_else(|| {
        let default = PathBuf::from(DEFAULT_CONFIG_PATH);
        default.exists().then_some(default)
    });
    if let Some(path) = &file {
        merge(&mut table, read_file(path)?);
    }
    let mut env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX))
        .collect();
    env.sort();
    for (name, value) in env {
        let Some(key) = keys.iter().find(|k| env_name(k) == name) else {
            continue; // AOCU_* variables that are not config keys (AOCU_TEST_..., etc.) pass.
        };
        let origin = format!("environment variable {name}");
        set_key(&mut table, key, &value, &origin)?;
        check_override(&table, key, &origin)?;
        overrides.push((key.clone(), origin));
    }
    for (key, value) in flags {
        let origin = format!("flag --set {key}={value}");
        if !keys.contains(key) {
            return Err(ConfigError::Override {
                origin,
                key: key.clone(),
                message: format!("unknown key; known keys: {}", keys.join(", ")),
            });
        }
        set_key(&mut table, key, value, &origin)?;
        check_override(&table, key, &origin)?;
        overrides.push((key.clone(), origin));
    }
    let config = table
        .try_into::<Config>()
        .map_err(|e| ConfigError::Override {
            origin: "overrides".into(),
            key: overrides
                .last()
                .map_or_else(|| "?".into(), |(k, _)| k.clone()),
            message: e.message().to_string(),
        })?;
    check_values(&config)?;
    Ok(Loaded {
        config,
        file,
        overrides,
        unused: hb.unused,
    })
}

/// `running` with `changes` (`key`, value written as for `--set`) applied, validated as a
/// loaded configuration is; `origin` says where the changes came from in errors.
pub fn with_changes(
    running: &Config,
    changes: &[(String, String)],
    origin: &str,
) -> Result<Config, ConfigError> {
    let mut table = to_table(running);
    let keys = leaf_keys(&to_table(&Config::default()), "");
    for (key, value) in changes {
        let known = keys.contains(key) || key.strip_prefix("price.").is_some_and(|k| !k.is_empty());
        if !known {
            return Err(ConfigError::Override {
                origin: origin.to_string(),
                key: key.clone(),
                message: "unknown key".into(),
            });
        }
        set_key(&mut table, key, value, origin)?;
        check_override(&table, key, origin)?;
    }
    let config = table
        .try_into::<Config>()
        .map_err(|e| ConfigError::Override {
            origin: origin.to_string(),
            key: "?".into(),
            message: e.message().to_string(),
        })?;
    check_values(&config)?;
    Ok(config)
}

/// Checks beyond the types: values that would only fail later, at first use.
fn check_values(config: &Config) -> Result<(), ConfigError> {
    config.access()?;
    config.price_schedule(None)?;
    if !config.hyperbeam_url.is_empty() {
        crate::net::Url::parse(&config.hyperbeam_url).map_err(|e| ConfigError::Value {
            key: "hyperbeam-url".into(),
            message: e.to_string(),
        })?;
    }
    for (address, url) in &config.schedulers {
        let bad = |message: String| ConfigError::Value {
            key: format!("schedulers.{address}"),
            message,
        };
        if address.parse::<crate::ao::Id>().is_err() {
            return Err(bad(format!(
                "`{address}` is not a 43-character Arweave address"
            )));
        }
        crate::net::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    }
    for url in &config.gateways {
        crate::net::Url::parse(url).map_err(|e| ConfigError::Value {
            key: "gateways".into(),
            message: e.to_string(),
        })?;
    }
    for (index, owner) in config.checkpoint_trusted_owners.iter().enumerate() {
        if owner.parse::<crate::ao::Id>().is_err() {
            return Err(ConfigError::Value {
                key: format!("checkpoint-trusted-owners[{index}]"),
                message: format!("`{owner}` is not a 43-character Arweave address"),
            });
        }
    }
    if config.checkpoint_publish_every_seconds > 0 && config.checkpoint_upload_url.is_empty() {
        return Err(ConfigError::Value {
            key: "checkpoint-publish-every-seconds".into(),
            message: "publishing needs `checkpoint-upload-url`".into(),
        });
    }
    if !config.checkpoint_upload_url.is_empty() {
        crate::net::Url::parse(&config.checkpoint_upload_url).map_err(|e| ConfigError::Value {
            key: "checkpoint-upload-url".into(),
            message: e.to_string(),
        })?;
    }
    config.router.check()?;
    if config.simple_pay && !config.hyperbeam_url.is_empty() {
        return Err(ConfigError::Value {
            key: "simple-pay".into(),
            message: "HyperBEAM charges its own users (p4); its CU is not charged per request"
                .into(),
        });
    }
    if !matches!(config.initialized.as_str(), "true" | "permanent") {
        return Err(ConfigError::Value {
            key: "initialized".into(),
            message: format!("`{}` is neither `true` nor `permanent`", config.initialized),
        });
    }
    if config.gateway_timeout_ms == 0 {
        return Err(ConfigError::Value {
            key: "gateway-timeout-ms".into(),
            message: "must be at least 1".into(),
        });
    }
    if !config.tls_ca_file.as_os_str().is_empty() && !config.tls_ca_file.is_file() {
        return Err(ConfigError::Value {
            key: "tls-ca-file".into(),
            message: format!("{} is not a readable file", config.tls_ca_file.display()),
        });
    }
    Ok(())
}

/// Check the configuration right after one override, so that a value that does not fit its
/// key (a word where a count is expected) is blamed on the variable or flag that set it.
fn check_override(table: &toml::Table, key: &str, origin: &str) -> Result<(), ConfigError> {
    table
        .clone()
        .try_into::<Config>()
        .map(drop)
        .map_err(|e| ConfigError::Override {
            origin: origin.to_string(),
            key: key.to_string(),
            message: e.message().trim().to_string(),
        })
}

/// The environment variable that overrides `key`: `state-dir` → `AOCU_STATE_DIR`.
pub fn env_name(key: &str) -> String {
    let mut name = String::from(ENV_PREFIX);
    name.extend(key.chars().map(|c| {
        if c == '-' || c == '.' {
            '_'
        } else {
            c.to_ascii_uppercase()
        }
    }));
    name
}

/// Every configuration key with its default value, for documentation and `config check`.
pub fn keys() -> Vec<String> {
    leaf_keys(&to_table(&Config::default()), "")
}

fn to_table(config: &Config) -> toml::Table {
    // A Config always serializes: every field is a plain value.
    toml::Table::try_from(config).unwrap_or_default()
}

/// Parse and validate a config file, reporting the key and line of any problem.
fn read_file(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let located = |e: toml::de::Error| {
        let offset = e.span().map_or(0, |s| s.start);
        let (line, column) = line_and_column(&text, offset);
        ConfigError::File {
            path: path.to_path_buf(),
            line,
            column,
            key: key_at(&text, line, e.message()),
            message: e.message().trim().to_string(),
        }
    };
    let table: toml::Table = toml::from_str(&text).map_err(located)?;
    // Deserializing the text itself (not the table) keeps the spans for type errors.
    toml::from_str::<Config>(&text).map_err(located)?;
    Ok(table)
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// The dotted key on `line` (1-based), prefixed by the table header above it.
fn key_at(text: &str, line: usize, message: &str) -> String {
    // serde names unknown fields itself: "unknown field `x`, expected ...".
    if let Some(rest) = message.split("unknown field `").nth(1)
        && let Some(name) = rest.split('`').next()
    {
        return name.to_string();
    }
    let lines: Vec<&str> = text.lines().collect();
    let Some(current) = lines.get(line.saturating_sub(1)) else {
        return "?".into();
    };
    let Some((key, _)) = current.split_once('=') else {
        return "?".into();
    };
    let key = key.trim().trim_matches('"').to_string();
    let header = lines[..line.saturating_sub(1)].iter().rev().find_map(|l| {
        let l = l.trim();
        (l.starts_with('[') && l.ends_with(']')).then(|| l.trim_matches(['[', ']']).to_string())
    });
    match header {
        Some(h) => format!("{h}.{key}"),
        None => key,
    }
}

/// Overlay `from` onto `into`, table by table.
fn merge(into: &mut toml::Table, from: toml::Table) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

fn leaf_keys(table: &toml::Table, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            // An empty table (a map with no entries by default) is set as a whole.
            toml::Value::Table(t) if !t.is_empty() => keys.extend(leaf_keys(t, &path)),
            _ => keys.push(path),
        }
    }
    keys
}

/// Set a dotted key from an override's text, typed like the default value of that key.
fn set_key(table: &mut toml::Table, key: &str, raw: &str, origin: &str) -> Result<(), ConfigError> {
    let err = |message: String| ConfigError::Override {
        origin: origin.to_string(),
        key: key.to_string(),
        message,
    };
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut cursor = table;
    for part in parts {
        cursor = match cursor.get_mut(part) {
            Some(toml::Value::Table(t)) => t,
            _ => return Err(err("not a table".into())),
        };
    }
    let value = match cursor.get(last) {
        // A price the profile sets is a count (`currency` is text).
        None if key.starts_with("price.") && last != "currency" => raw
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| err(format!("expected an integer, got `{raw}`")))?,
        Some(toml::Value::String(_)) | None => toml::Value::String(raw.to_string()),
        Some(toml::Value::Integer(_)) => raw
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| err(format!("expected an integer, got `{raw}`")))?,
        Some(toml::Value::Float(_)) => raw
            .trim()
            .parse::<f64>()
            .map(toml::Value::Float)
            .map_err(|_| err(format!("expected a number, got `{raw}`")))?,
        Some(toml::Value::Boolean(_)) => raw
            .trim()
            .parse::<bool>()
            .map(toml::Value::Boolean)
            .map_err(|_| err(format!("expected true or false, got `{raw}`")))?,
        Some(_) => {
            // Arrays and inline tables: the override is written as a TOML value.
            let doc: toml::Table = toml::from_str(&format!("v = {raw}"))
                .map_err(|e| err(format!("expected a TOML value: {}", e.message())))?;
            doc.get("v")
                .cloned()
                .unwrap_or(toml::Value::String(raw.into()))
        }
    };
    cursor.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests;
