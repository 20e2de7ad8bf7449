//! SIGHUP: read the configuration again (the same file, environment and flags) and apply what
//! can change while the node runs, without dropping a connection; say in the log what changed,
//! and which changed keys wait for a restart.
//!
//! Applied live: `log` (the filter, unless `RUST_LOG` set it), `node-name`, `price` (the next
//! evaluation is charged by the new schedule) and the access lists `allow-processes`,
//! `deny-processes`, `allow-owners` (the next request is checked against them). Every other key is read and
//! validated (a bad file changes nothing and says why) and, when it differs from the running
//! value, logged as needing a restart.
//!
//! The same path applies the operator's signed changes (`POST /~meta@1.0/info`,
//! [`crate::operator`]): [`Reloader`] is its [`ApplyChange`]. Once the node message is
//! permanent (`initialized = permanent`), neither changes the name, the price or the lists again.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing_subscriber::{EnvFilter, Registry};

use crate::config::{Config, Loaded};
use crate::operator::{ApplyChange, Permanence};

/// The keys of the node message: applied live, locked by `initialized = permanent`.
const NODE_MESSAGE_KEYS: &[&str] = &[
    "node-name",
    "price",
    "allow-processes",
    "deny-processes",
    "allow-owners",
    "initialized",
];

/// Loads the configuration again, as at start.
pub type Loader = Box<dyn Fn() -> anyhow::Result<Loaded> + Send + Sync>;

/// The log filter as configured: `filter`, with wgpu's GL probing quieted unless asked for.
pub fn log_filter(filter: &str) -> EnvFilter {
    // GL adapter probing logs EGL failures as errors on every machine without a GL driver;
    // discovery reports what it found itself, so those lines are noise unless asked for.
    let filter = if filter.contains("wgpu_hal") {
        filter.to_string()
    } else {
        format!("{filter},wgpu_hal::gles=off")
    };
    EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The running log filter, to change on reload.
#[derive(Debug)]
pub struct LogFilter {
    handle: tracing_subscriber::reload::Handle<EnvFilter, Registry>,
}

impl LogFilter {
    /// Wrap the handle [`super::init_logging`] made.
    pub fn new(handle: tracing_subscriber::reload::Handle<EnvFilter, Registry>) -> LogFilter {
        LogFilter { handle }
    }

    fn set(&self, filter: &str) -> Result<(), String> {
        self.handle
            .reload(log_filter(filter))
            .map_err(|e| e.to_string())
    }
}

/// What one reload found: the keys applied and those that wait for a restart.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Keys applied now, as `key: old -> new`.
    pub applied: Vec<String>,
    /// Keys that changed but apply at the next start.
    pub on_restart: Vec<String>,
}

/// What a running node shares that a reload replaces: its price schedule (with the matched
/// profile's prices, which `price` overrides) and its access lists.
pub struct Live {
    /// The schedule the evaluators charge by.
    pub price: Arc<crate::price::Schedule>,
    /// The matched profile's prices (free without a profile).
    pub profile_price: crate::hw::profile::Price,
    /// The access lists every request is checked against.
    pub access: Arc<crate::access::Access>,
    /// The node's name as `~meta@1.0` reports it.
    pub identity: Arc<crate::node::NodeIdentity>,
}

/// The node's configuration as it runs, and what may change in it.
pub struct Reloader {
    loader: Loader,
    running: Mutex<Config>,
    log: Option<LogFilter>,
    live: Option<Live>,
    permanence: Arc<Permanence>,
}

impl Reloader {
    /// A reloader for a node started with `running`.
    pub fn new(loader: Loader, running: Config, log: Option<LogFilter>) -> Reloader {
        let permanence = Arc::new(Permanence::new(&running.initialized));
        Reloader {
            loader,
            running: Mutex::new(running),
            log,
            live: None,
            permanence,
        }
    }

    /// The lock of the node message, shared with the operator's authority.
    pub fn permanence(&self) -> Arc<Permanence> {
        self.permanence.clone()
    }

    /// Also apply `price` and the access lists to `live`.
    pub fn with_live(mut self, live: Live) -> Reloader {
        self.live = Some(live);
        self
    }

