//! The RSA public operation `s^65537 mod n` for many signatures at once, on the CPU: one
//! algorithm (Montgomery multiplication in radix `2^52`, `portable.rs`) in two backends, the
//! portable one and AVX-512 IFMA lanes (eight signatures per vector), chosen at run time as
//! the BLAKE3 lanes are, and spread over every core with rayon.
//!
//! Each backend returns the same number, `s^65537 mod n`, which is unique: the tests hold them
//! to `rsa::BigUint::modpow` (what the `rsa` crate computes) on random and edge inputs.

#[cfg(target_arch = "x86_64")]
mod ifma;
pub mod limbs;
mod portable;

use std::sync::OnceLock;

use rayon::prelude::*;
use serde::Serialize;

pub use limbs::{Limbs, Modulus};

/// Which CPU code runs the exponentiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// One signature at a time, 64-bit integer arithmetic.
    Portable,
    /// Eight signatures per AVX-512 IFMA vector.
    Ifma,
}

impl Backend {
    /// The backend the engine uses (chosen once): the best this CPU runs, unless
    /// `AOCU_RSA_BACKEND` names another it runs (`portable`, `avx512-ifma`), to compare them.
    pub fn detect() -> Backend {
        static CHOSEN: OnceLock<Backend> = OnceLock::new();
        *CHOSEN.get_or_init(|| {
            let best = Backend::best();
            match std::env::var("AOCU_RSA_BACKEND").as_deref() {
                Ok("portable") => Backend::Portable,
                Ok(name) if name == best.name() => best,
                Ok(other) => {
                    tracing::warn!(
                        asked = other,
                        using = best.name(),
                        "AOCU_RSA_BACKEND not available here"
                    );
                    best
                }
                Err(_) => best,
            }
        })
    }

    /// The best backend this CPU runs.
    fn best() -> Backend {
        #[cfg(target_arch = "x86_64")]
        if ifma::available() {
            return Backend::Ifma;
        }
        Backend::Portable
    }

    /// Every backend this CPU runs, the portable one first (for tests and benches).
    pub fn all() -> Vec<Backend> {
        let mut all = vec![Backend::Portable];
        if Backend::best() == Backend::Ifma {
            all.push(Backend::Ifma);
        }
        all
    }

    /// The name reports and benches use.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Portable => "portable",
            Backend::Ifma => "avx512-ifma",
        }
    }
}

/// One public operation: the signature as a number below the modulus.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The signature, `s < n`.
    pub s: &'a Limbs,
    /// The prepared modulus.
    pub modulus: &'a Modulus,
}

/// `s^65537 mod n` for every input, on the best backend and every core of rayon's pool.
pub fn public_ops(inputs: &[Input<'_>]) -> Vec<Limbs> {
    public_ops_on(Backend::detect(), inputs)
}

/// [`public_ops`] on a chosen backend (the portable one when `backend` is not available).
pub fn public_ops_on(backend: Backend, inputs: &[Input<'_>]) -> Vec<Limbs> {
    inputs
        .par_chunks(8)
        .flat_map_iter(|chunk| chunk_ops(backend, chunk))
        .collect()
}

/// `s^65537 mod n` for up to eight inputs.
fn chunk_ops(backend: Backend, chunk: &[Input<'_>]) -> Vec<Limbs> {
    #[cfg(target_arch = "x86_64")]
    if backend == Backend::Ifma && !chunk.is_empty() {
        // Unused lanes repeat the first input; their results are dropped. Even one signature
        // is faster in a vector than on the portable backend (measured: `benches/verify.rs`).
        let lanes = std::array::from_fn(|i| {
            let input = chunk.get(i).unwrap_or(&chunk[0]);
            (input.s, input.modulus)
        });
        if let Some(out) = ifma::pow65537(lanes) {
            return out
                .iter()
                .zip(chunk)
                .map(|(x, input)| canonical(x, input.modulus))
                .collect();
        }
    }
    let _ = backend;
    chunk
        .iter()
        .map(|input| canonical(&portable::pow65537(input.s, input.modulus), input.modulus))
        .collect()
}

/// The result of a backend (at most `n`) reduced below `n`.
fn canonical(x: &Limbs, m: &Modulus) -> Limbs {
    if limbs::ge(x, &m.n) {
        limbs::sub(x, &m.n)
    } else {
        *x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::BigUint;

    fn reference(s: &[u8], n: &[u8]) -> [u8; 512] {
        let r = BigUint::from_bytes_be(s)
            .modpow(&BigUint::from(65_537u32), &BigUint::from_bytes_be(n))
            .to_bytes_be();
        let mut out = [0u8; 512];
        out[512 - r.len()..].copy_from_slice(&r);
        out
    }

    /// A deterministic byte stream (the integration tests use fresh random inputs).
    fn bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn every_backend_matches_biguint_modpow() {
        let mut moduli = Vec::new();
        for seed in 0..11u64 {
            let mut n = bytes(seed, 512);
            n[0] |= 0x80;
            n[511] |= 1;
            moduli.push(n);
        }
        moduli.push(vec![0xff; 512]);
        let mut top = vec![0u8; 512];
        top[0] = 0x80;
        top[511] = 1;
        moduli.push(top);
        let mut short = bytes(99, 256);
        short[0] |= 0x80;
        short[255] |= 1;
        moduli.push(short);
        let prepared: Vec<Modulus> = moduli.iter().map(|n| Modulus::new(n).unwrap()).collect();
        let sigs: Vec<Limbs> = moduli
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut s = bytes(1000 + i as u64, n.len());
                s[0] &= 0x7f; // below n: n's top bit is set
                if i == 3 {
                    s = vec![0];
                }
                if i == 4 {
                    s = vec![1];
                }
                limbs::from_be(&s).unwrap()
            })
            .collect();
        let inputs: Vec<Input<'_>> = sigs
            .iter()
            .zip(&prepared)
            .map(|(s, modulus)| Input { s, modulus })
            .collect();
        for backend in Backend::all() {
            let out = public_ops_on(backend, &inputs);
            for (i, x) in out.iter().enumerate() {
                let s = limbs::to_be(&sigs[i]);
                assert_eq!(
                    limbs::to_be(x),
                    reference(&s, &moduli[i]),
                    "{} input {i}",
                    backend.name()
                );
            }
        }
    }
}
