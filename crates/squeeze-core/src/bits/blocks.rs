//! Blocks of byte-sized groups at any bit position: the block paths of fixed-width fields.
//! Eight fields of `w` bits fill exactly `w` bytes, so a group of them goes out as one `u128`
//! shifted by the writer's pending bits (fewer than 8), and a block of eight groups is read at
//! constant byte offsets from its first byte, instead of one shift pair per field.

#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

use super::{BitReader, BitWriter};

/// Groups per block.
pub(crate) const BLOCK_GROUPS: usize = 8;

/// The most bytes one group holds (its bits and the pending ones fit a `u128`).
pub(crate) const MAX_GROUP_BYTES: usize = 15;

/// Group `g` of `group_bytes ≤ MAX_GROUP_BYTES` bytes from a block's input bytes (as
/// [`BitReader::read_blocks`] gives them) whose first field starts `s < 8` bits in: at least
/// 121 valid bits from the group's first field on, of which the group's `8·group_bytes ≤ 120`
/// are the low ones.
#[inline(always)]
pub(crate) fn group_at(bytes: &[u8], g: usize, group_bytes: usize, s: u32) -> u128 {
    let mut a = [0u8; 16];
    a.copy_from_slice(&bytes[g * group_bytes..][..16]);
    u128::from_le_bytes(a) >> s
}

/// The mask of four fields of `len ≤ 16` bits, each at the bottom of a 16-bit lane (what
/// `pext` takes four 16-bit fields from and `pdep` spreads them to).
#[inline(always)]
pub(crate) fn lanes16(len: u32) -> u64 {
    (0..4).fold(0u64, |m, k| m | ((1u64 << len) - 1) << (16 * k))
}

impl BitWriter {
    /// Append `blocks` blocks of [`BLOCK_GROUPS`] groups of `group_bytes ≤ MAX_GROUP_BYTES`
    /// bytes each, `block(b)` giving the groups of block `b` (each below `2^(8·group_bytes)`):
    /// the same bits as one [`BitWriter::write`] per field. The pending whole bytes go to the
    /// buffer first; then each group goes out shifted by the `s < 8` pending bits, its top `s`
    /// bits carried to the next.
    #[inline(always)]
    pub(crate) fn write_blocks(
        &mut self,
        blocks: usize,
        group_bytes: usize,
        mut block: impl FnMut(usize) -> [u128; BLOCK_GROUPS],
    ) {
        debug_assert!((1..=MAX_GROUP_BYTES).contains(&group_bytes));
        let whole = (self.pending / 8) as usize;
        self.buf.extend_from_slice(&self.acc.to_le_bytes()[..whole]);
        let s = self.pending % 8;
        // `whole ≤ 7`: the shift is below 64.
        let mut carry = u128::from(self.acc >> (8 * whole as u32));
        let width = 8 * group_bytes as u32;
        self.buf.reserve(blocks * BLOCK_GROUPS * group_bytes + 16);
        for b in 0..blocks {
            for bits in block(b) {
                let v = bits << s | carry;
                // All 16 bytes, then back to the group's: a copy of constant length (no call
                // where `group_bytes` is not a constant).
                self.buf.extend_from_slice(&v.to_le_bytes());
                self.buf.truncate(self.buf.len() - 16 + group_bytes);
                carry = v >> width;
            }
        }
        self.acc = carry as u64;
        self.pending = s;
        self.bits += (blocks * BLOCK_GROUPS * group_bytes) as u64 * 8;
    }

    /// Make room for a region of `bytes` whole bytes after the pending bits: the pending whole
    /// bytes go to the buffer, and the region starts at the returned byte, `s < 8` bits in
    /// (the low `s` bits of that byte are the writer's pending ones, OR-ed in when
    /// [closing](Self::close_region)). See [`BitWriter::write_region`].
    pub(crate) fn open_region(&mut self, bytes: usize) -> (usize, u32) {
        let whole = (self.pending / 8) as usize;
        self.buf.extend_from_slice(&self.acc.to_le_bytes()[..whole]);
        self.acc = self.acc.checked_shr(8 * whole as u32).unwrap_or(0);
        self.pending %= 8;
        self.buf.reserve(bytes);
        (self.buf.len(), self.pending)
    }

