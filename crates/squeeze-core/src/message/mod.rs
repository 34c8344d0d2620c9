//! What crosses the wire: [`Message`], its exact bit-packed encoding, and reporting presets.
//!
//! # Wire format
//!
//! A message is decoded against a dimension `d` that both sides know from the configuration.
//! At top level a [`Message::Skip`] is encoded as **zero bits** (a lazy worker sends nothing);
//! every other message starts with a 4-bit tag. Nested messages (inside `Scaled`, `Composed`,
//! `Pair`, `Indexed`, `Concat`) are always tagged, `Skip` included. Fields are written least-significant bit first;
//! a scalar takes [`Scalar::BITS`] bits (its IEEE-754 pattern). With `w(n) = ⌈log₂ n⌉`:
//!
//! | tag | variant | payload after the tag |
//! |---|---|---|
//! | 0 | `Skip` | nothing |
//! | 1 | `Dense` | `d` scalars |
//! | 2 | `Sparse` | count `k` in `w(d+1)` bits, `k` strictly increasing indices in `w(d)` bits each, `k` scalars |
//! | 3 | `Sign` | scale (scalar, finite, ≥ 0), `d` sign bits (1 = negative) |
//! | 4 | `Quantized` | kind bit (0 uniform, 1 geometric), `s` in 16 bits, base (scalar, geometric only), norm (scalar), then per entry the level `|c|` in `w(s+1)` bits followed, if `c ≠ 0`, by its sign bit |
//! | 5 | `Natural` | per entry a sign bit and the `EXP_BITS`-bit IEEE exponent field (mantissa implied zero) |
//! | 6 | `Scaled` | scale (scalar, finite), then the inner message (tagged, dimension `d`) |
//! | 7 | `Composed` | count `k` in `w(d+1)` bits, `k` strictly increasing indices, then the inner message (tagged, dimension `k`) |
//! | 8 | `Pair` | two tagged messages of dimension `d` |
//! | 9 | `Indexed` | width `w` in 4 bits (`1 ≤ w ≤ 15`), the index in `w` bits, then the inner message (tagged, dimension `d`) |
//! | 10 | `Binary` | block length `b` in `w(d+1)` bits (`1 ≤ b ≤ d`; `0` iff `d = 0`), per block `⌈d/b⌉` two scalars (finite: the level of bit 0, then of bit 1), then `d` bits (1 = second level) |
//! | 11 | `Cast` | format in 2 bits (0 `f16`, 1 `bf16`, 2 `u8`), for `u8` `min` and `max` (scalars, finite, `min ≤ max`), then `d` words: 16-bit finite `f16`/`bf16` patterns or 8-bit codes ([`CastFormat`]) |
//! | 12 | `Concat` | the first part's dimension `k` in `w(d+1)` bits, then the first part (tagged, dimension `k`) and the second (tagged, dimension `d − k`) |
//! | 13 | `LowRank` | rank `r` in `w(n+1)` bits where `d = n(n+1)/2` (a packed symmetric n × n matrix; other `d` are rejected), `r ≤ n` weights (scalars), then `r` vectors of `n` scalars: $\sum_i \lambda_i v_i v_i^\top$ ([`Message::LowRank`]) |
//! | 15 | (reserved) | written by [`Message::encode`] alone in place of a message that fails [`Message::validate`]; always rejected |
//!
//! For a valid message [`Message::bits`] is exactly the number of bits [`Message::encode`]
//! writes; a byte buffer
//! holds `⌈bits/8⌉` bytes. [`Message::decode`] rejects truncated input, unknown tags, indices out
//! of range or not strictly increasing, non-finite or out-of-domain header fields, non-finite
//! values, nesting deeper than [`MAX_DEPTH`] and trailing data — it never panics.
//!
//! # Reporting presets
//!
//! Papers plot bits under their own conventions ([`BitConvention`]); records keep the exact
//! count and can redraw any paper's x-axis from [`Message::bits_under`].

mod accounting;
mod add_kernels;
mod arith;
mod cast;
#[cfg(target_arch = "x86_64")]
mod codes_pext;
mod decode;
mod encode;
mod levels;
mod low_rank;
mod natural;
mod parts;
#[cfg(test)]
mod tests;
mod validate;
#[cfg(test)]
mod wire_tests;

use serde::{Deserialize, Serialize};

use crate::scalar::Scalar;

pub use accounting::{BitConvention, log2_binomial_ceil};
pub use cast::{CastFormat, FORMAT_BITS, U8_MAX_CODE, u8_step};
pub use encode::{CODE_PIECE, encode_quantized_with};
pub use levels::Levels;

