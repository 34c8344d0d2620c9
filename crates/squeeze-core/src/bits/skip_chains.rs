//! The parse of dense sign-magnitude codes on several chains at once.
//!
//! A code is a `W`-bit level, then a sign bit iff the level is non-zero, so code $k + 1$
//! starts at $s_{k+1} = s_k + W + [\text{level at } s_k \ne 0]$: one dependent step per code,
//! a few cycles each however wide the core. But a parse begun at a bit that is not a code
//! start finds the true starts again as soon as it lands on one, and from there the two
//! parses are the same (as in `speculate.rs`); in codes of mixed levels that happens within
//! a few codes. So a *round* parses [`CHAINS`] segments of `segment` bits side by side, the
//! first from the true start and each other from its first bit as if it were a code start:
//! the chains are independent, and the out-of-order core runs them together. Then segment by
//! segment the true parse that entered it is stepped against the segment's parse, always the
//! one behind, until they meet (the segment's count from there on is the true one) or the
//! true parse passes the segment's end. Within [`MEET_WITHIN`] steps or not at all: the true
//! parse then crosses the segment alone, a group of codes per step.
//!
//! Nothing is guessed: every count is of codes the true parse crosses. A round is taken only
//! while the codes left surely reach past it, and inside the input.

use super::BitReader;
use super::sign_magnitude::{all_nonzero, group_bits};

/// Segments parsed side by side.
const CHAINS: usize = 4;

/// Bits per segment; halved, down to [`MIN_SEGMENT`], for the last codes. Small in this
/// crate's tests, whose streams then take many rounds.
const SEGMENT: u64 = if cfg!(test) { 1 << 8 } else { 1 << 14 };

/// The smallest segment worth a round.
const MIN_SEGMENT: u64 = 1 << 7;

/// Steps the true parse and a segment's parse may take to meet. Codes with mixed levels meet
/// within a few; codes that are all non-zero may never meet, but a group of those is one
/// step of the true parse.
const MEET_WITHIN: u64 = 128;

/// Groups of codes probed before a round: if all are non-zero, the round's worth of codes goes
/// to the one chain.
const DENSE_PROBE: u64 = 4;

