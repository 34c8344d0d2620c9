//! Encoding: a message's exact bit-packed form (see the wire-format table in [`super`]).
//! Only validated messages are encoded, so the writes below never index out of range.

use super::TAG_LOW_RANK;
use super::cast::encode_cast;
use super::low_rank::encode_low_rank;
use super::natural::write_naturals;
use super::validate::largest_level;
use super::{
    INDEX_WIDTH_BITS, Levels, MAX_DIM, Message, TAG_BINARY, TAG_BITS, TAG_CAST, TAG_COMPOSED,
    TAG_CONCAT, TAG_DENSE, TAG_INDEXED, TAG_INVALID, TAG_NATURAL, TAG_PAIR, TAG_QUANTIZED,
    TAG_SCALED, TAG_SIGN, TAG_SKIP, TAG_SPARSE,
};
use crate::bits::{BLOCK_GROUPS, BitWriter, GroupBits, WIRE_CHUNK, bits_for_range};
use crate::error::{DecodeError, MessageError};
use crate::scalar::Scalar;

#[inline]
fn write_scalar<S: Scalar>(w: &mut BitWriter, v: S) {
    w.write(v.to_bits_u64(), S::BITS);
}

/// Scalars back to back; word-at-a-time for scalars of at most 56 bits (`f32`), chunked over
/// the calling rayon pool for large payloads ([`crate::bits::wire_parallel`]).
fn write_values<S: Scalar>(w: &mut BitWriter, values: &[S]) {
    if S::BITS <= 56 {
        let n = S::BITS;
        w.write_chunked(values, |w, values| {
            w.write_fields(
                values,
                n,
                |v| (v.to_bits_u64(), n),
                // Whole groups where a group holds several values (f16, bf16); an f32 is a
                // group of one, for which the field loop is as fast.
                |g, n| (n <= 28).then(|| fixed_group(g, n, |v| v.to_bits_u64())),
            );
            false
        });
    } else {
        for &v in values {
            write_scalar(w, v);
        }
    }
}

/// Quantisation codes: per entry `|c|` in `width` bits, then a sign bit if `c ≠ 0` (so
/// `width` or `width + 1` bits, packed without a branch per entry). A piece of [`CODE_PIECE`]
/// codes with few non-zero ones, most of a large QSGD message, is a zero fill with its
/// non-zero codes placed at their offsets ([`write_sparse_codes`]); any other piece goes, where
/// `pext` is fast, by lanes of 8 or 16 bits and one `pext` per word
/// ([`codes_pext`](super::codes_pext)), else by the field loop. Where the CPU has AVX-512
/// VBMI, runs of 64 non-zero codes of at most 7-bit levels (power rounding's have no zero) go
/// by dense blocks. A large payload is packed chunk by chunk on the calling rayon pool
/// ([`BitWriter::write_chunked`]).
///
/// The levels are checked here, not in a pass of their own: in the pass that counts each
/// piece's non-zero codes, just before the piece is packed. `false` (bytes written or not) if
/// one is above `s`, which the caller turns into the validation error.
pub(super) fn write_codes(w: &mut BitWriter, width: u32, s: u16, codes: &[i16]) -> bool {
    #[cfg(all(target_arch = "x86_64", feature = "parallel"))]
    if let Some(bad) = write_dense_regions(w, width, s, codes) {
        return !bad;
    }
    !w.write_chunked(codes, |w, codes| {
        codes
            .chunks(WIRE_CHUNK)
            .any(|chunk| write_code_run(w, width, s, chunk))
    })
}

