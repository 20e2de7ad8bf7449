//! ANS-104 signature types: what each signer signs, how it is verified, and the owner address
//! AO gives it. One file per scheme; this module dispatches on the type and is reached only
//! through [`crate::ao::DataItem::verify`] and [`crate::ao::DataItem::signed_by`].
//!
//! Every scheme signs the item's deep hash (48 bytes); what differs is the message built from it
//! (read from arbundles 0.11.2, `src/signing/chains/*` and `src/signing/keys/*`, whose
//! `indexToType` maps the wire numbers to verifiers):
//!
//! | type | arbundles class | owner | signature | signed message |
//! | --- | --- | --- | --- | --- |
//! | 1 | `ArweaveSigner` (`Rsa4096Pss`) | RSA modulus, 512 | RSA-PSS, 512 | the deep hash |
//! | 2 | `Curve25519` (`SolanaSigner`) | ed25519 key, 32 | ed25519, 64 | the deep hash |
//! | 3 | `EthereumSigner` | uncompressed secp256k1 key, 65 | `r ‖ s ‖ v`, 65 | EIP-191 `personal_sign` of the deep hash |
//! | 4 | `HexInjectedSolanaSigner` | ed25519 key, 32 | ed25519, 64 | the deep hash as lower-case hex text |
//! | 7 | `TypedEthereumSigner` | `0x` address text, 42 | `r ‖ s ‖ v`, 65 | EIP-712 `Bundlr` typed data |
//!
//! Types 5 (injected Aptos) and 6 (multi-signature Aptos) parse but are refused by name.
//!
//! The owner **address** follows AO's two rules:
//! - the SU and the gateway write `base64url(SHA-256(owner))` for every type (permaweb/ao
//!   `servers/su/src/domain/core/json.rs`, `owner.address`; HyperBEAM `ar_bundles:signer/1` is
//!   `sha256(Owner)` too): [`DataItem::owner_address`](crate::ao::DataItem::owner_address);
//! - the CU, which builds the `Owner` and `From` a process sees, replaces a 65-byte key (type 3)
//!   by its EIP-55 checksummed Ethereum address and keeps the SU's address for every other key
//!   (permaweb/ao `servers/cu/src/domain/utils.js`, `addressFrom` and `keyToEthereumAddress`;
//!   used by `effects/ao-su.js` for `Owner`/`From` and by `loadProcessMeta.js` for the process
//!   owner): [`ao_address`], [`DataItem::ao_address`](crate::ao::DataItem::ao_address). A type 7
//!   owner (42 bytes of address text) therefore gets `base64url(SHA-256(text))`, as AO does.

pub mod arweave;
mod batch;
pub mod ed25519;
pub mod ethereum;
pub mod solana;
pub mod typed_ethereum;

pub use batch::{Signed, verify_batch};

use super::deephash::Hash384;
use super::wallet::{Wallet, address_of};

/// Signature types of ANS-104 (the first two bytes of an item).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureType {
    /// 1: Arweave RSA-PSS-4096.
    Arweave,
    /// 2: ed25519 over the deep hash.
    Ed25519,
    /// 3: Ethereum secp256k1, EIP-191 message.
    Ethereum,
    /// 4: Solana ed25519 over the hex text of the deep hash.
    Solana,
    /// 5: injected Aptos ed25519 (not verified).
    InjectedAptos,
    /// 6: multi-signature Aptos (not verified).
    MultiAptos,
    /// 7: typed Ethereum (EIP-712).
    TypedEthereum,
}

/// The types this node verifies and signs.
pub const VERIFIED: [SignatureType; 5] = [
    SignatureType::Arweave,
    SignatureType::Ed25519,
    SignatureType::Ethereum,
    SignatureType::Solana,
    SignatureType::TypedEthereum,
];

impl SignatureType {
    /// The type with wire number `n`.
    pub fn from_u16(n: u16) -> Option<SignatureType> {
        Some(match n {
            1 => SignatureType::Arweave,
            2 => SignatureType::Ed25519,
            3 => SignatureType::Ethereum,
            4 => SignatureType::Solana,
            5 => SignatureType::InjectedAptos,
            6 => SignatureType::MultiAptos,
            7 => SignatureType::TypedEthereum,
            _ => return None,
        })
    }