/// Width of the variant tag.
pub const TAG_BITS: u32 = 4;
/// Largest number of quantisation levels `s` (codes are stored as `i16`).
pub const MAX_LEVELS: u16 = i16::MAX as u16;
/// Deepest nesting of `Scaled`/`Composed`/`Pair`/`Indexed`/`Concat` accepted by the decoder.
pub const MAX_DEPTH: u32 = 4;
/// Width of the field that holds an [`Message::Indexed`] index's own width.
pub const INDEX_WIDTH_BITS: u32 = 4;
/// Widest index of an [`Message::Indexed`] (so at most 2¹⁵ alternatives).
pub const MAX_INDEX_WIDTH: u8 = 15;
/// Largest dimension the wire format indexes (`u32` indices).
pub const MAX_DIM: usize = u32::MAX as usize;

pub(crate) const TAG_SKIP: u64 = 0;
pub(crate) const TAG_DENSE: u64 = 1;
pub(crate) const TAG_SPARSE: u64 = 2;
pub(crate) const TAG_SIGN: u64 = 3;
pub(crate) const TAG_QUANTIZED: u64 = 4;
pub(crate) const TAG_NATURAL: u64 = 5;
pub(crate) const TAG_SCALED: u64 = 6;
pub(crate) const TAG_COMPOSED: u64 = 7;
pub(crate) const TAG_PAIR: u64 = 8;
pub(crate) const TAG_INDEXED: u64 = 9;
pub(crate) const TAG_BINARY: u64 = 10;
pub(crate) const TAG_CAST: u64 = 11;
pub(crate) const TAG_CONCAT: u64 = 12;
pub(crate) const TAG_LOW_RANK: u64 = 13;
/// Reserved: written by [`Message::encode`] in place of a message that fails
/// [`Message::validate`]; no decoder accepts it.
pub(crate) const TAG_INVALID: u64 = 15;

