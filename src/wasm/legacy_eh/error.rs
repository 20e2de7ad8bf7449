//! The translator's error type.

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
pub(super) type Result<T> = std::result::Result<T, LegacyEhError>;
