//! Choosing the adapter and opening the device.

use std::sync::mpsc;
use std::time::Duration;

use super::GpuError;

/// Which adapters [`GpuHasher`](super::GpuHasher) may run on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AdapterChoice {
    /// The best hardware adapter; a software rasterizer only when it is all there is.
    #[default]
    PreferHardware,
    /// Hardware only: fail rather than hash on a software rasterizer.
    HardwareOnly,
    /// A software rasterizer (Mesa lavapipe/llvmpipe) even where hardware exists: for tests.
    Software,
}

/// How long adapter enumeration may take before a stuck driver is reported.
const ENUMERATION_DEADLINE: Duration = Duration::from_secs(30);

/// The adapters `choice` allows, best first (discrete before integrated before virtual before
/// CPU; Vulkan, Metal and DX12 before GL). Never empty.
pub(crate) fn candidates(choice: AdapterChoice) -> Result<Vec<wgpu::Adapter>, GpuError> {
    let adapters = enumerate()?;
    if adapters.is_empty() {
        let report = crate::hw::gpu::discover(ENUMERATION_DEADLINE);
        let why = report
            .note
            .unwrap_or_else(|| "wgpu enumerated no adapter".to_string());
        return Err(GpuError::NoAdapter(why));
    }
    let names = || {
        adapters
            .iter()
            .map(|a| describe(&a.get_info()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let software = |a: &wgpu::Adapter| crate::hw::gpu::is_software(&a.get_info());
    let any_hardware = adapters.iter().any(|a| !software(a));
    let allowed = |a: &wgpu::Adapter| match choice {
        AdapterChoice::PreferHardware => software(a) != any_hardware,
        AdapterChoice::HardwareOnly => !software(a),
        AdapterChoice::Software => software(a),
    };
    let mut candidates: Vec<wgpu::Adapter> =
        adapters.iter().filter(|a| allowed(a)).cloned().collect();
    candidates.sort_by_key(|a| rank(&a.get_info()));
    if candidates.is_empty() {
        return Err(GpuError::NoAdapter(match choice {
            AdapterChoice::HardwareOnly => format!("only software adapters found: {}", names()),
            _ => format!(
                "no software adapter among {} (install mesa-vulkan-drivers)",
                names()
            ),
        }));
    }
    Ok(candidates)
}

/// Enumerates every adapter on the backends `WGPU_BACKEND` allows, on a thread with a deadline:
/// a broken driver can hang in its loader.
fn enumerate() -> Result<Vec<wgpu::Adapter>, GpuError> {
    let backends = wgpu::Backends::all().with_env();
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("aocu-gpu-enumerate".into())
        .spawn(move || {
            let mut desc = wgpu::InstanceDescriptor::new_without_display_handle().with_env();
            desc.backends = backends;
            let instance = wgpu::Instance::new(desc);
            let _ = tx.send(pollster::block_on(instance.enumerate_adapters(backends)));
        })
        .map_err(|e| GpuError::NoAdapter(format!("could not start enumeration: {e}")))?;
    rx.recv_timeout(ENUMERATION_DEADLINE).map_err(|e| {
        GpuError::NoAdapter(match e {
            mpsc::RecvTimeoutError::Timeout => format!(
                "adapter enumeration did not finish within {ENUMERATION_DEADLINE:?} (a driver is stuck)"
            ),
            mpsc::RecvTimeoutError::Disconnected => {
                "adapter enumeration failed inside the graphics driver".to_string()
            }
        })
    })
}

fn rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let device = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    };
    let backend = match info.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        _ => 1,
    };
    (device, backend)
}

/// `name (backend)`, for messages.
pub(crate) fn describe(info: &wgpu::AdapterInfo) -> String {
    format!("{} ({})", info.name, info.backend.to_str())
}

/// Opens a device with the adapter's own limits (the largest bindings and buffers it offers)
/// and no optional feature.
pub(crate) fn open(adapter: &wgpu::Adapter) -> Result<(wgpu::Device, wgpu::Queue), GpuError> {
    let desc = wgpu::DeviceDescriptor {
        label: Some("aocu-hash"),
        required_features: wgpu::Features::empty(),
        required_limits: adapter.limits(),
        ..Default::default()
    };
    pollster::block_on(adapter.request_device(&desc)).map_err(|e| GpuError::RequestDevice {
        adapter: describe(&adapter.get_info()),
        reason: e.to_string(),
    })
}