    /// Close a region of `bytes` bytes opened at byte `start` ([`Self::open_region`]): the
    /// pending bits go into its first byte, and its `s` bits past the end, `carry`, are the
    /// pending ones now.
    ///
    /// # Safety
    /// Every byte of the spare capacity up to `start + bytes` is written.
    pub(crate) unsafe fn close_region(&mut self, start: usize, bytes: usize, carry: u64) {
        // SAFETY: the caller wrote the bytes up to `start + bytes`.
        unsafe { self.buf.set_len(start + bytes) };
        if bytes > 0 {
            self.buf[start] |= self.acc as u8;
            self.acc = carry;
        }
        self.bits += bytes as u64 * 8;
    }

    /// Append `bytes · 8` bits that `kernel(dst, s)` writes: every byte of `dst` (`bytes`
    /// long), its bits shifted up by the writer's `s < 8` pending bits with the low `s` bits
    /// of `dst[0]` zero; it returns its last `s` bits (the carry into the next byte) and a
    /// flag, which this returns. One region of [`BitWriter::write_regions`], on this thread.
    pub(crate) fn write_region(
        &mut self,
        bytes: usize,
        kernel: impl FnOnce(&mut [core::mem::MaybeUninit<u8>], u32) -> (u64, bool),
    ) -> bool {
        let (start, s) = self.open_region(bytes);
        let (carry, flag) = kernel(&mut self.buf.spare_capacity_mut()[..bytes], s);
        // SAFETY: the kernel wrote every byte of its `bytes`.
        unsafe { self.close_region(start, bytes, carry) };
        flag
    }

    /// Drop every bit after the first `bits` (a failed encode takes its partial message back);
    /// nothing if `bits ≥` [`BitWriter::bit_len`].
    pub(crate) fn truncate_bits(&mut self, bits: u64) {
        if bits >= self.bits {
            return;
        }
        let stored = self.buf.len() as u64 * 8;
        let keep = if bits >= stored {
            self.acc
        } else {
            let byte = (bits / 8) as usize;
            let partial = self.buf.get(byte).copied().unwrap_or(0) as u64;
            self.buf.truncate(byte);
            partial
        };
        let pending = (bits - self.buf.len() as u64 * 8) as u32;
        self.acc = if pending == 0 {
            0
        } else {
            keep & (u64::MAX >> (64 - pending))
        };
        self.pending = pending;
        self.bits = bits;
    }
}

/// [`BitWriter::write_blocks`] into `dst`, exactly `blocks · BLOCK_GROUPS · group_bytes` bytes
/// (every one written), the bits shifted up by `s < 8` and the low `s` bits of `dst[0]` zero:
/// a region of [`BitWriter::write_regions`]. Returns the last `s` bits (the carry out).
#[cfg(feature = "parallel")]
#[inline(always)]
pub(crate) fn pack_blocks_into(
    dst: &mut [core::mem::MaybeUninit<u8>],
    s: u32,
    blocks: usize,
    group_bytes: usize,
    mut block: impl FnMut(usize) -> [u128; BLOCK_GROUPS],
) -> u64 {
    debug_assert_eq!(dst.len(), blocks * BLOCK_GROUPS * group_bytes);
    let width = 8 * group_bytes as u32;
    let mut carry = 0u128;
    let mut p = 0;
    for b in 0..blocks {
        for bits in block(b) {
            let v = bits << s | carry;
            // All 16 bytes where they fit (the next group overwrites the extra ones), else the
            // group's own bytes (the last groups of the region).
            let bytes = v.to_le_bytes();
            if dst.len() - p >= 16 {
                // SAFETY: `p + 16 ≤ dst.len()`, so the 16 bytes lie inside `dst` (one store;
                // writing them initialises them).
                unsafe {
                    dst.as_mut_ptr()
                        .add(p)
                        .cast::<[u8; 16]>()
                        .write_unaligned(bytes)
                };
            } else {
                for (d, x) in dst[p..p + group_bytes].iter_mut().zip(bytes) {
                    d.write(x);
                }
            }
            carry = v >> width;
            p += group_bytes;
        }
    }
    carry as u64
}

