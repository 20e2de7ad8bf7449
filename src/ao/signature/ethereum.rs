//! Type 3, Ethereum: a secp256k1 key whose owner field is the 65-byte uncompressed public key,
//! signing the deep hash as an EIP-191 `personal_sign` message (arbundles' `EthereumSigner`:
//! ethers' `Wallet.signMessage(deepHash)`, so the digest is
//! `keccak256("\x19Ethereum Signed Message:\n48" ‖ deepHash)`), with the signature
//! `r ‖ s ‖ v` (65 bytes).
//!
//! Verification follows arbundles' `EthereumSigner.verify`: `secp256k1.ecdsaVerify` of `r ‖ s`
//! against the owner key, so `v` is not read and a high `s` is refused (libsecp256k1 accepts
//! only the lower form, and so does `k256`). The key may be written as `0x04 ‖ x ‖ y` or in
//! the hybrid form `0x06`/`0x07`, which libsecp256k1 also parses.
//!
//! The address is `0x` and the last 20 bytes of `keccak256(x ‖ y)`, checksummed by EIP-55
//! (AO's CU: `keyToEthereumAddress`, which hashes the owner without its first byte).

use k256::ecdsa::signature::hazmat::PrehashVerifier as _;
use k256::ecdsa::{Signature, SigningKey, VerifyingKey};
use sha3::{Digest as _, Keccak256};

/// Owner length: an uncompressed SEC1 point.
pub const OWNER_LEN: usize = 65;
/// Signature length: `r ‖ s ‖ v`.
pub const SIGNATURE_LEN: usize = 65;

/// Keccak-256 of the concatenation of `parts`.
pub fn keccak256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The EIP-191 digest of a `personal_sign` message (ethers' `hashMessage` of bytes).
pub fn personal_message_digest(message: &[u8]) -> [u8; 32] {
    keccak256(&[
        b"\x19Ethereum Signed Message:\n",
        message.len().to_string().as_bytes(),
        message,
    ])
}

/// The key of a 65-byte owner, or `None` when it is not a point of the curve.
pub fn verifying_key(owner: &[u8]) -> Option<VerifyingKey> {
    let mut sec1 = <[u8; OWNER_LEN]>::try_from(owner).ok()?;
    match sec1[0] {
        4 => {}
        // Hybrid form: the tag repeats the parity of y.
        6 | 7 if sec1[0] & 1 == sec1[64] & 1 => sec1[0] = 4,
        _ => return None,
    }
    VerifyingKey::from_sec1_bytes(&sec1).ok()
}

/// Whether `signature` (`r ‖ s ‖ v`) by the key `owner` signs `deep_hash` as arbundles'
/// `EthereumSigner` does. `false` for malformed input.
pub fn verify(owner: &[u8], deep_hash: &[u8], signature: &[u8]) -> bool {
    let Some(key) = verifying_key(owner) else {
        return false;
    };
    if signature.len() != SIGNATURE_LEN {
        return false;
    }
    let Ok(sig) = Signature::from_slice(&signature[..64]) else {
        return false;
    };
    key.verify_prehash(&personal_message_digest(deep_hash), &sig)
        .is_ok()
}

/// The 20-byte address of a key: the last 20 bytes of `keccak256(x ‖ y)`.
pub fn address_bytes(key: &VerifyingKey) -> [u8; 20] {
    let point = key.to_encoded_point(false);
    last_20(&keccak256(&[&point.as_bytes()[1..]]))
}

fn last_20(hash: &[u8; 32]) -> [u8; 20] {
    let mut out = [0u8; 20];
    out.copy_from_slice(&hash[12..]);
    out
}

/// The EIP-55 checksummed text of an address: a hex letter is upper-case where the matching
/// nibble of `keccak256(lower-case hex)` is 8 or more.
pub fn checksummed(address: &[u8; 20]) -> String {
    let lower = hex::encode(address);
    let hash = keccak256(&[lower.as_bytes()]);
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
        out.push(if nibble >= 8 {
            c.to_ascii_uppercase()
        } else {
            c
        });
    }
    out
}

/// The EIP-55 address AO's CU gives a 65-byte owner, computed as it does (the first byte is
/// dropped, the rest hashed, whether or not it is a point of the curve); `None` for another
/// length.
pub fn address_of_key(owner: &[u8]) -> Option<String> {
    if owner.len() != OWNER_LEN {
        return None;
    }
    Some(checksummed(&last_20(&keccak256(&[&owner[1..]]))))
}

/// A secp256k1 signing key (types 3 and 7).
#[derive(Clone)]
pub struct Key(SigningKey);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret scalar.
        f.debug_tuple("ethereum::Key")
            .field(&self.address_text())
            .finish()
    }
}

impl Key {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Key {
        Key(SigningKey::random(&mut rsa::rand_core::OsRng))
    }