    /// Wire number.
    pub fn as_u16(self) -> u16 {
        match self {
            SignatureType::Arweave => 1,
            SignatureType::Ed25519 => 2,
            SignatureType::Ethereum => 3,
            SignatureType::Solana => 4,
            SignatureType::InjectedAptos => 5,
            SignatureType::MultiAptos => 6,
            SignatureType::TypedEthereum => 7,
        }
    }

    /// (signature length, owner length) in bytes (arbundles' `SIG_CONFIG`).
    pub fn lengths(self) -> (usize, usize) {
        match self {
            SignatureType::Arweave => (512, 512),
            SignatureType::Ed25519 | SignatureType::Solana | SignatureType::InjectedAptos => {
                (64, 32)
            }
            SignatureType::Ethereum => (65, 65),
            SignatureType::MultiAptos => (64 * 32 + 4, 32 * 32 + 1),
            SignatureType::TypedEthereum => (65, 42),
        }
    }

    /// Name as arbundles spells it.
    pub fn name(self) -> &'static str {
        match self {
            SignatureType::Arweave => "arweave",
            SignatureType::Ed25519 => "ed25519",
            SignatureType::Ethereum => "ethereum",
            SignatureType::Solana => "solana",
            SignatureType::InjectedAptos => "injectedAptos",
            SignatureType::MultiAptos => "multiAptos",
            SignatureType::TypedEthereum => "typedEthereum",
        }
    }

    /// Whether this node verifies (and signs) the type.
    pub fn is_verified(self) -> bool {
        VERIFIED.contains(&self)
    }

    /// The verified types whose owner and signature have these lengths: a page of an SU says
    /// the owner key and the signature but not the type, and types 2 and 4 share both lengths
    /// (the deep hash names the type, so at most one of them verifies).
    pub fn candidates(signature_len: usize, owner_len: usize) -> Vec<SignatureType> {
        VERIFIED
            .into_iter()
            .filter(|t| t.lengths() == (signature_len, owner_len))
            .collect()
    }
}

