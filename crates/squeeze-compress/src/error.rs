//! Why a compressor spec string could not be turned into a compressor.

use squeeze_core::ParamError;
use thiserror::Error;

/// Why a spec string could not be turned into a compressor.
///
/// ```
/// use squeeze_compress::{RegistryError, parse};
/// let e = parse::<f32>("top_k:k=1 | top_k:k=1 | top_k:k=1 | top_k:k=1 | top_k:k=1 | qsgd:s=2");
/// assert!(matches!(e, Err(RegistryError::TooDeep { max: 4, .. })));
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// No compressor has this name.
    #[error("unknown compressor '{name}'{suggestion}; known compressors: {known}")]
    Unknown {
        /// The name given.
        name: String,
        /// `; did you mean X` or empty.
        suggestion: String,
        /// All registered names.
        known: String,
    },
    /// A parameter is invalid.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The spec string is malformed.
    #[error("malformed compressor spec '{spec}': {hint}")]
    Syntax {
        /// The spec string.
        spec: String,
        /// What is wrong and how to write it.
        hint: String,
    },
    /// The spec nests more `A | B` stages and `scaled(...)` wrappers than the wire format can
    /// carry (each wraps the message once; see `squeeze_core::message::MAX_DEPTH`).
    #[error(
        "compressor spec '{spec}' nests too deep: every '|' and every scaled(...) wraps the message once, and the wire format carries at most {max} wrappers; use fewer stages"
    )]
    TooDeep {
        /// The spec string (shortened when long).
        spec: String,
        /// The largest number of wrappers the wire format carries.
        max: u32,
    },
}
