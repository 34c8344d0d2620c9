//! Mixed sign-magnitude codes on one thread, on several position chains at once.
//!
//! Where code $j$ starts depends on every code before it (a zero level has no sign bit), so
//! the one-chain reader of [`BitReader::read_sign_magnitude`] is a serial chain: load, level
//! test, add, about six cycles a code. For codes with many zero *and* many non-zero levels
//! (QSGD with $s$ near $\sqrt d$ or above) neither of its shortcuts applies: zero runs are
//! short and groups of non-zero codes rare. Here a *superblock* of $K$ regions of
//! $R$ bits each is read on $K$ independent chains, interleaved so that the CPU overlaps them:
//! chain 0 from the known code start $p$, chain $c$ from the bit $p + cR$, which in general
//! is not a code start. Each chain writes its codes to its own scratch and the bit after each
//! group it read.
//!
//! Then, left to right, chain $c - 1$'s exact end $x$ (the first code start at or past
//! $p + cR$) is walked code by code until it lands on one of chain $c$'s group ends. A parse
//! is fixed by where it starts, so from a shared code start on the two parses are the same,
//! and chain $c$'s codes after that group are the true codes: they are copied. Chains meet
//! quickly where codes differ in length at random: about 40 codes at 12-bit levels with half
//! the codes zero, about 200 at 15-bit levels with one in 14 zero. Where they do not meet
//! within half a region (codes of one length, or a run the guess keeps misreading), the walk
//! stops and the caller reads on with the one chain; nothing read is guessed.
//!
//! Superblocks go on while the last one's codes had at least one non-zero code in
//! [`MIXED_SHARE`]; sparser codes are faster through the one chain's zero runs.

use super::BitReader;
use super::sign_magnitude::level_starts;
use std::cell::RefCell;

/// Chains read at once ($K$). One thread, 10⁷ codes (Intel Xeon VM, AVX-512, best of 15):
/// 12-bit levels, half zero, K = 3: 9.9 ms, K = 4: 9.9, K = 5: 11.6, K = 6: 12.8 (one chain:
/// 23.2); 15-bit levels, 1 in 14 zero: 12.1, 11.9, 14.6, 16.7 (one chain: 27.0). More chains
/// than registers for their state spill it.
const CHAINS: usize = 4;

/// Codes of room in each chain's scratch; a region is about this many codes.
const ROOM: usize = 8192;

/// Group ends of room per chain: groups hold at least 3 codes (`56 / (W + 1)`, W ≤ 15).
const ENDS: usize = ROOM / 3 + 2;

/// Fewest codes for which [`BitReader::read_sign_magnitude`] samples the density and may
/// read by chains: a few superblocks.
pub(super) const CHAINS_MIN: usize = 1 << 17;

/// Codes the one chain reads before the density is sampled again, after a superblock found
/// the codes too sparse or the chains did not meet.
pub(super) const SAMPLE: usize = 1 << 14;

/// Chains read on while at least one code in this many is non-zero. Where the one chain's zero
/// runs win, 10⁷ codes, one thread, one chain against chains: 10-bit levels, 12 % non-zero,
/// 17.4 against 10.7 ms; 6 %, 11.8 against 10.8; 8-bit, 3.6 % (QSGD s = 255's density), 6.7
/// against 10.0; 12-bit, 3.3 %, 8.1 against 10.3.
pub(super) const MIXED_SHARE: u64 = 16;

/// Fewest level bits for the chains. Narrower mixed codes are short messages (s < 32, so
/// d ≲ s² for non-zero codes to be common); the one chain reads them.
pub(super) const CHAINS_MIN_WIDTH: u32 = 5;

/// Why [`BitReader::read_chains`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ChainsStop {
    /// No further superblock fits in the input or in `out`: read the rest with the one chain.
    Room,
    /// The codes are too sparse, or chains did not meet: read a sample with the one chain,
    /// then try again.
    Retry,
}

/// Each chain's codes and group ends (bits from the superblock's start), reused by every call
/// on this thread.
struct Scratch {
    codes: Vec<i16>,
    ends: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

/// Bits per region for `W`-bit levels: a region's codes, and the group that overruns it, fit
/// in [`ROOM`] (a code has at least W bits).
const fn region_bits(w: u32) -> u64 {
    (ROOM as u64 - 64) * w as u64
}

/// The 8 bytes at byte `at` as a little-endian word; the caller keeps `at + 8` inside.
#[inline(always)]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(a)
}

