//! Whole groups of fields for [`BitWriter::write_fields`](super::BitWriter::write_fields):
//! the group loop, [`GroupBits`] (a group's bits given at once), the word store every packer
//! ends in ([`append`]), and whether `pext` is fast on this CPU.

use core::marker::PhantomData;

#[cfg(target_arch = "x86_64")]
use super::bmi2;

/// Whether the packers may use `pext` and `pdep` (quantisation codes by lanes, natural
/// compression's blocks, the sign-magnitude reader): the BMI2 copies run and `pext` is a fast
/// instruction here (one µop; on AMD before Zen 3 it is microcoded, tens to hundreds of
/// cycles, so fields are packed one by one there instead).
#[inline]
pub(crate) fn fast_pext() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static SLOW: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        bmi2() && !*SLOW.get_or_init(microcoded_pext)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// AMD families below 0x19 (Zen 3) run `pext`/`pdep` in microcode.
#[cfg(target_arch = "x86_64")]
fn microcoded_pext() -> bool {
    use core::arch::x86_64::__cpuid;
    let vendor = __cpuid(0);
    let amd = (vendor.ebx, vendor.edx, vendor.ecx) == (0x6874_7541, 0x6974_6e65, 0x444d_4163);
    let sig = __cpuid(1).eax;
    let family = ((sig >> 8) & 0xf)
        + if (sig >> 8) & 0xf == 0xf {
            (sig >> 20) & 0xff
        } else {
            0
        };
    amd && family < 0x19
}

/// A whole group's bits for [`BitWriter::write_fields`](super::BitWriter::write_fields):
/// `bits` bits, packed in `word`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GroupBits {
    /// The fields at their places.
    pub word: u64,
    /// How many bits the group takes.
    pub bits: u32,
}

impl GroupBits {
    /// `bits` bits, packed in `word`.
    #[inline(always)]
    pub fn packed(word: u64, bits: u32) -> Self {
        Self { word, bits }
    }
}

/// The bits of `v` at the set bits of `keep`, lowest first (what `pext` computes): the
/// portable form, one step per set bit of `keep`, which the tests of `pext` users check
/// against.
#[cfg(test)]
pub(crate) fn extract_bits(v: u64, mut keep: u64) -> u64 {
    let (mut out, mut at) = (0u64, 0u32);
    while keep != 0 {
        let low = keep & keep.wrapping_neg();
        out |= ((v & low != 0) as u64) << at;
        at += 1;
        keep &= keep - 1;
    }
    out
}

/// Write the 8 little-endian bytes of `v` at `buf[p..p + 8]`. The writer's buffer has 8 bytes
/// to spare past every position ([`BitWriter::pack_with`](super::BitWriter::pack_with)), so
/// the check cannot fail. It costs one comparison per store (the length test leaves the
/// loop); a slice's range check, two per store, made the `pext` packing of 10⁷ mixed codes
/// of 12-bit levels take 8.0–8.7 ms instead of 4.9–5.3.
#[inline(always)]
pub(super) fn store_u64(buf: &mut [u8], p: usize, v: u64) {
    assert!(
        buf.len() >= 8 && p <= buf.len() - 8,
        "a store past the writer's spare bytes"
    );
    // SAFETY: `p + 8 ≤ buf.len()` (checked above, without overflow): the 8 bytes are in `buf`.
    unsafe {
        buf.as_mut_ptr()
            .add(p)
            .cast::<u64>()
            .write_unaligned(v.to_le())
    }
}

/// The closures of the group loop: `field` packs one item, `group` a whole group (or `None`).
pub(super) struct Packers<'a, T, F, G> {
    field: &'a F,
    group: &'a G,
    items: PhantomData<fn(&[T])>,
}

impl<T, F, G> Clone for Packers<'_, T, F, G> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, F, G> Copy for Packers<'_, T, F, G> {}

impl<'a, T: Copy, F, G> Packers<'a, T, F, G>
where
    F: Fn(T) -> (u64, u32),
    G: Fn(&[T], u32) -> Option<GroupBits>,
{
    #[inline(always)]
    pub(super) fn new(field: &'a F, group: &'a G) -> Self {
        Self {
            field,
            group,
            items: PhantomData,
        }
    }

    /// [`Packers::pack_groups`] with one copy per common field width (codes, natural exponents,
    /// 16- and 32-bit values), so that the group size and the shifts are constants.
    #[inline(always)]
    pub(super) fn pack_fields(
        self,
        buf: &mut [u8],
        at: (usize, u64, u32),
        items: &[T],
        max_len: u32,
    ) -> (usize, u64, u32) {
        macro_rules! by_len {
            ($($l:literal)*) => {
                match max_len {
                    $($l => self.pack_groups(buf, at, items, $l),)*
                    _ => self.pack_groups(buf, at, items, max_len),
                }
            };
        }
        by_len!(2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 32)
    }

    /// The group loop of [`BitWriter::write_fields`](super::BitWriter::write_fields) from byte
    /// `p` with accumulator `acc` holding `n < 8` pending bits (already stored): `⌊56/max_len⌋`
    /// fields per group OR-ed into `acc` and stored with one 8-byte write, a zero group only
    /// advancing the position. Returns the new `(p, acc, n)`.
    #[inline(always)]
    fn pack_groups(
        self,
        buf: &mut [u8],
        mut at: (usize, u64, u32),
        items: &[T],
        max_len: u32,
    ) -> (usize, u64, u32) {
        let group = (56 / max_len.clamp(1, 56)) as usize;
        // Whole groups (a constant trip count), then the partial last one.
        let mut full = items.chunks_exact(group);
        for chunk in full.by_ref() {
            at = self.pack_group(buf, at, chunk, max_len);
        }
        if !full.remainder().is_empty() {
            at = self.pack_group(buf, at, full.remainder(), max_len);
        }
        at
    }

    /// One group of [`Packers::pack_groups`] (a function, not a closure, so that it is
    /// always inlined).
    #[inline(always)]
    fn pack_group(
        self,
        buf: &mut [u8],
        (p, acc, n): (usize, u64, u32),
        chunk: &[T],
        max_len: u32,
    ) -> (usize, u64, u32) {
        if let Some(g) = (self.group)(chunk, max_len) {
            // Stored even for a zero group (the same bytes again): a branch on it would be
            // mispredicted where zero and non-zero groups alternate at random.
            append(buf, (p, acc, n), g.word, g.bits)
        } else {
            let (mut v, mut len) = (0, 0);
            for &t in chunk {
                let (f, l) = (self.field)(t);
                debug_assert!(l <= max_len && (l == 64 || f >> l == 0));
                v |= f << len;
                len += l;
            }
            append(buf, (p, acc, n), v, len)
        }
    }
}

