//! Hardware discovery: what this machine is, for the operator who sells its capacity and for the
//! executor that places work on it.
//!
//! [`discover`] gathers CPU topology ([`cpu`]), memory ([`memory`]) and GPU adapters ([`gpu`]);
//! [`profile`] matches the result against the hardware profiles in `hwprofiles/`.

pub mod cpu;
pub mod gpu;
pub mod memory;
pub mod profile;
mod sysfs;

use std::time::Duration;

use serde::Serialize;

pub use cpu::CpuInfo;
pub use gpu::{GpuAdapter, GpuReport};
pub use memory::MemoryInfo;

/// Everything discovery found about the machine. Field names are stable (kebab-case in JSON).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Hardware {
    /// Operating system and kernel.
    pub os: OsInfo,
    /// Processors.
    pub cpu: CpuInfo,
    /// Memory.
    pub memory: MemoryInfo,
    /// GPU adapters.
    pub gpu: GpuReport,
}

/// Operating system facts.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct OsInfo {
    /// `linux`, `macos`, ...
    pub family: String,
    /// Distribution name and version, when known.
    pub name: Option<String>,
    /// Kernel release.
    pub kernel: Option<String>,
    /// Host name.
    pub hostname: Option<String>,
}

/// Discover the whole machine. GPU enumeration is bounded by `gpu_timeout`.
pub fn discover(gpu_timeout: Duration) -> Hardware {
    Hardware {
        os: OsInfo {
            family: std::env::consts::OS.to_string(),
            name: sysinfo::System::long_os_version().ok(),
            kernel: sysinfo::System::kernel_version().ok(),
            hostname: sysinfo::System::host_name().ok(),
        },
        cpu: cpu::discover(),
        memory: memory::discover(),
        gpu: gpu::discover(gpu_timeout),
    }
}
