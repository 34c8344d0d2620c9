//! What a message costs and describes: dimension, entries, exact bits and the reporting
//! presets ([`BitConvention`]).

use serde::{Deserialize, Serialize};

use super::low_rank::{low_rank_dim, low_rank_payload_bits};
use super::{INDEX_WIDTH_BITS, Levels, Message, TAG_BITS};
use crate::bits::bits_for_range;
use crate::scalar::Scalar;

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
/// `Quantized`, `Natural`, `Binary`) or carry them in their own narrow format (`Cast`) are charged
/// their exact payload under every preset, and header scalars
/// (scale of `Scaled`), tags and the index of `Indexed` are not charged by the presets. A
/// `LowRank` message is charged its $rd$ vector entries, its $r$ weights being header scalars
/// (the Newton-3PC code's 32·R·d for Rank-R).
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

/// Nesting beyond which the counts below saturate at `u64::MAX` instead of recursing further.
/// No encodable message comes close (the wire format stops at [`super::MAX_DEPTH`]); the cap
/// only bounds the stack for hand-built ones.
const COUNT_DEPTH_CAP: u32 = 64;

/// Sum of two counts, saturating (a hand-built message may claim any dimension).
#[inline]
fn add(a: u64, b: u64) -> u64 {
    a.saturating_add(b)
}

/// Product of two counts, saturating.
#[inline]
fn mul(a: u64, b: u64) -> u64 {
    a.saturating_mul(b)
}

/// Bits of an index list over dimension `d`: the count in `w(d+1)` bits, `k` indices of `w(d)`.
#[inline]
fn index_list_bits(d: usize, k: usize) -> u64 {
    let d = d as u64;
    add(
        bits_for_range(d.saturating_add(1)) as u64,
        mul(k as u64, bits_for_range(d) as u64),
    )
}

impl<S: Scalar> Message<S> {
    /// Dimension of the vector this message describes (follows nested messages without
    /// recursion, so any hand-built nesting is safe).
    pub fn dim(&self) -> usize {
        self.dim_at(0)
    }

    /// [`Message::dim`]; `depth` counts only the `Concat` levels (the one place that recurses),
    /// and saturates at `usize::MAX` beyond [`COUNT_DEPTH_CAP`] of them.
    fn dim_at(&self, depth: u32) -> usize {
        if depth > COUNT_DEPTH_CAP {
            return usize::MAX;
        }
        let mut m = self;
        loop {
            match m {
                Message::Skip { dim }
                | Message::Sparse { dim, .. }
                | Message::Sign { dim, .. }
                | Message::Composed { dim, .. }
                | Message::Binary { dim, .. } => return *dim,
                Message::Dense { values } | Message::Natural { values } => return values.len(),
                Message::Quantized { codes, .. } => return codes.len(),
                Message::Cast { words, .. } => return words.len(),
                Message::LowRank { side, .. } => return low_rank_dim(*side),
                Message::Scaled { inner, .. } | Message::Indexed { inner, .. } => m = inner,
                Message::Pair(p) => m = &p[0],
                Message::Concat(p) => {
                    return p[0]
                        .dim_at(depth + 1)
                        .saturating_add(p[1].dim_at(depth + 1));
                }
            }
        }
    }

    /// `true` for [`Message::Skip`].
    pub fn is_skip(&self) -> bool {
        matches!(self, Message::Skip { .. })
    }

    /// Number of coordinates transmitted (`d` for dense-like messages, `k` for sparse, 0 for
    /// skip, the sum for a pair).
    ///
    /// ```
    /// use squeeze_core::Message;
    /// let m = Message::<f32>::Sparse { dim: 9, indices: vec![2, 5], values: vec![1.0, 2.0] };
    /// assert_eq!(m.entries(), 2);
    /// ```
    pub fn entries(&self) -> u64 {
        self.entries_at(0)
    }

    fn entries_at(&self, depth: u32) -> u64 {
        if depth > COUNT_DEPTH_CAP {
            return u64::MAX;
        }
        match self {
            Message::Skip { .. } => 0,
            Message::Dense { values } | Message::Natural { values } => values.len() as u64,
            Message::Sparse { indices, .. } | Message::Composed { indices, .. } => {
                indices.len() as u64
            }
            Message::Sign { dim, .. } => *dim as u64,
            Message::Quantized { codes, .. } => codes.len() as u64,
            Message::Scaled { inner, .. } | Message::Indexed { inner, .. } => {
                inner.entries_at(depth + 1)
            }
            Message::Pair(p) | Message::Concat(p) => {
                add(p[0].entries_at(depth + 1), p[1].entries_at(depth + 1))
            }
            Message::Binary { dim, .. } => *dim as u64,
            Message::Cast { words, .. } => words.len() as u64,
            Message::LowRank {
                weights, vectors, ..
            } => add(weights.len() as u64, vectors.len() as u64),
        }
    }

