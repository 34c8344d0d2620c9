//! The invariants of a message, checked for hand-built ones (decoding enforces the same).
//!
//! Two scopes: [`Message::validate`] checks everything [`Message::decode`] enforces (what
//! `encode` needs to write a message that decodes back to itself); [`Message::validate_shape`]
//! checks the structure that `add_to` needs to touch exactly the right coordinates — sizes,
//! index ranges and order, nesting depth, level codes and index widths — but not the value
//! domain of scalars (a non-finite value is added faithfully). Both take `O(entries)` time,
//! recurse at most [`MAX_DEPTH`] levels and allocate only to describe an error.

use super::cast::check_cast;
use super::low_rank::check_low_rank;
use super::{MAX_DEPTH, MAX_DIM, MAX_INDEX_WIDTH, Message};
use crate::error::{DecodeError, MessageError};
use crate::scalar::Scalar;

/// Indices strictly increasing and `< dim`.
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

/// Every value finite.
pub(crate) fn check_values<S: Scalar>(values: &[S], what: &'static str) -> Result<(), DecodeError> {
    match crate::ops::first_non_finite(values) {
        Some((i, v)) => Err(DecodeError::bad_field(what, format!("entry {i} is {v}"))),
        None => Ok(()),
    }
}

crate::dispatch_avx2! {
    /// The largest level `max_j |c_j|` (0 for no codes): one branch-free pass.
    pub(super) fn largest_level(codes: &[i16]) -> u16 => largest_level_body
}

#[inline(always)]
fn largest_level_body(codes: &[i16]) -> u16 {
    codes.iter().fold(0u16, |m, c| m.max(c.unsigned_abs()))
}

/// [`largest_level`], chunked over the calling rayon pool for large payloads
/// ([`crate::bits::wire_parallel`]).
fn largest_level_chunked(codes: &[i16]) -> u16 {
    #[cfg(feature = "parallel")]
    if crate::bits::wire_parallel(codes.len()) {
        use rayon::prelude::*;
        let chunks = codes.par_chunks(crate::bits::WIRE_CHUNK);
        return chunks.map(largest_level).max().unwrap_or(0);
    }
    largest_level(codes)
}

crate::dispatch_avx2! {
    /// Whether every value is a finite zero or a signed power of two (mantissa zero, exponent
    /// not all ones): one branch-free pass, the fast path of the natural-value check.
    pub(super) fn naturals_clean<S: Scalar>(values: &[S]) -> bool => naturals_clean_body
}

#[inline(always)]
fn naturals_clean_body<S: Scalar>(values: &[S]) -> bool {
    let mant = (1u64 << S::MANT_BITS) - 1;
    let exp = ((1u64 << S::EXP_BITS) - 1) << S::MANT_BITS;
    let (mut mantissas, mut non_finite) = (0u64, 0u64);
    for v in values {
        let b = v.to_bits_u64();
        mantissas |= b & mant;
        non_finite |= u64::from(b & exp == exp);
    }
    mantissas == 0 && non_finite == 0
}

/// [`check_values`], the finiteness scan chunked over the calling rayon pool for large
/// payloads; a failing chunk re-checks the whole slice, so the error names the first bad entry.
pub(super) fn check_values_chunked<S: Scalar>(
    values: &[S],
    what: &'static str,
) -> Result<(), DecodeError> {
    #[cfg(feature = "parallel")]
    if crate::bits::wire_parallel(values.len()) {
        use rayon::prelude::*;
        let finite = values
            .par_chunks(crate::bits::WIRE_CHUNK)
            .all(|c| crate::ops::first_non_finite(c).is_none());
        if finite {
            return Ok(());
        }
    }
    check_values(values, what)
}

/// [`check_values`] in the wire scope (`wire`), nothing in the shape scope.
fn check_values_if<S: Scalar>(
    wire: bool,
    values: &[S],
    what: &'static str,
) -> Result<(), DecodeError> {
    if wire {
        check_values_chunked(values, what)
    } else {
        Ok(())
    }
}

/// As many sparse values as indices.
pub(crate) fn check_sparse_lengths<S>(indices: &[u32], values: &[S]) -> Result<(), DecodeError> {
    DecodeError::require(indices.len() == values.len(), "sparse lengths", || {
        format!("{} indices, {} values", indices.len(), values.len())
    })
}

/// A composed message's inner dimension is its number of indices.
pub(crate) fn check_composed_dim(inner_dim: usize, indices: &[u32]) -> Result<(), DecodeError> {
    DecodeError::require(
        inner_dim == indices.len(),
        "composed inner dimension",
        || format!("{inner_dim} for {} indices", indices.len()),
    )
}

/// `1 ≤ width ≤ MAX_INDEX_WIDTH`.
pub(crate) fn check_index_width(width: u8) -> Result<(), DecodeError> {
    DecodeError::require(
        (1..=MAX_INDEX_WIDTH).contains(&width),
        "index width",
        || format!("{width} not in 1..={MAX_INDEX_WIDTH}"),
    )
}

