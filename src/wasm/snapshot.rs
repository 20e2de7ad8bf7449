//! A process' state at a message boundary: its linear memory and mutable globals. It can be
//! encoded to bytes for the store and decoded back.
//!
//! Encoding: `AOCUSNP1` ‖ blake3(module bytes) (32) ‖ u32 global count ‖ per global: u8 kind
//! (0 i32, 1 i64, 2 f32, 3 f64) ‖ u64 bits ‖ u64 memory length ‖ memory bytes; integers
//! little-endian.

use super::error::WasmError;

const MAGIC: &[u8; 8] = b"AOCUSNP1";

/// The value of one mutable global.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalValue {
    /// An `i32`.
    I32(i32),
    /// An `i64`.
    I64(i64),
    /// An `f32`, as bits.
    F32(u32),
    /// An `f64`, as bits.
    F64(u64),
}

/// Memory and globals of a process between two messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// blake3 of the module's bytes.
    pub module_hash: [u8; 32],
    /// The mutable globals, in the module's export order for them.
    pub globals: Vec<GlobalValue>,
    /// The whole linear memory.
    pub memory: Vec<u8>,
}

impl Snapshot {
    /// Encode for storage.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.memory.len() + 64 + self.globals.len() * 9);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.module_hash);
        out.extend_from_slice(&(self.globals.len() as u32).to_le_bytes());
        for g in &self.globals {
            let (kind, bits) = match *g {
                GlobalValue::I32(v) => (0u8, v as u32 as u64),
                GlobalValue::I64(v) => (1, v as u64),
                GlobalValue::F32(v) => (2, u64::from(v)),
                GlobalValue::F64(v) => (3, v),
            };
            out.push(kind);
            out.extend_from_slice(&bits.to_le_bytes());
        }
        out.extend_from_slice(&(self.memory.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.memory);
        out
    }

    /// Decode what [`Snapshot::to_bytes`] wrote.
    pub fn from_bytes(data: &[u8]) -> Result<Snapshot, WasmError> {
        let mut r = Reader { data, at: 0 };
        if r.take(8)? != MAGIC {
            return Err(WasmError::Snapshot(
                "not an aocu snapshot (bad magic)".into(),
            ));
        }
        let mut module_hash = [0u8; 32];
        module_hash.copy_from_slice(r.take(32)?);
        let count = u32::from_le_bytes(r.array()?);
        let mut globals = Vec::with_capacity(count.min(4096) as usize);
        for _ in 0..count {
            let kind = r.take(1)?[0];
            let bits = u64::from_le_bytes(r.array()?);
            globals.push(match kind {
                0 => GlobalValue::I32(bits as u32 as i32),
                1 => GlobalValue::I64(bits as i64),
                2 => GlobalValue::F32(bits as u32),
                3 => GlobalValue::F64(bits),
                k => return Err(WasmError::Snapshot(format!("unknown global kind {k}"))),
            });
        }
        let len = u64::from_le_bytes(r.array()?);
        let len = usize::try_from(len)
            .map_err(|_| WasmError::Snapshot("memory length too large".into()))?;
        let memory = r.take(len)?.to_vec();
        if r.at != data.len() {
            return Err(WasmError::Snapshot(
                "trailing bytes after the memory".into(),
            ));
        }
        if memory.len() % 65_536 != 0 {
            return Err(WasmError::Snapshot(
                "memory length is not a whole number of 64 KiB pages".into(),
            ));
        }
        Ok(Snapshot {
            module_hash,
            globals,
            memory,
        })
    }
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WasmError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| WasmError::Snapshot("truncated".into()))?;
        let out = &self.data[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WasmError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let s = Snapshot {
            module_hash: [7; 32],
            globals: vec![
                GlobalValue::I32(-5),
                GlobalValue::I64(1 << 40),
                GlobalValue::F32(1.5f32.to_bits()),
                GlobalValue::F64(2.5f64.to_bits()),
            ],
            memory: (0..65_536u32).map(|i| (i * 31) as u8).collect(),
        };
        let bytes = s.to_bytes();
        assert_eq!(Snapshot::from_bytes(&bytes).unwrap(), s);
        assert!(Snapshot::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(Snapshot::from_bytes(b"garbage").is_err());
        let mut bad = bytes.clone();
        bad[8 + 32 + 4] = 9;
        assert!(Snapshot::from_bytes(&bad).is_err());
    }
}