impl BitReader<'_> {
    /// Read whole blocks of [`BLOCK_GROUPS`] groups of `group_bytes ≤ MAX_GROUP_BYTES` bytes,
    /// at most `blocks`, while a block and the 16 bytes after it lie inside the input:
    /// `block(b, bytes, s)` gets block `b` as the input from its first byte (its
    /// `8·group_bytes` bytes and 16 more) and its bit offset `s < 8` there, so that the caller
    /// loads each group straight from the input. Returns how many blocks it read; the caller
    /// reads the rest field by field, which reports truncation.
    #[inline(always)]
    pub(crate) fn read_blocks(
        &mut self,
        blocks: usize,
        group_bytes: usize,
        mut block: impl FnMut(usize, &[u8], u32),
    ) -> usize {
        debug_assert!((1..=MAX_GROUP_BYTES).contains(&group_bytes));
        let first = (self.pos / 8) as usize;
        let s = (self.pos % 8) as u32;
        let size = BLOCK_GROUPS * group_bytes;
        let fit_bits = (self.remaining() / (size as u64 * 8)) as usize;
        let fit_bytes = self.bytes.len().saturating_sub(first + 16) / size;
        let n = blocks.min(fit_bits).min(fit_bytes);
        let Some(src) = self.bytes.get(first..first + n * size + 16) else {
            return 0;
        };
        for (b, bytes) in src.windows(size + 16).step_by(size).enumerate() {
            block(b, bytes, s);
        }
        self.pos += (n * size) as u64 * 8;
        n
    }
}

/// Codes per dense block of [`BitReader::read_dense_codes`] (and of the AVX-512 VBMI packer
/// and reader): 64 fields of `L` bits are `8L` whole bytes.
pub(super) const DENSE_BLOCK: usize = 8 * BLOCK_GROUPS;

