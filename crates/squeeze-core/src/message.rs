//! What crosses the wire: [`Message`], its exact bit-packed encoding, and reporting presets.
//!
//! # Wire format
//!
//! A message is decoded against a dimension `d` that both sides know from the configuration.
//! At top level a [`Message::Skip`] is encoded as **zero bits** (a lazy worker sends nothing);
//! every other message starts with a 4-bit tag. Nested messages (inside `Scaled`, `Composed`,
//! `Pair`, `Indexed`) are always tagged, `Skip` included. Fields are written least-significant bit first;
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
//!
//! [`Message::bits`] is exactly the number of bits [`Message::encode`] writes; a byte buffer
//! holds `⌈bits/8⌉` bytes. [`Message::decode`] rejects truncated input, unknown tags, indices out
//! of range or not strictly increasing, non-finite or out-of-domain header fields, non-finite
//! values, nesting deeper than [`MAX_DEPTH`] and trailing data — it never panics.
//!
//! # Reporting presets
//!
//! Papers plot bits under their own conventions ([`BitConvention`]); records keep the exact
//! count and can redraw any paper's x-axis from [`Message::bits_under`].

use serde::{Deserialize, Serialize};

use crate::bits::{BitReader, BitWriter, bits_for_range};
use crate::error::{DecodeError, MessageError};
use crate::scalar::Scalar;

/// Width of the variant tag.
pub const TAG_BITS: u32 = 4;
/// Largest number of quantisation levels `s` (codes are stored as `i16`).
pub const MAX_LEVELS: u16 = i16::MAX as u16;
/// Deepest nesting of `Scaled`/`Composed`/`Pair`/`Indexed` accepted by the decoder.
pub const MAX_DEPTH: u32 = 4;
/// Width of the field that holds an [`Message::Indexed`] index's own width.
pub const INDEX_WIDTH_BITS: u32 = 4;
/// Widest index of an [`Message::Indexed`] (so at most 2¹⁵ alternatives).
pub const MAX_INDEX_WIDTH: u8 = 15;
/// Largest dimension the wire format indexes (`u32` indices).
pub const MAX_DIM: usize = u32::MAX as usize;

const TAG_SKIP: u64 = 0;
const TAG_DENSE: u64 = 1;
const TAG_SPARSE: u64 = 2;
const TAG_SIGN: u64 = 3;
const TAG_QUANTIZED: u64 = 4;
const TAG_NATURAL: u64 = 5;
const TAG_SCALED: u64 = 6;
const TAG_COMPOSED: u64 = 7;
const TAG_PAIR: u64 = 8;
const TAG_INDEXED: u64 = 9;

/// The level set of a [`Message::Quantized`]: magnitude of code `c ∈ {0, …, s}` relative to the
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

    fn validate(&self) -> Result<(), DecodeError> {
        let s = self.s();
        if s == 0 || s > MAX_LEVELS {
            return Err(DecodeError::BadField {
                what: "level count s",
                detail: format!("{s} not in 1..={MAX_LEVELS}"),
            });
        }
        if let Levels::Geometric { base, .. } = *self
            && !(base.is_finite() && base > S::ONE)
        {
            return Err(DecodeError::BadField {
                what: "geometric base",
                detail: format!("{base} must be finite and > 1"),
            });
        }
        Ok(())
    }
}

/// A compressed vector as it travels between workers and server.
///
/// Build messages with compressors; hand-built messages should be checked with
/// [`Message::validate`]. Compressors reuse a message's buffers through the `*_parts` accessors,
/// so compressing into the same message again allocates nothing.
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
}

impl<S: Scalar> Default for Message<S> {
    fn default() -> Self {
        Message::Skip { dim: 0 }
    }
}

#[inline]
fn write_scalar<S: Scalar>(w: &mut BitWriter, v: S) {
    w.write(v.to_bits_u64(), S::BITS);
}

#[inline]
fn read_scalar<S: Scalar>(r: &mut BitReader<'_>) -> Result<S, DecodeError> {
    Ok(S::from_bits_u64(r.read(S::BITS)?))
}

fn read_finite<S: Scalar>(r: &mut BitReader<'_>, what: &'static str) -> Result<S, DecodeError> {
    let v: S = read_scalar(r)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(DecodeError::BadField {
            what,
            detail: format!("{v} is not finite"),
        })
    }
}

fn need(r: &BitReader<'_>, count: u64, bits_each: u64) -> Result<(), DecodeError> {
    let needed = count.saturating_mul(bits_each);
    if needed > r.remaining() {
        return Err(DecodeError::Truncated {
            at: r.position(),
            needed: needed.min(u32::MAX as u64) as u32,
            available: r.remaining(),
        });
    }
    Ok(())
}

fn read_indices(r: &mut BitReader<'_>, dim: usize, out: &mut Vec<u32>) -> Result<(), DecodeError> {
    let count = r.read(bits_for_range(dim as u64 + 1))?;
    if count > dim as u64 {
        return Err(DecodeError::CountTooLarge { count, dim });
    }
    let wi = bits_for_range(dim as u64);
    need(r, count, wi as u64)?;
    out.clear();
    out.reserve(count as usize);
    let mut prev: Option<u64> = None;
    for position in 0..count as usize {
        let index = r.read(wi)?;
        if index >= dim as u64 {
            return Err(DecodeError::IndexOutOfRange { index, dim });
        }
        if let Some(p) = prev
            && index <= p
        {
            return Err(DecodeError::IndicesNotIncreasing {
                position,
                prev: p,
                index,
            });
        }
        prev = Some(index);
        out.push(index as u32);
    }
    Ok(())
}

fn check_indices(indices: &[u32], dim: usize) -> Result<(), DecodeError> {
    let mut prev: Option<u32> = None;
    for (position, &i) in indices.iter().enumerate() {
        if i as usize >= dim {
            return Err(DecodeError::IndexOutOfRange {
                index: i as u64,
                dim,
            });
        }
        if let Some(p) = prev
            && i <= p
        {
            return Err(DecodeError::IndicesNotIncreasing {
                position,
                prev: p as u64,
                index: i as u64,
            });
        }
        prev = Some(i);
    }
    Ok(())
}

