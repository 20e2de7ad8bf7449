//! GPU discovery: every adapter wgpu can enumerate, on every backend it was built with.
//!
//! Enumeration loads Vulkan/GL drivers, which on a broken machine can hang or take seconds, so it
//! runs on its own thread under a deadline; a timeout or an empty list comes back with the reason.

use std::sync::mpsc;
use std::time::Duration;

use serde::Serialize;

/// What GPU discovery found.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct GpuReport {
    /// Every adapter found, in wgpu's order.
    pub adapters: Vec<GpuAdapter>,
    /// Why the list is empty, or what went wrong; `None` when adapters were found normally.
    pub note: Option<String>,
    /// Backends that were searched (`WGPU_BACKEND` narrows them).
    pub backends_searched: Vec<String>,
}

/// One adapter as wgpu reports it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct GpuAdapter {
    /// Adapter name (`NVIDIA H100 80GB HBM3`, `llvmpipe (LLVM 15.0.6, 256 bits)`).
    pub name: String,
    /// PCI vendor id (`0x10de`).
    pub vendor_id: String,
    /// A readable vendor name when the id is known.
    pub vendor_name: Option<String>,
    /// PCI device id.
    pub device_id: String,
    /// `discrete-gpu`, `integrated-gpu`, `virtual-gpu`, `cpu` or `other`.
    pub device_type: String,
    /// `vulkan`, `gl`, `metal`, `dx12`.
    pub backend: String,
    /// Driver name.
    pub driver: String,
    /// Driver version details.
    pub driver_info: String,
    /// A software rasterizer (Mesa lavapipe/llvmpipe, SwiftShader, WARP): never sold as a GPU.
    pub software: bool,
    /// The compute limits that decide batch sizes.
    pub limits: ComputeLimits,
}

/// Adapter limits that matter to compute work.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct ComputeLimits {
    /// Largest storage buffer one binding may see, in bytes.
    pub max_storage_buffer_binding_size: u64,
    /// Largest buffer, in bytes.
    pub max_buffer_size: u64,
    /// Largest workgroup size per dimension (x, y, z).
    pub max_compute_workgroup_size: [u32; 3],
    /// Most invocations in one workgroup.
    pub max_compute_invocations_per_workgroup: u32,
    /// Most workgroups per dispatch dimension.
    pub max_compute_workgroups_per_dimension: u32,
    /// Workgroup shared memory, in bytes.
    pub max_compute_workgroup_storage_size: u32,
}

/// Enumerate adapters, giving up after `timeout`.
pub fn discover(timeout: Duration) -> GpuReport {
    let backends = platform_backends().with_env() & platform_backends();
    let backends_searched = backend_names(backends);
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("aocu-gpu-discovery".into())
        .spawn(move || {
            let _ = tx.send(enumerate(backends));
        });
    if let Err(e) = spawned {
        return GpuReport::empty(backends_searched, format!("could not start discovery: {e}"));
    }
    match rx.recv_timeout(timeout) {
        Ok(adapters) if adapters.is_empty() => {
            let note = why_none(&backends_searched);
            GpuReport::empty(backends_searched, note)
        }
        Ok(adapters) => GpuReport {
            adapters,
            note: None,
            backends_searched,
        },
        // The thread is left behind: a driver stuck in its loader cannot be cancelled.
        Err(mpsc::RecvTimeoutError::Timeout) => GpuReport::empty(
            backends_searched,
            format!("adapter enumeration did not finish within {timeout:?} (a driver is stuck)"),
        ),
        Err(mpsc::RecvTimeoutError::Disconnected) => GpuReport::empty(
            backends_searched,
            "adapter enumeration failed inside the graphics driver".to_string(),
        ),
    }
}

impl GpuReport {
    fn empty(backends_searched: Vec<String>, note: String) -> GpuReport {
        GpuReport {
            adapters: Vec::new(),
            note: Some(note),
            backends_searched,
        }
    }

    /// Adapters that are real GPUs (not software rasterizers).
    pub fn hardware(&self) -> impl Iterator<Item = &GpuAdapter> {
        self.adapters.iter().filter(|a| !a.software)
    }
}

fn enumerate(backends: wgpu::Backends) -> Vec<GpuAdapter> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle().with_env();
    desc.backends = backends;
    let instance = wgpu::Instance::new(desc);
    pollster::block_on(instance.enumerate_adapters(backends))
        .iter()
        .map(|adapter| describe(&adapter.get_info(), &adapter.limits()))
        .collect()
}