impl BitReader<'_> {
    /// `W`-bit sign-magnitude codes into a prefix of `out`, in groups of `group`: samples of
    /// [`SAMPLE`] codes through `chain` (the one-chain reader: codes read, a level above `s`
    /// seen), and superblocks by [`BitReader::read_chains`] while the last sample or
    /// superblock had at least one non-zero code in [`MIXED_SHARE`]. Returns the codes read
    /// and whether a level above `s` was seen; it stops early where the one chain stops (near
    /// the end of the input) or no superblock fits, and the caller reads the rest.
    #[inline(always)]
    pub(super) fn read_mixed<const W: u32>(
        &mut self,
        out: &mut [i16],
        s: u16,
        group: usize,
        chain: &impl Fn(&mut Self, &mut [i16]) -> (usize, bool),
    ) -> (usize, bool) {
        let sample = SAMPLE / group * group;
        let (mut i, mut bad) = (0, false);
        while out.len() - i >= sample {
            let start = self.pos;
            let (d, b) = chain(self, &mut out[i..i + sample]);
            (i, bad) = (i + d, bad | b);
            if d < sample {
                break;
            }
            let nonzero = (self.pos - start).saturating_sub(sample as u64 * u64::from(W));
            if nonzero * MIXED_SHARE < sample as u64 {
                continue;
            }
            let (d, b, stop) = self.read_chains::<W>(&mut out[i..], s);
            (i, bad) = (i + d, bad | b);
            if stop == ChainsStop::Room {
                break;
            }
        }
        (i, bad)
    }

    /// Superblocks of `W`-bit sign-magnitude codes into a prefix of `out` (module docs):
    /// (codes read, a level above `s` among them, why it stopped). The position is after the
    /// codes read. Reads nothing if the scratch is in use (a nested call) or gone (thread
    /// exit).
    #[inline(always)]
    pub(super) fn read_chains<const W: u32>(
        &mut self,
        out: &mut [i16],
        s: u16,
    ) -> (usize, bool, ChainsStop) {
        SCRATCH
            .try_with(|cell| {
                let Ok(mut slot) = cell.try_borrow_mut() else {
                    return (0, false, ChainsStop::Room);
                };
                let scratch = slot.get_or_insert_with(|| Scratch {
                    codes: vec![0; CHAINS * ROOM],
                    ends: vec![0; CHAINS * ENDS],
                });
                self.read_chains_with::<W>(out, s, scratch)
            })
            .unwrap_or((0, false, ChainsStop::Room))
    }

    #[inline(always)]
    fn read_chains_with<const W: u32>(
        &mut self,
        out: &mut [i16],
        s: u16,
        scratch: &mut Scratch,
    ) -> (usize, bool, ChainsStop) {
        let group = (56 / (W + 1)) as usize;
        let mask = (1u64 << W) - 1;
        let region = region_bits(W);
        let span = CHAINS as u64 * region;
        let bytes = self.bytes;
        // The most codes a superblock can hold: chain K − 1 overruns its region by less than a
        // group (56 bits), and every code has at least W bits.
        let most = ((span + 64) / u64::from(W)) as usize;
        let (codes, ends) = (&mut scratch.codes[..], &mut scratch.ends[..]);
        let mut i = 0;
        let mut top = 0u16;
        // One code at bit `x` (8 bytes from x / 8 inside the input): (code, its bits).
        let one = |x: u64| -> (i16, u64) {
            let v = word_at(bytes, (x / 8) as usize) >> (x % 8);
            let mag = v & mask;
            let neg = ((v >> W) & 1) as i16;
            // A zero level reads the next field's bit as its sign: −0 = 0.
            (
                ((mag as i16) ^ -neg) + neg,
                u64::from(W) + u64::from(mag != 0),
            )
        };
        // Copies chain codes to `out`, with the largest level seen.
        let take = |src: &[i16], out: &mut [i16], top: &mut u16| {
            out[..src.len()].copy_from_slice(src);
            *top = src.iter().fold(*top, |m, &c| m.max(c.unsigned_abs()));
        };
        let stop = loop {
            // The superblock, its last group's overrun and the 8-byte loads inside the input;
            // its codes inside `out`.
            let base = self.pos;
            if base + span + 192 > self.len || out.len() - i < most {
                break ChainsStop::Room;
            }
            let mut p: [u64; CHAINS] = core::array::from_fn(|c| base + c as u64 * region);
            let lim: [u64; CHAINS] = core::array::from_fn(|c| p[c] + region);
            let first = i;
            // Group `k` of chain `c` from bit `x`: codes to its scratch, the group's end to its
            // ends; returns that end.
            let mut step = |c: usize, k: usize, x: u64| {
                let word = word_at(bytes, (x / 8) as usize) >> (x % 8);
                let z = level_starts::<W>(word);
                let at = c * ROOM + k * group;
                let mut used = 0u64;
                for o in &mut codes[at..at + group] {
                    let v = word >> used;
                    let neg = ((v >> W) & 1) as i16;
                    *o = (((v & mask) as i16) ^ -neg) + neg;
                    used += u64::from(W) + ((z >> used) & 1);
                }
                ends[c * ENDS + k] = (x + used - base) as u32;
                x + used
            };
            // Interleaved while every chain is inside its region (each has read `k` groups),
            // then each on its own.
            let mut k = 0;
            while (0..CHAINS).all(|c| p[c] < lim[c]) {
                for (c, x) in p.iter_mut().enumerate() {
                    *x = step(c, k, *x);
                }
                k += 1;
            }
            let mut n = [0usize; CHAINS];
            for (c, x) in p.iter_mut().enumerate() {
                let mut groups = k;
                while *x < lim[c] {
                    *x = step(c, groups, *x);
                    groups += 1;
                }
                n[c] = groups * group;
            }
            // Chain 0 started at a code start: its codes are exact.
            take(&codes[..n[0]], &mut out[i..], &mut top);
            i += n[0];
            let mut x = p[0];
            for c in 1..CHAINS {
                let own = &ends[c * ENDS..c * ENDS + n[c] / group];
                // Walk the exact parse from x until it lands on a group end of chain c.
                let mut t = 0;
                let mut walked = 0;
                let met = loop {
                    let rel = x - base;
                    while t < own.len() && u64::from(own[t]) < rel {
                        t += 1;
                    }
                    if t == own.len() || walked == ROOM / 2 {
                        break None;
                    }
                    if u64::from(own[t]) == rel {
                        break Some(t);
                    }
                    let (code, bits) = one(x);
                    top = top.max(code.unsigned_abs());
                    out[i] = code;
                    i += 1;
                    x += bits;
                    walked += 1;
                };
                let Some(t) = met else {
                    #[cfg(test)]
                    UNMET.with(|m| m.set(m.get() + 1));
                    self.pos = x;
                    return (i, top > s, ChainsStop::Retry);
                };
                let from = c * ROOM + (t + 1) * group;
                take(&codes[from..c * ROOM + n[c]], &mut out[i..], &mut top);
                i += n[c] - (t + 1) * group;
                x = p[c];
            }
            self.pos = x;
            #[cfg(test)]
            MET.with(|m| m.set(m.get() + 1));
            // Too sparse for the chains: fewer than one non-zero code in MIXED_SHARE.
            let read = (i - first) as u64;
            if (x - base).saturating_sub(read * u64::from(W)) * MIXED_SHARE < read {
                #[cfg(test)]
                SPARSE.with(|m| m.set(m.get() + 1));
                break ChainsStop::Retry;
            }
        };
        (i, top > s, stop)
    }
}

