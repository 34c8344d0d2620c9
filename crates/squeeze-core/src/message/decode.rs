//! Decoding untrusted bytes: every read is bounds-checked and every field validated, so no
//! input panics.

use super::TAG_LOW_RANK;
use super::cast::decode_cast;
use super::low_rank::decode_low_rank;
use super::validate::{
    binary_blocks, check_binary_block, check_index_width, check_values, too_deep,
};
use super::{
    INDEX_WIDTH_BITS, Levels, MAX_DEPTH, MAX_DIM, Message, TAG_BINARY, TAG_BITS, TAG_CAST,
    TAG_COMPOSED, TAG_CONCAT, TAG_DENSE, TAG_INDEXED, TAG_NATURAL, TAG_PAIR, TAG_QUANTIZED,
    TAG_SCALED, TAG_SIGN, TAG_SKIP, TAG_SPARSE,
};
use crate::bits::{BitReader, bits_for_range};
use crate::error::DecodeError;
use crate::scalar::Scalar;

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

pub(super) fn need(r: &BitReader<'_>, count: u64, bits_each: u64) -> Result<(), DecodeError> {
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

/// `dim` bits into packed words (64 per word, unused bits zero).
fn read_bit_words(r: &mut BitReader<'_>, dim: usize) -> Result<Vec<u64>, DecodeError> {
    need(r, dim as u64, 1)?;
    let mut words = Vec::with_capacity(dim.div_ceil(64));
    for _ in 0..dim / 64 {
        words.push(r.read(64)?);
    }
    if !dim.is_multiple_of(64) {
        words.push(r.read((dim % 64) as u32)?);
    }
    Ok(words)
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

impl<S: Scalar> Message<S> {
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
                let negative = read_bit_words(r, dim)?;
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
            TAG_SCALED | TAG_COMPOSED | TAG_PAIR | TAG_INDEXED | TAG_CONCAT
                if depth >= MAX_DEPTH =>
            {
                return Err(too_deep());
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
            TAG_BINARY => {
                let block = r.read(bits_for_range(dim as u64 + 1))? as usize;
                check_binary_block(dim, block)?;
                let count = 2 * binary_blocks(dim, block);
                need(r, count as u64, sb)?;
                let mut levels = Vec::with_capacity(count);
                for _ in 0..count {
                    levels.push(read_scalar(r)?);
                }
                check_values(&levels, "binary level")?;
                let negative = read_bit_words(r, dim)?;
                Message::Binary {
                    dim,
                    block,
                    levels,
                    negative,
                }
            }
            TAG_CONCAT => {
                let k = r.read(bits_for_range(dim as u64 + 1))?;
                if k > dim as u64 {
                    return Err(DecodeError::CountTooLarge { count: k, dim });
                }
                let a = Self::decode_tagged(r, k as usize, depth + 1)?;
                let b = Self::decode_tagged(r, dim - k as usize, depth + 1)?;
                Message::Concat(Box::new([a, b]))
            }
            TAG_CAST => decode_cast(r, dim)?,
            TAG_LOW_RANK => decode_low_rank(r, dim)?,
            t => return Err(DecodeError::UnknownTag { tag: t as u8, at }),
        })
    }
}
