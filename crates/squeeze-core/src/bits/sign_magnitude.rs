//! The one-thread reader of sign-magnitude codes: a `W`-bit level, then a sign bit iff the
//! level is non-zero (QSGD's, TernGrad's, natural dithering's and power rounding's codes).

#[cfg(target_arch = "x86_64")]
use super::bmi2;
use super::sign_magnitude_chains::{CHAINS_MIN, CHAINS_MIN_WIDTH, DENSE_ZERO_SHARE, SAMPLE};
use super::{BitReader, DENSE_BLOCK, fast_pext};

impl BitReader<'_> {
    /// Sign-magnitude codes (level `|c|` in `width ≤ 15` bits, then a sign bit iff `|c| ≠ 0`)
    /// into a prefix of `out` while whole 8-byte loads stay inside the input; returns the
    /// prefix length and whether a level above `s` was seen (the caller then re-reads entry by
    /// entry for the exact error). Per loaded word, bit $o$ of
    /// $z = \bigvee_{k<w} (\text{word} \gg k)$ says whether the level starting at offset $o$
    /// is non-zero, so the serial bit-position chain is one shift, mask and add per entry:
    /// $o \leftarrow o + w + z_o$. Where `pdep` is fast, runs of 64 non-zero codes are read
    /// as blocks at constant offsets ([`BitReader::read_dense_codes`]).
    pub(crate) fn read_sign_magnitude(
        &mut self,
        out: &mut [i16],
        width: u32,
        s: u16,
    ) -> (usize, bool) {
        #[cfg(target_arch = "x86_64")]
        if bmi2() {
            #[target_feature(enable = "avx2,bmi2,popcnt")]
            fn with_bmi2(
                r: &mut BitReader<'_>,
                out: &mut [i16],
                width: u32,
                s: u16,
            ) -> (usize, bool) {
                // The closure inherits this copy's features: `pdep` is one instruction.
                let pdep = |v, m| core::arch::x86_64::_pdep_u64(v, m);
                r.read_sign_magnitude_body(out, width, s, fast_pext().then_some(pdep))
            }
            // SAFETY: `bmi2()` checked that this CPU has AVX2, BMI2 and POPCNT.
            return unsafe { with_bmi2(self, out, width, s) };
        }
        self.read_sign_magnitude_body(out, width, s, None::<fn(u64, u64) -> u64>)
    }

    #[inline(always)]
    fn read_sign_magnitude_body(
        &mut self,
        out: &mut [i16],
        width: u32,
        s: u16,
        pdep: Option<impl Fn(u64, u64) -> u64>,
    ) -> (usize, bool) {
        // One copy per width: the group size and shifts are constants, the group unrolled.
        macro_rules! widths {
            ($($w:literal)*) => {
                match width {
                    $($w => self.read_sign_magnitude_w::<$w>(out, s, pdep.as_ref()),)*
                    _ => (0, false), // not a valid level width: the caller's entry-by-entry path
                }
            };
        }
        widths!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
    }

    /// [`BitReader::read_sign_magnitude`] for `W`-bit levels. A field's low `W + 1` bits
    /// (level, then the sign bit or the next field's first bit, which only matters when the
    /// level is non-zero) index a table of code values for `W ≤ 8`, where a level above `s`
    /// maps to `i16::MIN` (never a code: `|c| < 2^15`), found by a running minimum.
    #[inline(always)]
    fn read_sign_magnitude_w<const W: u32>(
        &mut self,
        out: &mut [i16],
        s: u16,
        pdep: Option<&impl Fn(u64, u64) -> u64>,
    ) -> (usize, bool) {
        let group = (56 / (W + 1)) as usize;
        let mask = (1u64 << W) - 1;
        let mut table = [0i16; 512];
        if W <= 8 {
            for (sm, t) in table.iter_mut().enumerate().take(1 << (W + 1)) {
                let mag = (sm as u64 & mask) as i16;
                let neg = (sm >> W) & 1 == 1;
                *t = if mag as u64 > s as u64 {
                    i16::MIN
                } else if neg {
                    -mag
                } else {
                    mag
                };
            }
        }
        let sm_mask = (1u64 << (W + 1)) - 1;
        // The code whose field starts at bit 0 of `v`, and a key whose running minimum is
        // `i16::MIN` iff some level was above s.
        let code = |v: u64| -> (i16, i16) {
            if W <= 8 {
                let c = table[(v & sm_mask) as usize & 511];
                (c, c)
            } else {
                let mag = v & mask;
                // A zero level has no sign bit; −0 = 0, so the bit read instead is harmless.
                let neg = ((v >> W) & 1) as i16;
                let key = if mag > s as u64 { i16::MIN } else { 0 };
                // W ≤ 15, so mag fits an i16; (m ^ −1) + 1 = −m.
                (((mag as i16) ^ -neg) + neg, key)
            }
        };
        // Bit k·(W + 1) for each code of a whole group: where the codes start if all are
        // non-zero.
        let dense = (0..group).fold(0u64, |p, k| p | 1 << (k as u32 * (W + 1)));
        // One group from an 8-byte load: (bits used, level above s seen).
        let run = |word: u64, chunk: &mut [i16]| {
            let mut low = 0i16;
            let z = level_starts::<W>(word);
            if chunk.len() == group && z & dense == dense {
                // By induction from the first, every level of the group is non-zero, so every
                // code is W + 1 bits at a constant offset: no position chain (a dense message,
                // e.g. power rounding's).
                for (k, o) in chunk.iter_mut().enumerate() {
                    let (c, key) = code(word >> (k as u32 * (W + 1)));
                    low = low.min(key);
                    *o = c;
                }
                return (group as u32 * (W + 1), low == i16::MIN);
            }
            let mut used = 0u32;
            for o in chunk.iter_mut() {
                let (c, key) = code(word >> used);
                low = low.min(key);
                *o = c;
                used += W + ((z >> used) & 1) as u32;
            }
            (used, low == i16::MIN)
        };
        // Too large to be inlined where it is called, so in the copy with the CPU's features
        // (`with_bmi2`): as plain code, TernGrad's decode took 1.37–1.40 ms instead of 1.30.
        let chain = |r: &mut Self, out: &mut [i16]| {
            super::with_bmi2(
                #[inline(always)]
                || r.read_chained_groups::<W>(out, group, &run),
            )
        };
        let (mut done, mut bad) = (0, false);
        #[cfg(target_arch = "x86_64")]
        let vbmi = W <= 6 && super::dense_vbmi();
        #[cfg(not(target_arch = "x86_64"))]
        let vbmi = false;
        // Codes that are nearly all non-zero (power rounding's have no zero) are read by dense
        // blocks where `pdep` is fast: from the start if the first 64 codes are non-zero, else
        // from where a sample of the mixed read finds too few zero codes for the chains; and
        // back to the mixed read where a sample of the dense read finds enough of them.
        let blocks = pdep.is_some();
        let chains = W >= CHAINS_MIN_WIDTH && out.len() >= CHAINS_MIN;
        let mut dense = false;
        if let Some(pdep) = pdep
            && let Some(first) = out.get_mut(..DENSE_BLOCK)
            && let Some(b) = self.dense_block::<W>(first, s, vbmi, pdep)
        {
            (done, bad, dense) = (DENSE_BLOCK, b, true);
        }
        loop {
            if let (true, Some(pdep)) = (dense, pdep) {
                // Dense blocks, and after a failed one eight groups through the chain, until
                // the end. (A dense block leaves `done` at any count, not only at whole
                // groups.) After a failed block, once a sample's worth of codes was read, the
                // zero codes among them (a zero code is one bit shorter) may send the rest to
                // the mixed read.
                let (mut since, mut from) = (done, self.pos);
                while out.len() - done >= group {
                    if let Some(block) = out.get_mut(done..done + DENSE_BLOCK)
                        && let Some(b) = self.dense_block::<W>(block, s, vbmi, pdep)
                    {
                        bad |= b;
                        done += DENSE_BLOCK;
                        continue;
                    }
                    let end = done + ((out.len() - done) / group).min(8) * group;
                    let (d, b) = chain(self, &mut out[done..end]);
                    bad |= b;
                    if d < end - done {
                        return (done + d, bad);
                    }
                    done = end;
                    if chains && done - since >= SAMPLE {
                        let n = (done - since) as u64;
                        let zero = (n * u64::from(W + 1)).saturating_sub(self.pos - from);
                        if zero * DENSE_ZERO_SHARE >= n {
                            #[cfg(test)]
                            super::sign_magnitude_chains::FROM_DENSE.with(|m| m.set(m.get() + 1));
                            dense = false;
                            break;
                        }
                        (since, from) = (done, self.pos);
                    }
                }
                if dense {
                    break;
                }
            }
            if chains {
                // Mixed codes: several chains at once where zero and non-zero codes are both
                // common (`sign_magnitude_chains.rs`); it stops at a sample with too few zero
                // codes for them if dense blocks can read on.
                let (d, b, to_dense) =
                    self.read_mixed::<W>(&mut out[done..], s, group, &chain, blocks);
                (done, bad, dense) = (done + d, bad | b, to_dense);
                if dense {
                    continue;
                }
            }
            let whole = done + (out.len() - done) / group * group;
            let (d, b) = chain(self, &mut out[done..whole]);
            (done, bad) = (done + d, bad | b);
            if done < whole {
                return (done, bad);
            }
            break;
        }
        // The partial last group.
        let rest = &mut out[done..];
        if !rest.is_empty()
            && let Some(word) = self.peek_57()
        {
            let (used, b) = run(word, rest);
            bad |= b;
            self.pos += used as u64;
            done += rest.len();
        }
        (done, bad)
    }

    /// [`BitReader::read_dense_codes`] for one block, with AVX-512 VBMI/VBMI2 where `vbmi`
    /// (checked by the caller: fields of at most 7 bits, the CPU has them) and 72 bytes of
    /// input are left, else with `pdep`.
    #[inline(always)]
    fn dense_block<const W: u32>(
        &mut self,
        block: &mut [i16],
        s: u16,
        vbmi: bool,
        pdep: impl Fn(u64, u64) -> u64,
    ) -> Option<bool> {
        #[cfg(target_arch = "x86_64")]
        if vbmi && self.bytes.len() >= (self.pos / 8) as usize + 72 {
            // SAFETY: the caller's `vbmi` holds only where `dense_vbmi()` does: the CPU has
            // AVX-512 F, BW, VBMI and VBMI2.
            return unsafe { self.read_dense_codes_vbmi::<W>(block, s) };
        }
        let _ = vbmi;
        self.read_dense_codes::<W>(block, s, pdep)
    }

    /// The whole groups of `out` (a multiple of `group` codes of `W`-bit levels) through the
    /// position chain of [`BitReader::read_sign_magnitude`], `run(word, chunk)` reading up to
    /// a group from its loaded word: how many codes it read (fewer at the end of the input)
    /// and whether a level was above `s`. A zero level has no sign bit, so `k` zero codes are
    /// exactly `k·W` zero bits and any non-zero code has a set bit among its first `W`: where
    /// a group's bits are all zero, every whole level before the next set bit is a zero code,
    /// and the run is skipped to there at once (most of a large QSGD message, whose expected
    /// non-zero count is at most s·‖x‖₁/‖x‖₂ ≤ s·√d).
    #[inline(always)]
    fn read_chained_groups<const W: u32>(
        &mut self,
        out: &mut [i16],
        group: usize,
        run: &impl Fn(u64, &mut [i16]) -> (u32, bool),
    ) -> (usize, bool) {
        let zero_mask = (1u64 << (group as u32 * W)) - 1;
        let mut bad = false;
        let mut i = 0;
        while i < out.len() {
            let Some(word) = self.peek_57() else {
                return (i, bad);
            };
            if word & zero_mask == 0 {
                // At least a group of zero codes (their bits are zero), at most up to the end.
                let (zeros, found) = self.zero_codes(W);
                let zeros = (zeros as usize).min(out.len() - i);
                fill_zeros(out, i, zeros);
                self.pos += (zeros as u64) * u64::from(W);
                i += zeros;
                // The set bit is in the next code's level, so that code is not zero: read it
                // now rather than through one more window test. One thread, 10⁷ codes:
                // natural dithering s = 8 2.76 → 2.53 ms, TernGrad 0.82 → 0.75; QSGD s = 255
                // (8-bit levels, denser) was slower (4.77 → 5.04 ms), so not for W > 5.
                if W <= 5
                    && found
                    && i < out.len()
                    && let Some(word) = self.peek_57()
                {
                    let (used, b) = run(word, &mut out[i..i + 1]);
                    bad |= b;
                    self.pos += used as u64;
                    i += 1;
                }
                continue;
            }
            // The first set bit is in field `lead` (the fields before it are zero codes), so
            // that field's level is non-zero: W + 1 bits. For narrow levels, if the rest of the
            // window after it is zero too, step over just that code (then on to the next set
            // bit) instead of through a whole group. Measured on 10⁷ codes (one thread):
            // TernGrad 1.39 → 0.93 ms, natural dithering s = 8 3.29 → 3.15 ms; for 8-bit
            // levels (QSGD s = 255) it was slower (5.75 → 6.05 ms), so not for W > 4.
            let lead = word.trailing_zeros() / W;
            let after = (lead + 1) * W + 1;
            if W <= 4 && (word >> after) & zero_mask == 0 && i + (lead as usize) < out.len() {
                let at = i + lead as usize;
                // A whole group's worth of zeros (a constant length) where it fits; the code
                // at `at < i + group` is written after it.
                match out.get_mut(i..i + group) {
                    Some(run) => run.fill(0),
                    None => out[i..at].fill(0),
                }
                let (used, b) = run(word >> (lead * W), &mut out[at..at + 1]);
                bad |= b;
                self.pos += u64::from(lead * W + used);
                i = at + 1;
                continue;
            }
            let end = (i + group).min(out.len());
            let (used, b) = run(word, &mut out[i..end]);
            bad |= b;
            self.pos += used as u64;
            i = end;
        }
        (out.len(), bad)
    }
}