/// A compressed vector as it travels between workers and server.
///
/// Build messages with compressors; the variants' fields are public, so a hand-built message
/// can break its invariants. [`Message::validate`] checks them all; [`Message::add_to`] and
/// [`Message::try_encode`] / [`Message::try_to_bytes`] refuse a broken one with a typed error,
/// and [`Message::encode`] / [`Message::to_bytes`] send it as a tag that every decoder rejects —
/// never a panic, unbounded recursion or wrong values. Compressors reuse a message's buffers
/// through the `*_parts` accessors, so compressing into the same message again allocates
/// nothing.
///
/// ```
/// use squeeze_core::Message;
/// let m = Message::<f32>::Sparse { dim: 1000, indices: vec![3, 70], values: vec![1.5, -2.0] };
/// // tag 4 + count 10 + 2 indices × 10 + 2 values × 32
/// assert_eq!(m.bits(), 4 + 10 + 20 + 64);
/// let bytes = m.to_bytes();
/// assert_eq!(bytes.len() as u64, m.bits().div_ceil(8));
/// assert_eq!(Message::<f32>::decode(&bytes, 1000).unwrap(), m);
/// let mut out = vec![0.0f32; 1000];
/// m.add_to(&mut out, 2.0).unwrap();
/// assert_eq!((out[3], out[70]), (3.0, -4.0));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub enum Message<S: Scalar> {
    /// Nothing sent (a lazy round). Zero bits at top level.
    Skip {
        /// Dimension of the vector this stands for.
        dim: usize,
    },
    /// All `d` values.
    Dense {
        /// The values.
        values: Vec<S>,
    },
    /// `k` (index, value) pairs, indices strictly increasing.
    Sparse {
        /// Dimension.
        dim: usize,
        /// Strictly increasing indices `< dim`.
        indices: Vec<u32>,
        /// Values, one per index.
        values: Vec<S>,
    },
    /// `scale · (±1)` per coordinate.
    Sign {
        /// Dimension.
        dim: usize,
        /// Common magnitude, finite and ≥ 0.
        scale: S,
        /// Packed sign bits, 64 coordinates per word, bit set = negative; unused bits zero.
        negative: Vec<u64>,
    },
    /// `norm · sign(c_j) · levels.magnitude(|c_j|)` per coordinate.
    Quantized {
        /// Scale (a norm of the input), finite and ≥ 0.
        norm: S,
        /// Level set.
        levels: Levels<S>,
        /// Signed level codes, `|c_j| ≤ s`.
        codes: Vec<i16>,
    },
    /// Values that are zero or signed powers of two (mantissa zero): natural compression.
    Natural {
        /// The values.
        values: Vec<S>,
    },
    /// `scale · inner`.
    Scaled {
        /// Multiplier, finite.
        scale: S,
        /// The scaled message.
        inner: Box<Message<S>>,
    },
    /// A message over the `k` selected coordinates `indices` (sparsify, then compress the kept
    /// values).
    Composed {
        /// Dimension.
        dim: usize,
        /// Strictly increasing indices `< dim`.
        indices: Vec<u32>,
        /// Message of dimension `indices.len()`.
        inner: Box<Message<S>>,
    },
    /// Two messages of the same dimension whose sum is meant (or which a mechanism reads apart).
    Pair(Box<[Message<S>; 2]>),
    /// The inner message tagged with a small integer `index < 2^width` — which of up to
    /// $2^{w}$ alternatives produced it (AdaCGD's ladder rung). Decodes to the inner message's
    /// vector; the index is read by [`Message::index`].
    Indexed {
        /// Bits of the index on the wire, `1 ≤ width ≤ MAX_INDEX_WIDTH` (⌈log₂ L⌉ for L
        /// alternatives).
        width: u8,
        /// The index, `< 2^width`.
        index: u16,
        /// The message itself (dimension `d`).
        inner: Box<Message<S>>,
    },
    /// Two levels per block of `block` consecutive coordinates, one bit per coordinate
    /// choosing between them (1-bit SGD: the means of a block's nonnegative and negative
    /// entries). Coordinate `j` of block $k = \lfloor j/b\rfloor$ is `levels[2k]` if its bit
    /// is clear, `levels[2k + 1]` if set.
    ///
    /// ```
    /// use squeeze_core::Message;
    /// let m = Message::<f32>::Binary { dim: 3, block: 2, levels: vec![1.0, -2.0, 0.5, 0.0], negative: vec![0b010] };
    /// assert_eq!(m.to_dense().unwrap(), vec![1.0, -2.0, 0.5]);
    /// // tag 4 + block field w(4) = 2 + 2 blocks × 2 × 32 + 3 bits
    /// assert_eq!(m.bits(), 4 + 2 + 128 + 3);
    /// assert_eq!(Message::<f32>::decode(&m.to_bytes(), 3).unwrap(), m);
    /// ```
    Binary {
        /// Dimension.
        dim: usize,
        /// Coordinates per block, `1 ≤ block ≤ dim` (the last block may be shorter); 0 iff
        /// `dim = 0`.
        block: usize,
        /// `2⌈dim/block⌉` finite levels: per block the level of bit 0, then of bit 1.
        levels: Vec<S>,
        /// Packed level bits, 64 coordinates per word, bit set = second level; unused bits zero.
        negative: Vec<u64>,
    },
    /// The concatenation `[a; b]` of two messages of any dimensions `k` and `d − k` (a
    /// Newton-type uplink: a dense gradient followed by a compressed Hessian update). Decodes
    /// to the first part's vector followed by the second's.
    Concat(Box<[Message<S>; 2]>),
    /// Every coordinate cast to a narrower format: `f16`/`bf16` bit patterns or `u8` codes on
    /// a per-message grid (see [`CastFormat`]); coordinate `j` is `format.value(words[j])`.
    Cast {
        /// The number format (with the `u8` range).
        format: CastFormat<S>,
        /// One word per coordinate: a 16-bit pattern, or an 8-bit code `≤ 255` for `u8`.
        words: Vec<u16>,
    },
    /// A symmetric `side × side` matrix of rank `r ≤ side`, $\sum_{i<r} \lambda_i v_i v_i^\top$,
    /// standing for its packed upper triangle ([`crate::sym`]): dimension
    /// `side·(side+1)/2`. Sent by the low-rank matrix compressors (eigenpairs).
    ///
    /// ```
    /// use squeeze_core::Message;
    /// let m = Message::<f32>::LowRank { side: 2, weights: vec![0.5], vectors: vec![2.0, 4.0] };
    /// // 0.5·(2, 4)(2, 4)ᵀ = [[2, 4], [4, 8]], packed (2, 4, 8).
    /// assert_eq!(m.to_dense().unwrap(), vec![2.0, 4.0, 8.0]);
    /// assert_eq!(m.bits(), 4 + 2 + 3 * 32); // tag, rank in w(3) bits, weight, vector
    /// assert_eq!(Message::<f32>::decode(&m.to_bytes(), 3).unwrap(), m);
    /// ```
    LowRank {
        /// The matrix side `n` (the dimension is `n(n+1)/2`).
        side: usize,
        /// The `r` weights $\lambda_i$.
        weights: Vec<S>,
        /// The `r` vectors, `side` entries each: vector `i` is `vectors[i·side..(i+1)·side]`.
        vectors: Vec<S>,
    },
}

impl<S: Scalar> Default for Message<S> {
    fn default() -> Self {
        Message::Skip { dim: 0 }
    }
}
