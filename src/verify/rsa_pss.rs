//! RSASSA-PSS-SHA256 with exponent 65537, split in three so that the engines share everything
//! but the arithmetic: [`prepare`] checks lengths and ranges as the reference does and readies
//! the modulus (cached: an SU signs every assignment with one key), an engine computes
//! `s^65537 mod n`, and [`finish`] decodes the padding ([`super::pss`]).
//!
//! The checks before the arithmetic are those of the `rsa` crate's verifier, which aocu used
//! one signature at a time before: the modulus has at least `8·(32 + 2)` bits, the signature
//! is exactly as long as the modulus (leading zero bytes of the modulus dropped), and below it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rsa::BigUint;

use super::Failure;
use super::pss::{self, H_LEN};
use super::rsa::{Limbs, Modulus, limbs};

/// The exponent of every Arweave key.
pub const EXPONENT: u32 = 65_537;

/// A signature ready for the public operation.
#[derive(Debug, Clone)]
pub struct Pending {
    /// How `s^65537 mod n` is computed.
    pub operands: Operands,
    /// `modBits − 1`.
    em_bits: usize,
    /// SHA-256 of the signed message.
    digest: [u8; H_LEN],
}

/// The operands of the public operation.
#[derive(Debug, Clone)]
pub enum Operands {
    /// An odd modulus of at most 4096 bits: the Montgomery engines (CPU lanes, GPU).
    Montgomery {
        /// The prepared modulus.
        modulus: Arc<Modulus>,
        /// The signature.
        s: Box<Limbs>,
    },
    /// Anything else a key can hold (an even modulus): arbitrary precision on the CPU, as the
    /// reference computes it. No honest key lands here.
    General {
        /// The modulus.
        n: BigUint,
        /// The signature.
        s: BigUint,
    },
}

/// Checks what can be checked before the arithmetic and readies the operands.
pub fn prepare(modulus: &[u8], digest: &[u8; H_LEN], signature: &[u8]) -> Result<Pending, Failure> {
    let n_bytes = strip_zeros(modulus);
    let mod_bits = match n_bytes.first() {
        Some(&top) => 8 * n_bytes.len() - top.leading_zeros() as usize,
        None => 0,
    };
    if mod_bits < 8 * (H_LEN + 2) {
        return Err(Failure::ModulusTooSmall { bits: mod_bits });
    }
    if signature.len() != n_bytes.len() {
        return Err(Failure::SignatureLength {
            found: signature.len(),
            expected: n_bytes.len(),
        });
    }
    // Equal lengths, both big-endian: byte order is numeric order.
    if signature >= n_bytes {
        return Err(Failure::SignatureNotBelowModulus);
    }
    let operands = match cached_modulus(n_bytes) {
        Some(modulus) => Operands::Montgomery {
            s: Box::new(limbs::from_be(signature).ok_or(Failure::SignatureNotBelowModulus)?),
            modulus,
        },
        None => Operands::General {
            n: BigUint::from_bytes_be(n_bytes),
            s: BigUint::from_bytes_be(signature),
        },
    };
    Ok(Pending {
        operands,
        em_bits: mod_bits - 1,
        digest: *digest,
    })
}

/// `s^65537 mod n` for operands the Montgomery engines do not take, as 512 or more bytes.
pub fn general_op(n: &BigUint, s: &BigUint) -> Vec<u8> {
    s.modpow(&BigUint::from(EXPONENT), n).to_bytes_be()
}

/// The verdict, from the public operation's result `m` (big-endian, any length).
pub fn finish(pending: &Pending, m: &[u8]) -> Result<(), Failure> {
    let em_len = pending.em_bits.div_ceil(8);
    let m = strip_zeros(m);
    if m.len() > em_len {
        return Err(Failure::Padding("the encoded message is longer than emLen"));
    }
    let mut em = vec![0u8; em_len];
    em[em_len - m.len()..].copy_from_slice(m);
    pss::check(&pending.digest, &mut em, pending.em_bits)
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Prepared moduli by their bytes. Bounded: when full it starts again (keys that matter, the
/// SU's and a busy process' signers, come back at once).
const CACHE_ENTRIES: usize = 1024;

type Cache = Mutex<HashMap<Box<[u8]>, Arc<Modulus>>>;

fn cached_modulus(n: &[u8]) -> Option<Arc<Modulus>> {
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Cache::default);
    if let Some(m) = cache.lock().ok()?.get(n) {
        return Some(Arc::clone(m));
    }
    // Prepared outside the lock: a division of 8216 bits by the modulus.
    let m = Arc::new(Modulus::new(n)?);
    if let Ok(mut cache) = cache.lock() {
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(n.into(), Arc::clone(&m));
    }
    Some(m)
}
