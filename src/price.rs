//! Prices: the node's linear price schedule, and what one evaluation is charged under it.
//!
//! The schedule comes from the matched hardware profile (`[price]` in its TOML), and the
//! operator overrides any of it with the config table `[price]`. A message is charged
//!
//! ```text
//! per-message
//!   + ⌊fuel × per-million-instructions / 10⁶⌋
//!   + ⌊peak memory bytes × wall ns × per-gib-second-memory / (2³⁰ × 10⁹)⌋
//! ```
//!
//! in integers (each term floored on its own, per message), so the ledger's sums are exact:
//! an owner's total is the sum of its messages' charges, and the owners add up to the node.
//! The hashing and GPU prices are part of the schedule (shown in `~meta@1.0`) but charge
//! nothing yet: batch hashing and verification are the node's own work, not a process'.

use std::sync::{RwLock, RwLockReadGuard};

use crate::hw::profile::Price;
use crate::meter::MessageRecord;
use crate::store::Charge;

/// The schedule in force, shared by the evaluators and `~meta@1.0` and replaced on a reload:
/// a message is charged by the schedule it was evaluated under.
#[derive(Debug)]
pub struct Schedule {
    price: RwLock<Price>,
}

impl Schedule {
    /// A schedule of `price`.
    pub fn new(price: Price) -> Schedule {
        Schedule {
            price: RwLock::new(price),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Price> {
        // Plain numbers, replaced whole: a panic elsewhere cannot leave them half-written.
        self.price.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The prices now.
    pub fn get(&self) -> Price {
        self.read().clone()
    }

    /// Put `price` in force; returns whether it differs from the old one.
    pub fn set(&self, price: Price) -> bool {
        let mut now = self.price.write().unwrap_or_else(|p| p.into_inner());
        let changed = *now != price;
        *now = price;
        changed
    }

    /// The charge of one evaluation, metered as `record`, to `owner`, at the prices now.
    pub fn charge(&self, record: &MessageRecord, owner: &str, dry_run: bool) -> Charge {
        charge(&self.read(), record, owner, dry_run)
    }
}

/// Bytes in a GiB.
const GIB: u128 = 1 << 30;
/// Nanoseconds in a second.
const NS_PER_S: u128 = 1_000_000_000;

/// The schedule of a node with no profile: nothing costs anything.
pub fn free() -> Price {
    Price {
        currency: "winston".to_string(),
        per_message: 0,
        per_million_instructions: 0,
        per_gib_second_memory: 0,
        per_gib_hashed: 0,
        per_gpu_second: 0,
    }
}

/// `base` with the keys of `overrides` (the config's `[price]` table) set; an unknown key or a
/// value of the wrong type is an error that names it.
pub fn with_overrides(base: &Price, overrides: &toml::Table) -> Result<Price, String> {
    if overrides.is_empty() {
        return Ok(base.clone());
    }
    let mut table =
        toml::Table::try_from(base).map_err(|e| format!("cannot write the schedule: {e}"))?;
    for (key, value) in overrides {
        table.insert(key.clone(), value.clone());
    }
    table
        .try_into::<Price>()
        .map_err(|e| e.message().trim().to_string())
}

/// What a message with `fuel` and `memory_byte_ns` (peak bytes × wall ns) costs.
pub fn amount(price: &Price, fuel: u64, memory_byte_ns: u128) -> u128 {
    let per_message = u128::from(price.per_message);
    let compute =
        u128::from(fuel).saturating_mul(u128::from(price.per_million_instructions)) / 1_000_000;
    let memory =
        memory_byte_ns.saturating_mul(u128::from(price.per_gib_second_memory)) / (GIB * NS_PER_S);
    per_message.saturating_add(compute).saturating_add(memory)
}

/// The charge of one evaluation, metered as `record`, to `owner`.
pub fn charge(price: &Price, record: &MessageRecord, owner: &str, dry_run: bool) -> Charge {
    let memory_byte_ns = u128::from(record.peak_memory_bytes) * u128::from(record.wall_ns);
    Charge {
        owner: owner.to_string(),
        dry_run,
        fuel: record.fuel,
        memory_byte_ns,
        amount: amount(price, record.fuel, memory_byte_ns),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(per_message: u64, per_million: u64, per_gib_second: u64) -> Price {
        Price {
            per_message,
            per_million_instructions: per_million,
            per_gib_second_memory: per_gib_second,
            ..free()
        }
    }

    #[test]
    fn each_term_is_floored_on_its_own() {
        let p = price(7, 3, 5);
        assert_eq!(amount(&p, 0, 0), 7);
        // 999_999 × 3 / 10⁶ = 2.99…: 2.
        assert_eq!(amount(&p, 999_999, 0), 9);
        // One GiB for one second at 5: 5; for half a second: 2 (2.5 floored).
        assert_eq!(amount(&p, 0, GIB * NS_PER_S), 12);
        assert_eq!(amount(&p, 0, GIB * NS_PER_S / 2), 9);
        // No overflow at the extremes: the products saturate (then are divided).
        let max = price(u64::MAX, u64::MAX, u64::MAX);
        let m = u128::from(u64::MAX);
        let most = m + m * m / 1_000_000 + u128::MAX / (GIB * NS_PER_S);
        assert_eq!(amount(&max, u64::MAX, u128::MAX), most);
    }

    #[test]
    fn overrides_replace_named_keys_and_refuse_unknown_ones() {
        let base = price(1, 2, 3);
        let mut overrides = toml::Table::new();
        overrides.insert("per-message".into(), toml::Value::Integer(9));
        let p = with_overrides(&base, &overrides).unwrap();
        assert_eq!((p.per_message, p.per_million_instructions), (9, 2));
        overrides.insert("per-banana".into(), toml::Value::Integer(1));
        assert!(
            with_overrides(&base, &overrides)
                .unwrap_err()
                .contains("per-banana")
        );
        let mut negative = toml::Table::new();
        negative.insert("per-message".into(), toml::Value::Integer(-1));
        assert!(with_overrides(&base, &negative).is_err());
    }
}
