//! A core module split into its sections, uninterpreted: the translator rebuilds some and copies
//! the others byte for byte.

use wasmparser::BinaryReader;

use super::error::{LegacyEhError, Result};

/// Section ids (the binary format's numbering).
pub(super) const TYPE_SECTION: u8 = 1;
pub(super) const IMPORT_SECTION: u8 = 2;
pub(super) const FUNCTION_SECTION: u8 = 3;
pub(super) const TAG_SECTION: u8 = 13;
pub(super) const CODE_SECTION: u8 = 10;

/// One section of the input: its id, where it starts (header included) and its contents.
pub(super) struct Section<'a> {
    /// The section id (`TYPE_SECTION`, `CODE_SECTION`, ...).
    pub id: u8,
    /// Byte range of the whole section (id, size and contents) in the input.
    pub whole: std::ops::Range<usize>,
    /// The section's contents, after its id and size.
    pub contents: &'a [u8],
    /// Offset of `contents` in the input, for error messages.
    pub contents_offset: usize,
}

impl<'a> Section<'a> {
    /// A reader over the contents that reports offsets in the input.
    pub fn reader(&self) -> BinaryReader<'a> {
        BinaryReader::new(self.contents, self.contents_offset)
    }
}

/// Splits a core module into its sections without interpreting them.
pub(super) fn sections(wasm: &[u8]) -> Result<Vec<Section<'_>>> {
    const HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    if wasm.len() < HEADER.len() || wasm[..HEADER.len()] != HEADER {
        return Err(LegacyEhError::Invalid {
            offset: 0,
            message: "not a core WebAssembly module (bad magic number or version)".into(),
        });
    }
    let mut reader = BinaryReader::new(&wasm[HEADER.len()..], HEADER.len());
    let mut out = Vec::new();
    while !reader.eof() {
        let start = reader.original_position();
        let id = reader.read_u8()?;
        let size = reader.read_var_u32()? as usize;
        let contents_offset = reader.original_position();
        let contents = reader.read_bytes(size)?;
        out.push(Section {
            id,
            whole: start..contents_offset + size,
            contents,
            contents_offset,
        });
    }
    Ok(out)
}
