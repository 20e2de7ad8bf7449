//! The node's one [`Hasher`]: every digest the node takes on its own behalf (message IDs on
//! ingest, hash-chain links, remote SU pages, module cache keys, checkpoint digests) goes
//! through it, so that one dispatcher picks the engine and one set of counters meters them.
//!
//! It is process-wide for the same reason as rayon's global pool: a GPU device is opened once
//! per process, and the counters must see every batch. `aocu serve` installs the hasher its
//! configuration asks for before it does anything else; until one is installed (tools, tests)
//! [`shared`] is a CPU-only hasher, which gives the same digests.

use std::sync::OnceLock;

use super::{Algorithm, ChainLink, Digest, Engine, Hasher};

static SHARED: OnceLock<Hasher> = OnceLock::new();

/// Makes `hasher` the node's hasher; false when one was already in place (or [`shared`] was
/// already used), which it keeps: only the first call takes effect, as with a global
/// subscriber.
pub fn install(hasher: Hasher) -> bool {
    SHARED.set(hasher).is_ok()
}

/// The node's hasher: the installed one, or a CPU-only one when none was installed.
pub fn shared() -> &'static Hasher {
    SHARED.get_or_init(Hasher::cpu)
}

impl Hasher {
    /// One digest, on the engine this hasher picks for its size. It never fails: when the GPU
    /// fails on a batch the node itself asked for, the CPU engine (bit-identical) answers and
    /// the failure is logged, so that a sick GPU slows the node down instead of stopping it.
    pub fn digest(&self, alg: Algorithm, data: &[u8]) -> Digest {
        let mut out = [[0u8; 32]];
        self.hash_or_cpu(alg, &[data], &mut out);
        out[0]
    }

    /// Digests of a batch, with the same fallback as [`Hasher::digest`].
    pub fn digests(&self, alg: Algorithm, inputs: &[&[u8]]) -> Vec<Digest> {
        let mut out = vec![[0u8; 32]; inputs.len()];
        self.hash_or_cpu(alg, inputs, &mut out);
        out
    }

    /// Whether each input hashes to its expected digest, with the fallback of
    /// [`Hasher::digest`]. `None` when the two slices differ in length.
    pub fn verify_or_cpu(
        &self,
        alg: Algorithm,
        inputs: &[&[u8]],
        expected: &[Digest],
    ) -> Option<Vec<bool>> {
        (inputs.len() == expected.len())
            .then(|| super::dispatch::verdicts(&self.digests(alg, inputs), expected))
    }

    /// Whether each hash-chain link holds, with the fallback of [`Hasher::digest`].
    pub fn verify_chain_or_cpu(&self, links: &[ChainLink<'_>]) -> Vec<bool> {
        let verdicts = super::chain::verify_with(links, |inputs| {
            Ok::<_, std::convert::Infallible>(self.digests(Algorithm::Sha256, inputs))
        });
        match verdicts {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    fn hash_or_cpu(&self, alg: Algorithm, inputs: &[&[u8]], out: &mut [Digest]) {
        if let Err(e) = self.hash_batch_into(alg, inputs, out) {
            tracing::warn!(error = %e, alg = alg.name(), "GPU hashing failed; the CPU answers");
            self.hash_on_cpu(alg, inputs, out);
        }
    }
}

/// What `hasher` is set to and has done, as `~meta@1.0/info/metering/hashing` reports it.
pub fn describe(hasher: &Hasher) -> serde_json::Value {
    let gpu = hasher.gpu().map(|g| {
        let info = g.adapter_info();
        serde_json::json!({
            "name": info.name,
            "backend": format!("{:?}", info.backend).to_lowercase(),
            "software": g.is_software(),
        })
    });
    serde_json::json!({
        "engine": hasher.engine(),
        "crossover-bytes": hasher.crossover(),
        "gpu": gpu,
        // Whether any batch can go to the GPU: the largest one does if any does.
        "uses-gpu": hasher.choose(u64::MAX) == Engine::Gpu,
        "stats": hasher.stats(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_digests_match_the_reference_crates_and_are_counted() {
        let hasher = shared();
        let before = hasher.stats();
        let data = b"aocu shared hasher";
        assert_eq!(
            hasher.digest(Algorithm::Blake3, data),
            *blake3::hash(data).as_bytes()
        );
        let sha: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(data).into();
        assert_eq!(hasher.digest(Algorithm::Sha256, data), sha);
        let after = hasher.stats();
        // Other tests share the hasher: the counters only grow, by at least these two.
        assert!(after.cpu_bytes + after.gpu_bytes >= before.cpu_bytes + before.gpu_bytes + 36);
        assert!(after.cpu_batches + after.gpu_batches >= before.cpu_batches + 2);
        assert_eq!(
            hasher.verify_or_cpu(Algorithm::Sha256, &[data, b"x"], &[sha, sha]),
            Some(vec![true, false])
        );
        assert_eq!(hasher.verify_or_cpu(Algorithm::Sha256, &[data], &[]), None);
    }

    #[test]
    fn describe_names_the_engine_and_counters() {
        let hasher = Hasher::cpu();
        hasher.digest(Algorithm::Blake3, &[1, 2, 3]);
        let d = describe(&hasher);
        assert_eq!(d["engine"], "cpu");
        assert_eq!(d["uses-gpu"], false);
        assert_eq!(d["stats"]["cpu-bytes"], 3);
        assert_eq!(d["stats"]["cpu-batches"], 1);
    }
}
