//! Prepaid balances of `simple-pay@1.0` (`crate::pay`): what each signer may still spend,
//! topped up by the operator and debited before the work it pays for.
//!
//! Each change is one transaction: a debit checks and lowers the balance together (two
//! requests racing for the last units cannot both pass), and a top-up records the signature
//! that ordered it with the credit, so the same signed top-up credits once, across restarts.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::{Store, StoreError};

/// address → balance, in the smallest unit of the node's currency.
pub(super) const BALANCES: TableDefinition<&str, u64> = TableDefinition::new("balances");
/// SHA-256 of a top-up's signature → the balance it left (a signature credits once).
pub(super) const TOPUPS: TableDefinition<&[u8], u64> = TableDefinition::new("topups");

/// What a debit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Debit {
    /// Paid; the balance left.
    Paid(u64),
    /// The balance is short of the price; nothing was taken.
    Short(u64),
}

/// What a top-up did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topup {
    /// Credited; the new balance.
    Credited(u64),
    /// This signature credited before; nothing changed. The balance it left then.
    Replayed(u64),
    /// The new balance would not fit in 64 bits; nothing changed.
    Overflow,
}

impl Store {
    /// `address`'s balance (0 when it never had one).
    pub fn balance(&self, address: &str) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BALANCES)?;
        Ok(table.get(address)?.map_or(0, |v| v.value()))
    }

    /// Take `price` from `address` if its balance covers it.
    pub fn debit(&self, address: &str, price: u64) -> Result<Debit, StoreError> {
        let txn = self.db.begin_write()?;
        let outcome = {
            let mut table = txn.open_table(BALANCES)?;
            let balance = table.get(address)?.map_or(0, |v| v.value());
            match balance.checked_sub(price) {
                Some(left) => {
                    table.insert(address, left)?;
                    Debit::Paid(left)
                }
                None => Debit::Short(balance),
            }
        };
        txn.commit()?;
        Ok(outcome)
    }

    /// Credit `amount` to `address`, ordered by the signature whose SHA-256 is `signature`.
    pub fn topup(&self, address: &str, amount: u64, signature: &[u8]) -> Result<Topup, StoreError> {
        let txn = self.db.begin_write()?;
        let outcome = {
            let mut used = txn.open_table(TOPUPS)?;
            if let Some(left) = used.get(signature)? {
                Topup::Replayed(left.value())
            } else {
                let mut table = txn.open_table(BALANCES)?;
                let balance = table.get(address)?.map_or(0, |v| v.value());
                match balance.checked_add(amount) {
                    Some(new) => {
                        table.insert(address, new)?;
                        used.insert(signature, new)?;
                        Topup::Credited(new)
                    }
                    None => Topup::Overflow,
                }
            }
        };
        txn.commit()?;
        Ok(outcome)
    }
}