/// `out[i..i + n] = 0`: 64 codes at once, then 32 per store, where `out` has room past the
/// run (the codes past it are written later by the reader).
#[inline(always)]
fn fill_zeros(out: &mut [i16], i: usize, n: usize) {
    let end = i + n;
    let mut k = i;
    // The first 64 codes with no branch on the run's length (natural dithering's runs average
    // about 55 codes at d = 10⁷).
    if let Some(head) = out.get_mut(i..i + 64) {
        head.fill(0);
        k += 64;
    }
    while k < end && k + 32 <= out.len() {
        out[k..k + 32].fill(0);
        k += 32;
    }
    if k < end {
        out[k..end].fill(0);
    }
}

/// The masks of `fields` sign-magnitude fields at stride `width + 1` from bit 0: their level
/// bits and their sign bits.
#[inline(always)]
pub(crate) fn field_masks(width: u32, fields: u32) -> (u64, u64) {
    (0..fields).fold((0, 0), |(levels, signs), k| {
        let at = k * (width + 1);
        (
            levels | ((1u64 << width) - 1) << at,
            signs | 1 << (at + width),
        )
    })
}

/// The sign places (of `signs`) whose field in `word` holds a non-zero level (of `levels`),
/// with no chain per field: a level plus 2^w − 1 carries into its sign place iff it is
/// non-zero, and the carry never leaves the field.
#[inline(always)]
pub(crate) fn nonzero_levels(word: u64, levels: u64, signs: u64) -> u64 {
    ((word & levels) + levels) & signs
}

