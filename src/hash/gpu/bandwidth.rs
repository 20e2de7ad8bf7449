//! The copies that bound GPU hashing, measured on the hasher's own device: host to device
//! (`queue.write_buffer`, what every non-resident batch pays) and device to device
//! (`copy_buffer_to_buffer`, an upper bound on what a kernel can stream from device memory).

use std::time::{Duration, Instant};

use super::{GpuError, GpuHasher};

/// Buffers for timing copies of a fixed size.
#[derive(Debug)]
pub struct BandwidthProbe<'a> {
    hasher: &'a GpuHasher,
    host: Vec<u8>,
    a: wgpu::Buffer,
    b: wgpu::Buffer,
}

impl<'a> BandwidthProbe<'a> {
    /// Prepares copies of `bytes` (rounded up to 4, capped at the device's largest buffer).
    pub fn new(hasher: &'a GpuHasher, bytes: u64) -> Result<BandwidthProbe<'a>, GpuError> {
        let max = hasher.caps.buffer;
        let size = bytes.div_ceil(4).max(1) * 4;
        let size = size.min(max);
        let len = usize::try_from(size)
            .map_err(|_| GpuError::Device(format!("{size} bytes do not fit host memory")))?;
        // Varied, non-zero bytes: a driver cannot shortcut them.
        let host = (0..len).map(|i| (i % 251) as u8 + 1).collect();
        let buffer = |label| {
            hasher.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        let probe = BandwidthProbe {
            hasher,
            host,
            a: buffer("aocu-probe-a"),
            b: buffer("aocu-probe-b"),
        };
        hasher.check_device()?;
        Ok(probe)
    }

    /// Bytes one copy moves.
    pub fn bytes(&self) -> u64 {
        self.a.size()
    }

    /// Time of `iters` host-to-device copies, each one `write_buffer` of the whole buffer,
    /// submitted and waited for.
    pub fn host_to_device(&self, iters: u64) -> Result<Duration, GpuError> {
        let start = Instant::now();
        for _ in 0..iters {
            self.hasher.queue.write_buffer(&self.a, 0, &self.host);
            self.hasher.queue.submit([]);
            self.wait()?;
        }
        Ok(start.elapsed())
    }

    /// Time of `iters` device-to-device copies of the whole buffer in one submission, waited
    /// for. Each copy reads and writes [`Self::bytes`].
    pub fn device_copy(&self, iters: u64) -> Result<Duration, GpuError> {
        let start = Instant::now();
        let mut encoder =
            self.hasher
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("aocu-probe"),
                });
        for i in 0..iters {
            let (src, dst) = if i % 2 == 0 {
                (&self.a, &self.b)
            } else {
                (&self.b, &self.a)
            };
            encoder.copy_buffer_to_buffer(src, 0, dst, 0, self.bytes());
        }
        self.hasher.queue.submit([encoder.finish()]);
        self.wait()?;
        Ok(start.elapsed())
    }

    fn wait(&self) -> Result<(), GpuError> {
        self.hasher
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Device(e.to_string()))?;
        self.hasher.check_device()
    }
}
