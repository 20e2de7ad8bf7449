//! The compute pipeline of `shaders/rsa.wgsl` and one sub-batch's trip through it: one upload,
//! one submission of [`DISPATCHES`] dispatches (the 19 Montgomery multiplications,
//! [`STEPS_PER_DISPATCH`] each), one read back.
//!
//! Every wgpu call runs inside error scopes (validation, out of memory), so a failure becomes a
//! [`GpuRsaError`] even on a device with no uncaptured-error handler, instead of wgpu's default
//! panic.

use std::sync::mpsc;

use super::GpuRsaError;
use super::prepare::{NL, STATE_WORDS};

/// WGSL source of the RSA kernel.
pub(crate) const RSA_WGSL: &str = include_str!("../../../shaders/rsa.wgsl");

/// The kernel's entry point.
const ENTRY: &str = "rsa_public";

/// Invocations per workgroup we ask for; lowered to what the adapter allows.
pub(super) const WORKGROUP: u32 = 64;

/// Bytes of the uniform parameter block (`Params` in the shader).
const PARAMS_SIZE: u64 = 16;

/// Montgomery multiplications per exponentiation (`STEPS` in the shader): into Montgomery form,
/// 16 squarings, one multiplication, out of Montgomery form.
const STEPS: u32 = 19;

/// Multiplications per dispatch: lavapipe gives an invocation 65535 loop iterations in all, and
/// one 4096-bit multiplication takes about 4 600 (see the shader's header).
pub(super) const STEPS_PER_DISPATCH: u32 = 10;

/// Dispatches per sub-batch.
pub(super) const DISPATCHES: u32 = STEPS.div_ceil(STEPS_PER_DISPATCH);

/// Smallest buffer made (bindings must not be empty).
const MIN_BUFFER: u64 = 256;

/// The pipeline and its bind group layout.
pub(super) struct Kernel {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
    /// Invocations per workgroup the pipeline was built with.
    pub workgroup: u32,
    /// Offset alignment of the per-dispatch parameter blocks.
    params_align: u64,
}

/// Catches validation and out-of-memory errors of the wgpu calls made while it lives.
struct Scopes {
    oom: wgpu::ErrorScopeGuard,
    validation: wgpu::ErrorScopeGuard,
}

impl Scopes {
    fn push(device: &wgpu::Device) -> Scopes {
        Scopes {
            oom: device.push_error_scope(wgpu::ErrorFilter::OutOfMemory),
            validation: device.push_error_scope(wgpu::ErrorFilter::Validation),
        }
    }

    /// Pops both scopes (innermost first); `validation` makes the error of a validation failure.
    fn pop(self, validation: impl FnOnce(String) -> GpuRsaError) -> Result<(), GpuRsaError> {
        let invalid = pollster::block_on(self.validation.pop());
        let oom = pollster::block_on(self.oom.pop());
        if let Some(e) = oom {
            return Err(GpuRsaError::OutOfMemory(e.to_string()));
        }
        invalid.map_or(Ok(()), |e| Err(validation(e.to_string())))
    }
}

impl Kernel {
    /// Compiles the shader and builds the pipeline, reporting validation errors.
    pub fn new(device: &wgpu::Device) -> Result<Kernel, GpuRsaError> {
        let limits = device.limits();
        let workgroup = WORKGROUP
            .min(limits.max_compute_workgroup_size_x)
            .min(limits.max_compute_invocations_per_workgroup);
        if limits.max_storage_buffers_per_shader_stage < 2 {
            return Err(GpuRsaError::Unsupported(format!(
                "the kernel binds 2 storage buffers, the device allows {}",
                limits.max_storage_buffers_per_shader_stage
            )));
        }
        let scopes = Scopes::push(device);
        let layout = bind_group_layout(device);
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("aocu-rsa"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("rsa.wgsl"),
            source: wgpu::ShaderSource::Wgsl(RSA_WGSL.into()),
        });
        let constants = [("WG", f64::from(workgroup))];
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(ENTRY),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(ENTRY),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &constants,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        scopes.pop(GpuRsaError::Shader)?;
        let params_align = PARAMS_SIZE
            .next_multiple_of(u64::from(limits.min_uniform_buffer_offset_alignment.max(4)));
        Ok(Kernel {
            layout,
            pipeline,
            workgroup,
            params_align,
        })
    }
}

fn bind_group_layout(device: &wgpu::Device) -> wgpu::BindGroupLayout {
    let storage = crate::hash::gpu::storage_entry;
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("aocu-rsa"),
        entries: &[
            wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    // One parameter block per dispatch, chosen by dynamic offset.
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: wgpu::BufferSize::new(PARAMS_SIZE),
                },
                count: None,
            },
            storage(1, true),
            storage(2, false),
        ],
    })
}

/// The buffers of one sub-batch, grown (to the next power of two, within the device's limits)
/// when a larger one comes.
pub(super) struct Buffers {
    /// The largest storage binding (and buffer) the device takes.
    limit: u64,
    /// The parameter blocks of the dispatches.
    params: wgpu::Buffer,
    /// Per item constants, moduli and signatures.
    input: wgpu::Buffer,
    /// x and b between dispatches; the results after the last.
    state: wgpu::Buffer,
    /// The results, mapped for the host.
    readback: wgpu::Buffer,
}

fn create(
    device: &wgpu::Device,
    label: &str,
    size: u64,
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: size
            .max(MIN_BUFFER)
            .next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT),
        usage,
        mapped_at_creation: false,
    })
}

