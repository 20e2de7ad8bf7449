//! aocu — a hardware-aware Compute Unit for AO.
//!
//! The crate is split one module per concept (see `DESIGN.md` in the shared folder):
//! [`hw`] discovers the machine, [`config`] loads the node configuration, [`http`] serves
//! `~meta@1.0` and the AO APIs, [`node`] holds the node's identity, [`cli`] is the command line.

pub mod ao;
pub mod bench;
pub mod cli;
pub mod config;
pub mod cu;
pub mod exec;
pub mod gateway;
pub mod hash;
pub mod http;
pub mod hw;
pub mod meter;
pub mod node;
pub mod sched;
pub mod store;
pub mod wasm;