/// Number of blocks of a [`Message::Binary`]: $\lceil d/b\rceil$ (0 for `block = 0`).
pub(crate) fn binary_blocks(dim: usize, block: usize) -> usize {
    if block == 0 { 0 } else { dim.div_ceil(block) }
}

/// A binary message's block length: `1 ≤ block ≤ dim`, or `block = 0 = dim`.
pub(crate) fn check_binary_block(dim: usize, block: usize) -> Result<(), DecodeError> {
    DecodeError::require(
        block <= dim && (block >= 1 || dim == 0),
        "binary block",
        || format!("{block} not in 1..={dim}"),
    )
}

/// In the wire scope (`wire`), `v` finite and ≥ 0 (a clear sign bit); nothing in the shape
/// scope.
fn check_nonnegative_if<S: Scalar>(
    wire: bool,
    v: S,
    what: &'static str,
) -> Result<(), DecodeError> {
    DecodeError::require(
        !wire || (v.is_finite() && !v.is_sign_negative()),
        what,
        || format!("{v} must be finite and ≥ 0"),
    )
}

/// `⌈dim/64⌉` packed bit words; in the wire scope also zero unused bits.
fn check_bit_words(
    wire: bool,
    dim: usize,
    words: &[u64],
    what: &'static str,
) -> Result<(), DecodeError> {
    DecodeError::require(words.len() == dim.div_ceil(64), what, || {
        format!("{} words for dimension {dim}", words.len())
    })?;
    if wire && !dim.is_multiple_of(64) && words[dim / 64] >> (dim % 64) != 0 {
        return Err(DecodeError::NonCanonical("unused sign bits must be zero"));
    }
    Ok(())
}

/// Which invariants a check covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Sizes, indices, depth, codes and widths.
    Shape,
    /// Everything the decoder enforces.
    Wire,
    /// [`Scope::Wire`] but the `Natural` values and the levels of `Quantized` codes, which the
    /// encoder checks as it packs them.
    Unpacked,
}

/// The error for nesting deeper than the wire format's limit.
pub(crate) fn too_deep() -> DecodeError {
    DecodeError::bad_field(
        "nesting",
        format!(
            "deeper than {MAX_DEPTH} levels of Scaled/Composed/Pair/Indexed/Concat (the wire format's limit)"
        ),
    )
}

impl<S: Scalar> Message<S> {
    /// Check the invariants that [`Message::decode`] enforces (for hand-built messages):
    /// `dim ≤ MAX_DIM`; at most [`MAX_DEPTH`] nested `Scaled`/`Composed`/`Pair`/`Indexed`/`Concat`;
    /// `|indices| = |values|`, indices strictly increasing in `[0, d)`; `⌈d/64⌉` sign words
    /// with zero unused bits; `1 ≤ s ≤ MAX_LEVELS` and `|c_j| ≤ s`; `1 ≤ width ≤ 15` and
    /// `index < 2^width`; a `Composed` inner message of dimension `k`, `Pair` halves of equal
    /// dimension; finite values, scales and norms (`≥ 0` for `Sign` and `Quantized`), a
    /// geometric base `> 1`, `Natural` values that are zero or powers of two; a `Binary`
    /// block `1 ≤ b ≤ d` (0 iff `d = 0`) with two finite levels per block; `Cast` words
    /// finite in their format and in `S`, `u8` codes `≤ 255` with a finite range `min ≤ max`.
    ///
    /// A message passes exactly when [`Message::try_encode`] accepts it, and then
    /// `decode(encode(m)) = m`.
    ///
    /// ```
    /// use squeeze_core::Message;
    /// let ok = Message::<f32>::Sparse { dim: 4, indices: vec![1, 3], values: vec![1.0, 2.0] };
    /// assert!(ok.validate().is_ok());
    /// let bad = Message::<f32>::Sparse { dim: 4, indices: vec![1, 4], values: vec![1.0, 2.0] };
    /// assert!(bad.validate().is_err()); // index 4 out of range
    /// ```
    pub fn validate(&self) -> Result<(), DecodeError> {
        self.check(0, Scope::Wire)
    }

    /// Check the structural invariants that [`Message::add_to`] relies on: the sizes, index
    /// ranges and order, nesting depth (≤ [`MAX_DEPTH`]), level codes (`1 ≤ s ≤ MAX_LEVELS`,
    /// `|c_j| ≤ s`, `u8` cast codes `≤ 255`) and index widths of [`Message::validate`], but not the value domain of
    /// scalars (non-finite values are applied as they are).
    ///
    /// ```
    /// use squeeze_core::Message;
    /// let nan = Message::<f32>::Dense { values: vec![f32::NAN] };
    /// assert!(nan.validate_shape().is_ok() && nan.validate().is_err());
    /// let short = Message::<f32>::Sign { dim: 100, scale: 1.0, negative: vec![0] };
    /// assert!(short.validate_shape().is_err()); // 100 coordinates need 2 sign words
    /// ```
    pub fn validate_shape(&self) -> Result<(), DecodeError> {
        self.check(0, Scope::Shape)
    }

