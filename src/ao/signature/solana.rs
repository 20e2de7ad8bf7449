//! Type 4, Solana: an ed25519 key (owner, 32 bytes) that signs the deep hash written as
//! lower-case hex text, 96 ASCII bytes (arbundles' `HexSolanaSigner` and
//! `HexInjectedSolanaSigner`, which sign and verify `Buffer.from(message).toString("hex")`:
//! Solana wallets sign text shown to the user).

use super::ed25519;

/// Whether `signature` by the key `owner` signs the hex text of `deep_hash`.
pub fn verify(owner: &[u8], deep_hash: &[u8], signature: &[u8]) -> bool {
    ed25519::verify(owner, hex::encode(deep_hash).as_bytes(), signature)
}

/// The type-4 signature of `deep_hash` by `key`.
pub fn sign(key: &ed25519::Key, deep_hash: &[u8]) -> [u8; ed25519::SIGNATURE_LEN] {
    key.sign(hex::encode(deep_hash).as_bytes())
}
