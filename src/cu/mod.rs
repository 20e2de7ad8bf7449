//! The Compute Unit: evaluates processes from their schedule and keeps their results.

pub mod message;
