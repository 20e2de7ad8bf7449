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
mod module;

pub use module::{translate, uses_legacy_eh};

/// Why a module could not be translated.
#[derive(Debug, thiserror::Error)]
pub enum LegacyEhError {
    /// The input is not a valid WebAssembly module (checked with legacy exceptions enabled).
    #[error("invalid wasm module at byte offset {offset:#x}: {message}")]
    Invalid {
        /// Byte offset of the problem in the input module.
        offset: usize,
        /// The parser's or validator's description of the problem.
        message: String,
    },
    /// A function uses a construct this translator cannot express in the standardized form.
    #[error("function {func_index} at byte offset {offset:#x}: cannot translate {construct}")]
    Untranslatable {
        /// Index of the function in the module's function index space (imports included).
        func_index: u32,
        /// Byte offset of the offending instruction in the input module.
        offset: usize,
        /// What could not be translated.
        construct: String,
    },
}

impl From<wasmparser::BinaryReaderError> for LegacyEhError {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        LegacyEhError::Invalid {
            offset: e.offset(),
            message: e.message().to_string(),
        }
    }
}

/// Convenience alias used throughout the translator.
type Result<T> = std::result::Result<T, LegacyEhError>;
