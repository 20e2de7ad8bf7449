//! The CPU engine: RSA public operations in lanes ([`super::rsa`]), the rest of each check
//! and every ed25519 signature on rayon's pool.

use rayon::prelude::*;

use super::rsa::{self, limbs};
use super::rsa_pss::{self, Operands, Pending};
use super::{Item, Verdict, ed25519};

/// One verdict per item.
pub fn verify(items: &[Item<'_>]) -> Vec<Verdict> {
    // 1. Per item: ed25519 in full; RSA up to the public operation.
    let staged: Vec<Staged> = items.par_iter().map(stage).collect();
    // 2. The RSA public operations of the batch in lanes, then their padding checks.
    let pending: Vec<&Pending> = staged
        .iter()
        .filter_map(|s| match s {
            Staged::Rsa(p) => Some(p),
            Staged::Done(_) => None,
        })
        .collect();
    let mut rsa_verdicts = rsa_verdicts(&pending).into_iter();
    staged
        .into_iter()
        .map(|s| match s {
            Staged::Done(v) => v,
            // One verdict per pending item, in order.
            Staged::Rsa(_) => rsa_verdicts.next().unwrap_or(Err(super::Failure::Mismatch)),
        })
        .collect()
}

enum Staged {
    Done(Verdict),
    Rsa(Pending),
}

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

/// The verdicts of prepared RSA checks, in order.
pub fn rsa_verdicts(pending: &[&Pending]) -> Vec<Verdict> {
    let inputs: Vec<rsa::Input<'_>> = pending
        .iter()
        .filter_map(|p| match &p.operands {
            Operands::Montgomery { modulus, s } => Some(rsa::Input { s, modulus }),
            Operands::General { .. } => None,
        })
        .collect();
    let mut results = rsa::public_ops(&inputs).into_iter();
    let outputs: Vec<Vec<u8>> = pending
        .iter()
        .map(|p| match &p.operands {
            Operands::Montgomery { .. } => results
                .next()
                .map(|x| limbs::to_be(&x).to_vec())
                .unwrap_or_default(),
            Operands::General { n, s } => rsa_pss::general_op(n, s),
        })
        .collect();
    pending
        .par_iter()
        .zip(outputs.par_iter())
        .map(|(p, m)| rsa_pss::finish(p, m))
        .collect()
}
