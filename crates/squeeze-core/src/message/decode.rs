//! Decoding untrusted bytes: every read is bounds-checked and every field validated, so no
//! input panics.

use super::TAG_LOW_RANK;
use super::cast::decode_cast;
use super::low_rank::decode_low_rank;
use super::natural::read_naturals;
use super::validate::{
    binary_blocks, check_binary_block, check_index_width, check_values, check_values_chunked,
    too_deep,
};
use super::{
    INDEX_WIDTH_BITS, Levels, MAX_DEPTH, MAX_DIM, Message, TAG_BINARY, TAG_BITS, TAG_CAST,
    TAG_COMPOSED, TAG_CONCAT, TAG_DENSE, TAG_INDEXED, TAG_NATURAL, TAG_PAIR, TAG_QUANTIZED,
    TAG_SCALED, TAG_SIGN, TAG_SKIP, TAG_SPARSE,
};
use std::mem::take;

use crate::bits::{BitReader, bits_for_range};
use crate::error::DecodeError;
use crate::scalar::Scalar;

#[inline]
fn read_scalar<S: Scalar>(r: &mut BitReader<'_>) -> Result<S, DecodeError> {
    Ok(S::from_bits_u64(r.read(S::BITS)?))
}

fn read_finite<S: Scalar>(r: &mut BitReader<'_>, what: &'static str) -> Result<S, DecodeError> {
    let v: S = read_scalar(r)?;
    DecodeError::require(v.is_finite(), what, || format!("{v} is not finite"))?;
    Ok(v)
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

/// `buf` at length `count` for `count` fields of `bits_each` bits, once [`need`] found them in
/// the input: reused, its entries left as they are (only a longer length adds `fill`s), for a
/// reader that overwrites every entry.
pub(super) fn sized_for<T: Clone>(
    r: &BitReader<'_>,
    mut buf: Vec<T>,
    count: usize,
    bits_each: u32,
    fill: T,
) -> Result<Vec<T>, DecodeError> {
    need(r, count as u64, bits_each as u64)?;
    buf.truncate(count);
    buf.resize(count, fill);
    Ok(buf)
}

/// `dim` bits into packed words (64 per word, unused bits zero), reusing `words`.
fn read_bit_words(
    r: &mut BitReader<'_>,
    dim: usize,
    mut words: Vec<u64>,
) -> Result<Vec<u64>, DecodeError> {
    need(r, dim as u64, 1)?;
    words.clear();
    words.reserve(dim.div_ceil(64));
    for _ in 0..dim / 64 {
        words.push(r.read(64)?);
    }
    if !dim.is_multiple_of(64) {
        words.push(r.read((dim % 64) as u32)?);
    }
    Ok(words)
}

/// `count` scalars into `out` (cleared first); word-at-a-time for scalars of at most 56 bits,
/// chunked over the calling rayon pool for large payloads ([`crate::bits::wire_parallel`]).
fn read_values<S: Scalar>(
    r: &mut BitReader<'_>,
    count: usize,
    out: Vec<S>,
) -> Result<Vec<S>, DecodeError> {
    // Every entry is overwritten: a buffer of the right length is reused without a fill.
    let mut out = sized_for(r, out, count, S::BITS, S::ZERO)?;
    let start = r.clone();
    if r.read_fixed(&mut out, S::BITS, |b| (S::from_bits_u64(b), false)) {
        // Only an input shorter than `need` checked can get here: re-read for its error.
        *r = start;
        for o in &mut out {
            *o = read_scalar(r)?;
        }
    }
    Ok(out)
}

/// `dim` quantisation codes (level `|c|` in `w(s+1)` bits, then a sign bit if `c ≠ 0`) into
/// `codes`. Word-at-a-time without a branch per entry; a level above `s` or a short input
/// re-reads entry by entry from the start, so the error is that of the first bad entry.
fn read_codes(
    r: &mut BitReader<'_>,
    dim: usize,
    s: u16,
    codes: Vec<i16>,
) -> Result<Vec<i16>, DecodeError> {
    let width = bits_for_range(s as u64 + 1);
    let mut codes = sized_for(r, codes, dim, width, 0)?;
    let start = r.clone();
    // On a pool, a message that starts with non-zero codes is read chunk by chunk from the
    // offsets it has if no code is zero (`width + 1` bits each), checked afterwards; any
    // other, by ranges, each thread parsing the codes before its own (`BitReader::read_prefixed`).
    let read = |r: &mut BitReader<'_>, out: &mut [i16]| r.read_sign_magnitude(out, width, s);
    let guessed = if crate::bits::wire_parallel(dim) && starts_dense(r, width) {
        r.read_guessed(&mut codes, width + 1, read)
    } else {
        None
    };
    let pooled = guessed.or_else(|| r.read_prefixed(&mut codes, width, read));
    let (done, bad) = pooled.unwrap_or_else(|| read(r, &mut codes));
    let from = if bad {
        *r = start;
        0
    } else {
        done
    };
    for c in &mut codes[from..] {
        let mag = r.read(width)?;
        DecodeError::require(mag <= s as u64, "quantisation level", || {
            format!("{mag} exceeds s = {s}")
        })?;
        *c = if mag != 0 && r.read_bit()? {
            -(mag as i16)
        } else {
            mag as i16
        };
    }
    Ok(codes)
}

/// Whether the next 64 codes of `width`-bit levels are all non-zero.
fn starts_dense(r: &BitReader<'_>, width: u32) -> bool {
    let mut r = r.clone();
    (0..64).all(|_| r.read(width).is_ok_and(|level| level != 0) && r.read_bit().is_ok())
}

/// The buffers of a message that [`Message::decode_into`] replaces, handed to the decoder so
/// that decoding the same kind of message again allocates nothing.
struct Spare<S: Scalar> {
    codes: Vec<i16>,
    values: Vec<S>,
    words: Vec<u64>,
    indices: Vec<u32>,
}

impl<S: Scalar> Spare<S> {
    fn none() -> Self {
        Self {
            codes: Vec::new(),
            values: Vec::new(),
            words: Vec::new(),
            indices: Vec::new(),
        }
    }

    /// The buffers of `m` (of its inner message for `Scaled`, `Indexed` and `Composed`).
    fn of(m: Message<S>) -> Self {
        let mut spare = Self::none();
        match m {
            Message::Dense { values } | Message::Natural { values } => spare.values = values,
            Message::Sparse {
                indices, values, ..
            } => {
                spare.indices = indices;
                spare.values = values;
            }
            Message::Sign { negative, .. } => spare.words = negative,
            Message::Quantized { codes, .. } => spare.codes = codes,
            Message::Binary {
                levels, negative, ..
            } => {
                spare.values = levels;
                spare.words = negative;
            }
            Message::Scaled { inner, .. } | Message::Indexed { inner, .. } => {
                spare = Self::of(*inner);
            }
            Message::Composed { indices, inner, .. } => {
                spare = Self::of(*inner);
                spare.indices = indices;
            }
            Message::Skip { .. }
            | Message::Pair(_)
            | Message::Concat(_)
            | Message::Cast { .. }
            | Message::LowRank { .. } => {}
        }
        spare
    }
}

fn read_indices(
    r: &mut BitReader<'_>,
    dim: usize,
    mut out: Vec<u32>,
) -> Result<Vec<u32>, DecodeError> {
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
    Ok(out)
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
        Self::decode_with(bytes, dim, &mut Spare::none())
    }

    /// [`Message::decode`] into `self`, reusing its buffers: decoding a message of the same
    /// kind and size as the one `self` holds (the steady state of a receiver) allocates
    /// nothing for `Dense`, `Sparse`, `Sign`, `Quantized`, `Natural` and `Binary` at top level
    /// (nested kinds allocate their boxes). On error `self` becomes `Skip { dim }`.
    ///
    /// ```
    /// use squeeze_core::Message;
    /// let m = Message::<f32>::Quantized {
    ///     norm: 2.0,
    ///     levels: squeeze_core::message::Levels::Uniform { s: 4 },
    ///     codes: vec![0, -3, 4, 1, 0],
    /// };
    /// let mut back = Message::default();
    /// back.decode_into(&m.to_bytes(), 5).unwrap();
    /// assert_eq!(back, m);
    /// assert!(back.decode_into(&[0x0f], 5).is_err());
    /// assert!(back.is_skip());
    /// ```
    pub fn decode_into(&mut self, bytes: &[u8], dim: usize) -> Result<(), DecodeError> {
        let mut spare = Spare::of(std::mem::replace(self, Message::Skip { dim }));
        *self = Self::decode_with(bytes, dim, &mut spare)?;
        Ok(())
    }

    fn decode_with(bytes: &[u8], dim: usize, spare: &mut Spare<S>) -> Result<Self, DecodeError> {
        DecodeError::require(dim <= MAX_DIM, "dimension", || {
            format!("{dim} exceeds {MAX_DIM}")
        })?;
        if bytes.is_empty() {
            return Ok(Message::Skip { dim });
        }
        let mut r = BitReader::new(bytes);
        let m = Self::decode_tagged(&mut r, dim, 0, spare)?;
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
        Self::decode_tagged(r, dim, 0, &mut Spare::none())
    }

    fn decode_tagged(
        r: &mut BitReader<'_>,
        dim: usize,
        depth: u32,
        spare: &mut Spare<S>,
    ) -> Result<Self, DecodeError> {
        let at = r.position();
        let tag = r.read(TAG_BITS)?;
        Ok(match tag {
            TAG_SKIP => Message::Skip { dim },
            TAG_DENSE => {
                let values = read_values(r, dim, take(&mut spare.values))?;
                check_values_chunked(&values, "dense value")?;
                Message::Dense { values }
            }
            TAG_SPARSE => {
                let indices = read_indices(r, dim, take(&mut spare.indices))?;
                let values = read_values(r, indices.len(), take(&mut spare.values))?;
                check_values(&values, "sparse value")?;
                Message::Sparse {
                    dim,
                    indices,
                    values,
                }
            }
            TAG_SIGN => {
                let scale: S = read_finite(r, "sign scale")?;
                DecodeError::require(!scale.is_sign_negative(), "sign scale", || {
                    format!("{scale} must be ≥ 0 (with a clear sign bit)")
                })?;
                let negative = read_bit_words(r, dim, take(&mut spare.words))?;
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
                DecodeError::require(!norm.is_sign_negative(), "quantisation norm", || {
                    format!("{norm} must be ≥ 0 (with a clear sign bit)")
                })?;
                let codes = read_codes(r, dim, s, take(&mut spare.codes))?;
                Message::Quantized {
                    norm,
                    levels,
                    codes,
                }
            }
            TAG_NATURAL => Message::Natural {
                values: read_naturals(r, dim, take(&mut spare.values))?,
            },
            TAG_SCALED | TAG_COMPOSED | TAG_PAIR | TAG_INDEXED | TAG_CONCAT
                if depth >= MAX_DEPTH =>
            {
                return Err(too_deep());
            }
            TAG_SCALED => {
                let scale = read_finite(r, "scale")?;
                let inner = Box::new(Self::decode_tagged(r, dim, depth + 1, spare)?);
                Message::Scaled { scale, inner }
            }
            TAG_COMPOSED => {
                let indices = read_indices(r, dim, take(&mut spare.indices))?;
                let inner = Box::new(Self::decode_tagged(r, indices.len(), depth + 1, spare)?);
                Message::Composed {
                    dim,
                    indices,
                    inner,
                }
            }
            TAG_PAIR => {
                let a = Self::decode_tagged(r, dim, depth + 1, spare)?;
                let b = Self::decode_tagged(r, dim, depth + 1, spare)?;
                Message::Pair(Box::new([a, b]))
            }
            TAG_INDEXED => {
                let width = r.read(INDEX_WIDTH_BITS)? as u8;
                check_index_width(width)?;
                let index = r.read(width as u32)? as u16;
                let inner = Box::new(Self::decode_tagged(r, dim, depth + 1, spare)?);
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
                let levels = read_values(r, count, take(&mut spare.values))?;
                check_values(&levels, "binary level")?;
                let negative = read_bit_words(r, dim, take(&mut spare.words))?;
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
                let a = Self::decode_tagged(r, k as usize, depth + 1, spare)?;
                let b = Self::decode_tagged(r, dim - k as usize, depth + 1, spare)?;
                Message::Concat(Box::new([a, b]))
            }
            TAG_CAST => decode_cast(r, dim)?,
            TAG_LOW_RANK => decode_low_rank(r, dim)?,
            t => return Err(DecodeError::UnknownTag { tag: t as u8, at }),
        })
    }
}
