//! aocu — a hardware-aware Compute Unit for AO.
//!
//! One module per concept, in layers: a module uses only modules of the layers below it
//! (`docs/ARCHITECTURE.md` draws the arrows; `tests/architecture.rs` fails on a cycle).
//!
//! - Bottom: [`clock`] (now, the calendar), [`hw`] (the machine), [`net`] (the node as an
//!   HTTP(S) client).
//! - [`hash`] batch hashing on CPU and GPU; [`exec`] the pinned executor pool; [`node`] the
//!   node's identity.
//! - [`verify`] batch signature verification (RSA-PSS, ed25519) on CPU and GPU.
//! - [`ao`] the protocol vocabulary: data items, [`ao::Tag`]s, [`ao::Id`]s, message fields,
//!   wallets; [`bench`](mod@bench) the `aocu bench` runners.
//! - [`store`] durable records; [`wasm`] the process runtime; [`access`] who may use the node.
//! - [`arweave`] the gateways the node reads (modules, Scheduler-Locations, block height);
//!   [`sched`] the schedulers (embedded SU, remote SUs); [`meter`] metering; [`gateway`] the
//!   Arweave-gateway GraphQL subset over the store.
//! - [`cu`] the Compute Unit; [`config`] the node configuration.
//! - Top: [`http`] the server and its routes; [`cli`] the command line.

pub mod access;
pub mod ao;
pub mod arweave;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cu;
pub mod exec;
pub mod gateway;
pub mod hash;
pub mod http;
pub mod httpsig;
pub mod hw;
pub mod meter;
pub mod net;
pub mod node;
pub mod operator;
pub mod pay;
pub mod price;
pub mod router;
pub mod sched;
pub mod store;
pub mod verify;
pub mod wasm;
