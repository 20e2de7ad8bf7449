//! Results of cron messages: the messages the CU generates itself between two scheduled
//! messages (`crate::ao::cron`). They have no slot of their own, so they are keyed by the slot
//! they follow and their position in that span: (process, slot, sequence), which is also the
//! order they were evaluated in.

use redb::{ReadableDatabase, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{Charge, Store, StoreError, decode, encode};

/// (process id, slot the cron follows, position after it) → cron result (JSON).
pub const CRON_RESULTS: TableDefinition<(&str, u64, u64), &[u8]> =
    TableDefinition::new("cron_results");

/// The evaluation of one cron message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CronResult {
    /// The cron's identifier, `<index>-<interval>`.
    pub cron: String,
    /// The message's timestamp, milliseconds.
    pub timestamp: i64,
    /// The message's block height.
    pub block_height: i64,
    /// The result as AO's CU answers it (`Messages`, `Spawns`, `Output`, `Error`, `GasUsed`).
    pub result: serde_json::Value,
}

impl Store {
    /// Store cron results that follow `slot`, at their positions, in one transaction, each
    /// new one's charge entered in the ledger. Returns, for each, whether it was not stored
    /// before (an evaluation repeated after a restart finds its results there and pushes, and
    /// charges, nothing twice).
    pub fn put_cron_results(
        &self,
        process_id: &str,
        slot: u64,
        results: &[(u64, CronResult, Charge)],
    ) -> Result<Vec<bool>, StoreError> {
        let txn = self.db.begin_write()?;
        let mut fresh = Vec::with_capacity(results.len());
        {
            let mut table = txn.open_table(CRON_RESULTS)?;
            for (position, result, _) in results {
                let key = (process_id, slot, *position);
                fresh.push(table.insert(key, encode(result).as_slice())?.is_none());
            }
        }
        let charges = results.iter().zip(&fresh).filter(|(_, f)| **f);
        super::ledger::charge_in(&txn, process_id, charges.map(|(r, _)| &r.2))?;
        txn.commit()?;
        Ok(fresh)
    }

    /// Cron results at or after (`slot`, `position`), in evaluation order, at most `limit`.
    pub fn cron_results(
        &self,
        process_id: &str,
        (slot, position): (u64, u64),
        limit: usize,
    ) -> Result<Vec<(u64, u64, CronResult)>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(CRON_RESULTS)?;
        let range = (process_id, slot, position)..=(process_id, u64::MAX, u64::MAX);
        let mut out = Vec::new();
        for entry in table.range(range)?.take(limit) {
            let (key, value) = entry?;
            let (_, slot, position) = key.value();
            let what = format!("cron result {process_id}/{slot}/{position}");
            out.push((slot, position, decode(value.value(), &what)?));
        }
        Ok(out)
    }
}
