//! Memory discovery: total and available bytes, huge page size.

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
        };
    }
    let Ok(mut sys) = sysinfo::System::new() else {
        return MemoryInfo {
            total_bytes: 0,
            available_bytes: 0,
            huge_page_bytes: None,
        };
    };
    sys.refresh_memory();
    MemoryInfo {
        total_bytes: sys.total_memory(),
        available_bytes: sys.available_memory(),
        huge_page_bytes: None,
    }
}
