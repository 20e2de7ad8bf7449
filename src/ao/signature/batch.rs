//! Many signatures at once, of any verified type: types 1, 2 and 4 go to the node's batch
//! verifier ([`crate::verify`]: RSA in lanes or on the GPU, ed25519 on every core) in one
//! batch; types 3 and 7 (secp256k1, recovered one by one) are spread over rayon's pool.

use rayon::prelude::*;

use super::super::deephash::Hash384;
use super::{SignatureType, arweave, ed25519, ethereum, typed_ethereum};
use crate::verify::{self, Failure, Item, Verdict};

/// One signature of an ANS-104 item: what [`super::verify`] takes.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// The item's signature type.
    pub signature_type: SignatureType,
    /// Its owner field.
    pub owner: &'a [u8],
    /// Its deep hash.
    pub deep_hash: &'a Hash384,
    /// Its signature field.
    pub signature: &'a [u8],
}

/// One verdict per signature, in order; `None` for a type this node does not verify.
pub fn verify_batch(signed: &[Signed<'_>]) -> Vec<Option<Verdict>> {
    // Type 4 signs the hex text of the deep hash: made once, borrowed by its item.
    let hex: Vec<Option<String>> = signed
        .iter()
        .map(|s| (s.signature_type == SignatureType::Solana).then(|| hex::encode(s.deep_hash)))
        .collect();
    let batched: Vec<(usize, Item<'_>)> = signed
        .iter()
        .zip(&hex)
        .enumerate()
        .filter_map(|(i, (s, hex))| batch_item(s, hex.as_deref()).map(|item| (i, item)))
        .collect();
    let items: Vec<Item<'_>> = batched.iter().map(|(_, item)| *item).collect();
    let mut verdicts: Vec<Option<Verdict>> = signed.par_iter().map(one_by_one).collect();
    for ((i, _), verdict) in batched.iter().zip(verify::shared().verify(&items)) {
        verdicts[*i] = Some(verdict);
    }
    verdicts
}

/// The batch verifier's item for types 1, 2 and 4.
fn batch_item<'a>(s: &Signed<'a>, hex: Option<&'a str>) -> Option<Item<'a>> {
    Some(match s.signature_type {
        SignatureType::Arweave => arweave::item(s.owner, s.deep_hash, s.signature),
        SignatureType::Ed25519 => ed25519::item(s.owner, s.deep_hash, s.signature),
        SignatureType::Solana => ed25519::item(s.owner, hex?.as_bytes(), s.signature),
        _ => return None,
    })
}

/// The verdict of a type the batch verifier does not take (a placeholder for the others,
/// replaced by the batch's verdict).
fn one_by_one(s: &Signed<'_>) -> Option<Verdict> {
    let holds = match s.signature_type {
        SignatureType::Ethereum => ethereum::verify(s.owner, s.deep_hash, s.signature),
        SignatureType::TypedEthereum => typed_ethereum::verify(s.owner, s.deep_hash, s.signature),
        SignatureType::Arweave | SignatureType::Ed25519 | SignatureType::Solana => true,
        SignatureType::InjectedAptos | SignatureType::MultiAptos => return None,
    };
    Some(if holds {
        Ok(())
    } else {
        Err(Failure::Mismatch)
    })
}
