//! Bit-level writer and reader for the wire format.
//!
//! Bits are packed least-significant first into little-endian 64-bit words; a finished buffer
//! is padded with zero bits to a whole byte. `BitReader` treats its input as untrusted: every
//! read is bounds-checked and returns [`DecodeError::Truncated`] instead of panicking.

use crate::error::DecodeError;

/// Number of bits needed to write any value in `0..n` (`⌈log₂ n⌉`, 0 for `n ≤ 1`).
///
/// ```
/// use squeeze_core::bits::bits_for_range;
/// assert_eq!(bits_for_range(1), 0);
/// assert_eq!(bits_for_range(2), 1);
/// assert_eq!(bits_for_range(1000), 10);
/// assert_eq!(bits_for_range(1024), 10);
/// assert_eq!(bits_for_range(1025), 11);
/// ```
#[inline]
pub const fn bits_for_range(n: u64) -> u32 {
    if n <= 1 {
        0
    } else {
        64 - (n - 1).leading_zeros()
    }
}

/// Entries per chunk of the parallel wire path: $2^{16}$, the same as
/// `squeeze_compress::parallel::CHUNK`. Chunk boundaries depend on the entry count alone.
pub const WIRE_CHUNK: usize = 1 << 16;

/// Smallest payload (in entries) that is encoded or decoded on several threads: $2^{19}$, the
/// same as `squeeze_compress::parallel::PARALLEL_MIN_DIM`.
pub const WIRE_PARALLEL_MIN: usize = 1 << 19;

/// Whether a payload of `n` entries takes the chunked path: at least [`WIRE_PARALLEL_MIN`]
/// entries, the `parallel` feature on, and called from a worker of a rayon pool with more
/// than one thread (the pool the call is made from; a plain thread never starts rayon's
/// global pool). Otherwise the wire path runs on the calling thread exactly as before.
///
/// ```
/// use squeeze_core::bits::{wire_parallel, WIRE_PARALLEL_MIN};
/// assert!(!wire_parallel(WIRE_PARALLEL_MIN)); // not inside a rayon pool
/// ```
#[inline]
pub fn wire_parallel(n: usize) -> bool {
    #[cfg(feature = "parallel")]
    {
        n >= WIRE_PARALLEL_MIN
            && rayon::current_thread_index().is_some()
            && rayon::current_num_threads() > 1
    }
    #[cfg(not(feature = "parallel"))]
    {
        let _ = n;
        false
    }
}

/// A rayon pool of `threads` threads, for tests of the chunked wire path
/// (`test_pool(k).install(..)`).
#[cfg(all(test, feature = "parallel"))]
pub(crate) fn test_pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// Whether the bit-packing loops take their `avx2,bmi2,popcnt` copy (respects
/// [`crate::simd::portable`]). Every CPU with BMI2 has POPCNT, but the compiler knows only
/// what a copy enables: without `popcnt` a group's `count_ones` is a dozen dependent
/// bit-twiddling steps on the packing chain.
#[cfg(target_arch = "x86_64")]
#[inline]
fn bmi2() -> bool {
    crate::simd::avx2()
        && std::is_x86_feature_detected!("bmi2")
        && std::is_x86_feature_detected!("popcnt")
}

/// `f()` in a copy compiled with `avx2,bmi2,popcnt` where [`bmi2`] holds, else as is; the same
/// result either way. For code in a closure, which takes none of the features of the functions
/// around it: where it is not inlined into its caller (a large body, a closure run by a pool's
/// thread) it runs as baseline x86-64 code (`shr cl` for variable shifts, 16-byte stores).
/// `f` should be `#[inline(always)]`, so that its body is compiled into the copy.
#[inline(always)]
fn with_bmi2<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if bmi2() {
        #[target_feature(enable = "avx2,bmi2,popcnt")]
        fn copy<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        // SAFETY: `bmi2()` checked that this CPU has AVX2, BMI2 and POPCNT.
        return unsafe { copy(f) };
    }
    f()
}