#[cfg(test)]
thread_local! {
    /// Superblocks whose chains all met, on this thread (for the tests: that the chains ran).
    static MET: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
    /// Superblocks that found the codes too sparse, on this thread.
    static SPARSE: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
    /// Walks that gave up before meeting the next chain, on this thread.
    static UNMET: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

#[cfg(test)]
mod tests {
    use super::super::prefix::tests::stream;
    use super::*;
    use proptest::prelude::*;

    /// `n` codes of `width`-bit levels: zero with probability `zero`/256, else a level in
    /// 1 ..= `top` (uniform) with a random sign; runs of `run` codes alternate between that
    /// and all-zero codes when `run > 0` (the density changes along the message).
    fn codes(n: usize, width: u32, zero: u64, top: u16, run: usize, mut seed: u64) -> Vec<i16> {
        let top = u64::from(top.min(((1u32 << width) - 1) as u16));
        (0..n)
            .map(|k| {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1442695040888963407);
                let r = seed >> 16;
                if run > 0 && (k / run) % 2 == 1 || r % 256 < zero {
                    return 0;
                }
                let level = 1 + ((r >> 8) % top) as i16;
                if (r >> 40) & 1 == 1 { -level } else { level }
            })
            .collect()
    }

    /// Reads `codes` (after `prefix` bits, cut to `keep` bytes) with the one-thread reader
    /// and checks it against them: the flag says whether a level read is above `s`; if none
    /// is, the prefix read is exact and the position is that prefix's end (else the reader's
    /// codes are unspecified: the decoder re-reads entry by entry). Returns the codes read and the
    /// superblocks whose chains met.
    fn check(codes: &[i16], width: u32, s: u16, prefix: u32, keep: Option<usize>) -> (usize, u64) {
        let (mut bytes, starts) = stream(prefix, width, codes);
        if let Some(keep) = keep {
            bytes.truncate(keep);
        }
        let mut r = BitReader::new(&bytes);
        r.pos = u64::from(prefix);
        let mut out = vec![i16::MAX; codes.len()];
        let met = MET.with(|m| m.get());
        let (done, bad) = r.read_sign_magnitude(&mut out, width, s);
        let met = MET.with(|m| m.get()) - met;
        let above = codes[..done].iter().any(|c| c.unsigned_abs() > s);
        assert_eq!(bad, above, "width {width}: level above s = {s}");
        if !bad {
            assert!(out[..done] == codes[..done], "width {width}: codes differ");
            assert_eq!(r.pos, starts[done], "width {width}: position");
        }
        assert!(
            8 * bytes.len() as u64 - r.pos < 128 + 2 * 64,
            "width {width}: stopped early at {done}"
        );
        (done, met)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        /// Mixed codes of 5–15-bit levels, from about half to one in 16 zero, after any bit
        /// offset: the chains run and read exactly what was written, to within the last
        /// 8-byte load of the end.
        #[test]
        fn chains_read_the_written_codes(
            width in 5u32..=15,
            zero in prop_oneof![Just(8u64), Just(18), 60..200u64],
            prefix in 0u32..64,
            extra in 0usize..40_000,
            seed in any::<u64>(),
        ) {
            let n = CHAINS_MIN + extra;
            let mut c = codes(n, width, zero, u16::MAX, 0, seed);
            // A zero code first: a message that starts with 64 non-zero codes is read by
            // dense blocks instead (`read_sign_magnitude_w`).
            c[0] = 0;
            let (_, met) = check(&c, width, u16::MAX >> 1, prefix, None);
            prop_assert!(met > 0, "no superblock met at width {width}, {zero}/256 zero");
        }

        /// The flag: levels up to 2^W − 1 read with a smaller `s` are flagged exactly when one
        /// of the codes read is above it, chains or not.
        #[test]
        fn levels_above_s_are_flagged(
            width in 5u32..=12,
            top_share in 1u64..16,
            seed in any::<u64>(),
        ) {
            let full = (1u16 << width) - 1;
            let s = full - 1;
            // Level `full` (above s) appears only when top_share is small enough.
            let top = if top_share < 4 { full } else { s };
            let c = codes(CHAINS_MIN + 5000, width, 100, top, 0, seed);
            check(&c, width, s, 3, None);
        }

        /// Input cut anywhere: the prefix read is exact and ends where the one chain would.
        #[test]
        fn cut_input_reads_an_exact_prefix(
            width in 5u32..=15,
            cut in 0.0f64..1.0,
            seed in any::<u64>(),
        ) {
            let c = codes(CHAINS_MIN + 20_000, width, 110, u16::MAX, 0, seed);
            let total = (c.len() as f64 * (f64::from(width) + 0.5) / 8.0) as usize;
            let keep = (total as f64 * cut) as usize;
            let (bytes_kept, _) = (keep, ());
            let (mut bytes, starts) = stream(9, width, &c);
            bytes.truncate(bytes_kept);
            let mut r = BitReader::new(&bytes);
            r.pos = 9;
            let mut out = vec![0i16; c.len()];
            let (done, _) = r.read_sign_magnitude(&mut out, width, u16::MAX >> 1);
            prop_assert!(out[..done] == c[..done]);
            prop_assert_eq!(r.pos, starts[done]);
            prop_assert!(r.pos <= 8 * bytes.len() as u64);
        }
    }

    /// The density changes along the message: mixed stretches of 10⁵ codes, then all-zero
    /// ones, in turns. Superblocks stop at the sparse ones, and samples through the one chain
    /// find the mixed ones again: more superblocks meet than the first stretch holds (at most
    /// 10⁵ / 7,500 codes per region / 4 regions < 4).
    #[test]
    fn changing_density_switches_between_chains_and_one_chain() {
        for width in [6u32, 12, 15] {
            let c = codes(600_000, width, 128, u16::MAX, 100_000, u64::from(width));
            let sparse = SPARSE.with(|m| m.get());
            let (done, met) = check(&c, width, u16::MAX >> 1, 0, None);
            let sparse = SPARSE.with(|m| m.get()) - sparse;
            assert!(done > c.len() - 100);
            assert!(met >= 5, "width {width}: {met} superblocks");
            assert!(
                sparse >= 1,
                "width {width}: no superblock stopped as sparse"
            );
        }
    }

    /// Codes that never meet: a zero code (so no dense blocks), then the top level, positive,
    /// over and over (W ones and a zero). Parsed from a bit that is not a code start, every
    /// level read is non-zero too, so a guessed chain keeps its distance: the walks give up,
    /// and the one chain reads the codes exactly. (Not W = 15: its regions are a whole
    /// number of 16-bit codes, so every guess is a code start.)
    #[test]
    fn chains_that_never_meet_fall_back_to_one_chain() {
        for width in [5u32, 9, 14] {
            let top = ((1u32 << width) - 1) as i16;
            let mut c = vec![top; 300_000];
            c[0] = 0;
            let unmet = UNMET.with(|m| m.get());
            let (done, met) = check(&c, width, top as u16, 0, None);
            let unmet = UNMET.with(|m| m.get()) - unmet;
            assert!(done > c.len() - 100, "width {width}");
            assert_eq!(met, 0, "width {width}");
            assert!(unmet >= 2, "width {width}: {unmet} walks gave up");
        }
    }

    /// A whole QSGD message of mixed codes decodes to itself on pools of 1–3 threads (on a
    /// pool, mixed codes are read on the calling thread, by chains) and outside any pool.
    #[cfg(feature = "parallel")]
    #[test]
    fn mixed_messages_decode_alike_on_any_pool() {
        use crate::Message;
        use crate::message::Levels;
        for (width, s) in [(12u32, 4095u16), (15, 32_767)] {
            let c = codes(super::super::WIRE_PARALLEL_MIN + 12_345, width, 90, s, 0, 9);
            let m = Message::Quantized {
                norm: 1.5f32,
                levels: Levels::Uniform { s },
                codes: c.clone(),
            };
            let bytes = m.to_bytes();
            let back = Message::<f32>::decode(&bytes, c.len()).expect("decodes");
            assert!(back == m, "width {width}, no pool");
            for threads in 1..=3 {
                let pool = super::super::test_pool(threads);
                let back = pool.install(|| Message::<f32>::decode(&bytes, c.len()));
                assert!(
                    back.expect("decodes") == m,
                    "width {width}, {threads} threads"
                );
            }
        }
    }

    /// Below the width or length where the chains are tried, no superblock runs.
    #[test]
    fn short_or_narrow_codes_stay_on_one_chain() {
        let c = codes(CHAINS_MIN - 1, 12, 128, u16::MAX, 0, 5);
        assert_eq!(check(&c, 12, 4095, 0, None).1, 0);
        let c = codes(CHAINS_MIN + 50_000, 4, 128, u16::MAX, 0, 5);
        assert_eq!(check(&c, 4, 15, 0, None).1, 0);
    }
}
