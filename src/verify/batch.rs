//! What every engine shares: staging a batch (ed25519 checked in full, RSA checked up to the
//! public operation), and finishing the RSA checks once an engine has computed `s^65537 mod n`
//! for them. The CPU engine's public operations are [`cpu_public_ops`].

use rayon::prelude::*;

use super::rsa::{self, limbs};
use super::rsa_pss::{self, Operands, Pending};
use super::{Failure, Item, Verdict, ed25519};

/// One RSA check waiting for its public operation: the item's bytes and what was prepared.
pub struct Waiting<'i, 'a> {
    /// The item (its modulus and signature bytes, for an engine that takes bytes).
    pub item: &'i Item<'a>,
    /// The prepared check.
    pub pending: Pending,
}

/// One verdict per item; `public_ops` computes `s^65537 mod n` (big-endian, any length) for
/// every waiting RSA check, in order, or fails as a whole.
pub fn verify<E>(
    items: &[Item<'_>],
    public_ops: impl FnOnce(&[Waiting<'_, '_>]) -> Result<Vec<Vec<u8>>, E>,
) -> Result<Vec<Verdict>, E> {
    // 1. Per item: ed25519 in full; RSA up to the public operation.
    let staged: Vec<Staged> = items.par_iter().map(stage).collect();
    let mut waiting = Vec::new();
    let mut done = Vec::with_capacity(items.len());
    for (item, s) in items.iter().zip(staged) {
        match s {
            Staged::Done(verdict) => done.push(Some(verdict)),
            Staged::Rsa(pending) => {
                done.push(None);
                waiting.push(Waiting { item, pending });
            }
        }
    }
    // 2. The public operations of the batch on the engine, then the padding checks.
    let outputs = public_ops(&waiting)?;
    let rsa: Vec<Verdict> = waiting
        .par_iter()
        .zip(outputs.par_iter())
        .map(|(w, m)| rsa_pss::finish(&w.pending, m))
        .collect();
    let mut rsa = rsa.into_iter();
    Ok(done
        .into_iter()
        .map(|d| d.unwrap_or_else(|| rsa.next().unwrap_or(Err(Failure::Mismatch))))
        .collect())
}

/// An item after the checks that need no public operation.
enum Staged {
    /// Its verdict.
    Done(Verdict),
    /// Its RSA check, ready for the public operation.
    Rsa(Pending),
}

/// An item's verdict when it needs no public operation; else its prepared RSA check.
fn stage(item: &Item<'_>) -> Staged {
    match *item {
        Item::Ed25519 {
            key,
            message,
            signature,
        } => Staged::Done(ed25519::verify(key, message, signature)),
        Item::RsaPss {
            modulus,
            digest,
            signature,
        } => match rsa_pss::prepare(modulus, &digest, signature) {
            Ok(p) => Staged::Rsa(p),
            Err(f) => Staged::Done(Err(f)),
        },
    }
}

/// The CPU engine's public operations: Montgomery operands in lanes over every core, the rest
/// in arbitrary precision.
pub fn cpu_public_ops(waiting: &[Waiting<'_, '_>]) -> Vec<Vec<u8>> {
    let inputs: Vec<rsa::Input<'_>> = waiting
        .iter()
        .filter_map(|w| match &w.pending.operands {
            Operands::Montgomery { modulus, s } => Some(rsa::Input { s, modulus }),
            Operands::General { .. } => None,
        })
        .collect();
    let mut results = rsa::public_ops(&inputs).into_iter();
    waiting
        .iter()
        .map(|w| match &w.pending.operands {
            Operands::Montgomery { .. } => results
                .next()
                .map(|x| limbs::to_be(&x).to_vec())
                .unwrap_or_default(),
            Operands::General { n, s } => rsa_pss::general_op(n, s),
        })
        .collect()
}
