//! The payload of [`Message::LowRank`]: a symmetric matrix of low rank,
//! $M = \sum_{i<r} \lambda_i v_i v_i^\top$ with $v_i \in \mathbb R^{d}$, standing for its
//! packed upper triangle ([`crate::sym`]; message dimension $D = d(d+1)/2$).
//!
//! Wire form after the tag (13): the rank $r$ in $w(d+1)$ bits ($0 \le r \le d$), the $r$
//! weights $\lambda_i$ (scalars), then the $r$ vectors, $d$ scalars each — payload
//! $w(d+1) + b\thinspace r(d+1)$ bits with $b$ = [`Scalar::BITS`]. The side $d$ is not sent:
//! both ends know $D$ and $d$ is its triangular root (a $D$ that is not triangular is a
//! decode error). Every scalar must be finite. The vectors need not be orthonormal (the
//! message means the sum whatever they are); the compressors send eigenpairs.
//!
//! Under the paper presets ([`super::BitConvention`]) the $rd$ vector entries are charged the
//! preset's width and the $r$ weights are header scalars (not charged): 32·R·d for Rank-R, the
//! Newton-3PC code's convention.

use super::Message;
use super::decode::need;
use super::validate::check_values;
use crate::bits::{BitReader, BitWriter, bits_for_range};
use crate::error::DecodeError;
use crate::scalar::Scalar;
use crate::sym::{tri_len, tri_side};

/// The message's dimension $d(d+1)/2$ (saturating for a hand-built absurd side).
pub(crate) fn low_rank_dim(side: usize) -> usize {
    tri_len(side).unwrap_or(usize::MAX)
}

/// Payload bits after the tag: $w(d+1) + b\thinspace(r + rd)$.
pub(crate) fn low_rank_payload_bits<S: Scalar>(side: usize, weights: &[S], vectors: &[S]) -> u64 {
    let values = (weights.len() as u64).saturating_add(vectors.len() as u64);
    (bits_for_range((side as u64).saturating_add(1)) as u64)
        .saturating_add(values.saturating_mul(S::BITS as u64))
}

/// Shape (`r ≤ d`, $r$ weights, $rd$ vector entries) and, with `wire`, finite values.
pub(crate) fn check_low_rank<S: Scalar>(
    side: usize,
    weights: &[S],
    vectors: &[S],
    wire: bool,
) -> Result<(), DecodeError> {
    let r = weights.len();
    DecodeError::require(
        r <= side && Some(vectors.len()) == r.checked_mul(side),
        "low-rank shape",
        || {
            format!(
                "{r} weights and {} vector entries for side {side} (need r ≤ d and r·d entries)",
                vectors.len()
            )
        },
    )?;
    if wire {
        check_values(weights, "low-rank weight")?;
        check_values(vectors, "low-rank vector entry")?;
    }
    Ok(())
}

/// Write rank, weights and vectors (after the tag); the message is valid.
pub(crate) fn encode_low_rank<S: Scalar>(
    w: &mut BitWriter,
    side: usize,
    weights: &[S],
    vectors: &[S],
) {
    w.write(weights.len() as u64, bits_for_range(side as u64 + 1));
    for &v in weights.iter().chain(vectors) {
        w.write(v.to_bits_u64(), S::BITS);
    }
}

/// Read rank, weights and vectors (after the tag) of the message of dimension `dim`.
pub(crate) fn decode_low_rank<S: Scalar>(
    r: &mut BitReader<'_>,
    dim: usize,
) -> Result<Message<S>, DecodeError> {
    let side = tri_side(dim).ok_or_else(|| {
        DecodeError::bad_field(
            "low-rank dimension",
            format!("{dim} is not d(d+1)/2 for any d (a packed symmetric matrix)"),
        )
    })?;
    let rank = r.read(bits_for_range(side as u64 + 1))?;
    if rank > side as u64 {
        return Err(DecodeError::CountTooLarge {
            count: rank,
            dim: side,
        });
    }
    let rank = rank as usize;
    let total = rank * (side + 1);
    need(r, total as u64, S::BITS as u64)?;
    let mut weights = Vec::with_capacity(rank);
    let mut vectors = Vec::with_capacity(rank * side);
    for k in 0..total {
        let v = S::from_bits_u64(r.read(S::BITS)?);
        if k < rank {
            weights.push(v);
        } else {
            vectors.push(v);
        }
    }
    check_low_rank(side, &weights, &vectors, true)?;
    Ok(Message::LowRank {
        side,
        weights,
        vectors,
    })
}