/// Append the `bits` bits of `v` (zero above them) at byte `p`, whose first `n < 8` bits are
/// those of `acc`: OR them in, store the 8 bytes at `p` (the writer's buffer has 8 bytes to
/// spare past every position) and move on by the whole bytes. Returns the new `(p, acc, n)`;
/// `bits = 0` only brings `n` below 8 (from up to 63). `n + bits < 64` and `bits ≤ 56`.
#[inline(always)]
pub(crate) fn append(
    buf: &mut [u8],
    (p, acc, n): (usize, u64, u32),
    v: u64,
    bits: u32,
) -> (usize, u64, u32) {
    debug_assert!(n < 64 && bits <= 56 && n + bits < 64 && v >> bits == 0);
    let t = acc | v << n;
    store_u64(buf, p, t);
    let n = n + bits;
    let b = n >> 3;
    (p + b as usize, t >> (8 * b), n & 7)
}

/// [`append`] for words of 7 to 64 bits (`n < 8`). The stored word is `acc | v << n`; the top
/// bits of `v` that it cannot hold (where `n + bits > 64`) lie in the byte the next word
/// starts at, and so do the returned pending bits: the top `n'` bits of `v` itself. They are
/// computed from `v`, not shifted out of the accumulator, so the only chain from word to word
/// is the position (`n' = (n + bits) mod 8`): with a 128-bit accumulator instead, 10⁷ codes of
/// 15-bit levels (four 15–16-bit fields a word) took 1.4× the compress (see
/// `docs/benchmarks.md`). Words of at least 7 bits make the pending bits all `v`'s: either
/// the word ends in a later byte, or it starts the byte (`n = 0`).
#[inline(always)]
pub(crate) fn append_wide(
    buf: &mut [u8],
    (p, acc, n): (usize, u64, u32),
    v: u64,
    bits: u32,
) -> (usize, u64, u32) {
    debug_assert!(n < 8 && (7..=64).contains(&bits) && (bits == 64 || v >> bits == 0));
    store_u64(buf, p, acc | v << n);
    let end = n + bits;
    let n = end & 7;
    // 1 ≤ bits − n ≤ 63 where n > 0 (the word ends in a later byte, by `bits ≥ 7`); where
    // n = 0 the shift is whatever and the mask keeps nothing (no branch: `shrx`, `bzhi`).
    let acc = v.wrapping_shr(bits.wrapping_sub(n)) & ((1u64 << n) - 1);
    (p + (end >> 3) as usize, acc, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Words of 7 to 64 bits by [`append_wide`] (after any prefix, a word sometimes
        /// appended by [`append`] between them) are the bits of one `write` per word.
        #[test]
        fn wide_appends_write_the_words(
            words in prop::collection::vec((any::<u64>(), 7u32..=64, any::<bool>()), 1..60),
            prefix in any::<u64>(),
            prefix_len in 0u32..=64,
        ) {
            let mut want = super::super::BitWriter::new();
            want.write(prefix, prefix_len);
            let mut got = want.clone();
            let total = words.iter().map(|&(_, l, _)| u64::from(l)).sum();
            got.pack_with(total, |buf, mut at| {
                for &(v, len, narrow) in &words {
                    let v = if len == 64 { v } else { v & ((1 << len) - 1) };
                    at = if narrow && len <= 56 {
                        append(buf, at, v, len)
                    } else {
                        append_wide(buf, at, v, len)
                    };
                }
                at
            });
            for &(v, len, _) in &words {
                want.write(v, len);
            }
            prop_assert_eq!(got.bit_len(), want.bit_len());
            prop_assert_eq!(got.finish(), want.finish());
        }

        #[test]
        fn extract_bits_is_pext(v in any::<u64>(), keep in any::<u64>(), sparse in any::<u64>()) {
            for k in [keep, keep & sparse, u64::MAX, 0] {
                let want = (0..64)
                    .filter(|&i| k >> i & 1 == 1)
                    .enumerate()
                    .fold(0u64, |o, (j, i)| o | (v >> i & 1) << j);
                prop_assert_eq!(extract_bits(v, k), want);
                #[cfg(target_arch = "x86_64")]
                if std::is_x86_feature_detected!("bmi2") {
                    // SAFETY: the CPU has BMI2.
                    prop_assert_eq!(unsafe { core::arch::x86_64::_pext_u64(v, k) }, want);
                }
            }
        }
    }
}
