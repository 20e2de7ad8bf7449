//! The ledger: what every evaluated message was charged, summed per process, per owner (the
//! message's signer) and for the whole node.
//!
//! A charge is written in the same transaction as the result it pays for (see
//! [`Store::put_results`] and [`Store::put_cron_results`]), and only when that result is new:
//! a slot evaluated again after a restart finds its result stored and is not charged twice,
//! and a result lost to `kill -9` took its charge with it. The three sums are updated in one
//! transaction too, so a reader (redb reads a committed snapshot) always sees the owners add up
//! to the node, and the processes as well. Amounts are integers in the smallest unit of the
//! node's currency; usage is kept exact (memory in byte-nanoseconds).

use std::collections::BTreeMap;

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, decode, encode};

/// account key (`node`, `process/<id>`, `owner/<address>`) → [`Account`] (JSON).
pub(super) const LEDGER: TableDefinition<&str, &[u8]> = TableDefinition::new("ledger");

/// What one evaluation was charged, and for what.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Charge {
    /// Who sent the message (its signer's address; a cron's process owner).
    pub owner: String,
    /// A dry-run: evaluated and charged, its result not kept.
    pub dry_run: bool,
    /// Fuel used.
    pub fuel: u64,
    /// Peak memory × wall time, in byte-nanoseconds.
    pub memory_byte_ns: u128,
    /// The amount charged.
    pub amount: u128,
}

/// Whose sums a ledger query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountOf<'a> {
    /// The whole node.
    Node,
    /// One process.
    Process(&'a str),
    /// One owner address.
    Owner(&'a str),
}

impl AccountOf<'_> {
    fn key(&self) -> String {
        match self {
            AccountOf::Node => "node".to_string(),
            AccountOf::Process(id) => format!("process/{id}"),
            AccountOf::Owner(address) => format!("owner/{address}"),
        }
    }
}

/// The sums of an account. Large numbers are decimal strings in JSON (a JSON number loses
/// integers past 2^53 in most readers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct Account {
    /// Scheduled (and cron) messages charged.
    pub messages: u64,
    /// Dry-runs charged.
    pub dry_runs: u64,
    /// Fuel used.
    #[serde(with = "decimal")]
    pub fuel: u128,
    /// Memory held over time, in byte-nanoseconds.
    #[serde(with = "decimal")]
    pub memory_byte_ns: u128,
    /// Everything charged (dry-runs included).
    #[serde(with = "decimal")]
    pub charged: u128,
    /// Of which for dry-runs.
    #[serde(with = "decimal")]
    pub charged_dry_runs: u128,
}

impl Account {
    fn add(&mut self, charge: &Charge) {
        if charge.dry_run {
            self.dry_runs = self.dry_runs.saturating_add(1);
            self.charged_dry_runs = self.charged_dry_runs.saturating_add(charge.amount);
        } else {
            self.messages = self.messages.saturating_add(1);
        }
        self.fuel = self.fuel.saturating_add(u128::from(charge.fuel));
        self.memory_byte_ns = self.memory_byte_ns.saturating_add(charge.memory_byte_ns);
        self.charged = self.charged.saturating_add(charge.amount);
    }

    fn merge(&mut self, other: &Account) {
        self.messages = self.messages.saturating_add(other.messages);
        self.dry_runs = self.dry_runs.saturating_add(other.dry_runs);
        self.fuel = self.fuel.saturating_add(other.fuel);
        self.memory_byte_ns = self.memory_byte_ns.saturating_add(other.memory_byte_ns);
        self.charged = self.charged.saturating_add(other.charged);
        self.charged_dry_runs = self.charged_dry_runs.saturating_add(other.charged_dry_runs);
    }
}

/// u128 as a decimal string.
mod decimal {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a whole number")))
    }
}

/// Add `charges` (all to `process_id`) to the ledger inside the write transaction `txn`.
pub(super) fn charge_in<'c>(
    txn: &redb::WriteTransaction,
    process_id: &str,
    charges: impl IntoIterator<Item = &'c Charge>,
) -> Result<(), StoreError> {
    let mut deltas: BTreeMap<String, Account> = BTreeMap::new();
    for charge in charges {
        for of in [
            AccountOf::Node,
            AccountOf::Process(process_id),
            AccountOf::Owner(&charge.owner),
        ] {
            deltas.entry(of.key()).or_default().add(charge);
        }
    }
    if deltas.is_empty() {
        return Ok(());
    }
    let mut table = txn.open_table(LEDGER)?;
    for (key, delta) in deltas {
        let mut account = match table.get(key.as_str())? {
            Some(v) => decode::<Account>(v.value(), &format!("ledger {key}"))?,
            None => Account::default(),
        };
        account.merge(&delta);
        table.insert(key.as_str(), encode(&account).as_slice())?;
    }
    Ok(())
}

impl Store {
    /// Charge a dry-run (one transaction: it has no result to go with).
    pub fn charge_dry_run(&self, process_id: &str, charge: &Charge) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        charge_in(&txn, process_id, [charge])?;
        txn.commit()?;
        Ok(())
    }

    /// The sums of one account (zero when nothing was charged to it).
    pub fn account(&self, of: AccountOf<'_>) -> Result<Account, StoreError> {
        let txn = self.db.begin_read()?;
        let key = of.key();
        let table = txn.open_table(LEDGER)?;
        match table.get(key.as_str())? {
            Some(v) => decode(v.value(), &format!("ledger {key}")),
            None => Ok(Account::default()),
        }
    }
}
