//! Whole groups of fields for [`BitWriter::write_fields`](super::BitWriter::write_fields):
//! the group loop, [`GroupBits`] (a group's bits given at once, e.g. by one `pext`), and
//! whether `pext` is fast on this CPU.

use core::marker::PhantomData;

#[cfg(target_arch = "x86_64")]
use super::bmi2;

/// Whether [`BitWriter::write_fields`](super::BitWriter::write_fields) may hand groups to
/// `pext`: its BMI2 copy runs and `pext` is a fast instruction here (one µop; on AMD before
/// Zen 3 it is microcoded, tens to hundreds of cycles, so the group is packed field by field
/// there instead).
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

/// A whole group's bits for [`BitWriter::write_fields`](super::BitWriter::write_fields): the
/// `bits` bits of `word` at the set bits of `keep`, lowest first (a parallel bit extract);
/// `keep = u64::MAX` when `word` is already packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GroupBits {
    /// The fields at their places (see `keep`).
    pub word: u64,
    /// Which bits of `word` are the group's, or `u64::MAX` for all of them in place.
    pub keep: u64,
    /// How many bits the group takes (`keep.count_ones()` unless `keep = u64::MAX`).
    pub bits: u32,
}

impl GroupBits {
    /// `bits` bits, already packed in `word`.
    #[inline(always)]
    pub fn packed(word: u64, bits: u32) -> Self {
        Self {
            word,
            keep: u64::MAX,
            bits,
        }
    }

    /// The bits of `word` at the set bits of `keep`.
    #[inline(always)]
    pub fn select(word: u64, keep: u64) -> Self {
        Self {
            word,
            keep,
            bits: keep.count_ones(),
        }
    }
}

/// The bits of `v` at the set bits of `keep`, lowest first (what `pext` computes): the
/// portable form, one step per set bit of `keep`.
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

/// Write the 8 little-endian bytes of `v` at `buf[p..p + 8]`, or none if they do not fit (the
/// writer's buffer has 8 bytes to spare).
#[inline(always)]
pub(super) fn store_u64(buf: &mut [u8], p: usize, v: u64) {
    if let Some(s) = buf.get_mut(p..p + 8) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

/// The closures of the group loop: `field` packs one item, `group` a whole group (or `None`),
/// `pext` is the bit extract a [`GroupBits::select`] needs.
pub(super) struct Packers<'a, T, F, G, X> {
    field: &'a F,
    group: &'a G,
    pext: &'a X,
    items: PhantomData<fn(&[T])>,
}

impl<T, F, G, X> Clone for Packers<'_, T, F, G, X> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, F, G, X> Copy for Packers<'_, T, F, G, X> {}

impl<'a, T: Copy, F, G, X> Packers<'a, T, F, G, X>
where
    F: Fn(T) -> (u64, u32),
    G: Fn(&[T], u32) -> Option<GroupBits>,
    X: Fn(u64, u64) -> u64,
{
    #[inline(always)]
    pub(super) fn new(field: &'a F, group: &'a G, pext: &'a X) -> Self {
        Self {
            field,
            group,
            pext,
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
        (mut p, mut acc, mut n): (usize, u64, u32),
        chunk: &[T],
        max_len: u32,
    ) -> (usize, u64, u32) {
        if let Some(g) = (self.group)(chunk, max_len) {
            let v = if g.keep == u64::MAX {
                g.word
            } else {
                (self.pext)(g.word, g.keep)
            };
            // A zero group: the pending bits were stored with the last group; zeros follow.
            if v != 0 {
                acc |= v << n;
                store_u64(buf, p, acc);
            }
            n += g.bits;
        } else {
            for &t in chunk {
                let (v, len) = (self.field)(t);
                debug_assert!(len <= max_len && (len == 64 || v >> len == 0));
                acc |= v << n;
                n += len;
            }
            store_u64(buf, p, acc);
        }
        let b = n >> 3;
        p += b as usize;
        // n ≤ 7 + 56, so the shift is below 64.
        acc = if b == 0 { acc } else { acc >> (8 * b) };
        n &= 7;
        (p, acc, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
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
