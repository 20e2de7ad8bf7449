//! The operator's authority over the node message, as AO-Core's meta device gives it: a
//! `POST /~meta@1.0/info` signed by the operator's key changes the keys it names, each accepted
//! change is appended to the node history, and `initialized = permanent` locks the node
//! message for good.
//!
//! The operator is an address: that of `operator-key` (an Arweave JWK file the node only reads
//! the public half of) or, by default, the node wallet's. A change is the signed request's
//! covered header fields, each an `aocu.toml` key with its value written as for `--set`
//! (`price.per-message: 11`, `deny-processes: ["…"]`, `initialized: permanent`); fields of the
//! HTTP codec itself (`content-digest`, `signing-format`, …) are not keys.
//!
//! A signature is accepted once: the SHA-256 of every accepted signature is kept, as are the
//! `nonce`s, so a captured request cannot be played again, with or without `created`. When
//! `created` is signed it must be within [`MAX_CLOCK_SKEW`] of the node's clock, and an
//! `expires` must not have passed.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::httpsig::{self, HttpSigError, Message, Signer};

/// How far a signed `created` may be from the node's clock, either way, in seconds.
pub const MAX_CLOCK_SKEW: i64 = 300;

/// Fields of the HTTP codec and of transport: signed with the change, but not keys of it.
const CODEC_FIELDS: &[&str] = &[
    "signature",
    "signature-input",
    "content-digest",
    "content-type",
    "content-length",
    "signing-format",
    "ao-types",
    "ao-ids",
    "body-keys",
    "inline-body-key",
    "host",
    "accept",
    "accept-encoding",
    "user-agent",
    "connection",
    "date",
    "path",
    "method",
];

/// Whether the node message is locked (`initialized = permanent`), shared by the operator's
/// changes and the SIGHUP reload.
#[derive(Debug, Default)]
pub struct Permanence(AtomicBool);

impl Permanence {
    /// Unlocked unless `initialized` says `permanent`.
    pub fn new(initialized: &str) -> Permanence {
        Permanence(AtomicBool::new(initialized == "permanent"))
    }

    /// Lock for good.
    pub fn lock(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether nothing may change any more.
    pub fn is_locked(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What puts a change in force: the running configuration (`crate::cli` implements it over the
/// same code path as SIGHUP). The keys applied, as `key: old -> new`, or why nothing was.
pub trait ApplyChange: Send + Sync {
    /// Apply `change` (keys with `--set`-style values) whole, or nothing of it.
    fn apply(&self, change: &[(String, String)]) -> Result<Vec<String>, String>;
}

/// Why a change was refused; nothing of it was applied.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The request is not validly signed.
    #[error("{0}")]
    Signature(#[from] HttpSigError),
    /// Validly signed, but not by the operator.
    #[error("the request is signed by {signers}, not by the operator {operator}")]
    NotOperator {
        /// Who signed it.
        signers: String,
        /// Who may.
        operator: String,
    },
    /// `created` is too far from the node's clock.
    #[error(
        "the signature was created at {created}, more than {MAX_CLOCK_SKEW} s from the node's clock ({now}); sign it again"
    )]
    Stale {
        /// The signed `created`.
        created: i64,
        /// The node's clock.
        now: i64,
    },
    /// `expires` has passed.
    #[error("the signature expired at {0}")]
    Expired(i64),
    /// This signature or its nonce was accepted before.
    #[error("this signature (or its nonce) was already used for a change: sign the change again")]
    Replayed,
    /// `initialized = permanent`.
    #[error("the node message is permanent (initialized = permanent): it cannot be changed")]
    Permanent,
    /// The signed message names no key.
    #[error(
        "the signed request names no key to change: sign a header such as `price.per-message: 11`"
    )]
    NoChange,
    /// A key cannot change, or a value is invalid.
    #[error("{0}")]
    Invalid(String),
}

