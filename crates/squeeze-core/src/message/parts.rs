//! Buffer reuse for compressors: `*_parts` turn a message into a variant and hand out its
//! cleared buffers, so compressing into the same message again allocates nothing.

use super::{Levels, Message};
use crate::scalar::Scalar;

impl<S: Scalar> Message<S> {
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