/// `f(j, scale·M_j)` for every packed coordinate `j` of $M = \sum_i \lambda_i v_i v_i^\top$,
/// in order (shape-checked input: $r \le d$, $rd$ entries).
pub(crate) fn low_rank_each<S: Scalar>(
    side: usize,
    weights: &[S],
    vectors: &[S],
    scale: S,
    f: &mut dyn FnMut(usize, S),
) {
    let mut j = 0;
    for a in 0..side {
        for b in a..side {
            let mut s = S::ZERO;
            for (i, &l) in weights.iter().enumerate() {
                let v = &vectors[i * side..(i + 1) * side];
                s += l * v[a] * v[b];
            }
            f(j, scale * s);
            j += 1;
        }
    }
}

/// `out += scale·M` on the packed `out` (length $d(d+1)/2$), one rank-one term at a time.
pub(crate) fn low_rank_add<S: Scalar>(
    side: usize,
    weights: &[S],
    vectors: &[S],
    scale: S,
    out: &mut [S],
) {
    for (i, &l) in weights.iter().enumerate() {
        let v = &vectors[i * side..(i + 1) * side];
        let mut j = 0;
        for a in 0..side {
            let t = scale * l * v[a];
            for (o, &vb) in out[j..j + side - a].iter_mut().zip(&v[a..]) {
                *o += t * vb;
            }
            j += side - a;
        }
    }
}