impl Refusal {
    /// The HTTP status of the refusal: 401 when the request is not validly signed (or its
    /// signature is out of date), 403 when it is but may not change the node message, 400
    /// when the change itself is wrong.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Signature(HttpSigError::Malformed { .. })
            | Refusal::Signature(HttpSigError::TooMany(_))
            | Refusal::NoChange
            | Refusal::Invalid(_) => 400,
            Refusal::Signature(_) | Refusal::Stale { .. } | Refusal::Expired(_) => 401,
            Refusal::NotOperator { .. } | Refusal::Replayed | Refusal::Permanent => 403,
        }
    }

    /// A stable identifier for the refusal's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::Signature(HttpSigError::Unsigned) => "unsigned",
            Refusal::Signature(_) => "bad-signature",
            Refusal::NotOperator { .. } => "not-operator",
            Refusal::Stale { .. } | Refusal::Expired(_) => "stale-signature",
            Refusal::Replayed => "replayed",
            Refusal::Permanent => "permanent",
            Refusal::NoChange | Refusal::Invalid(_) => "bad-change",
        }
    }
}

/// One accepted change, as `GET /~meta@1.0/info/node-history` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct HistoryEntry {
    /// 1 for the first change since the node started.
    pub index: usize,
    /// When it was applied, milliseconds since the epoch.
    pub at: u64,
    /// The operator address that signed it.
    pub signer: String,
    /// Its commitment ID: `base64url(SHA-256(signature))`.
    pub commitment: String,
    /// The keys and values it set, as signed.
    pub change: BTreeMap<String, String>,
    /// What changed, as `key: old -> new`.
    pub applied: Vec<String>,
}

/// What was accepted so far.
#[derive(Debug, Default)]
struct Ledger {
    history: Vec<HistoryEntry>,
    commitments: HashSet<[u8; 32]>,
    nonces: HashSet<String>,
}

/// The operator's authority over one running node.
pub struct Operator {
    /// The operator address; `None`: the node wallet's, given at each change.
    address: Option<String>,
    permanence: Arc<Permanence>,
    apply: Arc<dyn ApplyChange>,
    ledger: Mutex<Ledger>,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("address", &self.address)
            .field("permanent", &self.permanence.is_locked())
            .finish_non_exhaustive()
    }
}

impl Operator {
    /// An authority for `address` (`None`: the node wallet's) that applies changes through
    /// `apply`.
    pub fn new(
        address: Option<String>,
        permanence: Arc<Permanence>,
        apply: Arc<dyn ApplyChange>,
    ) -> Operator {
        Operator {
            address,
            permanence,
            apply,
            ledger: Mutex::new(Ledger::default()),
        }
    }

    /// The configured operator address, if not the node wallet's.
    pub fn configured_address(&self) -> Option<&str> {
        self.address.as_deref()
    }

    /// Whether the node message is locked.
    pub fn is_permanent(&self) -> bool {
        self.permanence.is_locked()
    }