impl Buffers {
    /// The smallest buffers for `kernel`.
    pub fn new(device: &wgpu::Device, kernel: &Kernel) -> Result<Buffers, GpuRsaError> {
        use wgpu::BufferUsages as U;
        let scopes = Scopes::push(device);
        let params_bytes = u64::from(DISPATCHES) * kernel.params_align;
        let limits = device.limits();
        let buffers = Buffers {
            limit: limits
                .max_storage_buffer_binding_size
                .min(limits.max_buffer_size),
            params: create(
                device,
                "aocu-rsa-params",
                params_bytes,
                U::UNIFORM | U::COPY_DST,
            ),
            input: create(device, "aocu-rsa-input", 0, U::STORAGE | U::COPY_DST),
            state: create(device, "aocu-rsa-state", 0, U::STORAGE | U::COPY_SRC),
            readback: create(device, "aocu-rsa-readback", 0, U::MAP_READ | U::COPY_DST),
        };
        scopes.pop(GpuRsaError::Device)?;
        Ok(buffers)
    }

    /// `needed` bytes rounded up to the next power of two, if the device takes that.
    fn grown(&self, needed: u64) -> u64 {
        needed.next_power_of_two().min(self.limit).max(needed)
    }

    /// Makes the buffers hold `input`, `state` and `output` bytes (sizes `GpuRsa::max_batch`
    /// keeps within the device's limits).
    fn ensure(&mut self, device: &wgpu::Device, input: u64, state: u64, output: u64) {
        use wgpu::BufferUsages as U;
        if input > self.input.size() {
            let size = self.grown(input);
            self.input = create(device, "aocu-rsa-input", size, U::STORAGE | U::COPY_DST);
        }
        if state > self.state.size() {
            let size = self.grown(state);
            self.state = create(device, "aocu-rsa-state", size, U::STORAGE | U::COPY_SRC);
        }
        if output > self.readback.size() {
            let size = self.grown(output);
            self.readback = create(device, "aocu-rsa-readback", size, U::MAP_READ | U::COPY_DST);
        }
    }
}

impl Kernel {
    /// Runs one sub-batch of `count` items, `words` packed as the shader reads them, and returns
    /// the result words the shader leaves in the state buffer (limb-major, NL limbs per item).
    pub fn run(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        buffers: &mut Buffers,
        count: u32,
        words: &[u32],
    ) -> Result<Vec<u32>, GpuRsaError> {
        let items = u64::from(count);
        let in_bytes = 4 * words.len() as u64;
        let state_bytes = 4 * STATE_WORDS as u64 * items;
        let out_bytes = 4 * NL as u64 * items;
        let groups = count.div_ceil(self.workgroup);
        let scopes = Scopes::push(device);
        buffers.ensure(device, in_bytes, state_bytes, out_bytes);
        for d in 0..DISPATCHES {
            let first = d * STEPS_PER_DISPATCH;
            let block = [count, first, (first + STEPS_PER_DISPATCH).min(STEPS), 0];
            let at = u64::from(d) * self.params_align;
            queue.write_buffer(&buffers.params, at, bytemuck::cast_slice(&block));
        }
        queue.write_buffer(&buffers.input, 0, bytemuck::cast_slice(words));
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("aocu-rsa"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &buffers.params,
                        offset: 0,
                        size: wgpu::BufferSize::new(PARAMS_SIZE),
                    }),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: buffers.input.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: buffers.state.as_entire_binding(),
                },
            ],
        });
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("aocu-rsa"),
        });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("aocu-rsa"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&self.pipeline);
            for d in 0..DISPATCHES {
                // DISPATCHES blocks fit the buffer made for them, so the offset fits u32.
                let offset = u32::try_from(u64::from(d) * self.params_align).map_err(|_| {
                    GpuRsaError::Unsupported("parameter offsets overflow u32".into())
                })?;
                pass.set_bind_group(0, &bind_group, &[offset]);
                pass.dispatch_workgroups(groups, 1, 1);
            }
        }
        encoder.copy_buffer_to_buffer(&buffers.state, 0, &buffers.readback, 0, out_bytes);
        let submitted = queue.submit([encoder.finish()]);
        let (tx, rx) = mpsc::channel();
        buffers
            .readback
            .map_async(wgpu::MapMode::Read, 0..out_bytes, move |r| {
                let _ = tx.send(r);
            });
        scopes.pop(GpuRsaError::Device)?;
        wait_map(device, &rx, submitted)?;
        let scopes = Scopes::push(device);
        let result = buffers
            .readback
            .get_mapped_range(0..out_bytes)
            .map_err(|e| GpuRsaError::MapFailed(e.to_string()))
            .map(|view| {
                view.chunks_exact(4)
                    .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                    .collect::<Vec<u32>>()
            });
        buffers.readback.unmap();
        scopes.pop(GpuRsaError::Device)?;
        result
    }
}

/// Waits for the map request issued after submission `after`.
fn wait_map(
    device: &wgpu::Device,
    rx: &mpsc::Receiver<Result<(), wgpu::BufferAsyncError>>,
    after: wgpu::SubmissionIndex,
) -> Result<(), GpuRsaError> {
    // One wait normally suffices; a few more cover a backend that calls back a poll later.
    for _ in 0..8 {
        match rx.try_recv() {
            Ok(result) => return result.map_err(|e| GpuRsaError::MapFailed(e.to_string())),
            Err(mpsc::TryRecvError::Disconnected) => {
                return Err(GpuRsaError::MapFailed("the map request was dropped".into()));
            }
            Err(mpsc::TryRecvError::Empty) => {}
        }
        device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(after.clone()),
                timeout: None,
            })
            .map_err(|e| GpuRsaError::DeviceLost(e.to_string()))?;
    }
    Err(GpuRsaError::MapFailed(
        "the buffer was not mapped after its submission completed".into(),
    ))
}