    /// The key of a 32-byte secret scalar; `None` when it is zero or not below the order.
    pub fn from_secret(secret: &[u8; 32]) -> Option<Key> {
        SigningKey::from_slice(secret).ok().map(Key)
    }

    /// The uncompressed public key, `0x04 ‖ x ‖ y` (the type 3 owner).
    pub fn public_uncompressed(&self) -> [u8; OWNER_LEN] {
        let point = self.0.verifying_key().to_encoded_point(false);
        let mut out = [0u8; OWNER_LEN];
        out.copy_from_slice(point.as_bytes());
        out
    }

    /// The 20-byte address.
    pub fn address(&self) -> [u8; 20] {
        address_bytes(self.0.verifying_key())
    }

    /// The address as arbundles' `TypedEthereumSigner` writes it in the owner field: `0x` and
    /// lower-case hex (42 characters).
    pub fn address_text(&self) -> String {
        format!("0x{}", hex::encode(self.address()))
    }

    /// `r ‖ s ‖ v` over a 32-byte digest, with `s` in its lower form and `v` = 27 + the
    /// recovery ID, as ethers signs.
    pub fn sign_digest(&self, digest: &[u8; 32]) -> [u8; SIGNATURE_LEN] {
        let mut out = [0u8; SIGNATURE_LEN];
        // Signing a 32-byte prehash with a valid key cannot fail; the zero signature that a
        // failure would leave never verifies.
        if let Ok((sig, recovery)) = self.0.sign_prehash_recoverable(digest) {
            out[..64].copy_from_slice(&sig.to_bytes());
            out[64] = 27 + recovery.to_byte();
        }
        out
    }
}

/// The type-3 signature of `deep_hash` by `key`.
pub fn sign(key: &Key, deep_hash: &[u8]) -> [u8; SIGNATURE_LEN] {
    key.sign_digest(&personal_message_digest(deep_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_and_addresses() {
        // The key whose secret is 1 is the generator: its address is well known.
        let one = Key::from_secret(&{
            let mut s = [0u8; 32];
            s[31] = 1;
            s
        })
        .unwrap();
        assert_eq!(
            checksummed(&one.address()),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
        );
        // EIP-55's own examples.
        for text in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let bytes: [u8; 20] = hex::decode(&text[2..]).unwrap().try_into().unwrap();
            assert_eq!(checksummed(&bytes), text);
        }
        // AO's CU test vectors (servers/cu/src/domain/utils.test.js, `addressFrom`).
        for (key, address) in [
            (
                "BEZGrlBHMWtCMNAIbIrOxofwCxzZ0dxjT2yzWKwKmo___ne03QpL-5WFHztzVceB3WD4QY_Ipl0UkHr_R8kDpVk",
                "0xFCAd0B19bB29D4674531d6f115237E16AfCE377c",
            ),
            (
                "BOaKz8AlOhBiDf9wawobHx9YM-o76zveIlDV8nHzVjYGZy68ReC36i6BbstwygMTexyUdu7GPUYy6ZACC3tvujk",
                "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1",
            ),
        ] {
            let owner = crate::ao::b64url_decode(key).unwrap();
            assert_eq!(address_of_key(&owner).as_deref(), Some(address));
            let vk = verifying_key(&owner).unwrap();
            assert_eq!(checksummed(&address_bytes(&vk)), address);
        }
        assert_eq!(address_of_key(&[4; 64]), None);
    }

    #[test]
    fn sign_verify_and_refusals() {
        let key = Key::generate();
        let owner = key.public_uncompressed();
        let deep_hash = [9u8; 48];
        let sig = sign(&key, &deep_hash);
        assert!(verify(&owner, &deep_hash, &sig));
        // v is not read.
        let mut other_v = sig;
        other_v[64] = 0;
        assert!(verify(&owner, &deep_hash, &other_v));
        // The high form of s is refused (as libsecp256k1's ecdsaVerify refuses it).
        let low = Signature::from_slice(&sig[..64]).unwrap();
        let (r, s) = low.split_scalars();
        let high = Signature::from_scalars(r, -*s).unwrap();
        let mut high_sig = sig;
        high_sig[..64].copy_from_slice(&high.to_bytes());
        assert!(!verify(&owner, &deep_hash, &high_sig));
        // The hybrid form of the same key verifies; a wrong hybrid tag does not.
        let mut hybrid = owner;
        hybrid[0] = 6 | (owner[64] & 1);
        assert!(verify(&hybrid, &deep_hash, &sig));
        hybrid[0] ^= 1;
        assert!(!verify(&hybrid, &deep_hash, &sig));
        assert!(!verify(&owner[..64], &deep_hash, &sig));
        assert!(!verify(&owner, &deep_hash, &sig[..64]));
        assert!(!verify(&[0; 65], &deep_hash, &sig));
        assert!(!format!("{key:?}").contains(&hex::encode(key.0.to_bytes())));
    }
}