    /// The accepted changes, oldest first.
    pub fn history(&self) -> Vec<HistoryEntry> {
        self.ledger().history.clone()
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        // Each change is recorded whole under the lock: a panic cannot leave half of one.
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Apply the change `message` asks for if the operator `operator` signed it, at `now_ms`.
    pub fn change(
        &self,
        operator: &str,
        message: &Message<'_>,
        now_ms: u64,
    ) -> Result<HistoryEntry, Refusal> {
        if self.is_permanent() {
            return Err(Refusal::Permanent);
        }
        let signers = httpsig::verify(message)?;
        let signer = signers
            .iter()
            .find(|s| s.address == operator)
            .ok_or_else(|| Refusal::NotOperator {
                signers: signers
                    .iter()
                    .map(|s| s.address.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                operator: operator.to_string(),
            })?;
        check_fresh(signer, (now_ms / 1000) as i64)?;
        let change = change_of(message, signer)?;
        let mut ledger = self.ledger();
        let replayed = ledger.commitments.contains(&signer.commitment)
            || signer
                .nonce
                .as_ref()
                .is_some_and(|n| ledger.nonces.contains(n));
        if replayed {
            return Err(Refusal::Replayed);
        }
        // Checked again under the lock: a change that locked the node may have just landed.
        if self.is_permanent() {
            return Err(Refusal::Permanent);
        }
        let applied = self.apply.apply(&change).map_err(Refusal::Invalid)?;
        ledger.commitments.insert(signer.commitment);
        if let Some(nonce) = &signer.nonce {
            ledger.nonces.insert(nonce.clone());
        }
        let entry = HistoryEntry {
            index: ledger.history.len() + 1,
            at: now_ms,
            signer: signer.address.clone(),
            commitment: crate::ao::b64url(&signer.commitment),
            change: change.into_iter().collect(),
            applied,
        };
        ledger.history.push(entry.clone());
        Ok(entry)
    }
}

/// `created` near the node's clock and `expires` ahead of it, when signed.
pub fn check_fresh(signer: &Signer, now: i64) -> Result<(), Refusal> {
    if let Some(created) = signer.created
        && (created - now).abs() > MAX_CLOCK_SKEW
    {
        return Err(Refusal::Stale { created, now });
    }
    if let Some(expires) = signer.expires
        && expires <= now
    {
        return Err(Refusal::Expired(expires));
    }
    Ok(())
}

/// The keys the signer's covered header fields set.
fn change_of(message: &Message<'_>, signer: &Signer) -> Result<Vec<(String, String)>, Refusal> {
    let mut change = Vec::new();
    for name in &signer.covered {
        if name.starts_with('@') || CODEC_FIELDS.contains(&name.as_str()) {
            continue;
        }
        let values: Vec<&str> = message
            .headers
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let [value] = values.as_slice() else {
            return Err(Refusal::Invalid(format!(
                "key `{name}` is given {} times; give it once",
                values.len()
            )));
        };
        change.push((name.clone(), value.trim().to_string()));
    }
    if change.is_empty() {
        return Err(Refusal::NoChange);
    }
    Ok(change)
}

/// The address of the Arweave JWK at `path`, refusing a file others may read (mode 0600, as
/// for any private key). Only the public modulus is kept.
pub fn address_of_key_file(path: &Path) -> Result<String, crate::ao::WalletError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let io = |message: String| crate::ao::WalletError::Io {
            path: path.display().to_string(),
            message,
        };
        let mode = std::fs::metadata(path)
            .map_err(|e| io(e.to_string()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(io(format!(
                "mode {:o} lets others read the operator key; chmod 600 it",
                mode & 0o777
            )));
        }
    }
    Ok(crate::ao::Wallet::load(path)?.address().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_map_to_statuses() {
        assert_eq!(Refusal::Signature(HttpSigError::Unsigned).status(), 401);
        assert_eq!(Refusal::Replayed.status(), 403);
        assert_eq!(Refusal::Permanent.status(), 403);
        assert_eq!(Refusal::NoChange.status(), 400);
        assert_eq!(
            Refusal::Stale {
                created: 0,
                now: 1_000
            }
            .status(),
            401
        );
    }

    #[test]
    fn freshness_is_checked_only_when_signed() {
        let signer = |created, expires| Signer {
            address: String::new(),
            label: String::new(),
            commitment: [0; 32],
            covered: Vec::new(),
            created,
            expires,
            nonce: None,
        };
        assert!(check_fresh(&signer(None, None), 1_000_000).is_ok());
        assert!(check_fresh(&signer(Some(1_000_000 - MAX_CLOCK_SKEW), None), 1_000_000).is_ok());
        assert!(matches!(
            check_fresh(
                &signer(Some(1_000_000 - MAX_CLOCK_SKEW - 1), None),
                1_000_000
            ),
            Err(Refusal::Stale { .. })
        ));
        assert!(matches!(
            check_fresh(&signer(None, Some(1_000_000)), 1_000_000),
            Err(Refusal::Expired(_))
        ));
    }
}
