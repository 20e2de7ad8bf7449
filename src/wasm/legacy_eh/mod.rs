//! Translation of the *legacy* WebAssembly exception-handling opcodes into the standardized form.
//!
//! Some AOS builds (`aos-2-pure.wasm`) were compiled with the legacy ("phase 3") exception
//! handling instructions `try`, `catch`, `catch_all`, `delegate` and `rethrow`. wasmtime only
//! implements the standardized form (`try_table` with `catch`/`catch_ref`/`catch_all`/
//! `catch_all_ref` clauses, `throw_ref`, `exnref` values), so such modules are rewritten at
//! load time. `throw` is the same instruction in both forms and is kept as is.
//!
//! The scheme follows binaryen's `translate-to-exnref` pass, adapted to the stack machine:
//!
//! * `try bt … catch $t1 … catch_all … end` becomes an outer `block bt` holding one block per
//!   catch clause (innermost first) around a `try_table bt (catch $t1 0) … (catch_all n-1)`.
//!   After the `try_table` a `br` leaves the outer block; each clause block's end delivers the
//!   tag's values (and an `exnref` when the clause is the target of a `rethrow`), which is
//!   exactly the operand stack a legacy catch body starts with. Block parameters are passed
//!   down through every wrapping block, so no value has to be stashed.
//! * `rethrow n` becomes `local.get $exn; throw_ref`, where `$exn` is an added `exnref` local
//!   assigned from a `catch_ref`/`catch_all_ref` clause. Locals are shared by trys that are
//!   not nested in each other (one local per nesting depth of rethrow-targeted trys).
//! * `try … delegate l` becomes `try_table (catch_all_ref $tramp)`, where `$tramp` is a
//!   "trampoline" block wrapping the body of the try (or the function) that the delegate
//!   effectively targets; the exnref that lands there is re-thrown with `throw_ref` inside
//!   the target, where its handlers see it exactly as the legacy semantics say.
//!
//! Every branch depth is recomputed against the emitted control stack. Functions without
//! legacy opcodes are copied byte for byte, as are all sections other than the type section
//! (which may gain function types used as block types) and the code section.

mod analyze;
mod emit;
mod error;
mod sections;
mod translate;
mod types;

pub use error::LegacyEhError;
pub use translate::{translate, uses_legacy_eh};