fn check_values<S: Scalar>(values: &[S], what: &'static str) -> Result<(), DecodeError> {
    if let Some((i, v)) = crate::ops::first_non_finite(values) {
        return Err(DecodeError::BadField {
            what,
            detail: format!("entry {i} is {v}"),
        });
    }
    Ok(())
}

/// ⌈log₂ C(d, k)⌉ (bits to name a k-subset of d coordinates).
pub fn log2_binomial_ceil(d: u64, k: u64) -> u64 {
    if k == 0 || k >= d {
        return 0;
    }
    let k = k.min(d - k);
    let l = if k <= 4096 {
        (0..k)
            .map(|i| ((d - i) as f64 / (i + 1) as f64).log2())
            .sum::<f64>()
    } else {
        // Stirling series for ln n!; error < 1e-9 at n ≥ 4096.
        fn ln_fact(n: f64) -> f64 {
            n * n.ln() - n + 0.5 * (core::f64::consts::TAU * n).ln() + 1.0 / (12.0 * n)
                - 1.0 / (360.0 * n * n * n)
        }
        let (d, k) = (d as f64, k as f64);
        (ln_fact(d) - ln_fact(k) - ln_fact(d - k)) / core::f64::consts::LN_2
    };
    (l - 1e-9).ceil().max(0.0) as u64
}

/// How bits are counted for a plot's x-axis.
///
/// `Exact` is the length of the real encoding. The paper presets charge *real values* a fixed
/// width and indices per their rule; messages that carry no per-coordinate real values (`Sign`,
/// `Quantized`, `Natural`) are charged their exact payload under every preset, and header scalars
/// (scale of `Scaled`), tags and the index of `Indexed` are not charged by the presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BitConvention {
    /// Exactly what the wire carries.
    #[default]
    Exact,
    /// 32 bits per transmitted value, indices free (EF21, EF21-BW papers).
    Values32,
    /// 64 bits per transmitted entry (3PC paper, MoTEF notebook).
    Values64,
    /// 32 bits per value plus ⌈log₂ d⌉ per index.
    ValuePlusIndex,
    /// 32 bits per value plus ⌈log₂ C(d, k)⌉ for the support.
    InfoTheoretic,
}

impl<S: Scalar> Message<S> {
    /// Dimension of the vector this message describes.
    pub fn dim(&self) -> usize {
        match self {
            Message::Skip { dim }
            | Message::Sparse { dim, .. }
            | Message::Sign { dim, .. }
            | Message::Composed { dim, .. } => *dim,
            Message::Dense { values } | Message::Natural { values } => values.len(),
            Message::Quantized { codes, .. } => codes.len(),
            Message::Scaled { inner, .. } | Message::Indexed { inner, .. } => inner.dim(),
            Message::Pair(p) => p[0].dim(),
        }
    }

    /// `true` for [`Message::Skip`].
    pub fn is_skip(&self) -> bool {
        matches!(self, Message::Skip { .. })
    }

    /// Number of coordinates transmitted (`d` for dense-like messages, `k` for sparse, 0 for
    /// skip, the sum for a pair).
    pub fn entries(&self) -> u64 {
        match self {
            Message::Skip { .. } => 0,
            Message::Dense { values } | Message::Natural { values } => values.len() as u64,
            Message::Sparse { indices, .. } | Message::Composed { indices, .. } => {
                indices.len() as u64
            }
            Message::Sign { dim, .. } => *dim as u64,
            Message::Quantized { codes, .. } => codes.len() as u64,
            Message::Scaled { inner, .. } | Message::Indexed { inner, .. } => inner.entries(),
            Message::Pair(p) => p[0].entries() + p[1].entries(),
        }
    }

    /// Exact length in bits of [`Message::encode`]'s output.
    pub fn bits(&self) -> u64 {
        match self {
            Message::Skip { .. } => 0,
            m => m.tagged_bits(),
        }
    }

    fn tagged_bits(&self) -> u64 {
        TAG_BITS as u64 + self.payload_bits()
    }

    fn payload_bits(&self) -> u64 {
        let sb = S::BITS as u64;
        match self {
            Message::Skip { .. } => 0,
            Message::Dense { values } => values.len() as u64 * sb,
            Message::Sparse {
                dim,
                indices,
                values,
            } => {
                let d = *dim as u64;
                bits_for_range(d + 1) as u64
                    + indices.len() as u64 * bits_for_range(d) as u64
                    + values.len() as u64 * sb
            }
            Message::Sign { dim, .. } => sb + *dim as u64,
            Message::Quantized { levels, codes, .. } => {
                let header = 1
                    + 16
                    + sb
                    + match levels {
                        Levels::Geometric { .. } => sb,
                        Levels::Uniform { .. } => 0,
                    };
                let w = bits_for_range(levels.s() as u64 + 1) as u64;
                let nonzero = codes.iter().filter(|&&c| c != 0).count() as u64;
                header + codes.len() as u64 * w + nonzero
            }
            Message::Natural { values } => values.len() as u64 * (1 + S::EXP_BITS as u64),
            Message::Scaled { inner, .. } => sb + inner.tagged_bits(),
            Message::Composed {
                dim,
                indices,
                inner,
            } => {
                let d = *dim as u64;
                bits_for_range(d + 1) as u64
                    + indices.len() as u64 * bits_for_range(d) as u64
                    + inner.tagged_bits()
            }
            Message::Pair(p) => p[0].tagged_bits() + p[1].tagged_bits(),
            Message::Indexed { width, inner, .. } => {
                INDEX_WIDTH_BITS as u64 + *width as u64 + inner.tagged_bits()
            }
        }
    }