    /// [`Message::validate`] but the `Natural` values and the code levels, for the encoder,
    /// which checks them as it packs them (see [`Message::packed_error`]).
    pub(super) fn check_unpacked(&self) -> Result<(), DecodeError> {
        self.check(0, Scope::Unpacked)
    }

    /// The error of [`Message::validate`] for a message that passed
    /// [`Message::check_unpacked`] but whose `Natural` values or code levels the encoder
    /// rejected.
    pub(super) fn packed_error(&self) -> MessageError {
        match self.validate() {
            Err(e) => e.into(),
            // Not reached: the encoder's checks are those of `validate`.
            Ok(()) => {
                DecodeError::bad_field("packed value", "rejected by the encoder".into()).into()
            }
        }
    }

    fn check(&self, depth: u32, scope: Scope) -> Result<(), DecodeError> {
        let wire = scope != Scope::Shape;
        DecodeError::require(self.dim() <= MAX_DIM, "dimension", || {
            format!("{} exceeds {MAX_DIM}", self.dim())
        })?;
        let nested = matches!(
            self,
            Message::Scaled { .. }
                | Message::Composed { .. }
                | Message::Pair(_)
                | Message::Indexed { .. }
                | Message::Concat(_)
        );
        if nested && depth >= MAX_DEPTH {
            return Err(too_deep());
        }
        match self {
            Message::Skip { .. } => Ok(()),
            Message::Dense { values } => check_values_if(wire, values, "dense value"),
            Message::Sparse {
                dim,
                indices,
                values,
            } => {
                check_sparse_lengths(indices, values)?;
                check_indices(indices, *dim)?;
                check_values_if(wire, values, "sparse value")
            }
            Message::Sign {
                dim,
                scale,
                negative,
            } => {
                check_nonnegative_if(wire, *scale, "sign scale")?;
                check_bit_words(wire, *dim, negative, "sign words")
            }
            Message::Quantized {
                norm,
                levels,
                codes,
            } => {
                if wire {
                    levels.validate()?;
                } else {
                    levels.validate_count()?;
                }
                check_nonnegative_if(wire, *norm, "quantisation norm")?;
                let s = levels.s();
                // A branch-free max pass (vectorised) first; the search only on failure. The
                // encoder checks the levels as it packs them (`Scope::Unpacked`).
                if scope != Scope::Unpacked
                    && largest_level_chunked(codes) > s
                    && let Some(c) = codes.iter().find(|c| c.unsigned_abs() > s)
                {
                    return Err(DecodeError::bad_field(
                        "quantisation level",
                        format!("{c} exceeds s = {s}"),
                    ));
                }
                Ok(())
            }
            Message::Natural { values } => {
                if scope != Scope::Wire || naturals_clean(values) {
                    return Ok(());
                }
                // Some value is bad: the passes below name the first one.
                let mant_mask = (1u64 << S::MANT_BITS) - 1;
                check_values(values, "natural value")?;
                if let Some(v) = values.iter().find(|v| v.to_bits_u64() & mant_mask != 0) {
                    return Err(DecodeError::bad_field(
                        "natural value",
                        format!("{v} is not zero or a power of two"),
                    ));
                }
                Ok(())
            }
            Message::Scaled { scale, inner } => {
                DecodeError::require(!wire || scale.is_finite(), "scale", || {
                    format!("{scale} is not finite")
                })?;
                inner.check(depth + 1, scope)
            }
            Message::Composed {
                dim,
                indices,
                inner,
            } => {
                check_indices(indices, *dim)?;
                check_composed_dim(inner.dim(), indices)?;
                inner.check(depth + 1, scope)
            }
            Message::Pair(p) => {
                DecodeError::require(p[0].dim() == p[1].dim(), "pair dimensions", || {
                    format!("{} and {}", p[0].dim(), p[1].dim())
                })?;
                p[0].check(depth + 1, scope)?;
                p[1].check(depth + 1, scope)
            }
            Message::Concat(p) => {
                p[0].check(depth + 1, scope)?;
                p[1].check(depth + 1, scope)
            }
            Message::Indexed {
                width,
                index,
                inner,
            } => {
                check_index_width(*width)?;
                DecodeError::require((*index as u64) >> *width == 0, "index", || {
                    format!("{index} does not fit in {width} bits")
                })?;
                inner.check(depth + 1, scope)
            }
            Message::Binary {
                dim,
                block,
                levels,
                negative,
            } => {
                check_binary_block(*dim, *block)?;
                let blocks = binary_blocks(*dim, *block);
                DecodeError::require(levels.len() == 2 * blocks, "binary levels", || {
                    format!("{} levels for {blocks} blocks (2 each)", levels.len())
                })?;
                check_values_if(wire, levels, "binary level")?;
                check_bit_words(wire, *dim, negative, "binary words")
            }
            Message::Cast { format, words } => check_cast(format, words, wire),
            Message::LowRank {
                side,
                weights,
                vectors,
            } => check_low_rank(*side, weights, vectors, wire),
        }
    }
}
