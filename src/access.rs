//! Who may use the node: the process and owner lists of config keys `allow-processes`,
//! `deny-processes` and `allow-owners`, with the semantics of AO's Node CU (`ALLOW_PROCESSES`,
//! `RESTRICT_PROCESSES`, `ALLOW_OWNERS`; `docs/access.md` cites its sources).
//!
//! - A process on the deny-list is refused, whatever the allow-lists say (deny wins).
//! - A non-empty `allow-processes` refuses every process not on it; an empty one allows all.
//! - A non-empty `allow-owners` refuses every process whose owner (the address of the key that
//!   signed its spawn message) is not on it; an empty one allows all.
//!
//! [`Access`] answers these questions without touching anything else: the callers (the HTTP
//! edge, the Compute Unit, the remote-SU and HyperBEAM discovery) ask before they read, fetch,
//! store or evaluate, so a refused request costs nothing.

use std::collections::HashSet;
use std::sync::{RwLock, RwLockReadGuard};

use crate::ao::Id;

/// Why a process may not be used on this node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The process is on `deny-processes`.
    #[error("Access denied for process {0}: it is on this node's deny-processes list")]
    Denied(Id),
    /// `allow-processes` is set and the process is not on it.
    #[error("Access denied for process {0}: it is not on this node's allow-processes list")]
    NotAllowed(Id),
    /// `allow-owners` is set and the process' owner is not on it.
    #[error(
        "Access denied for process owner {owner}: process {process} is owned by an address \
         that is not on this node's allow-owners list"
    )]
    Owner {
        /// The process.
        process: String,
        /// Its owner's address.
        owner: String,
    },
}

impl Refused {
    /// A short stable identifier, for `{"error", "kind"}` answers.
    pub fn kind(&self) -> &'static str {
        match self {
            Refused::Denied(_) => "process-denied",
            Refused::NotAllowed(_) => "process-not-allowed",
            Refused::Owner { .. } => "owner-not-allowed",
        }
    }
}

/// A list entry that is not what its key holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {index} (`{entry}`): {message}")]
pub struct BadEntry {
    /// The config key (`allow-processes`, `deny-processes`, `allow-owners`).
    pub key: &'static str,
    /// 0-based position in the list.
    pub index: usize,
    /// The entry as written.
    pub entry: String,
    /// What it should be.
    pub message: &'static str,
}

/// The node's access lists, shared by every caller and replaced whole on a reload
/// ([`Access::replace`]): a check sees the old lists or the new ones, never a mix.
#[derive(Debug, Default)]
pub struct Access {
    lists: RwLock<Lists>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Lists {
    allow_processes: HashSet<Id>,
    deny_processes: HashSet<Id>,
    /// Owner addresses: 43-character Arweave-style addresses as written, Ethereum `0x`
    /// addresses in lower case (they are compared without their EIP-55 case).
    allow_owners: HashSet<String>,
}

impl Access {
    /// Lists from their config text; the first entry that is not a 43-character base64url ID
    /// (or, for owners, also a `0x` Ethereum address) is an error naming its key.
    pub fn new(
        allow_processes: &[String],
        deny_processes: &[String],
        allow_owners: &[String],
    ) -> Result<Access, BadEntry> {
        let ids = |key: &'static str, list: &[String]| {
            list.iter()
                .enumerate()
                .map(|(index, entry)| {
                    entry.trim().parse::<Id>().map_err(|_| BadEntry {
                        key,
                        index,
                        entry: entry.clone(),
                        message: "not a 43-character base64url process ID",
                    })
                })
                .collect::<Result<HashSet<Id>, BadEntry>>()
        };
        let allow_owners = allow_owners
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                owner_key(entry.trim()).ok_or_else(|| BadEntry {
                    key: "allow-owners",
                    index,
                    entry: entry.clone(),
                    message: "not an owner address (43 base64url characters, or 0x and 40 hex \
                              digits for an Ethereum signer)",
                })
            })
            .collect::<Result<_, _>>()?;
        let lists = Lists {
            allow_processes: ids("allow-processes", allow_processes)?,
            deny_processes: ids("deny-processes", deny_processes)?,
            allow_owners,
        };
        Ok(Access {
            lists: RwLock::new(lists),
        })
    }

    fn lists(&self) -> RwLockReadGuard<'_, Lists> {
        // Plain sets, replaced whole: a panic elsewhere cannot leave them half-written.
        self.lists.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Put the lists of `with` in force; returns whether they differ from the old ones.
    pub fn replace(&self, with: Access) -> bool {
        let new = with.lists.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut lists = self.lists.write().unwrap_or_else(|p| p.into_inner());
        let changed = *lists != new;
        *lists = new;
        changed
    }

    /// Whether every process is allowed (all lists empty): nothing needs checking.
    pub fn is_open(&self) -> bool {
        let lists = self.lists();
        lists.allow_processes.is_empty()
            && lists.deny_processes.is_empty()
            && lists.allow_owners.is_empty()
    }

    /// Whether an owner list is set (a process' owner must then be looked up).
    pub fn checks_owners(&self) -> bool {
        !self.lists().allow_owners.is_empty()
    }

    /// May `process` be used? The ID lists only: deny wins, an empty allow-list allows all.
    pub fn process(&self, process: &Id) -> Result<(), Refused> {
        let lists = self.lists();
        if lists.deny_processes.contains(process) {
            return Err(Refused::Denied(*process));
        }
        if !lists.allow_processes.is_empty() && !lists.allow_processes.contains(process) {
            return Err(Refused::NotAllowed(*process));
        }
        Ok(())
    }

    /// May a process owned by `owner` (its address) be used? An empty list allows all.
    pub fn owner(&self, process: &str, owner: &str) -> Result<(), Refused> {
        let lists = self.lists();
        if lists.allow_owners.is_empty() {
            return Ok(());
        }
        match owner_key(owner) {
            Some(key) if lists.allow_owners.contains(&key) => Ok(()),
            _ => Err(Refused::Owner {
                process: process.to_string(),
                owner: owner.to_string(),
            }),
        }
    }

    /// Both checks for a process whose ID is text (as the store keeps it) and whose owner is
    /// known.
    pub fn record(&self, process: &str, owner: &str) -> Result<(), Refused> {
        if let Ok(id) = process.parse::<Id>() {
            self.process(&id)?;
        }
        self.owner(process, owner)
    }
}

