//! The node's identity: name, version, source commit, build and start times.

use std::net::SocketAddr;
use std::time::Instant;

use serde::Serialize;

use crate::clock::{now_secs, rfc3339};

/// Version of this build.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Git commit the binary was built from, or `unknown`.
pub const GIT_COMMIT: &str = env!("AOCU_GIT_COMMIT");
/// Build time, seconds since the Unix epoch.
const BUILD_UNIX: &str = env!("AOCU_BUILD_UNIX");

/// What `~meta@1.0/build` answers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct BuildInfo {
    /// Software name.
    pub node: String,
    /// Package version.
    pub version: String,
    /// Source commit.
    pub source: String,
    /// Build time, RFC 3339 UTC.
    pub build_time: String,
}

/// Build facts of this binary.
pub fn build_info() -> BuildInfo {
    BuildInfo {
        node: "aocu".to_string(),
        version: VERSION.to_string(),
        source: GIT_COMMIT.to_string(),
        build_time: rfc3339(BUILD_UNIX.parse().unwrap_or(0)),
    }
}

/// A running node's identity and clock.
#[derive(Debug)]
pub struct NodeIdentity {
    /// Operator-chosen node name: part of the node message, so it may change while it runs.
    name: std::sync::RwLock<String>,
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    started_unix: u64,
    started: Instant,
}

/// The `node` section of `~meta@1.0/info`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct NodeSection {
    /// Operator-chosen node name.
    pub name: String,
    /// Package version.
    pub version: String,
    /// Source commit.
    pub git_commit: String,
    /// Build time, RFC 3339 UTC.
    pub build_time: String,
    /// Start time, RFC 3339 UTC.
    pub started_at: String,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// Listen address.
    pub listen: String,
}

impl NodeIdentity {
    /// A node named `name`, started now, listening on `listen`.
    pub fn new(name: String, listen: SocketAddr) -> NodeIdentity {
        NodeIdentity {
            name: std::sync::RwLock::new(name),
            listen,
            started_unix: now_secs(),
            started: Instant::now(),
        }
    }

    /// The node's name now.
    pub fn name(&self) -> String {
        self.name.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Rename the node (a reload or the operator's change of `node-name`).
    pub fn rename(&self, name: &str) {
        *self.name.write().unwrap_or_else(|p| p.into_inner()) = name.to_string();
    }

    /// The `node` section as of now.
    pub fn section(&self) -> NodeSection {
        let build = build_info();
        NodeSection {
            name: self.name(),
            version: build.version,
            git_commit: build.source,
            build_time: build.build_time,
            started_at: rfc3339(self.started_unix),
            uptime_seconds: self.started.elapsed().as_secs(),
            listen: self.listen.to_string(),
        }
    }
}