impl BitReader<'_> {
    /// The next [`DENSE_BLOCK`] sign-magnitude codes of `W ≤ 15`-bit levels into `out` if none
    /// is zero (as in power rounding's messages), else `None` with the position unchanged
    /// (and `out` overwritten). Non-zero codes are all `W + 1` bits, so eight of them are
    /// `W + 1` whole bytes at a constant offset: one load per eight, `pdep` to 16-bit lanes
    /// (four per call; eight fields and the up to 7 bits before them fit a `u128` up to
    /// `W = 14`), or at `W = 15` each field two whole bytes (shifted by the position's bit
    /// offset), then one pass over the block in L1 that forms the codes and checks the
    /// levels. Returns whether a level was above `s`. `None` too if the block and 16 bytes
    /// after it are not inside the input.
    #[inline(always)]
    pub(super) fn read_dense_codes<const W: u32>(
        &mut self,
        out: &mut [i16],
        s: u16,
        pdep: impl Fn(u64, u64) -> u64,
    ) -> Option<bool> {
        if out.len() != DENSE_BLOCK {
            return None;
        }
        let len = W + 1;
        let group_bytes = len as usize;
        let size = BLOCK_GROUPS * group_bytes;
        if self.remaining() < size as u64 * 8 {
            return None;
        }
        let first = (self.pos / 8) as usize;
        let shift = (self.pos % 8) as u32;
        let src = self.bytes.get(first..first + size + 16)?;
        if len == 16 {
            // Field k is the 16 bits from bit 16k + shift: two 16-bit words, funnel-shifted.
            let words = src
                .chunks_exact(2)
                .map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])));
            let next = src[2..]
                .chunks_exact(2)
                .map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])));
            for ((c, lo), hi) in out.iter_mut().zip(words).zip(next) {
                *c = ((lo | hi << 16) >> shift) as u16 as i16;
            }
        } else {
            let lanes = lanes16(len);
            for (g, o) in out.chunks_exact_mut(8).enumerate() {
                let bits = group_at(src, g, group_bytes, shift);
                let lo = pdep(bits as u64, lanes);
                let hi = pdep((bits >> (4 * len)) as u64, lanes);
                for (k, c) in o.iter_mut().enumerate() {
                    let lane = if k < 4 { lo } else { hi };
                    *c = (lane >> (16 * (k as u32 % 4))) as i16;
                }
            }
        }
        let mask = ((1u32 << W) - 1) as i16;
        let (mut zero, mut above) = (false, false);
        for c in out.iter_mut() {
            let m = *c & mask;
            let neg = (*c >> W) & 1;
            zero |= m == 0;
            above |= m as u16 > s;
            // (m ^ −1) + 1 = −m.
            *c = (m ^ -neg) + neg;
        }
        if zero {
            return None;
        }
        self.pos += size as u64 * 8;
        Some(above)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Blocks are the bits of one `write` per field at every starting position and read
        /// back as the same groups; `truncate_bits` takes a writer back to what it was.
        #[test]
        fn blocks_are_fields_at_any_position(
            head in 0u32..64,
            head_bits in any::<u64>(),
            group_bytes in 1usize..=MAX_GROUP_BYTES,
            seed in any::<u64>(),
            blocks in 0usize..4,
            tail in 0u32..65,
        ) {
            let width = 8 * group_bytes as u32;
            let groups = |b: usize| {
                core::array::from_fn(|g| {
                    let r = |k: u32| u128::from(seed.rotate_left(k).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                    let k = (b * BLOCK_GROUPS + g) as u32;
                    (r(k) | r(k + 17) << 64) & (u128::MAX >> (128 - width))
                })
            };
            let mut fast = BitWriter::new();
            let mut slow = BitWriter::new();
            fast.write(head_bits, head);
            slow.write(head_bits, head);
            let before = fast.clone().into_bytes();
            fast.write_blocks(blocks, group_bytes, groups);
            for b in 0..blocks {
                for bits in groups(b) {
                    slow.write(bits as u64, width.min(64));
                    slow.write((bits >> 64) as u64, width.saturating_sub(64));
                }
            }
            prop_assert_eq!(fast.bit_len(), slow.bit_len());
            let mut undone = fast.clone();
            undone.truncate_bits(head as u64);
            prop_assert_eq!(undone.into_bytes(), before);
            fast.write(u64::MAX, tail);
            slow.write(u64::MAX, tail);
            let bytes = fast.into_bytes();
            prop_assert_eq!(&bytes, &slow.into_bytes());

            let mut r = BitReader::new(&bytes);
            r.read(head).unwrap();
            let mut seen = Vec::new();
            let n = r.read_blocks(blocks, group_bytes, |b, block, s| {
                for g in 0..BLOCK_GROUPS {
                    let bits = group_at(block, g, group_bytes, s);
                    seen.push((b, g, bits & (u128::MAX >> (128 - width))));
                }
            });
            // Every block but those within 16 bytes of the end.
            let size = BLOCK_GROUPS * group_bytes;
            let room = bytes.len().saturating_sub(head as usize / 8 + 16) / size;
            prop_assert_eq!(n, blocks.min(room));
            prop_assert_eq!(r.position(), head as u64 + (n * size * 8) as u64);
            for (b, g, bits) in seen {
                prop_assert_eq!(bits, groups(b)[g]);
            }
        }
    }
}
