//! Memory discovery: total and available bytes, huge page size, and the cgroup limit that may
//! allow this process less than the machine has.

use serde::Serialize;

use super::sysfs::meminfo_field;

/// The machine's memory.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct MemoryInfo {
    /// Total usable RAM in bytes (`MemTotal`).
    pub total_bytes: u64,
    /// RAM available for new work without swapping (`MemAvailable`).
    pub available_bytes: u64,
    /// Default huge page size in bytes, where the OS has huge pages.
    pub huge_page_bytes: Option<u64>,
    /// The memory limit of this process' cgroup (v2 `memory.max`, v1
    /// `memory.limit_in_bytes`), when one is set below the machine's total.
    pub cgroup_limit_bytes: Option<u64>,
}

impl MemoryInfo {
    /// The RAM this process may use: the machine's total, or its cgroup limit when lower.
    pub fn allowed_bytes(&self) -> u64 {
        self.cgroup_limit_bytes
            .map_or(self.total_bytes, |limit| limit.min(self.total_bytes))
    }
}

/// Discover memory: `/proc/meminfo` on Linux, sysinfo elsewhere.
pub fn discover() -> MemoryInfo {
    if let Ok(text) = std::fs::read_to_string("/proc/meminfo")
        && let Some(total) = meminfo_field(&text, "MemTotal")
    {
        return MemoryInfo {
            total_bytes: total,
            available_bytes: meminfo_field(&text, "MemAvailable")
                .or_else(|| meminfo_field(&text, "MemFree"))
                .unwrap_or(0),
            huge_page_bytes: meminfo_field(&text, "Hugepagesize"),
            cgroup_limit_bytes: cgroup_limit(total),
        };
    }
    let Ok(mut sys) = sysinfo::System::new() else {
        return MemoryInfo {
            total_bytes: 0,
            available_bytes: 0,
            huge_page_bytes: None,
            cgroup_limit_bytes: None,
        };
    };
    sys.refresh_memory();
    MemoryInfo {
        total_bytes: sys.total_memory(),
        available_bytes: sys.available_memory(),
        huge_page_bytes: None,
        cgroup_limit_bytes: None,
    }
}

/// The memory limit of this process' cgroup, when it is below `total` (an unlimited cgroup
/// reads `max`, or a huge number in v1).
fn cgroup_limit(total: u64) -> Option<u64> {
    let membership = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let read =
        |path: String| -> Option<u64> { std::fs::read_to_string(path).ok()?.trim().parse().ok() };
    let limit = membership.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (hierarchy, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        if hierarchy == "0" && controllers.is_empty() {
            read(format!("/sys/fs/cgroup{path}/memory.max"))
                .or_else(|| read("/sys/fs/cgroup/memory.max".into()))
        } else if controllers.split(',').any(|c| c == "memory") {
            read(format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"))
                .or_else(|| read("/sys/fs/cgroup/memory/memory.limit_in_bytes".into()))
        } else {
            None
        }
    })?;
    (limit < total).then_some(limit)
}