/// The method `$name` (with the doc `$doc`) as a dispatch on [`bmi2`]: to `$copy`, the body
/// method `$body` compiled with `avx2,bmi2,popcnt` (variable shifts `shlx`/`shrx` and `bzhi`,
/// free of the flags dependency of `shl cl`), or to `$body` as is; the same results either
/// way.
macro_rules! bmi2_dispatch {
    (
        $(#[$doc:meta])*
        $vis:vis fn $name:ident[$($gen:tt)*](&mut self, $($arg:ident: $ty:ty),* $(,)?)
            $(-> $ret:ty)? => $copy:ident, $body:ident;
    ) => {
        $(#[$doc])*
        $vis fn $name<$($gen)*>(&mut self, $($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            if bmi2() {
                // SAFETY: `bmi2()` checked that this CPU has AVX2, BMI2 and POPCNT.
                return unsafe { self.$copy($($arg),*) };
            }
            self.$body($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,bmi2,popcnt")]
        fn $copy<$($gen)*>(&mut self, $($arg: $ty),*) $(-> $ret)? {
            self.$body($($arg),*)
        }
    };
}

/// Appends bit fields to a reusable byte buffer.
///
/// ```
/// use squeeze_core::bits::{BitReader, BitWriter};
/// let mut w = BitWriter::new();
/// w.write(0b101, 3);
/// w.write(u64::MAX, 64);
/// assert_eq!(w.bit_len(), 67);
/// let bytes = w.finish().to_vec();
/// assert_eq!(bytes.len(), 9);
/// let mut r = BitReader::new(&bytes);
/// assert_eq!(r.read(3).unwrap(), 0b101);
/// assert_eq!(r.read(64).unwrap(), u64::MAX);
/// r.finish().unwrap();
/// ```
#[derive(Debug, Default, Clone)]
pub struct BitWriter {
    buf: Vec<u8>,
    acc: u64,
    pending: u32,
    bits: u64,
    /// The writers of the chunks of [`BitWriter::write_chunked`] (working memory).
    #[cfg(feature = "parallel")]
    parts: Vec<BitWriter>,
}

impl BitWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty writer with room for `bits` bits.
    pub fn with_capacity_bits(bits: u64) -> Self {
        Self {
            buf: Vec::with_capacity(bits.div_ceil(8) as usize + 8),
            ..Self::default()
        }
    }

    /// Forget the contents, keep the allocation.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.acc = 0;
        self.pending = 0;
        self.bits = 0;
    }

    /// Number of bits written so far (padding from [`BitWriter::finish`] included).
    #[inline]
    pub fn bit_len(&self) -> u64 {
        self.bits
    }

    /// Append the low `n` bits of `value` (`n ≤ 64`; higher bits of `value` are ignored).
    #[inline]
    pub fn write(&mut self, value: u64, n: u32) {
        debug_assert!(n <= 64);
        if n == 0 {
            return;
        }
        let v = if n == 64 {
            value
        } else {
            value & ((1u64 << n) - 1)
        };
        self.bits += n as u64;
        self.acc |= v << self.pending;
        let total = self.pending + n;
        if total >= 64 {
            self.buf.extend_from_slice(&self.acc.to_le_bytes());
            self.acc = if self.pending == 0 {
                0
            } else {
                v >> (64 - self.pending)
            };
            self.pending = total - 64;
        } else {
            self.pending = total;
        }
    }

    /// Append one field per item, `(value, len) = field(item)` with `value < 2^len` and
    /// `len ≤ max_len ≤ 56`: the same bits as one [`BitWriter::write`] per item, but packed
    /// word-at-a-time — the fields of `⌊56/max_len⌋` items are OR-ed into a 64-bit
    /// accumulator and stored with one unaligned 8-byte write, with no branch per field.
    ///
    /// `group(items, max_len)` may give a whole group's bits at once ([`GroupBits`]; `max_len`
    /// is a constant in the loop's per-width copies): then `field` is not called for it. Every
    /// group is stored, a zero group too: a branch on it costs more where zero and non-zero
    /// groups alternate. With BMI2 the loop runs in a copy compiled for `avx2,bmi2,popcnt`
    /// (variable shifts free of the flags dependency of `shl cl`).
    pub(crate) fn write_fields<T: Copy>(
        &mut self,
        items: &[T],
        max_len: u32,
        field: impl Fn(T) -> (u64, u32),
        group: impl Fn(&[T], u32) -> Option<GroupBits>,
    ) {
        #[cfg(target_arch = "x86_64")]
        if bmi2() {
            #[target_feature(enable = "avx2,bmi2,popcnt")]
            fn with_bmi2<T: Copy>(
                w: &mut BitWriter,
                items: &[T],
                max_len: u32,
                field: impl Fn(T) -> (u64, u32),
                group: impl Fn(&[T], u32) -> Option<GroupBits>,
            ) {
                w.write_fields_body(items, max_len, field, group);
            }
            // SAFETY: `bmi2()` checked that this CPU has AVX2, BMI2 and POPCNT.
            return unsafe { with_bmi2(self, items, max_len, field, group) };
        }
        self.write_fields_body(items, max_len, field, group);
    }

    #[inline(always)]
    fn write_fields_body<T: Copy>(
        &mut self,
        items: &[T],
        max_len: u32,
        field: impl Fn(T) -> (u64, u32),
        group: impl Fn(&[T], u32) -> Option<GroupBits>,
    ) {
        debug_assert!((1..=56).contains(&max_len));
        if items.is_empty() {
            return;
        }
        let k = Packers::new(&field, &group);
        self.pack_with(items.len() as u64 * u64::from(max_len), |buf, at| {
            k.pack_fields(buf, at, items, max_len)
        });
    }

    /// Append at most `most` bits by word stores: `pack(buf, at)` gets the buffer (zeroed
    /// from the current byte on, for `most` bits and 8 bytes more) and the position
    /// `at = (p, acc, n)`: byte `p`, whose first `n < 8` bits are those of `acc` (already
    /// stored there). It appends with [`append`] and returns the position after its bits.
    #[inline(always)]
    pub(crate) fn pack_with(
        &mut self,
        most: u64,
        pack: impl FnOnce(&mut [u8], (usize, u64, u32)) -> (usize, u64, u32),
    ) {
        let start = self.buf.len();
        let start_bits = start as u64 * 8 + self.pending as u64;
        let most = self.pending as u64 + most;
        self.buf.resize(start + most.div_ceil(8) as usize + 8, 0);
        let buf = &mut self.buf[..];
        // Down to fewer than 8 pending bits: their whole bytes go to the buffer first.
        let at = append(buf, (start, self.acc, self.pending), 0, 0);
        let (p, acc, n) = pack(buf, at);
        self.buf.truncate(p);
        self.acc = acc;
        self.pending = n;
        self.bits += p as u64 * 8 + n as u64 - start_bits;
    }

    /// Append one bit.
    #[inline]
    pub fn write_bit(&mut self, bit: bool) {
        self.write(bit as u64, 1);
    }

    /// [`BitWriter::finish`] and hand over the buffer (no copy).
    ///
    /// ```
    /// use squeeze_core::bits::BitWriter;
    /// let mut w = BitWriter::new();
    /// w.write(0x1ff, 9);
    /// assert_eq!(w.into_bytes(), vec![0xff, 0x01]);
    /// ```
    pub fn into_bytes(mut self) -> Vec<u8> {
        self.finish();
        self.buf
    }

    /// Pad with zeros to a whole byte and return the bytes written so far.
    ///
    /// Writing after `finish` continues at the next byte boundary.
    pub fn finish(&mut self) -> &[u8] {
        if self.pending > 0 {
            let nbytes = self.pending.div_ceil(8) as usize;
            self.buf
                .extend_from_slice(&self.acc.to_le_bytes()[..nbytes]);
            self.bits += (nbytes as u64) * 8 - self.pending as u64;
            self.acc = 0;
            self.pending = 0;
        }
        &self.buf
    }
}

/// Reads bit fields from untrusted bytes.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    bytes: &'a [u8],
    pos: u64,
    len: u64,
}

impl<'a> BitReader<'a> {
    /// A reader over all bits of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: 0,
            len: bytes.len() as u64 * 8,
        }
    }

    /// Bits not yet read (none once the position is past the end).
    #[inline]
    pub fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    /// Current bit position.
    #[inline]
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Read an `n`-bit field (`n ≤ 64`).
    #[inline]
    pub fn read(&mut self, n: u32) -> Result<u64, DecodeError> {
        if n == 0 {
            return Ok(0);
        }
        if n > 64 || (n as u64) > self.remaining() {
            return Err(DecodeError::Truncated {
                at: self.pos,
                needed: n,
                available: self.remaining(),
            });
        }
        let byte = (self.pos / 8) as usize;
        let shift = (self.pos % 8) as u32;
        let word = self.load_u64(byte);
        let mut v = word >> shift;
        if shift + n > 64 {
            let extra = self.bytes.get(byte + 8).copied().unwrap_or(0) as u64;
            v |= extra << (64 - shift);
        }
        self.pos += n as u64;
        Ok(if n == 64 { v } else { v & ((1u64 << n) - 1) })
    }

    /// Read one bit.
    #[inline]
    pub fn read_bit(&mut self) -> Result<bool, DecodeError> {
        Ok(self.read(1)? == 1)
    }

    bmi2_dispatch! {
        /// Decode items while whole 8-byte loads stay inside the input: `(item, len, bad) =
        /// field(bits)` gets the next ≥ `max_len` unread bits (low bit first; higher bits are
        /// whatever follows) and consumes `len ≤ max_len ≤ 56` of them. Fills a prefix of `out`
        /// and returns its length and whether any item was `bad` (OR-ed in a register, not a
        /// captured flag: that would be a store per item); the caller reads the rest with
        /// [`BitReader::read`], which reports truncation. One unaligned load serves
        /// `⌊56/max_len⌋` items (with BMI2, the bit-position chain of a variable-width field is
        /// one `shrx` + mask + add per item).
        pub(crate) fn read_fields[T](
            &mut self,
            out: &mut [T],
            max_len: u32,
            field: impl Fn(u64) -> (T, u32, bool),
        ) -> (usize, bool) => read_fields_bmi2, read_fields_body;
    }

    #[inline(always)]
    fn read_fields_body<T>(
        &mut self,
        out: &mut [T],
        max_len: u32,
        field: impl Fn(u64) -> (T, u32, bool),
    ) -> (usize, bool) {
        debug_assert!((1..=56).contains(&max_len));
        // One copy per common field width (natural exponents, 16-bit values), so that the
        // group size and the shifts are constants.
        macro_rules! by_len {
            ($($l:literal)*) => {
                match max_len {
                    $($l => self.read_groups(out, $l, &field),)*
                    _ => self.read_groups(out, max_len, &field),
                }
            };
        }
        by_len!(6 9 12 16)
    }

    /// The group loop of [`BitReader::read_fields`]: `⌊56/max_len⌋` items per 8-byte load.
    #[inline(always)]
    fn read_groups<T>(
        &mut self,
        out: &mut [T],
        max_len: u32,
        field: &impl Fn(u64) -> (T, u32, bool),
    ) -> (usize, bool) {
        let group = (56 / max_len.clamp(1, 56)) as usize;
        let (mut done, mut bad) = (0, false);
        let mut step = |r: &mut Self, chunk: &mut [T]| {
            // At least 57 bits of the loaded word are unread: enough for a whole group.
            let Some(word) = r.peek_57() else {
                return false;
            };
            let mut used = 0u32;
            for o in chunk.iter_mut() {
                let (t, len, flag) = field(word >> used);
                *o = t;
                used += len;
                bad |= flag;
            }
            r.pos += used as u64;
            done += chunk.len();
            true
        };
        // Whole groups (a constant trip count), then the partial last one.
        let mut full = out.chunks_exact_mut(group);
        for chunk in full.by_ref() {
            if !step(self, chunk) {
                return (done, bad);
            }
        }
        let rest = full.into_remainder();
        if !rest.is_empty() {
            step(self, rest);
        }
        (done, bad)
    }

    /// From the current position: how many whole `width`-bit fields lie before the next set
    /// bit, and whether there is a set bit (else the fields run to the end of the input).
    #[inline(always)]
    fn zero_codes(&self, width: u32) -> (u64, bool) {
        match self.next_one(self.pos) {
            Some(one) => ((one - self.pos) / u64::from(width), true),
            None => (self.remaining() / u64::from(width), false),
        }
    }

    /// The position of the first set bit at or after `pos`, if any: 64 bytes per step through
    /// zero bytes.
    #[inline(always)]
    fn next_one(&self, pos: u64) -> Option<u64> {
        // The set bit lowest in `word`, whose bit 0 is at `base`, if inside the input.
        let lowest = |base: u64, word: u64| {
            let one = base + u64::from(word.trailing_zeros());
            (one < self.len).then_some(one)
        };
        let byte = (pos / 8) as usize;
        let first = self.load_u64(byte) >> (pos % 8);
        if first != 0 {
            return lowest(pos, first);
        }
        let mut at = byte + 8;
        if let Some(rest) = self.bytes.get(at..) {
            for block in rest.chunks_exact(64) {
                let words: [u64; 8] = core::array::from_fn(|k| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(&block[8 * k..8 * k + 8]);
                    u64::from_le_bytes(a)
                });
                if words.iter().fold(0, |a, &w| a | w) != 0 {
                    let k = words.iter().position(|&w| w != 0).unwrap_or(0);
                    return lowest((at + 8 * k) as u64 * 8, words[k]);
                }
                at += 64;
            }
        }
        while at < self.bytes.len() {
            let w = self.load_u64(at);
            if w != 0 {
                return lowest(at as u64 * 8, w);
            }
            at += 8;
        }
        None
    }

    /// The next ≥ 57 unread bits (low bit first) from one 8-byte load, if it stays inside
    /// the input.
    #[inline(always)]
    fn peek_57(&self) -> Option<u64> {
        let byte = (self.pos / 8) as usize;
        let b = self.bytes.get(byte..byte + 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_le_bytes(a) >> (self.pos % 8))
    }

    #[inline]
    fn load_u64(&self, byte: usize) -> u64 {
        match self.bytes.get(byte..byte + 8) {
            Some(s) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(s);
                u64::from_le_bytes(a)
            }
            None => padded_u64(self.bytes.get(byte..).unwrap_or(&[])),
        }
    }

    /// Check that only zero padding (< 8 bits) is left.
    pub fn finish(mut self) -> Result<(), DecodeError> {
        let left = self.remaining();
        if left >= 8 {
            return Err(DecodeError::TrailingData { bits: left });
        }
        if left > 0 && self.read(left as u32)? != 0 {
            return Err(DecodeError::NonCanonical("padding bits must be zero"));
        }
        Ok(())
    }
}