/// [`write_codes`] on a rayon pool for codes with no zero (power rounding's), where the CPU
/// has AVX-512 VBMI: with every code `width + 1` bits, each whole [`WIRE_CHUNK`] of codes has
/// a known place, so each is packed straight there ([`BitWriter::write_regions`]) instead of
/// into a piece of its own that is then copied into place; the same bytes. `Some(bad)` when
/// it wrote them (`bad`: a level above `s`), `None` with the writer as it was when it does
/// not apply: a zero code in the first block of a whole chunk (checked first) or elsewhere
/// in one (met while packing, which the chunks not yet packed then skip).
#[cfg(all(target_arch = "x86_64", feature = "parallel"))]
pub(super) fn write_dense_regions(
    w: &mut BitWriter,
    width: u32,
    s: u16,
    codes: &[i16],
) -> Option<bool> {
    use core::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let whole = codes.len() / WIRE_CHUNK;
    // The first block of every whole chunk sampled for a zero code (a cheap look at 1/1024
    // of the codes: a zero met later while packing costs the packing done until then).
    let applies = width <= 7
        && whole > 0
        && crate::bits::wire_parallel(codes.len())
        && crate::bits::dense_vbmi()
        && codes
            .chunks(WIRE_CHUNK)
            .take(whole)
            .all(|chunk| crate::bits::dense_block(&chunk[..CODE_BLOCK]));
    if !applies {
        return None;
    }
    let begin = w.bit_len();
    let zero_met = AtomicBool::new(false);
    let region_bytes = WIRE_CHUNK / 8 * (width + 1) as usize;
    let bad = w.write_regions(whole, region_bytes, |c, dst, shift| {
        // Once a zero code is met the result is dropped (the chunked path checks the levels
        // again), so a chunk after it only fills its bytes.
        let chunk = &codes[c * WIRE_CHUNK..][..WIRE_CHUNK];
        if !zero_met.load(Relaxed) && largest_level(chunk) <= s {
            // SAFETY: `dense_vbmi()` holds only where the CPU has AVX-512 F, BW, VBMI, VBMI2.
            // It writes every byte of `dst`, as `write_regions` requires, also at a zero code.
            return match unsafe { crate::bits::pack_dense_region(dst, shift, width, chunk) } {
                Some(carry) => (carry, false),
                None => {
                    zero_met.store(true, Relaxed);
                    (0, true)
                }
            };
        }
        // Every byte of the region written, as `write_regions` requires.
        // SAFETY: `dst` is valid for writes of its length; zero bytes initialise it.
        unsafe { core::ptr::write_bytes(dst.as_mut_ptr(), 0, dst.len()) };
        (0, true)
    });
    if zero_met.load(Relaxed) {
        w.truncate_bits(begin);
        return None;
    }
    if bad {
        return Some(true);
    }
    Some(write_code_run(w, width, s, &codes[whole * WIRE_CHUNK..]))
}

/// The tag and header of a `Quantized` message (levels, norm); returns the width of a code's
/// level field.
fn write_quantized_head<S: Scalar>(w: &mut BitWriter, norm: S, levels: Levels<S>) -> u32 {
    w.write(TAG_QUANTIZED, TAG_BITS);
    match levels {
        Levels::Uniform { s } => {
            w.write(0, 1);
            w.write(s as u64, 16);
        }
        Levels::Geometric { base, s } => {
            w.write(1, 1);
            w.write(s as u64, 16);
            write_scalar(w, base);
        }
    }
    write_scalar(w, norm);
    bits_for_range(levels.s() as u64 + 1)
}

/// Entries per piece that [`encode_quantized_with`] asks its code maker for: every piece of a
/// call but the last has exactly this many, and pieces start at multiples of it. A maker
/// that draws random words in blocks dividing it (the quantisers' 1,024 entries) therefore
/// draws exactly the words of one pass over all entries.
pub const CODE_PIECE: usize = 4096;

