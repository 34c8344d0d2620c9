//! The payload of [`Message::Cast`]: values cast to a narrower number format — IEEE binary16
//! (`f16`), bfloat16 (`bf16`), or 8-bit codes on a per-message uniform grid (`u8`).
//!
//! Wire form after the tag (11): the format in [`FORMAT_BITS`] = 2 bits (0 `f16`, 1 `bf16`,
//! 2 `u8`; 3 is rejected), then
//! * `f16` / `bf16`: `d` words of 16 bits, each the value's bit pattern in that format, finite
//!   (exponent field not all ones) — payload $2 + 16d$ bits;
//! * `u8`: `min` and `max` (scalars, finite, `min ≤ max`), then `d` codes of 8 bits — payload
//!   $2 + 2b + 8d$ bits with $b$ = [`Scalar::BITS`]. Code $c$ stands for
//!   $\mathrm{min} + c\thinspace\Delta$ with $\Delta = (\mathrm{max} - \mathrm{min})/255$,
//!   evaluated in `f64` and rounded once to the scalar type ([`CastFormat::value`]).

use serde::{Deserialize, Serialize};

use super::Message;
use super::validate::check_values;
use crate::bits::{BitReader, BitWriter};
use crate::error::DecodeError;
use crate::scalar::Scalar;

/// Width of the format field of a [`Message::Cast`].
pub const FORMAT_BITS: u32 = 2;
/// Largest code of the `u8` format (codes `0..=255`).
pub const U8_MAX_CODE: u16 = 255;

/// The number format of a [`Message::Cast`]'s words.
///
/// ```
/// use squeeze_core::message::CastFormat;
/// // 0x3c00 is 1.0 in binary16, 0x3f80 is 1.0 in bfloat16.
/// assert_eq!(CastFormat::<f32>::F16.value(0x3c00), 1.0);
/// assert_eq!(CastFormat::<f32>::Bf16.value(0x3f80), 1.0);
/// // u8: code c stands for min + c·(max − min)/255.
/// let u8 = CastFormat::<f32>::U8 { min: -10.0, max: 245.0 };
/// assert_eq!(u8.value(0), -10.0);
/// assert_eq!(u8.value(10), 0.0);
/// assert_eq!(u8.value(255), 245.0);
/// assert_eq!(u8.word_bits(), 8);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub enum CastFormat<S: Scalar> {
    /// IEEE-754 binary16: 1 sign, 5 exponent, 10 mantissa bits.
    F16,
    /// bfloat16: 1 sign, 8 exponent, 7 mantissa bits (the top half of an `f32`).
    Bf16,
    /// 8-bit codes on the uniform grid $\mathrm{min} + c\thinspace\Delta$, $c \in
    /// \lbrace 0, …, 255\rbrace$, $\Delta = (\mathrm{max} - \mathrm{min})/255$.
    U8 {
        /// Value of code 0 (finite).
        min: S,
        /// Value of code 255 (finite, ≥ `min`).
        max: S,
    },
}

impl<S: Scalar> CastFormat<S> {
    /// The 2-bit format code on the wire.
    pub fn code(&self) -> u64 {
        match self {
            CastFormat::F16 => 0,
            CastFormat::Bf16 => 1,
            CastFormat::U8 { .. } => 2,
        }
    }

    /// Bits of one word on the wire: 16, or 8 for `u8`.
    pub fn word_bits(&self) -> u32 {
        match self {
            CastFormat::F16 | CastFormat::Bf16 => 16,
            CastFormat::U8 { .. } => 8,
        }
    }

    /// Bits between the tag and the words: the format field, plus `min` and `max` for `u8`.
    pub fn header_bits(&self) -> u64 {
        match self {
            CastFormat::F16 | CastFormat::Bf16 => FORMAT_BITS as u64,
            CastFormat::U8 { .. } => FORMAT_BITS as u64 + 2 * S::BITS as u64,
        }
    }

    /// The grid step $\Delta = (\mathrm{max} - \mathrm{min})/255$ in `f64` (0 for the float
    /// formats).
    pub fn step(&self) -> f64 {
        match *self {
            CastFormat::U8 { min, max } => u8_step(min.to_f64(), max.to_f64()),
            _ => 0.0,
        }
    }