/// The first (at most 8) bytes of `b` as a little-endian word, zero-padded.
#[inline(always)]
fn padded_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    let n = b.len().min(8);
    a[..n].copy_from_slice(&b[..n]);
    u64::from_le_bytes(a)
}

mod blocks;
#[cfg(target_arch = "x86_64")]
mod dense_vbmi;
mod group;
mod prefix;
mod scatter;
mod sign_magnitude;
mod sign_magnitude_chains;
#[cfg(any(feature = "parallel", test))]
mod skip_chains;
#[cfg(any(feature = "parallel", test))]
mod skip_sparse;
#[cfg(feature = "parallel")]
mod speculate;
use blocks::DENSE_BLOCK;
#[cfg(feature = "parallel")]
pub(crate) use blocks::pack_blocks_into;
pub(crate) use blocks::{BLOCK_GROUPS, group_at};
#[cfg(all(target_arch = "x86_64", feature = "parallel"))]
pub(crate) use dense_vbmi::pack_dense_region;
#[cfg(target_arch = "x86_64")]
pub(crate) use dense_vbmi::{dense_block, dense_vbmi};
use group::Packers;
#[cfg(test)]
pub(crate) use group::extract_bits;
pub(crate) use group::{GroupBits, fast_pext};
pub(crate) use group::{append, append_wide};
pub(crate) use sign_magnitude::{field_masks, nonzero_levels};

