//! What a message costs and describes: dimension, entries, exact bits and the reporting
//! presets ([`BitConvention`]).

use serde::{Deserialize, Serialize};

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

    pub(crate) fn tagged_bits(&self) -> u64 {
        TAG_BITS as u64 + self.payload_bits()
    }

    pub(crate) fn payload_bits(&self) -> u64 {
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
}