    /// Apply a changed `key` to what runs; `false` when it waits for a restart.
    fn apply_live(&self, key: &str, new: &Config) -> anyhow::Result<bool> {
        let Some(live) = &self.live else {
            return Ok(false);
        };
        match key {
            "price" => {
                let price = crate::price::with_overrides(&live.profile_price, &new.price)
                    .map_err(|e| anyhow::anyhow!("key `price`: {e}"))?;
                live.price.set(price);
            }
            "allow-processes" | "deny-processes" | "allow-owners" => {
                live.access.replace(new.access()?);
            }
            "node-name" => live.identity.rename(&new.node_name),
            "initialized" => {
                if new.initialized == "permanent" {
                    self.permanence.lock();
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Read the configuration again and apply it; an invalid one changes nothing.
    pub fn reload(&self) -> anyhow::Result<Changes> {
        let loaded = (self.loader)()?;
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let mut changes = Changes::default();
        for (key, old, new) in differences(&running, &loaded.config) {
            match key.as_str() {
                "log" => match &self.log {
                    Some(log) => {
                        log.set(&loaded.config.log)
                            .map_err(|e| anyhow::anyhow!("key `log`: {e}"))?;
                        running.log = loaded.config.log.clone();
                        changes.applied.push(format!("{key}: {old} -> {new}"));
                    }
                    None => changes
                        .on_restart
                        .push(format!("{key} (RUST_LOG sets the filter)")),
                },
                _ if self.permanence.is_locked() && NODE_MESSAGE_KEYS.contains(&key.as_str()) => {
                    changes
                        .on_restart
                        .push(format!("{key} (the node message is permanent)"));
                }
                _ if self.apply_live(&key, &loaded.config)? => {
                    changes.applied.push(format!("{key}: {old} -> {new}"));
                }
                _ => changes.on_restart.push(key),
            }
        }
        if self.live.is_some() && !self.permanence.is_locked() {
            adopt(&mut running, &loaded.config);
        }
        Ok(changes)
    }

    /// Reload on every SIGHUP, for as long as the runtime runs.
    #[cfg(unix)]
    pub fn on_sighup(self: Arc<Self>) -> anyhow::Result<()> {
        use anyhow::Context as _;
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = signal(SignalKind::hangup()).context("installing SIGHUP handler")?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                match self.reload() {
                    Ok(changes) => tracing::info!(
                        applied = ?changes.applied,
                        on_restart = ?changes.on_restart,
                        "SIGHUP: configuration reloaded"
                    ),
                    Err(e) => tracing::warn!(
                        error = format!("{e:#}"),
                        "SIGHUP: the configuration is invalid; nothing changed"
                    ),
                }
            }
        });
        Ok(())
    }
}

impl ApplyChange for Reloader {
    /// The operator's change: every key must be one of the node message's, all of them are
    /// validated before any applies.
    fn apply(&self, change: &[(String, String)]) -> Result<Vec<String>, String> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let new = crate::config::with_changes(&running, change, "signed POST /~meta@1.0/info")
            .map_err(|e| e.to_string())?;
        let differences = differences(&running, &new);
        if let Some((key, ..)) = differences
            .iter()
            .find(|(key, ..)| !NODE_MESSAGE_KEYS.contains(&key.as_str()))
        {
            return Err(format!(
                "key `{key}` is not part of the node message ({}); change it in aocu.toml",
                NODE_MESSAGE_KEYS.join(", ")
            ));
        }
        let mut applied = Vec::new();
        for (key, old, value) in differences {
            if !self.apply_live(&key, &new).map_err(|e| format!("{e:#}"))? {
                return Err(format!("key `{key}` cannot change while the node runs"));
            }
            applied.push(format!("{key}: {old} -> {value}"));
        }
        adopt(&mut running, &new);
        Ok(applied)
    }
}

/// Take the node message's keys of `new` as running.
fn adopt(running: &mut Config, new: &Config) {
    running.node_name = new.node_name.clone();
    running.price = new.price.clone();
    running.allow_processes = new.allow_processes.clone();
    running.deny_processes = new.deny_processes.clone();
    running.allow_owners = new.allow_owners.clone();
    running.initialized = new.initialized.clone();
}

/// The top-level keys whose values differ, with both values as JSON text.
fn differences(old: &Config, new: &Config) -> Vec<(String, String, String)> {
    let (Ok(Value::Object(old)), Ok(Value::Object(new))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return Vec::new();
    };
    new.iter()
        .filter(|(key, value)| old.get(*key) != Some(value))
        .map(|(key, value)| {
            let before = old.get(key).map_or_else(String::new, Value::to_string);
            (key.clone(), before, value.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_the_changed_keys() {
        let old = Config::default();
        let mut new = old.clone();
        assert!(differences(&old, &new).is_empty());
        new.log = "debug".into();
        new.node_name = "rack-7".into();
        let keys: Vec<String> = differences(&old, &new).into_iter().map(|d| d.0).collect();
        assert_eq!(keys, ["node-name", "log"], "in the order of the keys");
    }

    /// A loader that reads `config` every time.
    fn loads(config: Config) -> Loader {
        Box::new(move || {
            Ok(Loaded {
                config: config.clone(),
                file: None,
                overrides: Vec::new(),
                unused: Vec::new(),
            })
        })
    }

    #[test]
    fn without_a_log_handle_everything_waits_for_a_restart() {
        let changed = Config {
            log: "debug".into(),
            max_body_bytes: 1,
            ..Config::default()
        };
        let reloader = Reloader::new(loads(changed), Config::default(), None);
        let changes = reloader.reload().unwrap();
        assert!(changes.applied.is_empty());
        assert_eq!(
            changes.on_restart,
            ["log (RUST_LOG sets the filter)", "max-body-bytes"]
        );
        let failing = Reloader::new(
            Box::new(|| Err(anyhow::anyhow!("line 3: bad"))),
            Config::default(),
            None,
        );
        assert!(failing.reload().is_err());
    }

    #[test]
    fn prices_and_access_lists_apply_live() {
        let denied = crate::ao::b64url(&[9u8; 32]);
        let mut changed = Config {
            deny_processes: vec![denied.clone()],
            node_name: "renamed".into(),
            ..Config::default()
        };
        changed
            .price
            .insert("per-message".into(), toml::Value::Integer(9));
        let live = Live {
            price: Arc::new(crate::price::Schedule::new(crate::price::free())),
            profile_price: crate::price::free(),
            access: Arc::new(crate::access::Access::default()),
            identity: Arc::new(crate::node::NodeIdentity::new(
                "aocu".into(),
                ([127, 0, 0, 1], 0).into(),
            )),
        };
        let (price, access, identity) = (
            live.price.clone(),
            live.access.clone(),
            live.identity.clone(),
        );
        let reloader = Reloader::new(loads(changed), Config::default(), None).with_live(live);
        let changes = reloader.reload().unwrap();
        assert_eq!(changes.applied.len(), 3, "{changes:?}");
        assert!(changes.on_restart.is_empty(), "{changes:?}");
        assert_eq!(price.get().per_message, 9);
        assert_eq!(identity.name(), "renamed");
        assert!(access.process(&denied.parse().unwrap()).is_err());
        // The same file again: nothing changed.
        assert_eq!(reloader.reload().unwrap(), Changes::default());
    }
}
