//! The node's identity: name, version, source commit, build and start times.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

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
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    /// Operator-chosen node name.
    pub name: String,
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
            name,
            listen,
            started_unix: unix_now(),
            started: Instant::now(),
        }
    }

    /// The `node` section as of now.
    pub fn section(&self) -> NodeSection {
        let build = build_info();
        NodeSection {
            name: self.name.clone(),
            version: build.version,
            git_commit: build.source,
            build_time: build.build_time,
            started_at: rfc3339(self.started_unix),
            uptime_seconds: self.started.elapsed().as_secs(),
            listen: self.listen.to_string(),
        }
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Format Unix seconds as RFC 3339 UTC (`2026-11-24T23:59:29Z`).
pub fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_651_169), "2026-11-25T23:59:29Z");
    }
}