/// The verified types as `1 (arweave), 2 (ed25519), …`, for error messages.
pub fn verified_list() -> String {
    VERIFIED
        .iter()
        .map(|t| format!("{} ({})", t.as_u16(), t.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `signature` by `owner` signs `deep_hash` under `signature_type`; `None` for a type
/// this node does not verify. Malformed keys and signatures are `Some(false)`.
pub fn verify(
    signature_type: SignatureType,
    owner: &[u8],
    deep_hash: &Hash384,
    signature: &[u8],
) -> Option<bool> {
    Some(match signature_type {
        SignatureType::Arweave => arweave::verify(owner, deep_hash, signature),
        SignatureType::Ed25519 => ed25519::verify(owner, deep_hash, signature),
        SignatureType::Ethereum => ethereum::verify(owner, deep_hash, signature),
        SignatureType::Solana => solana::verify(owner, deep_hash, signature),
        SignatureType::TypedEthereum => typed_ethereum::verify(owner, deep_hash, signature),
        SignatureType::InjectedAptos | SignatureType::MultiAptos => return None,
    })
}

/// The address AO's CU gives an owner (`addressFrom`): the EIP-55 Ethereum address of a
/// 65-byte secp256k1 key, else `base64url(SHA-256(owner))`.
pub fn ao_address(owner: &[u8]) -> String {
    ethereum::address_of_key(owner).unwrap_or_else(|| address_of(owner))
}

/// A key that signs data items, of any verified type.
#[derive(Debug, Clone)]
pub enum Signer {
    /// Type 1.
    Arweave(Wallet),
    /// Type 2.
    Ed25519(ed25519::Key),
    /// Type 3.
    Ethereum(ethereum::Key),
    /// Type 4.
    Solana(ed25519::Key),
    /// Type 7.
    TypedEthereum(ethereum::Key),
}

/// Signing failed (only RSA can fail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing with a {name} key failed: {message}")]
pub struct SignError {
    /// The type's name.
    pub name: &'static str,
    /// What failed.
    pub message: String,
}

impl Signer {
    /// A fresh key of `signature_type` (RSA-4096 takes a few seconds); `None` for a type this
    /// node does not sign.
    pub fn generate(signature_type: SignatureType) -> Result<Option<Signer>, SignError> {
        Ok(Some(match signature_type {
            SignatureType::Arweave => {
                Signer::Arweave(Wallet::generate().map_err(|e| SignError {
                    name: "arweave",
                    message: e.to_string(),
                })?)
            }
            SignatureType::Ed25519 => Signer::Ed25519(ed25519::Key::generate()),
            SignatureType::Ethereum => Signer::Ethereum(ethereum::Key::generate()),
            SignatureType::Solana => Signer::Solana(ed25519::Key::generate()),
            SignatureType::TypedEthereum => Signer::TypedEthereum(ethereum::Key::generate()),
            SignatureType::InjectedAptos | SignatureType::MultiAptos => return Ok(None),
        }))
    }

    /// The signature type it makes.
    pub fn signature_type(&self) -> SignatureType {
        match self {
            Signer::Arweave(_) => SignatureType::Arweave,
            Signer::Ed25519(_) => SignatureType::Ed25519,
            Signer::Ethereum(_) => SignatureType::Ethereum,
            Signer::Solana(_) => SignatureType::Solana,
            Signer::TypedEthereum(_) => SignatureType::TypedEthereum,
        }
    }

    /// The owner field of the items it signs.
    pub fn owner(&self) -> Vec<u8> {
        match self {
            Signer::Arweave(w) => w.owner().to_vec(),
            Signer::Ed25519(k) | Signer::Solana(k) => k.public().to_vec(),
            Signer::Ethereum(k) => k.public_uncompressed().to_vec(),
            Signer::TypedEthereum(k) => k.address_text().into_bytes(),
        }
    }

    /// The signature of an item whose deep hash is `deep_hash`.
    pub fn sign(&self, deep_hash: &Hash384) -> Result<Vec<u8>, SignError> {
        Ok(match self {
            Signer::Arweave(w) => w.sign(deep_hash).map_err(|e| SignError {
                name: "arweave",
                message: e.to_string(),
            })?,
            Signer::Ed25519(k) => k.sign(deep_hash).to_vec(),
            Signer::Solana(k) => solana::sign(k, deep_hash).to_vec(),
            Signer::Ethereum(k) => ethereum::sign(k, deep_hash).to_vec(),
            Signer::TypedEthereum(k) => typed_ethereum::sign(k, deep_hash).to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_by_length() {
        assert_eq!(
            SignatureType::candidates(512, 512),
            [SignatureType::Arweave]
        );
        assert_eq!(
            SignatureType::candidates(64, 32),
            [SignatureType::Ed25519, SignatureType::Solana]
        );
        assert_eq!(SignatureType::candidates(65, 65), [SignatureType::Ethereum]);
        assert_eq!(
            SignatureType::candidates(65, 42),
            [SignatureType::TypedEthereum]
        );
        assert!(SignatureType::candidates(64 * 32 + 4, 32 * 32 + 1).is_empty());
        assert_eq!(
            verified_list(),
            "1 (arweave), 2 (ed25519), 3 (ethereum), 4 (solana), 7 (typedEthereum)"
        );
    }

    #[test]
    fn every_verified_type_signs_and_verifies() {
        let deep_hash = [42u8; 48];
        for t in VERIFIED {
            if t == SignatureType::Arweave {
                continue; // RSA-4096 generation is slow; item.rs tests cover type 1.
            }
            let signer = Signer::generate(t).unwrap().unwrap();
            assert_eq!(signer.signature_type(), t);
            let owner = signer.owner();
            let sig = signer.sign(&deep_hash).unwrap();
            assert_eq!((sig.len(), owner.len()), t.lengths(), "{t:?}");
            assert_eq!(verify(t, &owner, &deep_hash, &sig), Some(true), "{t:?}");
            let mut other = deep_hash;
            other[0] ^= 1;
            assert_eq!(verify(t, &owner, &other, &sig), Some(false), "{t:?}");
            // The same key and signature under the other ed25519 message form fail.
            for u in VERIFIED {
                if u != t && u.lengths() == t.lengths() {
                    assert_eq!(verify(u, &owner, &deep_hash, &sig), Some(false));
                }
            }
        }
        assert!(
            Signer::generate(SignatureType::MultiAptos)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            verify(SignatureType::InjectedAptos, &[0; 32], &deep_hash, &[0; 64]),
            None
        );
    }
}