fn describe(info: &wgpu::AdapterInfo, limits: &wgpu::Limits) -> GpuAdapter {
    let device_type = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => "discrete-gpu",
        wgpu::DeviceType::IntegratedGpu => "integrated-gpu",
        wgpu::DeviceType::VirtualGpu => "virtual-gpu",
        wgpu::DeviceType::Cpu => "cpu",
        wgpu::DeviceType::Other => "other",
    };
    GpuAdapter {
        name: info.name.clone(),
        vendor_id: format!("{:#06x}", info.vendor),
        vendor_name: vendor_name(info.vendor).map(str::to_string),
        device_id: format!("{:#06x}", info.device),
        device_type: device_type.to_string(),
        backend: info.backend.to_str().to_string(),
        driver: info.driver.clone(),
        driver_info: info.driver_info.clone(),
        software: is_software(info),
        limits: ComputeLimits {
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_buffer_size: limits.max_buffer_size,
            max_compute_workgroup_size: [
                limits.max_compute_workgroup_size_x,
                limits.max_compute_workgroup_size_y,
                limits.max_compute_workgroup_size_z,
            ],
            max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
            max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
            max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
        },
    }
}

/// Software rasterizers report themselves as `Cpu`; some GL ones only say so in their name.
pub fn is_software(info: &wgpu::AdapterInfo) -> bool {
    let name = info.name.to_ascii_lowercase();
    info.device_type == wgpu::DeviceType::Cpu
        || [
            "llvmpipe",
            "lavapipe",
            "softpipe",
            "swiftshader",
            "microsoft basic render",
        ]
        .iter()
        .any(|s| name.contains(s))
}

/// Names of the PCI (and Khronos) vendor ids seen on compute machines.
pub fn vendor_name(id: u32) -> Option<&'static str> {
    Some(match id {
        0x10de => "NVIDIA",
        0x1002 | 0x1022 => "AMD",
        0x8086 => "Intel",
        0x13b5 => "ARM",
        0x5143 => "Qualcomm",
        0x106b => "Apple",
        0x1010 => "Imagination",
        0x10005 => "Mesa",
        0x1414 => "Microsoft",
        _ => return None,
    })
}

/// The backends wgpu has on this platform (so reports don't list Metal on Linux).
fn platform_backends() -> wgpu::Backends {
    if cfg!(target_vendor = "apple") {
        wgpu::Backends::METAL | wgpu::Backends::GL
    } else if cfg!(windows) {
        wgpu::Backends::VULKAN | wgpu::Backends::DX12 | wgpu::Backends::GL
    } else {
        wgpu::Backends::VULKAN | wgpu::Backends::GL
    }
}

fn backend_names(backends: wgpu::Backends) -> Vec<String> {
    [
        (wgpu::Backends::VULKAN, "vulkan"),
        (wgpu::Backends::GL, "gl"),
        (wgpu::Backends::METAL, "metal"),
        (wgpu::Backends::DX12, "dx12"),
    ]
    .into_iter()
    .filter(|(flag, _)| backends.contains(*flag))
    .map(|(_, name)| name.to_string())
    .collect()
}

/// Explain an empty adapter list in terms an operator can act on.
fn why_none(backends: &[String]) -> String {
    let mut reasons = vec![format!(
        "no adapter found on backends [{}]",
        backends.join(", ")
    )];
    if backends.iter().any(|b| b == "vulkan") {
        if !vulkan_loader_present() {
            reasons.push("the Vulkan loader (libvulkan.so.1) is not installed".into());
        }
        for var in ["VK_ICD_FILENAMES", "VK_DRIVER_FILES"] {
            if let Ok(value) = std::env::var(var) {
                reasons.push(format!("{var}={value} restricts the Vulkan drivers"));
            }
        }
    }
    reasons.push(
        "install a GPU driver, or Mesa's software drivers (mesa-vulkan-drivers) for a CPU adapter"
            .into(),
    );
    reasons.join("; ")
}

fn vulkan_loader_present() -> bool {
    let dirs = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
    ];
    dirs.iter()
        .any(|d| std::path::Path::new(d).join("libvulkan.so.1").exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_ids_are_named() {
        assert_eq!(vendor_name(0x10de), Some("NVIDIA"));
        assert_eq!(vendor_name(0x10005), Some("Mesa"));
        assert_eq!(vendor_name(0xdead), None);
    }

    #[test]
    fn empty_reason_names_backends() {
        let why = why_none(&["vulkan".into(), "gl".into()]);
        assert!(why.contains("vulkan, gl"), "{why}");
    }
}