/// Whether the `56 / (W + 1)` codes at the bottom of `word` (the bits from a code start) are
/// all non-zero: [`nonzero_levels`] of the fields at stride W + 1, since if the first k fields
/// hold non-zero levels, they are the first k codes.
#[cfg(any(feature = "parallel", test))]
#[inline(always)]
pub(super) fn all_nonzero<const W: u32>(word: u64) -> bool {
    let (levels, signs) = field_masks(W, 56 / (W + 1));
    nonzero_levels(word, levels, signs) == signs
}

/// The length of the `56 / (W + 1)` codes at the bottom of `word` (the bits from a code
/// start) through the chain of [`BitReader::read_sign_magnitude`] (bit o of `z`: the level at
/// offset o is non-zero).
#[cfg(any(feature = "parallel", test))]
#[inline(always)]
pub(super) fn chain_bits<const W: u32>(word: u64) -> u64 {
    let z = level_starts::<W>(word);
    let mut used = 0u64;
    for _ in 0..56 / (W + 1) {
        used += u64::from(W) + ((z >> used) & 1);
    }
    used
}

/// [`chain_bits`], at once if [`all_nonzero`].
#[cfg(any(feature = "parallel", test))]
#[inline(always)]
pub(super) fn group_bits<const W: u32>(word: u64) -> u64 {
    if all_nonzero::<W>(word) {
        return u64::from(56 / (W + 1) * (W + 1));
    }
    chain_bits::<W>(word)
}

/// Bit o set iff any of bits o .. o + W of `word` is: the level of W bits starting at offset o
/// is non-zero. Windows doubled (1, 2, 4, 8 bits) and the last two overlapped, a few steps deep
/// rather than W − 1 dependent ones, since it lies on the parse's and the read's chain.
#[inline(always)]
pub(super) fn level_starts<const W: u32>(word: u64) -> u64 {
    let mut z = word;
    let mut span = 1;
    while 2 * span <= W {
        z |= z >> span;
        span *= 2;
    }
    if span < W {
        z |= z >> (W - span);
    }
    z
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// `level_starts` is the OR of the W shifted words (bit o: a set bit among o .. o + W)
        /// for every width.
        #[test]
        fn level_starts_is_the_or_of_w_shifts(word in any::<u64>(), sparse in any::<u64>()) {
            for x in [word, word & sparse, word & sparse & (sparse >> 7)] {
                macro_rules! widths {
                    ($($w:literal)*) => {$(
                        let want = (0..$w).fold(0u64, |z, k| z | x >> k);
                        prop_assert_eq!(super::level_starts::<$w>(x), want, "W = {}", $w);
                    )*};
                }
                widths!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
            }
        }
    }
}