impl BitReader<'_> {
    /// [`BitReader::skip_codes`] for `W`-bit levels (`2 ≤ W ≤ 15`) in rounds of
    /// [`CHAINS`] segments (the module docs), the last codes by
    /// [`BitReader::skip_codes_w`]; `None` if the input ends first.
    pub(super) fn skip_codes_chains<const W: u32>(&mut self, n: u64) -> Option<()> {
        let w = u64::from(W);
        let mut left = n;
        let mut segment = SEGMENT;
        loop {
            let round = segment * CHAINS as u64;
            // Every position a round reaches is below its start + round + 2 groups (< 112
            // bits); codes are at least W bits, so the n-th starts past them.
            let reach = round + 128;
            if left.saturating_mul(w) >= reach && self.pos.saturating_add(reach) <= self.len {
                if self.dense_ahead::<W>() {
                    // Non-zero codes, whose parses from other bits may never meet: a round's
                    // worth by the one chain, which steps over a group of those at once.
                    let k = round / u64::from(W + 1);
                    self.skip_codes_w::<W>(k)?;
                    left -= k;
                    continue;
                }
                let (at, codes) = self.round::<W>(segment);
                self.pos = at;
                left -= codes;
            } else if segment > MIN_SEGMENT {
                segment /= 2;
            } else {
                break;
            }
        }
        self.skip_codes_w::<W>(left)
    }

    /// One round from the current position (a code start): where the true parse leaves the
    /// last segment, and how many codes it crossed.
    fn round<const W: u32>(&self, segment: u64) -> (u64, u64) {
        let group = u64::from(56 / (W + 1));
        let start = self.pos;
        let from: [u64; CHAINS] = core::array::from_fn(|j| start + j as u64 * segment);
        let mut at = from;
        let mut steps = [0u64; CHAINS];
        loop {
            let mut busy = false;
            for j in 0..CHAINS {
                if at[j] < from[j] + segment {
                    at[j] += group_bits::<W>(self.word_at(at[j]));
                    steps[j] += 1;
                    busy = true;
                }
            }
            if !busy {
                break;
            }
        }
        let (mut t, mut codes) = (at[0], steps[0] * group);
        for j in 1..CHAINS {
            (t, codes) = self.meet::<W>((t, codes), from[j], (at[j], steps[j] * group));
        }
        (t, codes)
    }

    /// The true parse at `t` (a code start, `codes` codes in) against a segment's parse
    /// from `from` that reached `end` after `end_codes` codes: where the true parse leaves
    /// the segment (at or past `end`), and its count there.
    fn meet<const W: u32>(
        &self,
        (mut t, mut codes): (u64, u64),
        from: u64,
        (end, end_codes): (u64, u64),
    ) -> (u64, u64) {
        let stride = u64::from(W + 1);
        let steps = if end - from == end_codes * stride {
            // The segment's codes were all non-zero as it parsed them: its code starts are
            // every (W + 1)-th bit from `from`, so the true parse is on it iff `t` is one of
            // them, and else will not meet it while the codes stay non-zero.
            if t >= from && (t - from).is_multiple_of(stride) && t <= end {
                return (end, codes + end_codes - (t - from) / stride);
            }
            0
        } else {
            MEET_WITHIN
        };
        let (mut r, mut r_codes) = (from, 0);
        for _ in 0..steps {
            if t == r {
                return (end, codes + end_codes - r_codes);
            }
            if t < r {
                t += self.code_bits::<W>(t);
                codes += 1;
            } else if r < end {
                r += self.code_bits::<W>(r);
                r_codes += 1;
            } else {
                // Past the segment's end without meeting its parse.
                return (t, codes);
            }
        }
        let group = u64::from(56 / (W + 1));
        while t < end {
            t += group_bits::<W>(self.word_at(t));
            codes += group;
        }
        (t, codes)
    }

    /// The length of the code at `pos`.
    #[inline(always)]
    fn code_bits<const W: u32>(&self, pos: u64) -> u64 {
        let level = self.word_at(pos) & ((1 << W) - 1);
        u64::from(W) + u64::from(level != 0)
    }

    /// Whether the next [`DENSE_PROBE`] groups of codes are all non-zero.
    fn dense_ahead<const W: u32>(&self) -> bool {
        let span = u64::from(56 / (W + 1) * (W + 1));
        (0..DENSE_PROBE).all(|k| all_nonzero::<W>(self.word_at(self.pos + k * span)))
    }

    /// The ≥ 57 bits from `pos` (zero past the input).
    #[inline(always)]
    fn word_at(&self, pos: u64) -> u64 {
        self.load_u64((pos / 8) as usize) >> (pos % 8)
    }
}

#[cfg(test)]
mod tests {
    use super::super::prefix::tests::{codes, stream};
    use super::*;
    use proptest::prelude::*;

    /// `skip_codes_chains::<W>(n)` from code `from` of `codes`: the position it reports.
    fn chains(width: u32, bytes: &[u8], at: u64, n: u64) -> Option<u64> {
        let mut r = BitReader::new(bytes);
        r.pos = at;
        macro_rules! widths {
            ($($w:literal)*) => {
                match width {
                    $($w => r.skip_codes_chains::<$w>(n),)*
                    _ => unreachable!(),
                }
            };
        }
        widths!(2 3 4 5 6 7 8 9 10 11 12 13 14 15).map(|()| r.pos)
    }

    /// Level width, `s`, 1 in how many codes non-zero (1: all), and whether every non-zero
    /// level is `s` (all top level: shifted parses of such codes never meet).
    const KINDS: [(u32, u16, u64, bool); 9] = [
        (2, 3, 2, false),
        (4, 15, 1, false),
        (4, 15, 1, true),
        (5, 16, 3, false),
        (8, 255, 1, true),
        (8, 255, 10, false),
        (13, 4095, 2, false),
        (15, 32_767, 1, false),
        (5, 16, 40, false),
    ];

    fn kind(n: usize, (width, s, every, top): (u32, u16, u64, bool), seed: u64) -> Vec<i16> {
        let mut c = codes(n, s, every, seed);
        if top {
            for x in c.iter_mut().filter(|x| **x != 0) {
                *x = x.signum() * s as i16;
            }
        }
        let _ = width;
        c
    }

