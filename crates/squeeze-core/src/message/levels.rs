//! The level sets of [`Message::Quantized`](super::Message::Quantized).

use serde::{Deserialize, Serialize};

use super::MAX_LEVELS;
use crate::error::DecodeError;
use crate::scalar::Scalar;

/// The level set of a [`Message::Quantized`](super::Message::Quantized): magnitude of code `c ∈ {0, …, s}` relative to the
/// norm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub enum Levels<S: Scalar> {
    /// `|c| / s` — QSGD / random dithering, TernGrad (`s = 1`).
    Uniform {
        /// Number of non-zero levels, `1 ≤ s ≤ MAX_LEVELS`.
        s: u16,
    },
    /// `0` for `c = 0`, else `base^{|c| − s}` — natural dithering (`base = 2`), power rounding.
    Geometric {
        /// Ratio between neighbouring levels, finite and > 1.
        base: S,
        /// Number of non-zero levels, `1 ≤ s ≤ MAX_LEVELS`.
        s: u16,
    },
}

impl<S: Scalar> Levels<S> {
    /// Number of non-zero levels.
    pub fn s(&self) -> u16 {
        match *self {
            Levels::Uniform { s } | Levels::Geometric { s, .. } => s,
        }
    }

    /// Magnitude of level `c` (0 ≤ c ≤ s) relative to the norm, in `f64`.
    #[inline]
    pub fn magnitude(&self, c: u16) -> f64 {
        match *self {
            Levels::Uniform { s } => c as f64 / s as f64,
            Levels::Geometric { base, s } => {
                if c == 0 {
                    0.0
                } else {
                    base.to_f64().powi(c as i32 - s as i32)
                }
            }
        }
    }

    /// `1 ≤ s ≤ MAX_LEVELS` (so a code fits `⌈log₂(s+1)⌉ ≤ 15` bits).
    pub(crate) fn validate_count(&self) -> Result<(), DecodeError> {
        let s = self.s();
        DecodeError::require((1..=MAX_LEVELS).contains(&s), "level count s", || {
            format!("{s} not in 1..={MAX_LEVELS}")
        })?;
        Ok(())
    }

    /// The level count and, for geometric levels, a finite base `> 1`.
    pub(crate) fn validate(&self) -> Result<(), DecodeError> {
        self.validate_count()?;
        match *self {
            Levels::Geometric { base, .. } => {
                DecodeError::require(base.is_finite() && base > S::ONE, "geometric base", || {
                    format!("{base} must be finite and > 1")
                })
            }
            Levels::Uniform { .. } => Ok(()),
        }
    }
}
