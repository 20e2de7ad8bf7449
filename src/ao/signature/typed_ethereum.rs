//! Type 7, typed Ethereum (EIP-712): the owner field is the signer's address as text (`0x` and
//! 40 hex digits, 42 bytes) and the signature `r ‖ s ‖ v` signs typed data (arbundles'
//! `TypedEthereumSigner`, ethers' `_signTypedData(domain, types, value)`) with
//! - domain `{name: "Bundlr", version: "1"}`, type `EIP712Domain(string name,string version)`;
//! - primary type `Bundlr(bytes Transaction hash,address address)`;
//! - value `{"Transaction hash": deepHash, address: the owner}`.
//!
//! The digest is `keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct(value))` (EIP-712).
//! Verification follows arbundles' `verifyTypedData`: recover the key from the digest and `v`
//! (ethers' `splitSignature`: 0 and 1 are taken as 27 and 28, any `v` ≥ 27 gives the recovery
//! bit `1 - v % 2`, 2..26 are refused; a high `s` recovers like its lower form), and compare
//! its address with the owner text without regard to case. As in ethers' `getAddress`, an
//! owner in mixed case must carry a correct EIP-55 checksum.

use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};

use super::ethereum::{Key, SIGNATURE_LEN, address_bytes, checksummed, keccak256};

/// Owner length: `0x` and 40 hex digits.
pub const OWNER_LEN: usize = 42;

const DOMAIN_TYPE: &[u8] = b"EIP712Domain(string name,string version)";
const BUNDLR_TYPE: &[u8] = b"Bundlr(bytes Transaction hash,address address)";

/// The EIP-712 digest that signs `deep_hash` for `address`.
pub fn digest(address: &[u8; 20], deep_hash: &[u8]) -> [u8; 32] {
    let domain = keccak256(&[
        &keccak256(&[DOMAIN_TYPE]),
        &keccak256(&[b"Bundlr"]),
        &keccak256(&[b"1"]),
    ]);
    let mut address_word = [0u8; 32];
    address_word[12..].copy_from_slice(address);
    let value = keccak256(&[
        &keccak256(&[BUNDLR_TYPE]),
        &keccak256(&[deep_hash]),
        &address_word,
    ]);
    keccak256(&[b"\x19\x01", &domain, &value])
}

/// The address an owner field names: `0x` and 40 hex digits, all of one case or checksummed.
pub fn parse_owner(owner: &[u8]) -> Option<[u8; 20]> {
    let text = std::str::from_utf8(owner).ok()?;
    let digits = text.strip_prefix("0x")?;
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let address: [u8; 20] = hex::decode(digits).ok()?.try_into().ok()?;
    let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
    let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
    if has_upper && has_lower && checksummed(&address) != text {
        return None;
    }
    Some(address)
}

/// The key that made `signature` over `digest`, read as ethers reads it.
fn recover(digest: &[u8; 32], signature: &[u8]) -> Option<VerifyingKey> {
    if signature.len() != SIGNATURE_LEN {
        return None;
    }
    let v = signature[64];
    let odd = match v {
        0 | 1 => v == 1,
        27.. => v.is_multiple_of(2),
        _ => return None,
    };
    let mut sig = Signature::from_slice(&signature[..64]).ok()?;
    let mut recovery = RecoveryId::new(odd, false);
    if let Some(low) = sig.normalize_s() {
        // (r, n - s) with the other parity names the same key; k256 recovers only the low form.
        sig = low;
        recovery = RecoveryId::new(!odd, false);
    }
    VerifyingKey::recover_from_prehash(digest, &sig, recovery).ok()
}

/// Whether `signature` by the address in `owner` signs `deep_hash` as arbundles'
/// `TypedEthereumSigner` does. `false` for malformed input.
pub fn verify(owner: &[u8], deep_hash: &[u8], signature: &[u8]) -> bool {
    let Some(address) = parse_owner(owner) else {
        return false;
    };
    recover(&digest(&address, deep_hash), signature)
        .is_some_and(|key| address_bytes(&key) == address)
}

/// The type-7 signature of `deep_hash` by `key`.
pub fn sign(key: &Key, deep_hash: &[u8]) -> [u8; SIGNATURE_LEN] {
    key.sign_digest(&digest(&key.address(), deep_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_the_owner_text() {
        let key = Key::generate();
        let deep_hash = [3u8; 48];
        let sig = sign(&key, &deep_hash);
        let lower = key.address_text();
        assert!(verify(lower.as_bytes(), &deep_hash, &sig));
        assert!(verify(
            lower.to_uppercase().replace("0X", "0x").as_bytes(),
            &deep_hash,
            &sig
        ));
        let checksum = checksummed(&key.address());
        assert!(verify(checksum.as_bytes(), &deep_hash, &sig));
        // v as a recovery ID, and the high form of s with the other parity.
        let mut v01 = sig;
        v01[64] -= 27;
        assert!(verify(lower.as_bytes(), &deep_hash, &v01));
        let mut bad_v = sig;
        bad_v[64] = 5;
        assert!(!verify(lower.as_bytes(), &deep_hash, &bad_v));
        let mut flipped_v = sig;
        flipped_v[64] = if sig[64] == 27 { 28 } else { 27 };
        assert!(!verify(lower.as_bytes(), &deep_hash, &flipped_v));
        let low = Signature::from_slice(&sig[..64]).unwrap();
        let (r, s) = low.split_scalars();
        let mut high = flipped_v;
        high[..64].copy_from_slice(&Signature::from_scalars(r, -*s).unwrap().to_bytes());
        assert!(verify(lower.as_bytes(), &deep_hash, &high));
        // Owners that are no address, or a wrong checksum.
        assert!(!verify(b"0x12", &deep_hash, &sig));
        assert!(!verify(
            lower.replace("0x", "0X").as_bytes(),
            &deep_hash,
            &sig
        ));
        let mut wrong_case: Vec<u8> = checksum.clone().into_bytes();
        let at = wrong_case
            .iter()
            .skip(2)
            .position(u8::is_ascii_alphabetic)
            .map(|p| p + 2);
        if let Some(at) = at {
            wrong_case[at] ^= 0x20;
            let mixed = std::str::from_utf8(&wrong_case).unwrap();
            if mixed.bytes().any(|b| b.is_ascii_uppercase())
                && mixed.bytes().skip(2).any(|b| b.is_ascii_lowercase())
            {
                assert!(!verify(&wrong_case, &deep_hash, &sig), "{mixed}");
            }
        }
        let other = Key::generate();
        assert!(!verify(other.address_text().as_bytes(), &deep_hash, &sig));
    }
}
