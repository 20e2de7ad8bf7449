//! The compute pipelines: one bind group layout shared by `blake3.wgsl` and `sha256.wgsl`, and
//! one pipeline per entry point.

use std::num::NonZeroU64;

use super::GpuError;
use super::plan::{Kernel, PARAMS_SIZE};

/// WGSL source of the BLAKE3 kernels.
pub(crate) const BLAKE3_WGSL: &str = include_str!("../../../shaders/blake3.wgsl");
/// WGSL source of the SHA-256 kernel.
pub(crate) const SHA256_WGSL: &str = include_str!("../../../shaders/sha256.wgsl");

/// Invocations per workgroup we ask for; lowered to what the adapter allows.
pub(crate) const WORKGROUP: u32 = 64;

/// Binding numbers, as declared in the shaders.
pub(crate) mod binding {
    pub const PARAMS: u32 = 0;
    pub const DATA: u32 = 1;
    pub const MSGS: u32 = 2;
    pub const SEGS: u32 = 3;
    pub const CVS: u32 = 4;
    pub const DIGESTS: u32 = 5;
}

/// The layout and the three pipelines.
pub(crate) struct Kernels {
    pub layout: wgpu::BindGroupLayout,
    sha256: wgpu::ComputePipeline,
    chunks: wgpu::ComputePipeline,
    merge: wgpu::ComputePipeline,
    /// Invocations per workgroup the pipelines were built with.
    pub workgroup: u32,
}

impl Kernels {
    /// Compiles both shader modules, reporting validation errors instead of panicking.
    pub fn new(device: &wgpu::Device) -> Result<Kernels, GpuError> {
        let limits = device.limits();
        let workgroup = WORKGROUP
            .min(limits.max_compute_workgroup_size_x)
            .min(limits.max_compute_invocations_per_workgroup);
        if limits.max_storage_buffers_per_shader_stage < 5 {
            return Err(GpuError::Unsupported(format!(
                "the kernels bind 5 storage buffers, the device allows {}",
                limits.max_storage_buffers_per_shader_stage
            )));
        }
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let layout = bind_group_layout(device);
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("aocu-hash"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let blake3 = module(device, "blake3.wgsl", BLAKE3_WGSL);
        let sha = module(device, "sha256.wgsl", SHA256_WGSL);
        let constants = [("WG", f64::from(workgroup))];
        let make = |module: &wgpu::ShaderModule, entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(&pipeline_layout),
                module,
                entry_point: Some(entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &constants,
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            })
        };
        let kernels = Kernels {
            sha256: make(&sha, "sha256_blocks"),
            chunks: make(&blake3, "chunk_cvs"),
            merge: make(&blake3, "merge_parents"),
            layout,
            workgroup,
        };
        match pollster::block_on(scope.pop()) {
            None => Ok(kernels),
            Some(e) => Err(GpuError::Shader(e.to_string())),
        }
    }

    /// The pipeline of one kernel.
    pub fn pipeline(&self, kernel: Kernel) -> &wgpu::ComputePipeline {
        match kernel {
            Kernel::Sha256 => &self.sha256,
            Kernel::Blake3Chunks => &self.chunks,
            Kernel::Blake3Merge => &self.merge,
        }
    }
}

fn module(device: &wgpu::Device, name: &str, source: &str) -> wgpu::ShaderModule {
    device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(name),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    })
}

/// A compute shader's storage buffer binding (every kernel of aocu binds its data so).
pub fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

fn bind_group_layout(device: &wgpu::Device) -> wgpu::BindGroupLayout {
    let storage = storage_entry;
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("aocu-hash"),
        entries: &[
            wgpu::BindGroupLayoutEntry {
                binding: binding::PARAMS,
                visibility: wgpu::ShaderStages::COMPUTE,
                // One parameter block per dispatch, chosen by dynamic offset.
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: NonZeroU64::new(PARAMS_SIZE),
                },
                count: None,
            },
            storage(binding::DATA, true),
            storage(binding::MSGS, true),
            storage(binding::SEGS, true),
            storage(binding::CVS, false),
            storage(binding::DIGESTS, false),
        ],
    })
}

#[cfg(test)]
mod tests {
    //! The shaders must translate for every backend we run on, with no optional capability (no
    //! 64-bit integers, no subgroups): checked with naga directly, no adapter needed.
    use super::*;
    use wgpu::naga;

    fn validate(name: &str, source: &str) -> (naga::Module, naga::valid::ModuleInfo) {
        let module = naga::front::wgsl::parse_str(source)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
        let info = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
        (module, info)
    }

    fn translate(name: &str, source: &str, entries: &[&str]) {
        let (module, info) = validate(name, source);
        let mut constants = naga::back::PipelineConstants::default();
        constants.insert("WG".to_string(), f64::from(WORKGROUP));
        for entry in entries {
            let stage = Some((naga::ShaderStage::Compute, *entry));
            let (module, info) = naga::back::pipeline_constants::process_overrides(
                &module, &info, stage, &constants,
            )
            .unwrap_or_else(|e| panic!("{name}/{entry}: {e}"));
            let spv = naga::back::spv::write_vec(
                &module,
                &info,
                &naga::back::spv::Options::default(),
                Some(&naga::back::spv::PipelineOptions {
                    shader_stage: naga::ShaderStage::Compute,
                    entry_point: entry.to_string(),
                }),
            );
            assert!(spv.is_ok(), "{name}/{entry} to SPIR-V: {spv:?}");
            let mut glsl = String::new();
            let options = naga::back::glsl::Options::default(); // GLSL ES 3.10, GL's compute floor
            let pipeline = naga::back::glsl::PipelineOptions {
                shader_stage: naga::ShaderStage::Compute,
                entry_point: entry.to_string(),
                multiview: None,
            };
            let written = naga::back::glsl::Writer::new(
                &mut glsl,
                &module,
                &info,
                &options,
                &pipeline,
                naga::proc::BoundsCheckPolicies::default(),
            )
            .and_then(|mut w| w.write());
            assert!(written.is_ok(), "{name}/{entry} to GLSL: {written:?}");
        }
    }

    #[test]
    fn blake3_translates_for_vulkan_and_gl() {
        translate("blake3.wgsl", BLAKE3_WGSL, &["chunk_cvs", "merge_parents"]);
    }

    #[test]
    fn sha256_translates_for_vulkan_and_gl() {
        translate("sha256.wgsl", SHA256_WGSL, &["sha256_blocks"]);
    }
}