    /// Bits under a reporting convention (see [`BitConvention`]).
    ///
    /// ```
    /// use squeeze_core::{BitConvention, Message};
    /// let m = Message::<f32>::Sparse { dim: 1024, indices: vec![1, 2], values: vec![1.0, 2.0] };
    /// assert_eq!(m.bits_under(BitConvention::Values32), 64);
    /// assert_eq!(m.bits_under(BitConvention::Values64), 128);
    /// assert_eq!(m.bits_under(BitConvention::ValuePlusIndex), 2 * (32 + 10));
    /// assert_eq!(m.bits_under(BitConvention::InfoTheoretic), 64 + 19); // ⌈log₂ C(1024, 2)⌉
    /// assert_eq!(m.bits_under(BitConvention::Exact), m.bits());
    /// ```
    pub fn bits_under(&self, conv: BitConvention) -> u64 {
        let per_value = match conv {
            BitConvention::Exact => return self.bits(),
            BitConvention::Values64 => 64,
            _ => 32,
        };
        let index_cost = |d: usize, k: usize| -> u64 {
            match conv {
                BitConvention::ValuePlusIndex => k as u64 * bits_for_range(d as u64) as u64,
                BitConvention::InfoTheoretic => log2_binomial_ceil(d as u64, k as u64),
                _ => 0,
            }
        };
        match self {
            Message::Skip { .. } => 0,
            Message::Dense { values } => values.len() as u64 * per_value,
            Message::Sparse { dim, indices, .. } => {
                indices.len() as u64 * per_value + index_cost(*dim, indices.len())
            }
            Message::Sign { .. } | Message::Quantized { .. } | Message::Natural { .. } => {
                self.payload_bits()
            }
            Message::Scaled { inner, .. } | Message::Indexed { inner, .. } => {
                inner.bits_under(conv)
            }
            Message::Composed {
                dim,
                indices,
                inner,
            } => inner.bits_under(conv) + index_cost(*dim, indices.len()),
            Message::Pair(p) => p[0].bits_under(conv) + p[1].bits_under(conv),
        }
    }

    /// Append the encoding to `w` (nothing for a top-level `Skip`).
    ///
    /// The message must be valid ([`Message::validate`]); compressors only produce valid ones.
    pub fn encode(&self, w: &mut BitWriter) {
        if !self.is_skip() {
            self.encode_tagged(w);
        }
    }