impl<S: Scalar> Message<S> {
    /// Become `LowRank` of side `side` (dimension $d(d+1)/2$), reusing buffers; returns the
    /// cleared weight and vector buffers (the caller pushes $r \le d$ weights and $rd$ entries,
    /// vector $i$ at `[i·d, (i+1)·d)`).
    ///
    /// ```
    /// use squeeze_core::Message;
    /// let mut m = Message::<f32>::default();
    /// let (w, v) = m.low_rank_parts(2);
    /// w.push(2.0);
    /// v.extend([1.0, -1.0]);
    /// // 2·(1, −1)(1, −1)ᵀ packed: (2, −2, 2); tag 4 + rank w(3) = 2 + 3 scalars.
    /// assert_eq!(m.to_dense().unwrap(), vec![2.0, -2.0, 2.0]);
    /// assert_eq!(m.bits(), 4 + 2 + 3 * 32);
    /// assert_eq!(Message::<f32>::decode(&m.to_bytes(), 3).unwrap(), m);
    /// ```
    pub fn low_rank_parts(&mut self, side: usize) -> (&mut Vec<S>, &mut Vec<S>) {
        if !matches!(self, Message::LowRank { .. }) {
            *self = Message::LowRank {
                side,
                weights: Vec::new(),
                vectors: Vec::new(),
            };
        }
        match self {
            Message::LowRank {
                side: s,
                weights,
                vectors,
            } => {
                *s = side;
                weights.clear();
                vectors.clear();
                (weights, vectors)
            }
            _ => unreachable!("just set to LowRank"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::bits::BitWriter;
    use crate::{BitConvention, DecodeError, Message};

    fn example() -> Message<f64> {
        // 3·u uᵀ − 1·w wᵀ with u = (1, 0, 2), w = (0, 1, 1).
        Message::LowRank {
            side: 3,
            weights: vec![3.0, -1.0],
            vectors: vec![1.0, 0.0, 2.0, 0.0, 1.0, 1.0],
        }
    }

    #[test]
    fn dense_bits_and_round_trip() {
        let m = example();
        // M = [[3, 0, 6], [0, −1, −1], [6, −1, 11]], packed row by row.
        let want = vec![3.0, 0.0, 6.0, -1.0, -1.0, 11.0];
        assert_eq!(m.to_dense().unwrap(), want);
        let mut out = vec![1.0; 6];
        m.add_to(&mut out, 2.0).unwrap();
        assert_eq!(out, want.iter().map(|v| 1.0 + 2.0 * v).collect::<Vec<_>>());
        // Inside a Composed message (visit path) and scaled.
        let c = Message::Composed {
            dim: 8,
            indices: (1..7).collect(),
            inner: Box::new(Message::Scaled {
                scale: 0.5,
                inner: Box::new(m.clone()),
            }),
        };
        let mut want8 = vec![0.0; 8];
        for (k, v) in want.iter().enumerate() {
            want8[k + 1] = 0.5 * v;
        }
        assert_eq!(c.to_dense().unwrap(), want8);
        // tag 4 + rank w(4) = 2 + (2 + 6) scalars.
        assert_eq!(m.bits(), 4 + 2 + 8 * 64);
        assert_eq!(m.bits_under(BitConvention::Values32), 32 * 2 * 3);
        assert_eq!(m.bits_under(BitConvention::Values64), 64 * 2 * 3);
        assert_eq!(m.entries(), 8);
        let bytes = m.to_bytes();
        assert_eq!(bytes.len() as u64, m.bits().div_ceil(8));
        assert_eq!(Message::<f64>::decode(&bytes, 6).unwrap(), m);
        assert_eq!(c.bits().div_ceil(8), c.to_bytes().len() as u64);
        assert_eq!(Message::<f64>::decode(&c.to_bytes(), 8).unwrap(), c);
        // Rank 0 is the zero matrix.
        let z = Message::<f32>::LowRank {
            side: 4,
            weights: vec![],
            vectors: vec![],
        };
        assert_eq!(z.to_dense().unwrap(), vec![0.0; 10]);
        assert_eq!(Message::<f32>::decode(&z.to_bytes(), 10).unwrap(), z);
    }

    #[test]
    fn bad_messages_are_refused() {
        let bytes = example().to_bytes();
        // Not a triangular dimension.
        let e = Message::<f64>::decode(&bytes, 7).unwrap_err();
        assert!(e.to_string().contains("d(d+1)/2"), "{e}");
        // Truncated.
        assert!(Message::<f64>::decode(&bytes[..bytes.len() - 2], 6).is_err());
        // Rank above the side: tag 13, then rank 3 in the w(3) = 2 bits of side 2 (D = 3).
        let mut w = BitWriter::new();
        w.write(13, 4);
        w.write(3, 2);
        assert!(matches!(
            Message::<f32>::decode(w.finish(), 3),
            Err(DecodeError::CountTooLarge { count: 3, dim: 2 })
        ));
        // Hand-built: wrong lengths, NaN.
        for bad in [
            Message::<f32>::LowRank {
                side: 2,
                weights: vec![1.0],
                vectors: vec![1.0],
            },
            Message::LowRank {
                side: 1,
                weights: vec![1.0, 1.0],
                vectors: vec![1.0, 1.0],
            },
        ] {
            assert!(bad.validate_shape().is_err(), "{bad:?}");
            assert!(bad.to_dense().is_err());
            assert_eq!(bad.to_bytes(), vec![0x0f]);
        }
        let nan = Message::<f32>::LowRank {
            side: 1,
            weights: vec![f32::NAN],
            vectors: vec![1.0],
        };
        assert!(nan.validate_shape().is_ok() && nan.validate().is_err());
        let mut out = vec![0.0f32; 2];
        assert!(example().to_dense().is_ok());
        assert!(
            Message::<f32>::LowRank {
                side: 1,
                weights: vec![1.0],
                vectors: vec![1.0]
            }
            .add_to(&mut out, 1.0)
            .is_err()
        );
    }
}