/// Append the encoding of `Message::Quantized { norm, levels, codes }` without the codes
/// ever existing as a whole: they are made piece by piece from `x` (`codes[j]` for entry
/// `x[j]`) and packed while the piece is in cache, so a quantiser can go from its input
/// straight to the wire (one read of `x`, one write of the bits, no `i16` vector of `2d`
/// bytes written and read back). The same bits as building the message and calling
/// [`Message::encode`].
///
/// `make(state, piece, codes)` fills `codes` (the piece's length) for consecutive pieces of
/// [`CODE_PIECE`] entries (the last shorter). Large inputs are packed on the calling rayon
/// pool in chunks of [`WIRE_CHUNK`] entries ([`crate::bits::wire_parallel`]): each thread
/// makes its state with `start(j)` for the first chunk of its run (`j` the index of that
/// chunk's first entry, a multiple of `WIRE_CHUNK`) and carries it to the next chunk it
/// takes; on one thread `start(0)` serves the whole input.
///
/// # Errors
/// The levels or the norm fail [`Message::validate`], `x` is longer than the largest
/// dimension, or a code's level is above `s` (a maker's bug): the writer is left as it was.
///
/// ```
/// use squeeze_core::message::encode_quantized_with;
/// use squeeze_core::{BitWriter, Levels, Message};
/// let x = [0.5f32, -2.0, 1.0];
/// let make = |_: &mut (), piece: &[f32], codes: &mut [i16]| {
///     for (c, &v) in codes.iter_mut().zip(piece) {
///         *c = (2.0 * v) as i16;
///     }
/// };
/// let mut w = BitWriter::new();
/// encode_quantized_with(&mut w, 2.0f32, Levels::Uniform { s: 4 }, &x, |_| (), make).unwrap();
/// let m = Message::Quantized { norm: 2.0f32, levels: Levels::Uniform { s: 4 }, codes: vec![1, -4, 2] };
/// assert_eq!(w.finish(), &m.to_bytes()[..]);
/// ```
pub fn encode_quantized_with<S: Scalar, X: Sync, St: Send>(
    w: &mut BitWriter,
    norm: S,
    levels: Levels<S>,
    x: &[X],
    start: impl Fn(usize) -> St + Sync,
    make: impl Fn(&mut St, &[X], &mut [i16]) + Sync,
) -> Result<(), MessageError> {
    let head = Message::Quantized {
        norm,
        levels,
        codes: Vec::new(),
    };
    head.validate()?;
    DecodeError::require(x.len() <= MAX_DIM, "dimension", || {
        format!("{} exceeds {MAX_DIM}", x.len())
    })?;
    let begin = w.bit_len();
    let width = write_quantized_head(w, norm, levels);
    let s = levels.s();
    let above = w.write_chunked_with(
        x,
        |c| start(c * WIRE_CHUNK),
        |state, w, x| {
            let mut codes = [0i16; CODE_PIECE];
            x.chunks(CODE_PIECE).any(|piece| {
                let codes = &mut codes[..piece.len()];
                make(state, piece, codes);
                write_code_run(w, width, s, codes)
            })
        },
    );
    if above {
        w.truncate_bits(begin);
        return Err(DecodeError::bad_field(
            "quantisation code",
            format!("a level above s = {s} (made by the quantiser)"),
        )
        .into());
    }
    Ok(())
}

/// [`write_codes`] on the calling thread: `true` (bytes written or not) if a level is above
/// `s`.
fn write_code_run(w: &mut BitWriter, width: u32, s: u16, codes: &[i16]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if width <= 7
        && crate::bits::dense_vbmi()
        && codes
            .get(..CODE_BLOCK)
            .is_some_and(crate::bits::dense_block)
    {
        if largest_level(codes) > s {
            return true;
        }
        // Runs of blocks with no zero code in registers, runs of blocks with one by pieces.
        let mut rest = codes;
        loop {
            // SAFETY: `dense_vbmi()` holds only where the CPU has AVX-512 F, BW, VBMI, VBMI2.
            let n = unsafe { w.write_dense_code_blocks(width, rest) };
            rest = &rest[n..];
            let mixed = rest
                .chunks_exact(CODE_BLOCK)
                .take_while(|b| !crate::bits::dense_block(b))
                .count();
            if mixed == 0 {
                break;
            }
            let (run, tail) = rest.split_at(mixed * CODE_BLOCK);
            write_code_pieces(w, width, s, run);
            rest = tail;
        }
        return write_code_pieces(w, width, s, rest);
    }
    write_code_pieces(w, width, s, codes)
}

