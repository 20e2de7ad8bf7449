//! What the other modules are given, derived from the configuration keys: process limits, the
//! memory budget, TLS trust and client settings, the access lists, the wallet path.

use std::path::PathBuf;

use super::{Config, ConfigError, DEFAULT_PROCESS_MEMORY_SHARE_PERCENT};

impl Config {
    /// The process limits configured for this node.
    pub fn node_limits(&self) -> crate::wasm::NodeLimits {
        crate::wasm::NodeLimits {
            max_memory_bytes: self.max_memory_bytes,
            max_compute: self.max_compute,
            message_timeout: std::time::Duration::from_millis(self.message_timeout_ms),
        }
    }

    /// The memory budget of resident processes on a machine whose memory is `memory`
    /// (`process-memory-budget-bytes`, or its default share of the allowed RAM).
    pub fn process_memory_budget(&self, memory: &crate::hw::MemoryInfo) -> u64 {
        match self.process_memory_budget_bytes {
            0 => memory.allowed_bytes() / 100 * DEFAULT_PROCESS_MEMORY_SHARE_PERCENT,
            bytes => bytes,
        }
    }

    /// The TLS trust of every https peer (keys `tls-ca-file`, `tls-insecure-skip-verify`).
    pub fn tls(&self) -> crate::net::TlsSettings {
        crate::net::TlsSettings {
            ca_file: (!self.tls_ca_file.as_os_str().is_empty()).then(|| self.tls_ca_file.clone()),
            insecure_skip_verify: self.tls_insecure_skip_verify,
        }
    }

    /// The client settings for gateways (`gateway-timeout-ms`, `gateway-attempts`).
    pub fn gateway_client(&self) -> crate::net::ClientSettings {
        crate::net::ClientSettings {
            tls: self.tls(),
            retry: crate::net::RetryPolicy {
                attempts: self.gateway_attempts.max(1),
                timeout: std::time::Duration::from_millis(self.gateway_timeout_ms),
                ..crate::net::RetryPolicy::default()
            },
        }
    }

    /// The client settings for remote SUs (the default retry policy).
    pub fn su_client(&self) -> crate::net::ClientSettings {
        crate::net::ClientSettings {
            tls: self.tls(),
            retry: crate::net::RetryPolicy::default(),
        }
    }

    /// The access lists (`allow-processes`, `deny-processes`, `allow-owners`), checked.
    pub fn access(&self) -> Result<crate::access::Access, ConfigError> {
        crate::access::Access::new(
            &self.allow_processes,
            &self.deny_processes,
            &self.allow_owners,
        )
        .map_err(|e| ConfigError::Value {
            key: e.key.to_string(),
            message: e.to_string(),
        })
    }

    /// The price schedule: the matched profile's (free without one), with the `[price]` keys
    /// set.
    pub fn price_schedule(
        &self,
        profile: Option<&crate::hw::profile::Match>,
    ) -> Result<crate::hw::profile::Price, ConfigError> {
        let base = profile.map_or_else(crate::price::free, |m| m.profile.price.clone());
        crate::price::with_overrides(&base, &self.price).map_err(|message| ConfigError::Value {
            key: "price".into(),
            message,
        })
    }

    /// Where the node wallet lives: the `wallet` key, or `<state-dir>/wallet.json`.
    pub fn wallet_path(&self) -> PathBuf {
        if self.wallet.as_os_str().is_empty() {
            self.state_dir.join("wallet.json")
        } else {
            self.wallet.clone()
        }
    }
}
