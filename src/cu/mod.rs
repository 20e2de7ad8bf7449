//! The Compute Unit: evaluates processes from their schedule and keeps their results.
//!
//! - [`message`]: the message and environment JSON a process is fed.
//! - [`output`]: result shapes as AO's CU answers them.
//! - [`query`]: validated inputs of the CU API (results ranges and cursors, dry-run bodies).
//! - [`results`]: pages of stored results.
//! - [`checkpoint`]: compressed, digest-checked checkpoint frames.

pub mod checkpoint;
pub mod message;
pub mod output;
pub mod query;
pub mod results;