/// [`write_code_run`] piece by piece: a sparse piece (most of a large QSGD message) by the
/// places of its non-zero codes, the others by lanes and `pext` where it is fast, else by the
/// field loop. Each piece's levels are checked in the pass that counts its non-zero codes;
/// `true` at the first piece with a level above `s`, before it is written.
fn write_code_pieces(w: &mut BitWriter, width: u32, s: u16, codes: &[i16]) -> bool {
    #[cfg(target_arch = "x86_64")]
    let pext = crate::bits::fast_pext();
    for piece in codes.chunks(CODE_PIECE) {
        let (nonzero, top) = count_nonzero(piece);
        if top > s {
            return true;
        }
        if nonzero * SPARSE_RATIO <= piece.len() {
            write_sparse_codes(w, width, piece, nonzero);
            continue;
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `fast_pext()` holds only where the CPU has AVX2, BMI2 and POPCNT.
        if pext && unsafe { super::codes_pext::write_codes_pext(w, width, piece, nonzero) } {
            continue;
        }
        let field = |c: i16| {
            let mag = c.unsigned_abs() as u64;
            let nonzero = (mag != 0) as u32;
            (mag | (((c < 0) as u64) << width), width + nonzero)
        };
        w.write_fields(piece, width + 1, field, code_group);
    }
    false
}

/// A piece of codes with at most one non-zero code in this many is written by
/// [`write_sparse_codes`]. Measured on 10⁷ codes (one thread, AVX-512 VM): faster than the
/// field loop from 1 in 15 non-zero (7.4 vs 8.1 ms) to 1 in 7,000 (QSGD `s = 1`), 1.5× at
/// 1 in 60 (QSGD `s = 4`, ℓ∞), 1.7× at 1 in 440 (QSGD `s = 16`).
const SPARSE_RATIO: usize = 16;

// The level check rides on the count, the pass that brings a piece into cache (then the
// packer runs on it there): QSGD s = 16 at d = 10⁷, one thread, 1.94–2.15 ms against
// 2.34–2.51 with a level pass of its own over each chunk before (2026-12-06). One heavier
// pass that also made the sparse packer's masks was slower, 1.37 against 1.26 ms (2026-12-05;
// it waits on memory with more work per load).
crate::dispatch_avx2! {
    /// How many codes are non-zero, and the largest level `max_j |c_j|`: one vectorised pass.
    fn count_nonzero(codes: &[i16]) -> (usize, u16) => count_nonzero_body
}

#[inline(always)]
fn count_nonzero_body(codes: &[i16]) -> (usize, u16) {
    codes.iter().fold((0, 0), |(n, top), &c| {
        (n + usize::from(c != 0), top.max(c.unsigned_abs()))
    })
}

crate::dispatch_avx2! {
    /// `codes` (of which `nonzero` are non-zero) as the bits of [`write_code_run`]: code `j`
    /// starts at bit `j·width + r_j`, `r_j` the number of non-zero codes before it (each
    /// carries a sign bit), so only the non-zero ones are placed, found 64 at a time from a
    /// mask of the block.
    fn write_sparse_codes(w: &mut BitWriter, width: u32, codes: &[i16], nonzero: usize) => write_sparse_codes_body
}

#[inline(always)]
fn write_sparse_codes_body(w: &mut BitWriter, width: u32, codes: &[i16], nonzero: usize) {
    let total = codes.len() as u64 * u64::from(width) + nonzero as u64;
    w.write_scattered(total, |scatter| {
        let mut rank = 0u64;
        for (b, block) in codes.chunks(CODE_BLOCK).enumerate() {
            let mut mask = block
                .iter()
                .enumerate()
                .fold(0u64, |m, (j, &c)| m | u64::from(c != 0) << j);
            while mask != 0 {
                let j = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                let c = block[j];
                let at = (b * CODE_BLOCK + j) as u64 * u64::from(width) + rank;
                scatter.or(at, u64::from(c.unsigned_abs()) | u64::from(c < 0) << width);
                rank += 1;
            }
        }
    });
}

/// Codes per dense block: 64 non-zero codes of `width + 1` bits are `8·(width + 1)` whole
/// bytes. Also the unit of the non-zero masks of [`write_sparse_codes`].
const CODE_BLOCK: usize = 8 * BLOCK_GROUPS;

/// A group of codes whole, if it is cheap (the field loop's groups, where `pext` is not a fast
/// instruction): all zero (the first code alone is tested for a dense message, a branch that
/// is predictable both there and in a sparse one, then a branch-free fold of the rest), or
/// laid out at the fixed stride `width + 1` if no code is zero. `stride = width + 1` is the
/// packer's field width: a constant in its per-width copies.
#[inline(always)]
fn code_group(group: &[i16], stride: u32) -> Option<GroupBits> {
    let width = stride - 1;
    if let Some((&0, rest)) = group.split_first()
        && rest.iter().fold(0, |a, &c| a | c) == 0
    {
        return Some(GroupBits::packed(0, group.len() as u32 * width));
    }
    // The fields at stride `width + 1`, the masks of their level and sign bits (constants for
    // a whole group), and the sign places to keep (those of non-zero levels).
    let word = group.iter().enumerate().fold(0u64, |word, (j, &c)| {
        word | (c.unsigned_abs() as u64 | (((c < 0) as u64) << width)) << (j as u32 * stride)
    });
    let (levels, signs) = crate::bits::field_masks(width, group.len() as u32);
    (crate::bits::nonzero_levels(word, levels, signs) == signs)
        .then(|| GroupBits::packed(word, group.len() as u32 * stride))
}

/// A group of `n`-bit fields `value(item)` at constant offsets (no position chain).
#[inline(always)]
pub(super) fn fixed_group<T: Copy>(group: &[T], n: u32, value: impl Fn(T) -> u64) -> GroupBits {
    let word = group
        .iter()
        .enumerate()
        .fold(0u64, |w, (j, &t)| w | value(t) << (j as u32 * n));
    GroupBits::packed(word, group.len() as u32 * n)
}

/// `dim` bits from packed words (64 per word, least-significant first).
fn write_bit_words(w: &mut BitWriter, dim: usize, words: &[u64]) {
    let full = dim / 64;
    for &word in &words[..full] {
        w.write(word, 64);
    }
    let rem = (dim % 64) as u32;
    if rem > 0 {
        w.write(words[full], rem);
    }
}

fn write_indices(w: &mut BitWriter, dim: usize, indices: &[u32]) {
    let d = dim as u64;
    w.write(indices.len() as u64, bits_for_range(d + 1));
    let wi = bits_for_range(d);
    for &i in indices {
        w.write(i as u64, wi);
    }
}

impl<S: Scalar> Message<S> {
    /// Append the encoding to `w` (nothing for a top-level `Skip`), exactly
    /// [`Message::bits`] bits.
    ///
    /// A message that fails [`Message::validate`] (only hand-built ones can) is written as the
    /// reserved tag 15 alone, which every decoder rejects: the receiver gets a typed error,
    /// never wrong values. Use [`Message::try_encode`] to learn why on the sending side.
    /// Costs one `O(entries)` validation pass; allocates nothing for a valid message.
    ///
    /// ```
    /// use squeeze_core::{BitWriter, Message};
    /// let bad = Message::<f32>::Sparse { dim: 4, indices: vec![9], values: vec![1.0] };
    /// let mut w = BitWriter::new();
    /// bad.encode(&mut w);
    /// assert_eq!(w.bit_len(), 4);
    /// assert!(Message::<f32>::decode(w.finish(), 4).is_err());
    /// ```
    pub fn encode(&self, w: &mut BitWriter) {
        if self.try_encode(w).is_err() {
            w.write(TAG_INVALID, TAG_BITS);
        }
    }

    /// [`Message::encode`] for a message that passes [`Message::validate`]; otherwise writes
    /// nothing and returns the broken invariant.
    ///
    /// ```
    /// use squeeze_core::{BitWriter, Message, MessageError};
    /// let deep = (0..5).fold(Message::<f32>::Dense { values: vec![1.0] }, |m, _| {
    ///     Message::Scaled { scale: 2.0, inner: Box::new(m) }
    /// });
    /// let mut w = BitWriter::new();
    /// assert!(matches!(deep.try_encode(&mut w), Err(MessageError::Invalid(_))));
    /// assert_eq!(w.bit_len(), 0);
    /// ```
    pub fn try_encode(&self, w: &mut BitWriter) -> Result<(), MessageError> {
        // Natural values are checked as they are packed (one pass over them, not two).
        self.check_unpacked()?;
        if !self.is_skip() {
            let start = w.bit_len();
            if !self.encode_tagged(w) {
                w.truncate_bits(start);
                return Err(self.packed_error());
            }
        }
        Ok(())
    }

    /// The encoding as bytes, zero-padded to a whole byte: `⌈bits/8⌉` bytes for a valid
    /// message, the single byte `0x0f` (reserved tag 15, always rejected by
    /// [`Message::decode`]) for one that fails [`Message::validate`].
    ///
    /// ```
    /// use squeeze_core::Message;
    /// let m = Message::<f32>::Dense { values: vec![1.0, 2.0] };
    /// assert_eq!(m.to_bytes().len() as u64, m.bits().div_ceil(8));
    /// let bad = Message::<f32>::Sign { dim: 100, scale: 1.0, negative: vec![] };
    /// assert_eq!(bad.to_bytes(), vec![0x0f]);
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        self.try_to_bytes()
            .unwrap_or_else(|_| vec![TAG_INVALID as u8])
    }

    /// [`Message::to_bytes`] for a message that passes [`Message::validate`], else the
    /// broken invariant.
    ///
    /// ```
    /// use squeeze_core::Message;
    /// let bad = Message::<f32>::Sparse { dim: 4, indices: vec![1, 2], values: vec![1.0] };
    /// let err = bad.try_to_bytes().unwrap_err().to_string();
    /// assert!(err.contains("2 indices, 1 values"), "{err}");
    /// ```
    pub fn try_to_bytes(&self) -> Result<Vec<u8>, MessageError> {
        self.check_unpacked()?;
        // The word-at-a-time writer reserves for the widest field of every entry (a QSGD zero
        // takes one bit less), so room for one more bit per entry avoids a reallocation.
        let room = self
            .bits()
            .saturating_add(self.entries())
            .saturating_add(64);
        let mut w = BitWriter::with_capacity_bits(room);
        if !self.is_skip() && !self.encode_tagged(&mut w) {
            return Err(self.packed_error());
        }
        Ok(w.into_bytes())
    }

    /// The encoding of a message that passes [`Message::check_unpacked`]; `false` if a
    /// `Natural` value in it is not a finite zero or power of two or a code level is above
    /// its `s` (then the bits written are no valid message).
    pub(super) fn encode_tagged(&self, w: &mut BitWriter) -> bool {
        match self {
            Message::Skip { .. } => w.write(TAG_SKIP, TAG_BITS),
            Message::Dense { values } => {
                w.write(TAG_DENSE, TAG_BITS);
                write_values(w, values);
            }
            Message::Sparse {
                dim,
                indices,
                values,
            } => {
                w.write(TAG_SPARSE, TAG_BITS);
                write_indices(w, *dim, indices);
                write_values(w, values);
            }
            Message::Sign {
                dim,
                scale,
                negative,
            } => {
                w.write(TAG_SIGN, TAG_BITS);
                write_scalar(w, *scale);
                write_bit_words(w, *dim, negative);
            }
            Message::Quantized {
                norm,
                levels,
                codes,
            } => {
                let width = write_quantized_head(w, *norm, *levels);
                return write_codes(w, width, levels.s(), codes);
            }
            Message::Natural { values } => {
                w.write(TAG_NATURAL, TAG_BITS);
                return write_naturals(w, values);
            }
            Message::Scaled { scale, inner } => {
                w.write(TAG_SCALED, TAG_BITS);
                write_scalar(w, *scale);
                return inner.encode_tagged(w);
            }
            Message::Composed {
                dim,
                indices,
                inner,
            } => {
                w.write(TAG_COMPOSED, TAG_BITS);
                write_indices(w, *dim, indices);
                return inner.encode_tagged(w);
            }
            Message::Pair(p) => {
                w.write(TAG_PAIR, TAG_BITS);
                return p[0].encode_tagged(w) & p[1].encode_tagged(w);
            }
            Message::Indexed {
                width,
                index,
                inner,
            } => {
                w.write(TAG_INDEXED, TAG_BITS);
                w.write(*width as u64, INDEX_WIDTH_BITS);
                w.write(*index as u64, *width as u32);
                return inner.encode_tagged(w);
            }
            Message::Binary {
                dim,
                block,
                levels,
                negative,
            } => {
                w.write(TAG_BINARY, TAG_BITS);
                w.write(*block as u64, bits_for_range(*dim as u64 + 1));
                write_values(w, levels);
                write_bit_words(w, *dim, negative);
            }
            Message::Concat(p) => {
                w.write(TAG_CONCAT, TAG_BITS);
                w.write(p[0].dim() as u64, bits_for_range(self.dim() as u64 + 1));
                return p[0].encode_tagged(w) & p[1].encode_tagged(w);
            }
            Message::Cast { format, words } => {
                w.write(TAG_CAST, TAG_BITS);
                encode_cast(w, format, words);
            }
            Message::LowRank {
                side,
                weights,
                vectors,
            } => {
                w.write(TAG_LOW_RANK, TAG_BITS);
                encode_low_rank(w, *side, weights, vectors);
            }
        }
        true
    }
}