    /// The encoding as bytes, zero-padded to a whole byte.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = BitWriter::with_capacity_bits(self.bits());
        self.encode(&mut w);
        w.finish().to_vec()
    }

    fn encode_tagged(&self, w: &mut BitWriter) {
        match self {
            Message::Skip { .. } => w.write(TAG_SKIP, TAG_BITS),
            Message::Dense { values } => {
                w.write(TAG_DENSE, TAG_BITS);
                for &v in values {
                    write_scalar(w, v);
                }
            }
            Message::Sparse {
                dim,
                indices,
                values,
            } => {
                w.write(TAG_SPARSE, TAG_BITS);
                write_indices(w, *dim, indices);
                for &v in values {
                    write_scalar(w, v);
                }
            }
            Message::Sign {
                dim,
                scale,
                negative,
            } => {
                w.write(TAG_SIGN, TAG_BITS);
                write_scalar(w, *scale);
                let full = dim / 64;
                for &word in &negative[..full] {
                    w.write(word, 64);
                }
                let rem = (dim % 64) as u32;
                if rem > 0 {
                    w.write(negative[full], rem);
                }
            }
            Message::Quantized {
                norm,
                levels,
                codes,
            } => {
                w.write(TAG_QUANTIZED, TAG_BITS);
                match *levels {
                    Levels::Uniform { s } => {
                        w.write(0, 1);
                        w.write(s as u64, 16);
                    }
                    Levels::Geometric { base, s } => {
                        w.write(1, 1);
                        w.write(s as u64, 16);
                        write_scalar(w, base);
                    }
                }
                write_scalar(w, *norm);
                let width = bits_for_range(levels.s() as u64 + 1);
                for &c in codes {
                    let mag = c.unsigned_abs() as u64;
                    if mag == 0 {
                        w.write(0, width);
                    } else {
                        w.write(mag | (((c < 0) as u64) << width), width + 1);
                    }
                }
            }
            Message::Natural { values } => {
                w.write(TAG_NATURAL, TAG_BITS);
                let shift = S::MANT_BITS;
                let n = 1 + S::EXP_BITS;
                for &v in values {
                    w.write(v.to_bits_u64() >> shift, n);
                }
            }
            Message::Scaled { scale, inner } => {
                w.write(TAG_SCALED, TAG_BITS);
                write_scalar(w, *scale);
                inner.encode_tagged(w);
            }
            Message::Composed {
                dim,
                indices,
                inner,
            } => {
                w.write(TAG_COMPOSED, TAG_BITS);
                write_indices(w, *dim, indices);
                inner.encode_tagged(w);
            }
            Message::Pair(p) => {
                w.write(TAG_PAIR, TAG_BITS);
                p[0].encode_tagged(w);
                p[1].encode_tagged(w);
            }
            Message::Indexed {
                width,
                index,
                inner,
            } => {
                w.write(TAG_INDEXED, TAG_BITS);
                w.write(*width as u64, INDEX_WIDTH_BITS);
                w.write(*index as u64, *width as u32);
                inner.encode_tagged(w);
            }
        }
    }

    /// Decode a message of dimension `dim` from untrusted bytes (the whole buffer).
    ///
    /// An empty buffer is a `Skip`. Errors describe the first problem found; no input panics.
    ///
    /// ```
    /// use squeeze_core::{DecodeError, Message};
    /// assert!(Message::<f32>::decode(&[], 10).unwrap().is_skip());
    /// assert!(matches!(Message::<f32>::decode(&[0x0f], 10), Err(DecodeError::UnknownTag { tag: 15, .. })));
    /// ```
    pub fn decode(bytes: &[u8], dim: usize) -> Result<Self, DecodeError> {
        if dim > MAX_DIM {
            return Err(DecodeError::BadField {
                what: "dimension",
                detail: format!("{dim} exceeds {MAX_DIM}"),
            });
        }
        if bytes.is_empty() {
            return Ok(Message::Skip { dim });
        }
        let mut r = BitReader::new(bytes);
        let m = Self::decode_tagged(&mut r, dim, 0)?;
        if m.is_skip() {
            return Err(DecodeError::NonCanonical(
                "a top-level skip is encoded as zero bytes",
            ));
        }
        r.finish()?;
        Ok(m)
    }

    /// Decode one tagged message from a reader positioned at its tag (for streams that carry
    /// several messages back to back). Top-level skips are not representable this way; use
    /// [`Message::decode`] for whole buffers.
    pub fn decode_from(r: &mut BitReader<'_>, dim: usize) -> Result<Self, DecodeError> {
        Self::decode_tagged(r, dim, 0)
    }

    fn decode_tagged(r: &mut BitReader<'_>, dim: usize, depth: u32) -> Result<Self, DecodeError> {
        let at = r.position();
        let tag = r.read(TAG_BITS)?;
        let sb = S::BITS as u64;
        Ok(match tag {
            TAG_SKIP => Message::Skip { dim },
            TAG_DENSE => {
                need(r, dim as u64, sb)?;
                let mut values = Vec::with_capacity(dim);
                for _ in 0..dim {
                    values.push(read_scalar(r)?);
                }
                check_values(&values, "dense value")?;
                Message::Dense { values }
            }
            TAG_SPARSE => {
                let mut indices = Vec::new();
                read_indices(r, dim, &mut indices)?;
                need(r, indices.len() as u64, sb)?;
                let mut values = Vec::with_capacity(indices.len());
                for _ in 0..indices.len() {
                    values.push(read_scalar(r)?);
                }
                check_values(&values, "sparse value")?;
                Message::Sparse {
                    dim,
                    indices,
                    values,
                }
            }
            TAG_SIGN => {
                let scale: S = read_finite(r, "sign scale")?;
                if scale.is_sign_negative() {
                    return Err(DecodeError::BadField {
                        what: "sign scale",
                        detail: format!("{scale} must be ≥ 0 (with a clear sign bit)"),
                    });
                }
                need(r, dim as u64, 1)?;
                let mut negative = Vec::with_capacity(dim.div_ceil(64));
                for _ in 0..dim / 64 {
                    negative.push(r.read(64)?);
                }
                if !dim.is_multiple_of(64) {
                    negative.push(r.read((dim % 64) as u32)?);
                }
                Message::Sign {
                    dim,
                    scale,
                    negative,
                }
            }
            TAG_QUANTIZED => {
                let geometric = r.read_bit()?;
                let s = r.read(16)? as u16;
                let levels = if geometric {
                    Levels::Geometric {
                        base: read_scalar(r)?,
                        s,
                    }
                } else {
                    Levels::Uniform { s }
                };
                levels.validate()?;
                let norm: S = read_finite(r, "quantisation norm")?;
                if norm.is_sign_negative() {
                    return Err(DecodeError::BadField {
                        what: "quantisation norm",
                        detail: format!("{norm} must be ≥ 0 (with a clear sign bit)"),
                    });
                }
                let width = bits_for_range(s as u64 + 1);
                need(r, dim as u64, width as u64)?;
                let mut codes = Vec::with_capacity(dim);
                for _ in 0..dim {
                    let mag = r.read(width)?;
                    if mag > s as u64 {
                        return Err(DecodeError::BadField {
                            what: "quantisation level",
                            detail: format!("{mag} exceeds s = {s}"),
                        });
                    }
                    let c = if mag != 0 && r.read_bit()? {
                        -(mag as i16)
                    } else {
                        mag as i16
                    };
                    codes.push(c);
                }
                Message::Quantized {
                    norm,
                    levels,
                    codes,
                }
            }
            TAG_NATURAL => {
                let n = 1 + S::EXP_BITS;
                need(r, dim as u64, n as u64)?;
                let max_exp = (1u64 << S::EXP_BITS) - 1;
                let mut values = Vec::with_capacity(dim);
                for j in 0..dim {
                    let field = r.read(n)?;
                    if field & max_exp == max_exp {
                        return Err(DecodeError::BadField {
                            what: "natural exponent",
                            detail: format!("entry {j} encodes ±∞/NaN"),
                        });
                    }
                    values.push(S::from_bits_u64(field << S::MANT_BITS));
                }
                Message::Natural { values }
            }
            TAG_SCALED | TAG_COMPOSED | TAG_PAIR | TAG_INDEXED if depth >= MAX_DEPTH => {
                return Err(DecodeError::BadField {
                    what: "nesting",
                    detail: format!("deeper than {MAX_DEPTH} levels"),
                });
            }
            TAG_SCALED => {
                let scale = read_finite(r, "scale")?;
                let inner = Box::new(Self::decode_tagged(r, dim, depth + 1)?);
                Message::Scaled { scale, inner }
            }
            TAG_COMPOSED => {
                let mut indices = Vec::new();
                read_indices(r, dim, &mut indices)?;
                let inner = Box::new(Self::decode_tagged(r, indices.len(), depth + 1)?);
                Message::Composed {
                    dim,
                    indices,
                    inner,
                }
            }
            TAG_PAIR => {
                let a = Self::decode_tagged(r, dim, depth + 1)?;
                let b = Self::decode_tagged(r, dim, depth + 1)?;
                Message::Pair(Box::new([a, b]))
            }
            TAG_INDEXED => {
                let width = r.read(INDEX_WIDTH_BITS)? as u8;
                check_index_width(width)?;
                let index = r.read(width as u32)? as u16;
                let inner = Box::new(Self::decode_tagged(r, dim, depth + 1)?);
                Message::Indexed {
                    width,
                    index,
                    inner,
                }
            }
            t => return Err(DecodeError::UnknownTag { tag: t as u8, at }),
        })
    }

    /// Check the invariants that [`Message::decode`] enforces (for hand-built messages).
    pub fn validate(&self) -> Result<(), DecodeError> {
        self.validate_depth(0)
    }

    fn validate_depth(&self, depth: u32) -> Result<(), DecodeError> {
        if self.dim() > MAX_DIM {
            return Err(DecodeError::BadField {
                what: "dimension",
                detail: format!("{} exceeds {MAX_DIM}", self.dim()),
            });
        }
        let nested = matches!(
            self,
            Message::Scaled { .. }
                | Message::Composed { .. }
                | Message::Pair(_)
                | Message::Indexed { .. }
        );
        if nested && depth >= MAX_DEPTH {
            return Err(DecodeError::BadField {
                what: "nesting",
                detail: format!("deeper than {MAX_DEPTH} levels"),
            });
        }
        match self {
            Message::Skip { .. } => Ok(()),
            Message::Dense { values } => check_values(values, "dense value"),
            Message::Sparse {
                dim,
                indices,
                values,
            } => {
                if indices.len() != values.len() {
                    return Err(DecodeError::BadField {
                        what: "sparse lengths",
                        detail: format!("{} indices, {} values", indices.len(), values.len()),
                    });
                }
                check_indices(indices, *dim)?;
                check_values(values, "sparse value")
            }
            Message::Sign {
                dim,
                scale,
                negative,
            } => {
                if !scale.is_finite() || scale.is_sign_negative() {
                    return Err(DecodeError::BadField {
                        what: "sign scale",
                        detail: format!("{scale} must be finite and ≥ 0"),
                    });
                }
                if negative.len() != dim.div_ceil(64) {
                    return Err(DecodeError::BadField {
                        what: "sign words",
                        detail: format!("{} words for dimension {dim}", negative.len()),
                    });
                }
                if !dim.is_multiple_of(64) && negative[dim / 64] >> (dim % 64) != 0 {
                    return Err(DecodeError::NonCanonical("unused sign bits must be zero"));
                }
                Ok(())
            }
            Message::Quantized {
                norm,
                levels,
                codes,
            } => {
                levels.validate()?;
                if !norm.is_finite() || norm.is_sign_negative() {
                    return Err(DecodeError::BadField {
                        what: "quantisation norm",
                        detail: format!("{norm} must be finite and ≥ 0"),
                    });
                }
                let s = levels.s();
                if let Some(c) = codes.iter().find(|c| c.unsigned_abs() > s) {
                    return Err(DecodeError::BadField {
                        what: "quantisation level",
                        detail: format!("{c} exceeds s = {s}"),
                    });
                }
                Ok(())
            }
            Message::Natural { values } => {
                let mant_mask = (1u64 << S::MANT_BITS) - 1;
                check_values(values, "natural value")?;
                if let Some(v) = values.iter().find(|v| v.to_bits_u64() & mant_mask != 0) {
                    return Err(DecodeError::BadField {
                        what: "natural value",
                        detail: format!("{v} is not zero or a power of two"),
                    });
                }
                Ok(())
            }
            Message::Scaled { scale, inner } => {
                if !scale.is_finite() {
                    return Err(DecodeError::BadField {
                        what: "scale",
                        detail: format!("{scale} is not finite"),
                    });
                }
                inner.validate_depth(depth + 1)
            }
            Message::Composed {
                dim,
                indices,
                inner,
            } => {
                check_indices(indices, *dim)?;
                if inner.dim() != indices.len() {
                    return Err(DecodeError::BadField {
                        what: "composed inner dimension",
                        detail: format!("{} for {} indices", inner.dim(), indices.len()),
                    });
                }
                inner.validate_depth(depth + 1)
            }
            Message::Pair(p) => {
                if p[0].dim() != p[1].dim() {
                    return Err(DecodeError::BadField {
                        what: "pair dimensions",
                        detail: format!("{} and {}", p[0].dim(), p[1].dim()),
                    });
                }
                p[0].validate_depth(depth + 1)?;
                p[1].validate_depth(depth + 1)
            }
            Message::Indexed {
                width,
                index,
                inner,
            } => {
                check_index_width(*width)?;
                if (*index as u64) >> *width != 0 {
                    return Err(DecodeError::BadField {
                        what: "index",
                        detail: format!("{index} does not fit in {width} bits"),
                    });
                }
                inner.validate_depth(depth + 1)
            }
        }
    }

    /// `out ← out + scale · m`, without a dense temporary.
    ///
    /// Errors if `out.len() != self.dim()` or a hand-built message indexes out of range.
    pub fn add_to(&self, out: &mut [S], scale: S) -> Result<(), MessageError> {
        if out.len() != self.dim() {
            return Err(MessageError::DimensionMismatch {
                message: self.dim(),
                buffer: out.len(),
            });
        }
        self.add_inner(out, scale)
    }

    /// `out ← m` (dense decode into a caller buffer).
    pub fn write_dense(&self, out: &mut [S]) -> Result<(), MessageError> {
        if out.len() != self.dim() {
            return Err(MessageError::DimensionMismatch {
                message: self.dim(),
                buffer: out.len(),
            });
        }
        out.fill(S::ZERO);
        self.add_inner(out, S::ONE)
    }

    /// The decoded vector as a new `Vec` (allocates; for tests and inspection).
    pub fn to_dense(&self) -> Result<Vec<S>, MessageError> {
        let mut out = vec![S::ZERO; self.dim()];
        self.add_inner(&mut out, S::ONE)?;
        Ok(out)
    }

    fn add_inner(&self, out: &mut [S], scale: S) -> Result<(), MessageError> {
        match self {
            Message::Skip { .. } => {}
            Message::Dense { values } | Message::Natural { values } => {
                for (o, &v) in out.iter_mut().zip(values) {
                    *o += scale * v;
                }
            }
            Message::Sparse {
                dim,
                indices,
                values,
            } => {
                if indices.len() != values.len() {
                    return Err(MessageError::Invalid(DecodeError::BadField {
                        what: "sparse lengths",
                        detail: format!("{} indices, {} values", indices.len(), values.len()),
                    }));
                }
                for (&i, &v) in indices.iter().zip(values) {
                    match out.get_mut(i as usize) {
                        Some(o) => *o += scale * v,
                        None => {
                            return Err(MessageError::Invalid(DecodeError::IndexOutOfRange {
                                index: i as u64,
                                dim: *dim,
                            }));
                        }
                    }
                }
            }
            Message::Sign {
                scale: s, negative, ..
            } => {
                let a = scale * *s;
                for (chunk, &word) in out.chunks_mut(64).zip(negative) {
                    for (k, o) in chunk.iter_mut().enumerate() {
                        *o += if (word >> k) & 1 == 1 { -a } else { a };
                    }
                }
            }
            Message::Quantized {
                norm,
                levels,
                codes,
            } => match *levels {
                Levels::Uniform { s } => {
                    let u = scale * *norm / S::from_i32(s as i32);
                    for (o, &c) in out.iter_mut().zip(codes) {
                        *o += u * S::from_i32(c as i32);
                    }
                }
                Levels::Geometric { .. } => {
                    let n = scale * *norm;
                    for (o, &c) in out.iter_mut().zip(codes) {
                        if c != 0 {
                            let m = S::from_f64(levels.magnitude(c.unsigned_abs()));
                            *o += if c < 0 { -(n * m) } else { n * m };
                        }
                    }
                }
            },
            Message::Scaled { scale: s, inner } => inner.add_inner(out, scale * *s)?,
            Message::Indexed { inner, .. } => inner.add_inner(out, scale)?,
            Message::Composed {
                dim,
                indices,
                inner,
            } => {
                if inner.dim() != indices.len() {
                    return Err(MessageError::Invalid(DecodeError::BadField {
                        what: "composed inner dimension",
                        detail: format!("{} for {} indices", inner.dim(), indices.len()),
                    }));
                }
                // Expand the inner message over k coordinates, then scatter.
                let mut err = None;
                inner.visit(scale, &mut |p, v| match indices
                    .get(p)
                    .and_then(|&i| out.get_mut(i as usize))
                {
                    Some(o) => *o += v,
                    None => err = Some(p),
                });
                if let Some(p) = err {
                    return Err(MessageError::Invalid(DecodeError::IndexOutOfRange {
                        index: indices.get(p).copied().unwrap_or(u32::MAX) as u64,
                        dim: *dim,
                    }));
                }
            }
            Message::Pair(p) => {
                p[0].add_inner(out, scale)?;
                p[1].add_inner(out, scale)?;
            }
        }
        Ok(())
    }

    /// Call `f(j, scale·value_j)` for every coordinate the message represents explicitly.
    fn visit(&self, scale: S, f: &mut dyn FnMut(usize, S)) {
        match self {
            Message::Skip { .. } => {}
            Message::Dense { values } | Message::Natural { values } => {
                for (j, &v) in values.iter().enumerate() {
                    f(j, scale * v);
                }
            }
            Message::Sparse {
                indices, values, ..
            } => {
                for (&i, &v) in indices.iter().zip(values) {
                    f(i as usize, scale * v);
                }
            }
            Message::Sign {
                dim,
                scale: s,
                negative,
            } => {
                let a = scale * *s;
                for j in 0..*dim {
                    let neg = negative
                        .get(j / 64)
                        .is_some_and(|w| (w >> (j % 64)) & 1 == 1);
                    f(j, if neg { -a } else { a });
                }
            }
            Message::Quantized {
                norm,
                levels,
                codes,
            } => {
                let n = scale * *norm;
                for (j, &c) in codes.iter().enumerate() {
                    let m = match *levels {
                        Levels::Uniform { s } => {
                            S::from_i32(c.unsigned_abs() as i32) / S::from_i32(s as i32)
                        }
                        Levels::Geometric { .. } => S::from_f64(levels.magnitude(c.unsigned_abs())),
                    };
                    f(j, if c < 0 { -(n * m) } else { n * m });
                }
            }
            Message::Scaled { scale: s, inner } => inner.visit(scale * *s, f),
            Message::Indexed { inner, .. } => inner.visit(scale, f),
            Message::Composed { indices, inner, .. } => {
                inner.visit(scale, &mut |p, v| {
                    if let Some(&i) = indices.get(p) {
                        f(i as usize, v)
                    }
                });
            }
            Message::Pair(p) => {
                p[0].visit(scale, f);
                p[1].visit(scale, f);
            }
        }
    }

    // ---- buffer reuse for compressors -------------------------------------------------------

    /// Turn into `Skip { dim }`.
    pub fn set_skip(&mut self, dim: usize) {
        *self = Message::Skip { dim };
    }

    /// Become `Dense`, reusing the buffer if already dense; returns the cleared value vector.
    pub fn dense_parts(&mut self) -> &mut Vec<S> {
        if !matches!(self, Message::Dense { .. }) {
            *self = Message::Dense { values: Vec::new() };
        }
        match self {
            Message::Dense { values } => {
                values.clear();
                values
            }
            _ => unreachable!("just set to Dense"),
        }
    }

    /// Become `Natural`, reusing the buffer; returns the cleared value vector.
    pub fn natural_parts(&mut self) -> &mut Vec<S> {
        if !matches!(self, Message::Natural { .. }) {
            *self = Message::Natural { values: Vec::new() };
        }
        match self {
            Message::Natural { values } => {
                values.clear();
                values
            }
            _ => unreachable!("just set to Natural"),
        }
    }

    /// Become `Sparse` of dimension `dim`, reusing buffers; returns cleared index and value
    /// vectors.
    pub fn sparse_parts(&mut self, dim: usize) -> (&mut Vec<u32>, &mut Vec<S>) {
        if !matches!(self, Message::Sparse { .. }) {
            *self = Message::Sparse {
                dim,
                indices: Vec::new(),
                values: Vec::new(),
            };
        }
        match self {
            Message::Sparse {
                dim: d,
                indices,
                values,
            } => {
                *d = dim;
                indices.clear();
                values.clear();
                (indices, values)
            }
            _ => unreachable!("just set to Sparse"),
        }
    }

    /// Become `Sign` of dimension `dim`; returns the scale and the cleared sign words.
    pub fn sign_parts(&mut self, dim: usize) -> (&mut S, &mut Vec<u64>) {
        if !matches!(self, Message::Sign { .. }) {
            *self = Message::Sign {
                dim,
                scale: S::ZERO,
                negative: Vec::new(),
            };
        }
        match self {
            Message::Sign {
                dim: d,
                scale,
                negative,
            } => {
                *d = dim;
                negative.clear();
                (scale, negative)
            }
            _ => unreachable!("just set to Sign"),
        }
    }

    /// Become `Quantized`; returns norm, levels and the cleared code vector.
    pub fn quantized_parts(&mut self) -> (&mut S, &mut Levels<S>, &mut Vec<i16>) {
        if !matches!(self, Message::Quantized { .. }) {
            *self = Message::Quantized {
                norm: S::ZERO,
                levels: Levels::Uniform { s: 1 },
                codes: Vec::new(),
            };
        }
        match self {
            Message::Quantized {
                norm,
                levels,
                codes,
            } => {
                codes.clear();
                (norm, levels, codes)
            }
            _ => unreachable!("just set to Quantized"),
        }
    }

    /// Become `Scaled`; returns the scale and the inner message (reused if already scaled).
    pub fn scaled_parts(&mut self) -> (&mut S, &mut Message<S>) {
        if !matches!(self, Message::Scaled { .. }) {
            *self = Message::Scaled {
                scale: S::ONE,
                inner: Box::default(),
            };
        }
        match self {
            Message::Scaled { scale, inner } => (scale, inner),
            _ => unreachable!("just set to Scaled"),
        }
    }

    /// Become `Composed` of dimension `dim`; returns the cleared indices and the inner message.
    pub fn composed_parts(&mut self, dim: usize) -> (&mut Vec<u32>, &mut Message<S>) {
        if !matches!(self, Message::Composed { .. }) {
            *self = Message::Composed {
                dim,
                indices: Vec::new(),
                inner: Box::default(),
            };
        }
        match self {
            Message::Composed {
                dim: d,
                indices,
                inner,
            } => {
                *d = dim;
                indices.clear();
                (indices, inner)
            }
            _ => unreachable!("just set to Composed"),
        }
    }

    /// The index of an [`Message::Indexed`] message, `None` for every other variant.
    ///
    /// ```
    /// use squeeze_core::Message;
    /// let mut m = Message::<f32>::default();
    /// let inner = m.indexed_parts(2, 3);
    /// inner.dense_parts().extend([1.0, 2.0]);
    /// assert_eq!(m.index(), Some(3));
    /// // tag 4 + width field 4 + index 2 + inner (tag 4 + 2 × 32)
    /// assert_eq!(m.bits(), 4 + 4 + 2 + 4 + 64);
    /// assert_eq!(Message::<f32>::decode(&m.to_bytes(), 2).unwrap(), m);
    /// assert_eq!(Message::<f32>::Dense { values: vec![1.0] }.index(), None);
    /// ```
    pub fn index(&self) -> Option<u16> {
        match self {
            Message::Indexed { index, .. } => Some(*index),
            _ => None,
        }
    }

    /// Become `Indexed { width, index, .. }`; returns the inner message (reused if already
    /// indexed). The caller keeps `index < 2^width` and `1 ≤ width ≤ MAX_INDEX_WIDTH`
    /// ([`Message::validate`] checks).
    pub fn indexed_parts(&mut self, width: u8, index: u16) -> &mut Message<S> {
        if !matches!(self, Message::Indexed { .. }) {
            *self = Message::Indexed {
                width,
                index,
                inner: Box::default(),
            };
        }
        match self {
            Message::Indexed {
                width: w,
                index: i,
                inner,
            } => {
                *w = width;
                *i = index;
                inner
            }
            _ => unreachable!("just set to Indexed"),
        }
    }

    /// Become `Pair`; returns both halves (reused if already a pair).
    pub fn pair_parts(&mut self) -> (&mut Message<S>, &mut Message<S>) {
        if !matches!(self, Message::Pair(_)) {
            *self = Message::Pair(Box::default());
        }
        match self {
            Message::Pair(p) => {
                let [a, b] = &mut **p;
                (a, b)
            }
            _ => unreachable!("just set to Pair"),
        }
    }
}

