//! The invariants of a message, checked for hand-built ones (decoding enforces the same).

use super::{MAX_DEPTH, MAX_DIM, MAX_INDEX_WIDTH, Message};
use crate::error::DecodeError;
use crate::scalar::Scalar;

pub(crate) fn check_indices(indices: &[u32], dim: usize) -> Result<(), DecodeError> {
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

pub(crate) fn check_values<S: Scalar>(values: &[S], what: &'static str) -> Result<(), DecodeError> {
    if let Some((i, v)) = crate::ops::first_non_finite(values) {
        return Err(DecodeError::BadField {
            what,
            detail: format!("entry {i} is {v}"),
        });
    }
    Ok(())
}

pub(crate) fn check_index_width(width: u8) -> Result<(), DecodeError> {
    if (1..=MAX_INDEX_WIDTH).contains(&width) {
        Ok(())
    } else {
        Err(DecodeError::BadField {
            what: "index width",
            detail: format!("{width} not in 1..={MAX_INDEX_WIDTH}"),
        })
    }
}

impl<S: Scalar> Message<S> {
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
}
