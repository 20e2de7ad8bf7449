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

// Tested against `rsa::BigUint::modpow` on fresh random and extreme inputs, every backend:
// tests/verify_engines.rs.