    /// The value a word stands for, rounded once to `S`: the format's own value for
    /// `f16`/`bf16` (exact whenever `S` holds it), $\mathrm{min} + c\thinspace\Delta$ for `u8`.
    #[inline]
    pub fn value(&self, word: u16) -> S {
        match *self {
            CastFormat::F16 => S::from_f64(half::f16::from_bits(word).to_f64()),
            CastFormat::Bf16 => S::from_f64(half::bf16::from_bits(word).to_f64()),
            CastFormat::U8 { min, max } => {
                S::from_f64(min.to_f64() + word as f64 * u8_step(min.to_f64(), max.to_f64()))
            }
        }
    }

    /// `true` if `word` is a finite value of the float format (exponent field not all ones);
    /// `true` for every `u8` word.
    fn finite_word(&self, word: u16) -> bool {
        match self {
            CastFormat::F16 => (word >> 10) & 0x1f != 0x1f,
            CastFormat::Bf16 => (word >> 7) & 0xff != 0xff,
            CastFormat::U8 { .. } => true,
        }
    }
}

/// The `u8` grid step $(\mathrm{max} - \mathrm{min})/255$ in `f64`, shared by the compressor
/// and the decoder so that both sides mean the same values.
#[inline]
pub fn u8_step(min: f64, max: f64) -> f64 {
    (max - min) / U8_MAX_CODE as f64
}

/// Shape (`wire = false`: `u8` codes ≤ 255) or wire (`wire = true`: also finite words and
/// header, `min ≤ max`, every word decoding to a finite `S`) invariants of a cast payload.
pub(crate) fn check_cast<S: Scalar>(
    format: &CastFormat<S>,
    words: &[u16],
    wire: bool,
) -> Result<(), DecodeError> {
    if let CastFormat::U8 { min, max } = *format {
        if let Some(c) = words.iter().find(|&&c| c > U8_MAX_CODE) {
            return Err(DecodeError::bad_field(
                "u8 code",
                format!("{c} exceeds {U8_MAX_CODE}"),
            ));
        }
        if !wire {
            return Ok(());
        }
        check_values(&[min, max], "u8 range")?;
        let top = format.value(U8_MAX_CODE);
        if min > max || !top.is_finite() {
            return Err(DecodeError::bad_field(
                "u8 range",
                format!("[{min}, {max}] must have min ≤ max and a finite top value"),
            ));
        }
        return Ok(());
    }
    if !wire {
        return Ok(());
    }
    for (j, &w) in words.iter().enumerate() {
        DecodeError::require(
            format.finite_word(w) && format.value(w).is_finite(),
            "cast value",
            || {
                format!(
                    "entry {j} (0x{w:04x}) is not finite in the {} format or in {}",
                    format_name(format),
                    S::NAME
                )
            },
        )?;
    }
    Ok(())
}

fn format_name<S: Scalar>(format: &CastFormat<S>) -> &'static str {
    match format {
        CastFormat::F16 => "f16",
        CastFormat::Bf16 => "bf16",
        CastFormat::U8 { .. } => "u8",
    }
}

/// Write format, header and words (after the tag).
pub(crate) fn encode_cast<S: Scalar>(w: &mut BitWriter, format: &CastFormat<S>, words: &[u16]) {
    w.write(format.code(), FORMAT_BITS);
    if let CastFormat::U8 { min, max } = *format {
        w.write(min.to_bits_u64(), S::BITS);
        w.write(max.to_bits_u64(), S::BITS);
    }
    let wb = format.word_bits();
    for &word in words {
        w.write(word as u64, wb);
    }
}

/// Read format, header and `dim` words (after the tag), checking the wire invariants.
pub(crate) fn decode_cast<S: Scalar>(
    r: &mut BitReader<'_>,
    dim: usize,
) -> Result<Message<S>, DecodeError> {
    let format = match r.read(FORMAT_BITS)? {
        0 => CastFormat::F16,
        1 => CastFormat::Bf16,
        2 => CastFormat::U8 {
            min: S::from_bits_u64(r.read(S::BITS)?),
            max: S::from_bits_u64(r.read(S::BITS)?),
        },
        f => {
            return Err(DecodeError::bad_field(
                "cast format",
                format!("{f} is not 0 (f16), 1 (bf16) or 2 (u8)"),
            ));
        }
    };
    let wb = format.word_bits();
    super::decode::need(r, dim as u64, wb as u64)?;
    let mut words = Vec::with_capacity(dim);
    for _ in 0..dim {
        words.push(r.read(wb)? as u16);
    }
    check_cast(&format, &words, true)?;
    Ok(Message::Cast { format, words })
}

#[cfg(test)]
#[path = "cast_tests.rs"]
mod tests;
