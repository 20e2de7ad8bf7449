//! ANS-104 bundles: `count (32, LE) ‖ (size (32, LE) ‖ raw id (32))* ‖ items`.
//!
//! AO's legacy SU stores each scheduled entry as a bundle of `[assignment, message]` (just the
//! assignment for an assignment of an existing message); aocu keeps the same binary per slot.

use super::item::{DataItem, ItemError};

/// A bundle does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bundle: {0}")]
pub struct BundleError(pub String);

/// Serialize signed items as a bundle.
pub fn encode(items: &[&DataItem]) -> Vec<u8> {
    let binaries: Vec<Vec<u8>> = items.iter().map(|i| i.to_bytes()).collect();
    let mut out =
        Vec::with_capacity(32 + 64 * items.len() + binaries.iter().map(Vec::len).sum::<usize>());
    out.extend_from_slice(&le32(items.len() as u64));
    for (item, bytes) in items.iter().zip(&binaries) {
        out.extend_from_slice(&le32(bytes.len() as u64));
        out.extend_from_slice(&item.raw_id());
    }
    for bytes in &binaries {
        out.extend_from_slice(bytes);
    }
    out
}

/// Parse a bundle into its items, checking each header ID against the item's signature.
pub fn decode(bytes: &[u8]) -> Result<Vec<DataItem>, BundleError> {
    decode_with_len(bytes).map(|(items, _)| items)
}

/// [`decode`], and how many bytes the bundle spans (bytes after it are not read).
pub fn decode_with_len(bytes: &[u8]) -> Result<(Vec<DataItem>, usize), BundleError> {
    let count = read_le32(bytes, 0).ok_or_else(|| BundleError("no item count".into()))?;
    let headers_end = count
        .checked_mul(64)
        .and_then(|h| h.checked_add(32))
        .filter(|&end| end <= bytes.len() as u64)
        .ok_or_else(|| BundleError(format!("{count} item headers do not fit")))?
        as usize;
    let mut items = Vec::new();
    let mut claimed = Vec::new();
    let mut offset = headers_end;
    for i in 0..count as usize {
        let header = 32 + 64 * i;
        let size = read_le32(bytes, header)
            .and_then(|s| usize::try_from(s).ok())
            .ok_or_else(|| BundleError(format!("item {i}: bad size")))?;
        let end = offset
            .checked_add(size)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| BundleError(format!("item {i}: {size} bytes run past the end")))?;
        let item = DataItem::parse(&bytes[offset..end])
            .map_err(|e: ItemError| BundleError(format!("item {i}: {e}")))?;
        let mut id = [0u8; 32];
        id.copy_from_slice(&bytes[header + 32..header + 64]);
        claimed.push(id);
        items.push(item);
        offset = end;
    }
    // Every header ID against SHA-256 of its item's signature, in one batch.
    let signatures: Vec<&[u8]> = items.iter().map(|i| &i.signature[..]).collect();
    let verdicts = crate::hash::shared()
        .verify_or_cpu(crate::hash::Algorithm::Sha256, &signatures, &claimed)
        .ok_or_else(|| BundleError("one header ID per item".into()))?;
    if let Some(i) = verdicts.iter().position(|ok| !ok) {
        return Err(BundleError(format!(
            "item {i}: header ID does not match the item"
        )));
    }
    Ok((items, offset))
}

/// [`decode`], then every item's signature in one batch of the node's verifier; the first
/// item that fails is named.
pub fn decode_verified(bytes: &[u8]) -> Result<Vec<DataItem>, BundleError> {
    let items = decode(bytes)?;
    let refs: Vec<&DataItem> = items.iter().collect();
    let verdicts = DataItem::verify_batch(&refs);
    if let Some((i, Err(e))) = verdicts.iter().enumerate().find(|(_, v)| v.is_err()) {
        return Err(BundleError(format!("item {i} ({}): {e}", items[i].id())));
    }
    Ok(items)
}

fn le32(n: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..8].copy_from_slice(&n.to_le_bytes());
    out
}

fn read_le32(bytes: &[u8], at: usize) -> Option<u64> {
    let field = bytes.get(at..at.checked_add(32)?)?;
    if field[8..].iter().any(|&b| b != 0) {
        return None;
    }
    let mut le = [0u8; 8];
    le.copy_from_slice(&field[..8]);
    Some(u64::from_le_bytes(le))
}
