//! Errors shared by every squeeze crate. Each message says what was wrong and how to fix it.

use thiserror::Error;

/// Two slices that must have the same length do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error(
    "length mismatch: expected {expected} entries, got {got}; all vectors of one problem must share its dimension"
)]
pub struct LengthMismatch {
    /// The length the operation required.
    pub expected: usize,
    /// The length it was given.
    pub got: usize,
}

/// A hyperparameter is out of its domain. Raised by validated constructors.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{component}: invalid {param} = {value}: {hint}")]
pub struct ParamError {
    /// The compressor or method being built (registry name).
    pub component: &'static str,
    /// The parameter name as written in a spec string or config.
    pub param: &'static str,
    /// The offending value, rendered.
    pub value: String,
    /// What would be valid.
    pub hint: String,
}

impl ParamError {
    /// Build an error for `component`'s parameter `param`.
    pub fn new(
        component: &'static str,
        param: &'static str,
        value: impl ToString,
        hint: impl Into<String>,
    ) -> Self {
        Self {
            component,
            param,
            value: value.to_string(),
            hint: hint.into(),
        }
    }

    /// `Ok(())` if `ok`, else [`ParamError::new`] of the other arguments: the one check of a
    /// parameter's domain.
    ///
    /// ```
    /// use squeeze_core::ParamError;
    /// assert!(ParamError::require(true, "top_k", "k", 3, "k ≥ 1").is_ok());
    /// let e = ParamError::require(false, "top_k", "k", 0, "k ≥ 1").unwrap_err();
    /// assert_eq!(e, ParamError::new("top_k", "k", 0, "k ≥ 1"));
    /// ```
    pub fn require(
        ok: bool,
        component: &'static str,
        param: &'static str,
        value: impl ToString,
        hint: impl Into<String>,
    ) -> Result<(), Self> {
        if ok {
            Ok(())
        } else {
            Err(Self::new(component, param, value, hint))
        }
    }
}

/// Why a compressor refused its input.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum CompressError {
    /// The input vector has no entries.
    #[error("empty input: compressors need a vector of dimension ≥ 1")]
    EmptyInput,
    /// The input contains NaN or ±∞.
    #[error(
        "non-finite input: x[{index}] = {value}; check the gradient oracle and the stepsize (a diverging run produces ±∞/NaN)"
    )]
    NonFinite {
        /// Position of the first non-finite entry.
        index: usize,
        /// Its value, widened to `f64`.
        value: f64,
    },
    /// The compressor's parameters do not fit this dimension (e.g. K > d).
    #[error("{component}: {param} = {value} does not fit dimension d = {dim}: {hint}")]
    Incompatible {
        /// Compressor name.
        component: &'static str,
        /// Parameter name.
        param: &'static str,
        /// Parameter value, rendered.
        value: String,
        /// The input dimension.
        dim: usize,
        /// What would work.
        hint: String,
    },
    /// The input's dimension exceeds what the wire format can index.
    #[error(
        "dimension {dim} exceeds the wire-format limit of {max} coordinates; split the vector into blocks"
    )]
    TooLarge {
        /// The input dimension.
        dim: usize,
        /// The largest supported dimension.
        max: usize,
    },
    /// The caller's context does not fit the compressor (e.g. worker index ≥ worker count).
    #[error("{component}: {what}")]
    Context {
        /// Compressor name.
        component: &'static str,
        /// What is wrong with the context.
        what: String,
    },
}

/// A message does not fit the buffer it is applied to, or violates its own invariants.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The message's dimension differs from the buffer's.
    #[error("message of dimension {message} applied to a buffer of length {buffer}")]
    DimensionMismatch {
        /// `Message::dim()`.
        message: usize,
        /// The buffer length.
        buffer: usize,
    },
    /// The message breaks an invariant of its variant (hand-built messages only).
    #[error(
        "invalid message: {0}; hand-built messages must pass Message::validate (build them with a compressor or the Message::*_parts accessors)"
    )]
    Invalid(#[from] DecodeError),
}

/// Why untrusted bytes are not a valid message. Decoding never panics.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the message did.
    #[error("truncated message: needed {needed} more bits at bit {at}, only {available} left")]
    Truncated {
        /// Bit position of the failed read.
        at: u64,
        /// Bits requested.
        needed: u32,
        /// Bits remaining.
        available: u64,
    },
    /// Unknown variant tag.
    #[error(
        "unknown message tag {tag} at bit {at} (this build knows tags 0..=9; 15 is what Message::encode writes for a message that fails Message::validate); sender and receiver versions differ, the sender built an invalid message, or the bytes are corrupt"
    )]
    UnknownTag {
        /// The tag read.
        tag: u8,
        /// Its bit position.
        at: u64,
    },
    /// A sparse index is ≥ the dimension.
    #[error("index {index} out of range for dimension {dim}")]
    IndexOutOfRange {
        /// The index read.
        index: u64,
        /// The dimension.
        dim: usize,
    },
    /// Sparse indices must be strictly increasing (no duplicates).
    #[error(
        "indices must be strictly increasing: index {index} follows {prev} at position {position}"
    )]
    IndicesNotIncreasing {
        /// Position within the index list.
        position: usize,
        /// Preceding index.
        prev: u64,
        /// Offending index.
        index: u64,
    },
    /// A count field exceeds the dimension.
    #[error("count {count} exceeds dimension {dim}")]
    CountTooLarge {
        /// Count read.
        count: u64,
        /// The dimension.
        dim: usize,
    },
    /// A header value (scale, norm, base) is NaN, ±∞, or out of its domain.
    #[error("invalid {what}: {detail}")]
    BadField {
        /// Which field.
        what: &'static str,
        /// Why it is invalid.
        detail: String,
    },
    /// Bits remain after the message (beyond zero padding to a whole byte).
    #[error(
        "{bits} trailing bits after the message (only zero padding to the next byte is allowed)"
    )]
    TrailingData {
        /// How many bits were left.
        bits: u64,
    },
    /// The encoding is valid bits but not the canonical encoding of any message.
    #[error("non-canonical encoding: {0}")]
    NonCanonical(&'static str),
}

impl DecodeError {
    /// [`DecodeError::BadField`]: field `what` is invalid, for the reason `detail`.
    pub(crate) fn bad_field(what: &'static str, detail: String) -> Self {
        Self::BadField { what, detail }
    }

    /// `Ok(())` if `ok`, else [`DecodeError::bad_field`] of `what` and `detail()` (formatted
    /// only then): the one check of a field's domain.
    pub(crate) fn require(
        ok: bool,
        what: &'static str,
        detail: impl FnOnce() -> String,
    ) -> Result<(), Self> {
        if ok {
            Ok(())
        } else {
            Err(Self::bad_field(what, detail()))
        }
    }
}
