//! Applying a message to a dense buffer: `out += scale · m` and dense conversion.

use super::add_kernels::{add_scaled, add_signs, add_uniform};
use super::low_rank::{check_low_rank, low_rank_add, low_rank_each};
use super::validate::{check_composed_dim, check_sparse_lengths};
use super::{Levels, Message};
use crate::error::{DecodeError, MessageError};
use crate::scalar::Scalar;

impl<S: Scalar> Message<S> {
    /// `out ← out + scale · m`, without a dense temporary.
    ///
    /// Errors, leaving `out` untouched, if `out.len() != self.dim()` or the message fails
    /// [`Message::validate_shape`] (sizes, index ranges, nesting depth, level codes — only
    /// hand-built messages can); the check is `O(entries)` and allocates nothing.
    ///
    /// ```
    /// use squeeze_core::{Message, MessageError};
    /// let mut out = vec![1.0f32; 3];
    /// let m = Message::<f32>::Sparse { dim: 3, indices: vec![2], values: vec![4.0] };
    /// m.add_to(&mut out, 0.5).unwrap();
    /// assert_eq!(out, vec![1.0, 1.0, 3.0]);
    /// let bad = Message::<f32>::Sparse { dim: 3, indices: vec![0, 1], values: vec![4.0] };
    /// assert!(matches!(bad.add_to(&mut out, 1.0), Err(MessageError::Invalid(_))));
    /// assert_eq!(out, vec![1.0, 1.0, 3.0]);
    /// ```
    pub fn add_to(&self, out: &mut [S], scale: S) -> Result<(), MessageError> {
        self.check_target(out.len())?;
        self.add_inner(out, scale)
    }

    /// `out ← m` (dense decode into a caller buffer); errors as [`Message::add_to`].
    ///
    /// ```
    /// use squeeze_core::Message;
    /// let mut out = vec![9.0f32; 2];
    /// Message::<f32>::Sign { dim: 2, scale: 0.5, negative: vec![0b10] }.write_dense(&mut out).unwrap();
    /// assert_eq!(out, vec![0.5, -0.5]);
    /// ```
    pub fn write_dense(&self, out: &mut [S]) -> Result<(), MessageError> {
        self.check_target(out.len())?;
        out.fill(S::ZERO);
        self.add_inner(out, S::ONE)
    }

    /// The decoded vector as a new `Vec` (allocates; for tests and inspection); errors as
    /// [`Message::add_to`].
    ///
    /// ```
    /// use squeeze_core::Message;
    /// let m = Message::<f32>::Composed {
    ///     dim: 4,
    ///     indices: vec![1, 3],
    ///     inner: Box::new(Message::Dense { values: vec![5.0, 6.0] }),
    /// };
    /// assert_eq!(m.to_dense().unwrap(), vec![0.0, 5.0, 0.0, 6.0]);
    /// ```
    pub fn to_dense(&self) -> Result<Vec<S>, MessageError> {
        self.validate_shape()?;
        let mut out = vec![S::ZERO; self.dim()];
        self.add_inner(&mut out, S::ONE)?;
        Ok(out)
    }

    /// The buffer has the message's dimension and the message its shape invariants.
    fn check_target(&self, len: usize) -> Result<(), MessageError> {
        if len != self.dim() {
            return Err(MessageError::DimensionMismatch {
                message: self.dim(),
                buffer: len,
            });
        }
        Ok(self.validate_shape()?)
    }