    /// Over many rounds (segments of 256 bits in this crate's tests) and the halved ones at
    /// the end, the chains land on the n-th code start for every kind of code: mixed, sparse,
    /// all non-zero (whose segments' parses meet only at a multiple of W + 1 bits, or never),
    /// and all at the top level; from a few starting codes and for n up to the last code.
    #[test]
    fn chains_land_on_the_nth_code_start() {
        let n = 40_000;
        for (k, &kd) in KINDS.iter().enumerate() {
            let width = kd.0;
            let c = kind(n, kd, k as u64 + 1);
            let (bytes, starts) = stream(7, width, &c);
            for from in [0usize, 1, 333] {
                // Every n about a round's worth of codes (1,024 bits), where the codes left
                // decide between a round and a halved one; then long skips.
                let near = (from + 1_024 / (width as usize + 1) - 40)..(from + 1_024 / 2 + 60);
                let far = [from, from + 1, from + 5_000, n / 2, n - 1, n];
                for to in near.chain(far) {
                    let got = chains(width, &bytes, starts[from], (to - from) as u64);
                    assert_eq!(got, Some(starts[to]), "kind {k}, {from} → {to}");
                }
            }
            // Past the last code: the padding parses as zero levels or the input ends.
            let past = chains(width, &bytes, starts[0], n as u64 + 40);
            assert!(past.is_none_or(|p| p > starts[n]), "kind {k}");
        }
    }

    /// A segment whose parse meets the true one, one whose parse is all non-zero from a bit
    /// that is or is not on the true parse, and one that never meets it within
    /// [`MEET_WITHIN`] steps: each gives the true parse's end and count.
    #[test]
    fn meet_gives_the_true_end_and_count() {
        for (k, &kd) in KINDS.iter().enumerate() {
            let width = kd.0;
            let c = kind(6_000, kd, 40 + k as u64);
            let (bytes, starts) = stream(0, width, &c);
            let r = BitReader::new(&bytes);
            for from in [1_000u64, 1_001, 1_003, 1_000 + u64::from(width)] {
                // The segment's own parse from `from`, code by code, to its end.
                let end_at = 9_000u64;
                let (mut e, mut e_codes) = (from, 0u64);
                while e < end_at {
                    e += step(width, &r, e);
                    e_codes += 1;
                }
                // The true parse enters the segment at or just past `from`, as a round's
                // does (where the parse of the segment before ended).
                for ahead in [0, 1, 5, 17] {
                    let t0 = starts.partition_point(|&p| p < from + ahead);
                    let t = (starts[t0], t0 as u64);
                    let got = meet_w(width, &r, t, from, (e, e_codes));
                    let want = starts.partition_point(|&p| p < got.0);
                    let at = format!("kind {k}, from {from} + {ahead}");
                    assert_eq!(starts[want], got.0, "{at}: not a code start");
                    assert_eq!(got.1, want as u64, "{at}");
                    assert!(got.0 >= e, "{at}");
                }
            }
        }
    }

    fn step(width: u32, r: &BitReader<'_>, pos: u64) -> u64 {
        let level = r.word_at(pos) & ((1 << width) - 1);
        u64::from(width) + u64::from(level != 0)
    }

    fn meet_w(
        width: u32,
        r: &BitReader<'_>,
        t: (u64, u64),
        from: u64,
        end: (u64, u64),
    ) -> (u64, u64) {
        macro_rules! widths {
            ($($w:literal)*) => {
                match width {
                    $($w => r.meet::<$w>(t, from, end),)*
                    _ => unreachable!(),
                }
            };
        }
        widths!(2 3 4 5 6 7 8 9 10 11 12 13 14 15)
    }

    proptest! {
        /// `group_bits` is the length of the group's codes, and `all_nonzero` says whether
        /// none of them is zero, for any word read from a code start.
        #[test]
        fn group_bits_is_the_groups_length(
            width in 2u32..=15,
            every in 1u64..4,
            seed in any::<u64>(),
        ) {
            let s = ((1u32 << width) - 1).min(32_767) as u16;
            let c = codes(64, s, every, seed);
            let (bytes, starts) = stream(0, width, &c);
            let r = BitReader::new(&bytes);
            let group = (56 / (width + 1)) as usize;
            macro_rules! widths {
                ($($w:literal)*) => {
                    match width {
                        $($w => (group_bits::<$w>(r.word_at(0)), all_nonzero::<$w>(r.word_at(0))),)*
                        _ => unreachable!(),
                    }
                };
            }
            let (bits, dense) = widths!(2 3 4 5 6 7 8 9 10 11 12 13 14 15);
            prop_assert_eq!(bits, starts[group]);
            prop_assert_eq!(dense, c[..group].iter().all(|&x| x != 0));
        }
    }
}
