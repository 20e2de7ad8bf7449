//! The node's one [`Verifier`], process-wide for the reasons of [`crate::hash::shared`]: a GPU
//! device is opened once per process and the counters must see every batch. Until `aocu
//! serve` installs one, [`shared`] is a CPU-only verifier, which gives the same verdicts.

use std::sync::OnceLock;

use super::Verifier;

static SHARED: OnceLock<Verifier> = OnceLock::new();

/// Makes `verifier` the node's verifier; false when one was already in place (or [`shared`]
/// was already used), which it keeps.
pub fn install(verifier: Verifier) -> bool {
    SHARED.set(verifier).is_ok()
}

/// The node's verifier: the installed one, or a CPU-only one.
pub fn shared() -> &'static Verifier {
    SHARED.get_or_init(Verifier::cpu)
}