    /// Exact length in bits of [`Message::encode`]'s output for a valid message: 0 for a
    /// top-level `Skip`, else the 4-bit tag plus the payload of the wire-format table.
    ///
    /// Never panics: for a hand-built message whose sizes overflow `u64` or that nests more
    /// than 64 levels (neither is encodable) the count saturates at `u64::MAX`.
    ///
    /// ```
    /// use squeeze_core::Message;
    /// let m = Message::<f32>::Scaled { scale: 0.5, inner: Box::new(Message::Dense { values: vec![1.0] }) };
    /// assert_eq!(m.bits(), 4 + 32 + (4 + 32)); // tag, scale, inner tag, one value
    /// assert_eq!(Message::<f32>::Skip { dim: 7 }.bits(), 0);
    /// ```
    pub fn bits(&self) -> u64 {
        match self {
            Message::Skip { .. } => 0,
            m => m.tagged_bits(0),
        }
    }

    fn tagged_bits(&self, depth: u32) -> u64 {
        add(TAG_BITS as u64, self.payload_bits(depth))
    }

    fn payload_bits(&self, depth: u32) -> u64 {
        if depth > COUNT_DEPTH_CAP {
            return u64::MAX;
        }
        let sb = S::BITS as u64;
        match self {
            Message::Skip { .. } => 0,
            Message::Dense { values } => mul(values.len() as u64, sb),
            Message::Sparse {
                dim,
                indices,
                values,
            } => add(
                index_list_bits(*dim, indices.len()),
                mul(values.len() as u64, sb),
            ),
            Message::Sign { dim, .. } => add(sb, *dim as u64),
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
                add(header, add(mul(codes.len() as u64, w), nonzero))
            }
            Message::Natural { values } => mul(values.len() as u64, 1 + S::EXP_BITS as u64),
            Message::Scaled { inner, .. } => add(sb, inner.tagged_bits(depth + 1)),
            Message::Composed {
                dim,
                indices,
                inner,
            } => add(
                index_list_bits(*dim, indices.len()),
                inner.tagged_bits(depth + 1),
            ),
            Message::Pair(p) => add(p[0].tagged_bits(depth + 1), p[1].tagged_bits(depth + 1)),
            Message::Concat(p) => add(
                bits_for_range((self.dim() as u64).saturating_add(1)) as u64,
                add(p[0].tagged_bits(depth + 1), p[1].tagged_bits(depth + 1)),
            ),
            Message::Indexed { width, inner, .. } => add(
                INDEX_WIDTH_BITS as u64 + *width as u64,
                inner.tagged_bits(depth + 1),
            ),
            Message::Binary { dim, levels, .. } => add(
                bits_for_range((*dim as u64).saturating_add(1)) as u64,
                add(mul(levels.len() as u64, sb), *dim as u64),
            ),
            Message::Cast { format, words } => add(
                format.header_bits(),
                mul(words.len() as u64, format.word_bits() as u64),
            ),
            Message::LowRank {
                side,
                weights,
                vectors,
            } => low_rank_payload_bits(*side, weights, vectors),
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
        match conv {
            BitConvention::Exact => self.bits(),
            _ => self.bits_under_at(conv, 0),
        }
    }

    fn bits_under_at(&self, conv: BitConvention, depth: u32) -> u64 {
        if depth > COUNT_DEPTH_CAP {
            return u64::MAX;
        }
        let per_value = match conv {
            BitConvention::Values64 => 64,
            _ => 32,
        };
        let index_cost = |d: usize, k: usize| -> u64 {
            match conv {
                BitConvention::ValuePlusIndex => mul(k as u64, bits_for_range(d as u64) as u64),
                BitConvention::InfoTheoretic => log2_binomial_ceil(d as u64, k as u64),
                _ => 0,
            }
        };
        match self {
            Message::Skip { .. } => 0,
            Message::Dense { values } => mul(values.len() as u64, per_value),
            Message::Sparse { dim, indices, .. } => add(
                mul(indices.len() as u64, per_value),
                index_cost(*dim, indices.len()),
            ),
            Message::Sign { .. } | Message::Quantized { .. } | Message::Natural { .. } => {
                self.payload_bits(depth)
            }
            Message::Scaled { inner, .. } | Message::Indexed { inner, .. } => {
                inner.bits_under_at(conv, depth + 1)
            }
            Message::Composed {
                dim,
                indices,
                inner,
            } => add(
                inner.bits_under_at(conv, depth + 1),
                index_cost(*dim, indices.len()),
            ),
            Message::Pair(p) | Message::Concat(p) => add(
                p[0].bits_under_at(conv, depth + 1),
                p[1].bits_under_at(conv, depth + 1),
            ),
            Message::Binary { .. } => self.payload_bits(depth),
            Message::Cast { .. } => self.payload_bits(depth),
            // The r·d vector entries at the preset's width, the r weights as header scalars
            // (the Newton-3PC code charges Rank-R 32·R·d).
            Message::LowRank { vectors, .. } => mul(vectors.len() as u64, per_value),
        }
    }
}
