//! Buffer reuse for compressors: `*_parts` turn a message into a variant and hand out its
//! cleared buffers, so compressing into the same message again allocates nothing.

use super::{CastFormat, Levels, Message};
use crate::scalar::Scalar;

/// `$self` becomes a `$variant`: kept with its buffers when it already is one, else replaced by
/// `$fresh` (empty buffers); then the arm `$pat => $body` runs on its fields.
macro_rules! reuse_as {
    ($self:ident, $variant:path, $fresh:expr, $pat:pat => $body:expr) => {{
        if !matches!($self, $variant { .. }) {
            *$self = $fresh;
        }
        match $self {
            $pat => $body,
            _ => unreachable!(concat!("just set to ", stringify!($variant))),
        }
    }};
}

impl<S: Scalar> Message<S> {
    /// Turn into `Skip { dim }`.
    pub fn set_skip(&mut self, dim: usize) {
        *self = Message::Skip { dim };
    }

    /// Become `Dense`, reusing the buffer if already dense; returns the cleared value vector.
    pub fn dense_parts(&mut self) -> &mut Vec<S> {
        reuse_as!(
            self,
            Message::Dense,
            Message::Dense { values: Vec::new() },
            Message::Dense { values } => {
                values.clear();
                values
            }
        )
    }

    /// Become `Natural`, reusing the buffer; returns the cleared value vector.
    pub fn natural_parts(&mut self) -> &mut Vec<S> {
        self.natural_parts_sized(0)
    }

    /// Become `Natural` with `len` values, reusing the buffer **without clearing it**: the
    /// values are unspecified (stale or zero) and the caller must overwrite every one. Saves the
    /// sequential zero-fill of [`natural_parts`](Self::natural_parts) + `resize` when a
    /// compressor writes all entries anyway (the multi-core kernels write them in parallel).
    pub fn natural_parts_sized(&mut self, len: usize) -> &mut Vec<S> {
        let values = reuse_as!(
            self,
            Message::Natural,
            Message::Natural { values: Vec::new() },
            Message::Natural { values } => values
        );
        values.resize(len, S::ZERO);
        values
    }

    /// Become `Sparse` of dimension `dim`, reusing buffers; returns cleared index and value
    /// vectors.
    pub fn sparse_parts(&mut self, dim: usize) -> (&mut Vec<u32>, &mut Vec<S>) {
        reuse_as!(
            self,
            Message::Sparse,
            Message::Sparse {
                dim,
                indices: Vec::new(),
                values: Vec::new(),
            },
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
        )
    }

    /// Become `Sign` of dimension `dim`; returns the scale and the cleared sign words.
    pub fn sign_parts(&mut self, dim: usize) -> (&mut S, &mut Vec<u64>) {
        reuse_as!(
            self,
            Message::Sign,
            Message::Sign {
                dim,
                scale: S::ZERO,
                negative: Vec::new(),
            },
            Message::Sign {
                dim: d,
                scale,
                negative,
            } => {
                *d = dim;
                negative.clear();
                (scale, negative)
            }
        )
    }

    /// Become `Quantized`; returns norm, levels and the cleared code vector.
    pub fn quantized_parts(&mut self) -> (&mut S, &mut Levels<S>, &mut Vec<i16>) {
        self.quantized_parts_sized(0)
    }

    /// Become `Quantized` with `len` codes, reusing the buffer **without clearing it**: the
    /// codes are unspecified (stale or zero) and the caller must overwrite every one (see
    /// [`natural_parts_sized`](Self::natural_parts_sized)).
    pub fn quantized_parts_sized(&mut self, len: usize) -> (&mut S, &mut Levels<S>, &mut Vec<i16>) {
        let (norm, levels, codes) = reuse_as!(
            self,
            Message::Quantized,
            Message::Quantized {
                norm: S::ZERO,
                levels: Levels::Uniform { s: 1 },
                codes: Vec::new(),
            },
            Message::Quantized {
                norm,
                levels,
                codes,
            } => (norm, levels, codes)
        );
        codes.resize(len, 0);
        (norm, levels, codes)
    }

    /// Become `Cast` with `format`, reusing the word buffer; returns the format (a `u8` range
    /// is set after the scan) and the cleared words.
    pub fn cast_parts(&mut self, format: CastFormat<S>) -> (&mut CastFormat<S>, &mut Vec<u16>) {
        reuse_as!(
            self,
            Message::Cast,
            Message::Cast {
                format,
                words: Vec::new(),
            },
            Message::Cast { format: f, words } => {
                *f = format;
                words.clear();
                (f, words)
            }
        )
    }

    /// Become `Scaled`; returns the scale and the inner message (reused if already scaled).
    pub fn scaled_parts(&mut self) -> (&mut S, &mut Message<S>) {
        reuse_as!(
            self,
            Message::Scaled,
            Message::Scaled {
                scale: S::ONE,
                inner: Box::default(),
            },
            Message::Scaled { scale, inner } => (scale, inner)
        )
    }

    /// Become `Composed` of dimension `dim`; returns the cleared indices and the inner message.
    pub fn composed_parts(&mut self, dim: usize) -> (&mut Vec<u32>, &mut Message<S>) {
        reuse_as!(
            self,
            Message::Composed,
            Message::Composed {
                dim,
                indices: Vec::new(),
                inner: Box::default(),
            },
            Message::Composed {
                dim: d,
                indices,
                inner,
            } => {
                *d = dim;
                indices.clear();
                (indices, inner)
            }
        )
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
        reuse_as!(
            self,
            Message::Indexed,
            Message::Indexed {
                width,
                index,
                inner: Box::default(),
            },
            Message::Indexed {
                width: w,
                index: i,
                inner,
            } => {
                *w = width;
                *i = index;
                inner
            }
        )
    }

    /// Become `Concat`; returns both parts (reused if already a concatenation).
    pub fn concat_parts(&mut self) -> (&mut Message<S>, &mut Message<S>) {
        reuse_as!(
            self,
            Message::Concat,
            Message::Concat(Box::default()),
            Message::Concat(p) => {
                let [a, b] = &mut **p;
                (a, b)
            }
        )
    }

    /// Become `Pair`; returns both halves (reused if already a pair).
    pub fn pair_parts(&mut self) -> (&mut Message<S>, &mut Message<S>) {
        reuse_as!(
            self,
            Message::Pair,
            Message::Pair(Box::default()),
            Message::Pair(p) => {
                let [a, b] = &mut **p;
                (a, b)
            }
        )
    }

    /// Become `Binary` of dimension `dim` in blocks of `block`; returns the cleared level and
    /// bit-word vectors (the caller pushes two levels per block and `⌈dim/64⌉` words).
    pub fn binary_parts(&mut self, dim: usize, block: usize) -> (&mut Vec<S>, &mut Vec<u64>) {
        reuse_as!(
            self,
            Message::Binary,
            Message::Binary {
                dim,
                block,
                levels: Vec::new(),
                negative: Vec::new(),
            },
            Message::Binary {
                dim: d,
                block: b,
                levels,
                negative,
            } => {
                *d = dim;
                *b = block;
                levels.clear();
                negative.clear();
                (levels, negative)
            }
        )
    }
}
