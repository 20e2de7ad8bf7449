//! The Arweave gateway's GraphQL subset, independent of HTTP: the query model, the parser that
//! reads AO clients' queries into it, and the executor that answers them over what the node
//! holds (its modules, scheduled messages and `Scheduler-Location`).
//!
//! `http::gateway` is the HTTP adapter on top: it reads the request, calls [`parse`] and
//! [`execute`], and shapes the response. See `docs/ao-http-api.md` for the exact queries.
//!
//! A query flows through: `parser` (apollo-parser's syntax tree into the document as written,
//! `syntax`), `bind` (operation choice, variables, `@skip`/`@include`) into [`query`]'s
//! [`Field`]s, then `execute` with its `filters`, `cursor`s and `output` shaping, over the
//! [`records`] of a [`Source`].

mod bind;
mod cursor;
mod execute;
mod filters;
mod output;
mod parser;
pub mod query;
pub mod records;
mod syntax;

#[cfg(test)]
mod fuzz;

pub use bind::parse;
pub use execute::{ExecError, execute};
pub use filters::{DEFAULT_FIRST, MAX_FIRST};
pub use parser::{MAX_DEPTH, TOKEN_LIMIT};
pub use query::{Field, QueryError, Value};
pub use records::{NodeRecords, SchedulerLocation, Source, TxRecord};
