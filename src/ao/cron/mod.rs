//! Cron: the messages a CU generates for a process spawned with `Cron-Interval` tags, between
//! the messages its scheduler assigned, exactly as AO's Node CU generates them (the rules, read
//! from its sources, are in `docs/node-cu-cron.md`).
//!
//! [`crons`] reads a process' crons from its tags; [`Schedule::between`] yields the cron
//! messages of one span between two scheduled messages, in evaluation order. Both are pure:
//! the same tags, boundaries and blocks give the same messages on every run and after a
//! restart.

pub mod interval;
pub mod js;
pub mod schedule;

pub use interval::{CRON_INTERVAL, CRON_TAG_PREFIX, Cron, CronError, Every, crons};
pub use schedule::{Block, CronMessage, Schedule, Span};