    fn add_inner(&self, out: &mut [S], scale: S) -> Result<(), MessageError> {
        match self {
            Message::Skip { .. } => {}
            Message::Dense { values } | Message::Natural { values } => {
                add_scaled(out, scale, values);
            }
            Message::Sparse {
                dim,
                indices,
                values,
            } => {
                check_sparse_lengths(indices, values).map_err(MessageError::Invalid)?;
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
                add_signs(out, scale * *s, negative);
            }
            Message::Quantized {
                norm,
                levels,
                codes,
            } => match *levels {
                Levels::Uniform { s } => {
                    add_uniform(out, scale * *norm / S::from_i32(s as i32), codes);
                }
                Levels::Geometric { s, .. } => {
                    let n = scale * *norm;
                    // The signed values ±n·m_|c| of the codes c ∈ [−s, s] (m_a = S(base^{a−s}))
                    // from a table on the stack when s is small: one `powi` and one product per
                    // level instead of per entry, the same values. Code 0 maps to −0, and
                    // adding −0 leaves every value (±0 included) as it is, as skipping the entry
                    // did; so the loop has no branch.
                    const TABLE: usize = 1024;
                    let signed = |a: u16| n * S::from_f64(levels.magnitude(a));
                    if (s as usize) < TABLE / 2 {
                        let mid = s as usize;
                        let mut table = [-S::ZERO; TABLE];
                        for a in 1..=mid {
                            let v = signed(a as u16);
                            table[mid + a] = v;
                            table[mid - a] = -v;
                        }
                        // A table lookup per entry (the AVX2 copies of this loop, with gathers,
                        // were no faster).
                        let table = &table[..2 * mid + 1];
                        for (o, &c) in out.iter_mut().zip(codes) {
                            *o += match table.get((c as isize + mid as isize) as usize) {
                                Some(&v) => v,
                                // |c| > s only in a hand-built message: computed as before.
                                None => apply_sign(c, signed(c.unsigned_abs())),
                            };
                        }
                    } else {
                        for (o, &c) in out.iter_mut().zip(codes) {
                            if c != 0 {
                                *o += apply_sign(c, signed(c.unsigned_abs()));
                            }
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
                check_composed_dim(inner.dim(), indices).map_err(MessageError::Invalid)?;
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
            Message::Binary {
                dim,
                block,
                levels,
                negative,
            } => binary_each(*dim, *block, levels, negative, scale, |j, v| {
                if let Some(o) = out.get_mut(j) {
                    *o += v;
                }
            }),
            Message::Concat(p) => {
                let (a, b) = out.split_at_mut(p[0].dim().min(out.len()));
                p[0].add_inner(a, scale)?;
                p[1].add_inner(b, scale)?;
            }
            Message::Cast { format, words } => {
                for (o, &w) in out.iter_mut().zip(words) {
                    *o += scale * format.value(w);
                }
            }
            Message::LowRank {
                side,
                weights,
                vectors,
            } => {
                check_low_rank(*side, weights, vectors, false).map_err(MessageError::Invalid)?;
                low_rank_add(*side, weights, vectors, scale, out);
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
                    f(j, apply_sign(c, n * m));
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
            Message::Binary {
                dim,
                block,
                levels,
                negative,
            } => binary_each(*dim, *block, levels, negative, scale, f),
            Message::Concat(p) => {
                let k = p[0].dim();
                p[0].visit(scale, f);
                p[1].visit(scale, &mut |j, v| f(k + j, v));
            }
            Message::Cast { format, words } => {
                for (j, &w) in words.iter().enumerate() {
                    f(j, scale * format.value(w));
                }
            }
            Message::LowRank {
                side,
                weights,
                vectors,
            } => {
                if check_low_rank(*side, weights, vectors, false).is_ok() {
                    low_rank_each(*side, weights, vectors, scale, f);
                }
            }
        }
    }
}

/// `f(j, scale·level_j)` for every coordinate of a [`Message::Binary`] (blocks of `block`,
/// two levels each, bit set = second level); stops at `dim` or where levels or bits end.
fn binary_each<S: Scalar>(
    dim: usize,
    block: usize,
    levels: &[S],
    negative: &[u64],
    scale: S,
    mut f: impl FnMut(usize, S),
) {
    if block == 0 {
        return;
    }
    let mut j = 0;
    for pair in levels.chunks_exact(2) {
        let (a, b) = (scale * pair[0], scale * pair[1]);
        for _ in 0..block {
            let Some(word) = negative.get(j / 64).filter(|_| j < dim) else {
                return;
            };
            f(j, if (word >> (j % 64)) & 1 == 1 { b } else { a });
            j += 1;
        }
    }
}

/// `v` with the sign of the code `c` (`−v` for `c < 0`).
#[inline(always)]
fn apply_sign<S: Scalar>(c: i16, v: S) -> S {
    if c < 0 { -v } else { v }
}

#[cfg(test)]
mod geometric_tests {
    use crate::message::{Levels, Message};
    use crate::scalar::Scalar;

    /// `add_to` of geometric levels (table path for s < 512, `powi` path above) equals the
    /// per-entry magnitudes.
    #[test]
    fn geometric_add_to_equals_per_entry_magnitudes() {
        for s in [1u16, 8, 300, 511, 512, 2000] {
            for base in [2.0f64, 1.1, 3.7] {
                let codes: Vec<i16> = (0..97)
                    .map(|j| ((j * 37 + 5) % (2 * s as i32 + 1) - s as i32) as i16)
                    .collect();
                let levels = Levels::Geometric { base, s };
                let m = Message::Quantized {
                    norm: 3.25f64,
                    levels,
                    codes: codes.clone(),
                };
                let mut out = vec![0.5f64; codes.len()];
                m.add_to(&mut out, 0.75).unwrap();
                for (o, &c) in out.iter().zip(&codes) {
                    let n = 0.75 * 3.25;
                    let mag = levels.magnitude(c.unsigned_abs());
                    let want = if c == 0 {
                        0.5
                    } else if c < 0 {
                        0.5 + -(n * mag)
                    } else {
                        0.5 + n * mag
                    };
                    assert_eq!(o.to_bits(), want.to_bits(), "s {s}, base {base}, code {c}");
                }
            }
        }
    }

    /// As above for f32, f64 and f16, with signed zeros and a NaN in `out`: the table's −0 for
    /// code 0 leaves them as skipping the entry did.
    #[test]
    fn geometric_add_to_matches_the_entrywise_sum() {
        fn check<S: Scalar>(s: u16, seed: u64) {
            let mut state = seed;
            let mut next = move || {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                state >> 33
            };
            let levels = Levels::Geometric {
                base: S::from_f64(1.5),
                s,
            };
            let codes: Vec<i16> = (0..700)
                .map(|j| match j % 5 {
                    0 | 1 => 0,
                    _ => (next() % (2 * s as u64 + 1)) as i16 - s as i16,
                })
                .collect();
            let specials = [0.0, -0.0, f64::NAN, 1e-3, -2.5];
            let out0: Vec<S> = (0..700)
                .map(|j| S::from_f64(specials[(next() as usize + j) % specials.len()]))
                .collect();
            let (norm, scale) = (S::from_f64(3.25), S::from_f64(-0.5));
            let m = Message::Quantized {
                norm,
                levels,
                codes: codes.clone(),
            };
            let mut got = out0.clone();
            m.add_to(&mut got, scale).unwrap();
            let n = scale * norm;
            let mut want = out0;
            for (o, &c) in want.iter_mut().zip(&codes) {
                if c != 0 {
                    let v = n * S::from_f64(levels.magnitude(c.unsigned_abs()));
                    *o += if c < 0 { -v } else { v };
                }
            }
            let bits = |v: &[S]| v.iter().map(|x| x.to_bits_u64()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{} s = {s}", S::NAME);
        }
        for (i, s) in [1u16, 2, 7, 64, 511, 512, 600].into_iter().enumerate() {
            check::<f32>(s, i as u64);
            check::<f64>(s, 10 + i as u64);
            check::<half::f16>(s, 20 + i as u64);
        }
    }
}