/// Chunked packers, in `message/` beside the encoder and decoder that call them.
#[path = "message/wire_chunked.rs"]
mod chunked;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn write_read_round_trip(fields in prop::collection::vec((any::<u64>(), 0u32..=64), 0..200)) {
            let mut w = BitWriter::new();
            for &(v, n) in &fields {
                w.write(v, n);
            }
            let total: u64 = fields.iter().map(|f| f.1 as u64).sum();
            prop_assert_eq!(w.bit_len(), total);
            let bytes = w.finish().to_vec();
            prop_assert_eq!(bytes.len() as u64, total.div_ceil(8));
            let mut r = BitReader::new(&bytes);
            for &(v, n) in &fields {
                let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
                prop_assert_eq!(r.read(n).unwrap(), v & mask);
            }
            r.finish().unwrap();
        }
    }

    #[test]
    fn truncation_and_trailing_are_errors() {
        let mut r = BitReader::new(&[0xff]);
        assert!(matches!(
            r.read(9),
            Err(DecodeError::Truncated {
                needed: 9,
                available: 8,
                ..
            })
        ));
        assert_eq!(r.read(8).unwrap(), 0xff);
        assert!(r.read(1).is_err());
        let r = BitReader::new(&[0, 0]);
        assert!(matches!(
            r.finish(),
            Err(DecodeError::TrailingData { bits: 16 })
        ));
        let mut r = BitReader::new(&[0b1000_0001]);
        r.read(1).unwrap();
        assert!(matches!(r.finish(), Err(DecodeError::NonCanonical(_))));
    }
}
