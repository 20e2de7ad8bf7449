//! ANS-104 tags in their Avro encoding: an Avro array of records `{name: bytes, value: bytes}`.
//!
//! Lengths and counts are Avro longs (zigzag, little-endian base-128 varints). An array is a
//! sequence of blocks, each a count followed by that many records, ended by a zero count; a
//! negative count is followed by the block's byte size (allowed on input, never written).
//! No tags at all is encoded as zero bytes, not as an empty array.

use crate::ao::Tag;

/// Most tag bytes an item may carry (arbundles' `MAX_TAG_BYTES`).
pub const MAX_TAG_BYTES: usize = 4096;

/// The tag bytes do not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tags: {0}")]
pub struct TagError(pub String);

/// Encode tags as ANS-104 does (empty list → empty bytes).
pub fn encode(tags: &[Tag]) -> Vec<u8> {
    let mut out = Vec::new();
    if tags.is_empty() {
        return out;
    }
    write_long(&mut out, tags.len() as i64);
    for tag in tags {
        write_bytes(&mut out, tag.name.as_bytes());
        write_bytes(&mut out, tag.value.as_bytes());
    }
    write_long(&mut out, 0);
    out
}

/// Decode tag bytes. Names and values that are not UTF-8 are decoded lossily, as the
/// reference implementation does; the raw bytes stay in the item for signature checks.
pub fn decode(bytes: &[u8]) -> Result<Vec<Tag>, TagError> {
    let mut tags = Vec::new();
    if bytes.is_empty() {
        return Ok(tags);
    }
    let mut reader = Reader { bytes, pos: 0 };
    loop {
        let count = reader.long()?;
        if count == 0 {
            break;
        }
        if count < 0 {
            // A negative block count carries the block's size in bytes, which we don't need.
            reader.long()?;
        }
        let count = count.unsigned_abs();
        if count > bytes.len() as u64 {
            return Err(TagError(format!(
                "block count {count} is larger than the tag bytes"
            )));
        }
        for _ in 0..count {
            let name = reader.bytes("name", tags.len())?;
            let value = reader.bytes("value", tags.len())?;
            tags.push(Tag {
                name: String::from_utf8_lossy(name).into_owned(),
                value: String::from_utf8_lossy(value).into_owned(),
            });
        }
    }
    if reader.pos != bytes.len() {
        return Err(TagError(format!(
            "{} trailing bytes after the end of the tag array",
            bytes.len() - reader.pos
        )));
    }
    Ok(tags)
}

fn write_long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    loop {
        let byte = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_long(out, bytes.len() as i64);
    out.extend_from_slice(bytes);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn long(&mut self) -> Result<i64, TagError> {
        let mut z: u64 = 0;
        let mut shift = 0u32;
        loop {
            let Some(&byte) = self.bytes.get(self.pos) else {
                return Err(TagError(format!(
                    "truncated Avro long at byte {}",
                    self.pos
                )));
            };
            self.pos += 1;
            if shift >= 64 {
                return Err(TagError(format!("Avro long too long at byte {}", self.pos)));
            }
            z |= u64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    fn bytes(&mut self, field: &str, index: usize) -> Result<&'a [u8], TagError> {
        let len = self.long()?;
        let start = self.pos;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| start.checked_add(len))
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| {
                TagError(format!(
                    "tag {index} {field}: length {len} runs past the end of the tag bytes"
                ))
            })?;
        self.pos = end;
        Ok(&self.bytes[start..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let tags = vec![
            Tag::new("Data-Protocol", "ao"),
            Tag::new("Unicode", "héllo ✓"),
            Tag::new("", ""),
        ];
        let bytes = encode(&tags);
        assert_eq!(decode(&bytes).unwrap(), tags);
        assert!(encode(&[]).is_empty());
        assert!(decode(&[]).unwrap().is_empty());
        // "Data-Protocol" is 13 bytes: zigzag 26 = 0x1a.
        assert_eq!(&bytes[..2], &[0x06, 0x1a]);
        let long = vec![Tag::new("n".repeat(200), "v")];
        assert_eq!(decode(&encode(&long)).unwrap(), long);
    }

    #[test]
    fn negative_block_counts_are_read() {
        // One block of -1 items with its byte size, then the end.
        let mut bytes = Vec::new();
        write_long(&mut bytes, -1);
        write_long(&mut bytes, 4);
        write_bytes(&mut bytes, b"a");
        write_bytes(&mut bytes, b"b");
        write_long(&mut bytes, 0);
        assert_eq!(decode(&bytes).unwrap(), vec![Tag::new("a", "b")]);
    }

    #[test]
    fn bad_encodings_are_refused() {
        let good = encode(&[Tag::new("name", "value")]);
        for cut in 1..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(decode(&trailing).is_err());
        assert!(decode(&[0xff; 12]).is_err());
        // A huge length must not allocate or panic.
        let mut huge = Vec::new();
        write_long(&mut huge, 1);
        write_long(&mut huge, i64::MAX);
        assert!(decode(&huge).is_err());
    }
}