fn check_index_width(width: u8) -> Result<(), DecodeError> {
    if (1..=MAX_INDEX_WIDTH).contains(&width) {
        Ok(())
    } else {
        Err(DecodeError::BadField {
            what: "index width",
            detail: format!("{width} not in 1..={MAX_INDEX_WIDTH}"),
        })
    }
}

fn write_indices(w: &mut BitWriter, dim: usize, indices: &[u32]) {
    let d = dim as u64;
    w.write(indices.len() as u64, bits_for_range(d + 1));
    let wi = bits_for_range(d);
    for &i in indices {
        w.write(i as u64, wi);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Message<f32>> {
        let q = Message::Quantized {
            norm: 2.0,
            levels: Levels::Uniform { s: 4 },
            codes: vec![0, 4, -2, 1, 0],
        };
        vec![
            Message::Dense {
                values: vec![1.0, -2.0, 0.0, 3.5, 1e-30],
            },
            Message::Sparse {
                dim: 5,
                indices: vec![0, 4],
                values: vec![1.0, -1.0],
            },
            Message::Sign {
                dim: 5,
                scale: 0.5,
                negative: vec![0b10110],
            },
            q.clone(),
            Message::Quantized {
                norm: 1.0,
                levels: Levels::Geometric { base: 2.0, s: 3 },
                codes: vec![0, 3, -1, 2, 0],
            },
            Message::Natural {
                values: vec![0.0, -0.5, 4.0, 1.0, -0.0],
            },
            Message::Scaled {
                scale: 0.25,
                inner: Box::new(q.clone()),
            },
            Message::Composed {
                dim: 5,
                indices: vec![1, 3],
                inner: Box::new(Message::Dense {
                    values: vec![7.0, 8.0],
                }),
            },
            Message::Pair(Box::new([Message::Skip { dim: 5 }, q.clone()])),
            Message::Indexed {
                width: 3,
                index: 5,
                inner: Box::new(q),
            },
            Message::Indexed {
                width: 1,
                index: 0,
                inner: Box::new(Message::Skip { dim: 5 }),
            },
        ]
    }

    #[test]
    fn round_trip_and_exact_bits() {
        for m in samples() {
            m.validate().unwrap();
            let mut w = BitWriter::new();
            m.encode(&mut w);
            assert_eq!(w.bit_len(), m.bits(), "{m:?}");
            let bytes = w.finish().to_vec();
            let back = Message::<f32>::decode(&bytes, 5).unwrap();
            assert_eq!(back, m);
            assert_eq!(back.to_dense().unwrap(), m.to_dense().unwrap());
        }
    }

    #[test]
    fn decoded_values() {
        let s = samples();
        assert_eq!(s[2].to_dense().unwrap(), vec![0.5, -0.5, -0.5, 0.5, -0.5]);
        assert_eq!(s[3].to_dense().unwrap(), vec![0.0, 2.0, -1.0, 0.5, 0.0]);
        assert_eq!(s[4].to_dense().unwrap(), vec![0.0, 1.0, -0.25, 0.5, 0.0]);
        assert_eq!(s[6].to_dense().unwrap(), vec![0.0, 0.5, -0.25, 0.125, 0.0]);
        assert_eq!(s[7].to_dense().unwrap(), vec![0.0, 7.0, 0.0, 8.0, 0.0]);
        assert_eq!(s[8].to_dense().unwrap(), s[3].to_dense().unwrap());
        assert_eq!(s[9].to_dense().unwrap(), s[3].to_dense().unwrap());
        assert_eq!(s[9].index(), Some(5));
        assert_eq!(s[9].bits(), s[3].bits() + 4 + 4 + 3);
        assert_eq!(s[9].entries(), s[3].entries());
        assert_eq!(s[10].to_dense().unwrap(), vec![0.0; 5]);
    }

    #[test]
    fn malformed_indexed_is_rejected() {
        let inner = Box::new(Message::<f32>::Dense {
            values: vec![1.0; 5],
        });
        // Width 0, width 16 (does not fit the 4-bit field) and an index wider than its width.
        for (width, index) in [(0u8, 0u16), (16, 0), (2, 4)] {
            let m = Message::Indexed {
                width,
                index,
                inner: inner.clone(),
            };
            assert!(m.validate().is_err(), "{width} {index}");
        }
        // Width 0 on the wire: tag 9, then a zero width field.
        let good = Message::Indexed {
            width: 1,
            index: 1,
            inner: inner.clone(),
        }
        .to_bytes();
        let mut zero = good.clone();
        zero[0] &= 0x0f;
        assert!(matches!(
            Message::<f32>::decode(&zero, 5),
            Err(DecodeError::BadField {
                what: "index width",
                ..
            })
        ));
        // Truncation anywhere is an error; so is a trailing byte.
        for cut in 1..good.len() {
            assert!(
                Message::<f32>::decode(&good[..cut], 5).is_err(),
                "cut {cut}"
            );
        }
        let mut long = good.clone();
        long.push(0);
        assert!(Message::<f32>::decode(&long, 5).is_err());
        // Nesting: five Indexed layers exceed MAX_DEPTH.
        let mut deep = Message::<f32>::Dense { values: vec![0.0] };
        for _ in 0..=MAX_DEPTH {
            deep = Message::Indexed {
                width: 1,
                index: 0,
                inner: Box::new(deep),
            };
        }
        assert!(deep.validate().is_err());
        assert!(Message::<f32>::decode(&deep.to_bytes(), 1).is_err());
    }

    #[test]
    fn malformed_input_is_rejected() {
        let good = samples()[1].to_bytes();
        // Truncation anywhere is an error.
        for cut in 0..good.len() {
            let r = Message::<f32>::decode(&good[..cut], 5);
            assert!(cut == 0 || r.is_err(), "cut {cut}");
        }
        // Trailing byte.
        let mut long = good.clone();
        long.push(0);
        assert!(matches!(
            Message::<f32>::decode(&long, 5),
            Err(DecodeError::TrailingData { .. })
        ));
        // Unsorted indices.
        let bad = Message::<f32>::Sparse {
            dim: 5,
            indices: vec![3, 1],
            values: vec![1.0, 1.0],
        };
        assert!(bad.validate().is_err());
        assert!(matches!(
            Message::<f32>::decode(&bad.to_bytes(), 5),
            Err(DecodeError::IndicesNotIncreasing { .. })
        ));
        // Non-finite scale.
        let nan = Message::<f32>::Sign {
            dim: 5,
            scale: f32::NAN,
            negative: vec![0],
        };
        assert!(matches!(
            Message::<f32>::decode(&nan.to_bytes(), 5),
            Err(DecodeError::BadField { .. })
        ));
        // Index out of range: encode for d = 8, decode as d = 5.
        let wide = Message::<f32>::Sparse {
            dim: 8,
            indices: vec![7],
            values: vec![1.0],
        };
        assert!(Message::<f32>::decode(&wide.to_bytes(), 5).is_err());
    }

    #[test]
    fn add_to_checks_dimension() {
        let m = &samples()[0];
        let mut out = vec![0.0f32; 4];
        assert!(matches!(
            m.add_to(&mut out, 1.0),
            Err(MessageError::DimensionMismatch {
                message: 5,
                buffer: 4
            })
        ));
    }

    #[test]
    fn log2_binomial() {
        assert_eq!(log2_binomial_ceil(1024, 2), 19);
        assert_eq!(log2_binomial_ceil(10, 0), 0);
        assert_eq!(log2_binomial_ceil(4, 2), 3); // C(4,2) = 6
        // Stirling branch agrees with the exact sum near the switch.
        let exact: f64 = (0..5000u64)
            .map(|i| ((100_000 - i) as f64 / (i + 1) as f64).log2())
            .sum();
        assert_eq!(log2_binomial_ceil(100_000, 5000), exact.ceil() as u64);
    }
}