/// How an owner address is compared: a base64url address as it is, an Ethereum address in
/// lower case; `None` for anything else.
fn owner_key(text: &str) -> Option<String> {
    if let Some(hex) = text.strip_prefix("0x")
        && hex.len() == 40
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Some(text.to_ascii_lowercase());
    }
    text.parse::<Id>().ok().map(|id| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid ID (not every 43 characters are one: the last carries 4 bits).
    fn id(c: char) -> String {
        crate::ao::b64url(&[c as u8; 32])
    }

    #[test]
    fn empty_lists_allow_all() {
        let open = Access::default();
        assert!(open.is_open() && !open.checks_owners());
        let p: Id = id('A').parse().unwrap();
        assert_eq!(open.process(&p), Ok(()));
        assert_eq!(open.owner(&id('A'), &id('B')), Ok(()));
        assert_eq!(open.owner(&id('A'), "not even an address"), Ok(()));
    }

    #[test]
    fn deny_wins_and_allow_restricts() {
        let (a, b, c) = (id('A'), id('B'), id('C'));
        let access = Access::new(&[a.clone(), b.clone()], std::slice::from_ref(&b), &[]).unwrap();
        let parse = |s: &str| s.parse::<Id>().unwrap();
        assert_eq!(access.process(&parse(&a)), Ok(()));
        let denied = access.process(&parse(&b)).unwrap_err();
        assert_eq!(denied.kind(), "process-denied");
        assert!(denied.to_string().contains(&b), "{denied}");
        let other = access.process(&parse(&c)).unwrap_err();
        assert_eq!(other.kind(), "process-not-allowed");
        // Only a deny-list: everything else passes.
        let deny_only = Access::new(&[], std::slice::from_ref(&b), &[]).unwrap();
        assert_eq!(deny_only.process(&parse(&c)), Ok(()));
        assert!(deny_only.process(&parse(&b)).is_err());
    }

    #[test]
    fn owners_by_address() {
        let eth = "0x52908400098527886E0F7030069857D2E4169EE7";
        let access = Access::new(&[], &[], &[id('O'), eth.to_string()]).unwrap();
        assert!(access.checks_owners());
        assert_eq!(access.owner(&id('P'), &id('O')), Ok(()));
        assert_eq!(access.owner(&id('P'), &eth.to_ascii_lowercase()), Ok(()));
        let err = access.owner(&id('P'), &id('X')).unwrap_err();
        assert_eq!(err.kind(), "owner-not-allowed");
        assert!(err.to_string().contains(&id('X')), "{err}");
        assert!(access.owner(&id('P'), "").is_err());
        assert!(access.record(&id('P'), &id('X')).is_err());
    }

    #[test]
    fn replaced_lists_take_effect_at_once() {
        let (a, b) = (id('A'), id('B'));
        let access = Access::new(&[], std::slice::from_ref(&a), &[]).unwrap();
        let a_id: Id = a.parse().unwrap();
        assert!(access.process(&a_id).is_err());
        let denies_b = || Access::new(&[], std::slice::from_ref(&b), &[]).unwrap();
        assert!(access.replace(denies_b()), "a change");
        assert_eq!(access.process(&a_id), Ok(()));
        assert!(access.process(&b.parse().unwrap()).is_err());
        assert!(
            !access.replace(denies_b()),
            "the same lists again: no change"
        );
    }

    #[test]
    fn bad_entries_name_key_and_position() {
        let err = Access::new(&[id('A'), "short".into()], &[], &[]).unwrap_err();
        assert_eq!(
            (err.key, err.index, err.entry.as_str()),
            ("allow-processes", 1, "short")
        );
        let err = Access::new(&[], &[format!("{}!", "A".repeat(42))], &[]).unwrap_err();
        assert_eq!(err.key, "deny-processes");
        let err = Access::new(&[], &[], &["0x1234".into()]).unwrap_err();
        assert_eq!(err.key, "allow-owners");
        assert!(err.to_string().contains("0x1234"), "{err}");
    }
}
