//! Sign-magnitude codes on several threads, with no offsets in the message.
//!
//! A code is a `W`-bit level, then a sign bit iff the level is non-zero, so where code $j$
//! starts depends on every code before it, and a range of codes cannot be read from a known
//! offset. [`BitReader::read_prefixed`] gives each of the $T$ threads of the pool a range
//! $[k_t, k_{t+1})$ of the $d$ codes: thread $t$ first *parses* the $k_t$ codes before its
//! range from the start of the codes (positions only, nothing written:
//! [`BitReader::skip_codes`]), then *reads* its range with the one-thread kernel. Nothing is
//! guessed, so the codes read are the one-thread ones whatever the split.
//!
//! A parse costs a fraction $p$ of a read (it walks the set bits of the input with no branch
//! per code, `skip_sparse.rs`, and denser stretches on several chains at once,
//! `skip_chains.rs`), so the ranges grow with
//! $t$: thread $t$'s work $p\thinspace k_t + (k_{t+1} - k_t)$ is the same for every $t$ when
//! $k_{t+1} = L + (1 - p)\thinspace k_t$. On two threads $k_1 = d/(2 - p)$, a speed-up of
//! $2 - p$ over one thread; every thread re-parses from the start, so more threads give less
//! each (at most $1/p$ in all). $p$ is an estimate per level width and density; a wrong one
//! only unbalances the threads.
//!
//! On a pool of exactly two threads, levels of 2–15 bits go to `speculate.rs` instead: there
//! the second thread parses only part of the first range, from a bit it picks, and the cap is
//! $(2 + p)/(1 + p)$.

use super::BitReader;

/// The parse's cost relative to the read ($p$ above) for 1-bit levels (TernGrad's). Set by
/// the two-thread decode of 10⁷ TernGrad codes, 1 in 230 non-zero (AMD EPYC VM, AVX-512;
/// standalone, best of 300): 0.10 → 0.49 ms, 0.15 → 0.47, 0.20 → 0.45, 0.25 → 0.45,
/// 0.30 → 0.47, 0.40 → 0.51 (one thread: 0.74–0.82 ms).
#[cfg(feature = "parallel")]
const PARSE_COST_ONE_BIT: f64 = 0.2;

/// $p$ for levels of 2–15 bits (QSGD's, natural dithering's) with at least one non-zero code
/// in 256. Natural dithering s = 8 (1 in 56 non-zero), two-thread decode of 10⁷ codes, same
/// machine: 0.3 → 1.55–1.65 ms, 0.35 → 1.61–1.67, 0.4 → 1.63–1.73, 0.5 → 1.84 (one thread
/// 2.5–2.76 ms); QSGD s = 255 (1 in 28): 0.2 → 3.18, 0.3 → 3.07, 0.4 → 3.13 ms.
#[cfg(feature = "parallel")]
const PARSE_COST: f64 = 0.3;

/// $p$ for levels of 2–15 bits with fewer than one non-zero code in 256 (QSGD s = 16 at
/// d = 10⁷: 1 in 440). The read of such codes is mostly the store of zero codes, which the
/// parse on the other thread slows; the parse pays for the bytes it scans. Two-thread
/// decode of 10⁷ codes: 0.3 → 0.45–0.50 ms, 0.35 → 0.42–0.47, 0.4 → 0.40–0.44,
/// 0.45 → 0.42–0.43, 0.5 → 0.48 (one thread 0.66–0.74 ms).
#[cfg(feature = "parallel")]
const PARSE_COST_SPARSE: f64 = 0.4;

#[cfg(any(feature = "parallel", test))]
impl BitReader<'_> {
    /// Step over exactly `n` sign-magnitude codes of `width`-bit levels (`1 ≤ width ≤ 15`)
    /// from the current position; `None` if the input ends first (the position is then
    /// unspecified). Levels are not checked.
    pub(crate) fn skip_codes(&mut self, width: u32, n: u64) -> Option<()> {
        macro_rules! widths {
            ($($w:literal)*) => {
                match width {
                    $($w => self.skip_sparse_codes::<$w>(n),)*
                    _ => None,
                }
            };
        }
        widths!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
    }

    /// [`BitReader::skip_codes`] for 1-bit levels (TernGrad's), 56 bits per step with no
    /// chain per code: a set bit at a code start makes the next bit a sign bit, as a
    /// backslash escapes the next character, so the sign bits of a word are the escaped
    /// positions, found with one addition whose carry runs through each run of set bits
    /// (the even/odd-run method of simdjson's string scanner). A run that begins at a code
    /// start escapes its odd offsets and, if its length is odd, the bit after it. A window
    /// of zero codes is skipped with the rest of its run, to the next set bit.
    pub(super) fn skip_one_bit_codes(&mut self, n: u64) -> Option<()> {
        const EVEN: u64 = 0x5555_5555_5555_5555;
        const LOW56: u64 = (1 << 56) - 1;
        let mut left = n;
        // Whether the bit at `pos` is a sign bit.
        let mut carry = 0u64;
        // 56 bits hold at most 56 code starts: a whole step never passes the n-th code.
        while left >= 56 {
            let Some(word) = self.peek_57() else {
                break;
            };
            if word & LOW56 | carry == 0 {
                // A run of zero codes (one zero bit each) up to the next set bit, which
                // starts a non-zero code: skipped at once.
                let (zeros, _) = self.zero_codes(1);
                let zeros = zeros.min(left);
                self.pos += zeros;
                left -= zeros;
                continue;
            }
            let ones = word & LOW56 & !carry;
            let follows = ones << 1 | carry;
            let odd_starts = ones & !EVEN & !follows;
            let even_runs = odd_starts.wrapping_add(ones);
            let signs = (EVEN ^ (even_runs << 1)) & follows;
            left -= 56 - u64::from((signs & LOW56).count_ones());
            carry = (signs >> 56) & 1;
            self.pos += 56;
        }
        // A sign bit at `pos` belongs to a code already counted.
        self.pos += carry;
        self.skip_tail(1, left)
    }

    /// [`BitReader::skip_codes`] for `W`-bit levels (`2 ≤ W ≤ 15`) on one chain, a group of
    /// codes per step: a group with no zero code at once, a run of zero codes to the next set
    /// bit, a lone non-zero code after zeros, else the group code by code.
    #[inline(always)]
    pub(super) fn skip_codes_w<const W: u32>(&mut self, n: u64) -> Option<()> {
        let group = 56 / (W + 1);
        let zero_bits = group * W;
        let zero_mask = (1u64 << zero_bits) - 1;
        let level_mask = (1u64 << W) - 1;
        let w = u64::from(W);
        let mut left = n;
        while left > 0 {
            let Some(word) = self.peek_57() else {
                return self.skip_tail(W, left);
            };
            if left >= u64::from(group) && super::sign_magnitude::all_nonzero::<W>(word) {
                self.pos += u64::from(group * (W + 1));
                left -= u64::from(group);
                continue;
            }
            if word & zero_mask == 0 {
                // A run of zero codes: every whole level before the next set bit is zero, and
                // the code holding that bit is not.
                let (zeros, next_one) = self.zero_codes(W);
                if zeros >= left {
                    self.pos += left * w;
                    return Some(());
                }
                if !next_one {
                    return None;
                }
                self.pos += zeros * w + w + 1;
                if self.pos > self.len {
                    // The non-zero code holding that bit is cut off by the end of the input.
                    return None;
                }
                left -= zeros + 1;
                continue;
            }
            // As in `BitReader::read_chained_groups`: the first set bit's code is non-zero;
            // if the rest of the window is zero, step over just that code.
            let lead = word.trailing_zeros() / W;
            let after = (lead + 1) * W + 1;
            if (word >> after) & zero_mask == 0 && u64::from(lead) < left {
                self.pos += u64::from(after);
                left -= u64::from(lead) + 1;
                continue;
            }
            if left < u64::from(group) {
                self.pos += w + u64::from(word & level_mask != 0);
                left -= 1;
                continue;
            }
            // Not all non-zero (tested first): the chain.
            self.pos += super::sign_magnitude::chain_bits::<W>(word);
            left -= u64::from(group);
        }
        Some(())
    }

    /// [`BitReader::skip_codes`]'s last few codes, one by one.
    #[cold]
    pub(super) fn skip_tail(&mut self, width: u32, n: u64) -> Option<()> {
        for _ in 0..n {
            let level = self.read(width).ok()?;
            if level != 0 {
                self.read_bit().ok()?;
            }
        }
        Some(())
    }
}

impl BitReader<'_> {
    /// `kernel(r, out)` — the one-thread reader of sign-magnitude codes of `width`-bit levels,
    /// which returns how many it read (fewer only near the end of the input) and a flag — on
    /// the calling rayon pool, each thread reading a range after parsing the codes before it
    /// (the module docs). Returns what the kernel would have returned on one thread, with the
    /// position after the codes read, or `None` (position unchanged) when not on a pool of two
    /// or more threads, below [`super::WIRE_PARALLEL_MIN`] codes, or when the input ends
    /// inside a range but the last: the caller then reads on its own thread.
    pub(crate) fn read_prefixed(
        &mut self,
        out: &mut [i16],
        width: u32,
        kernel: impl Fn(&mut Self, &mut [i16]) -> (usize, bool) + Sync,
    ) -> Option<(usize, bool)> {
        #[cfg(feature = "parallel")]
        if super::wire_parallel(out.len()) && (1..=15).contains(&width) {
            if self.caller_reads(out.len(), width) {
                return None;
            }
            return self.read_prefixed_par(out, width, kernel);
        }
        let _ = (out, width, kernel);
        None
    }

    #[cfg(feature = "parallel")]
    fn read_prefixed_par(
        &mut self,
        out: &mut [i16],
        width: u32,
        kernel: impl Fn(&mut Self, &mut [i16]) -> (usize, bool) + Sync,
    ) -> Option<(usize, bool)> {
        // Not for 1-bit levels: their parse is cheap (p = 0.2), so 2 − p is already near
        // (2 + p)/(1 + p), and TernGrad's two-thread decode took 0.79–0.81 ms speculatively
        // against 0.68–0.71 by ranges.
        if rayon::current_num_threads() == 2 && width > 1 {
            let p = super::speculate::SPECULATIVE_PARSE_COST;
            return self.read_speculative(out, width, p, &kernel);
        }
        self.read_ranges(out, width, &kernel)
    }

    /// An upper estimate of how many of the `d` codes of `width`-bit levels from the current
    /// position are non-zero: the bits past d·width are the sign bits of the non-zero codes
    /// (and whatever follows the codes in the message).
    #[cfg(feature = "parallel")]
    fn sign_bits(&self, d: usize, width: u32) -> u64 {
        self.len
            .saturating_sub(self.pos)
            .saturating_sub(d as u64 * u64::from(width))
    }

    /// Whether the calling thread reads `d` codes of `width`-bit levels better on its own
    /// than the pool's parse does, judged from the first
    /// [`SAMPLE`](super::sign_magnitude_chains::SAMPLE) codes, parsed:
    /// * mixed codes, for the read by several chains (`sign_magnitude_chains.rs`), which
    ///   splits them across the pool itself: at least one in
    ///   [`MIXED_SHARE`](super::sign_magnitude_chains::MIXED_SHARE) non-zero by
    ///   [`BitReader::sign_bits`] (an upper estimate: whatever follows the codes counts too) and
    ///   in the sample, where at least one in
    ///   [`ZERO_SHARE`](super::sign_magnitude_chains::ZERO_SHARE) must be zero too;
    /// * nearly all non-zero codes (fewer than one zero in
    ///   [`DENSE_ZERO_SHARE`](super::sign_magnitude_chains::DENSE_ZERO_SHARE)) where dense
    ///   blocks read them (`pdep` is fast): a guessed start never meets the true
    ///   parse among codes of one length, so the pool's parse cannot split them, and one thread
    ///   reads them about twice as fast by blocks. (Where dense blocks read the codes, mixed
    ///   codes are the others, with at least one zero in `DENSE_ZERO_SHARE`.)
    #[cfg(feature = "parallel")]
    fn caller_reads(&self, d: usize, width: u32) -> bool {
        use super::sign_magnitude_chains::{CHAINS_MIN_WIDTH, MIXED_SHARE, SAMPLE, ZERO_SHARE};
        if width < CHAINS_MIN_WIDTH || self.sign_bits(d, width) * MIXED_SHARE < d as u64 {
            return false;
        }
        let n = SAMPLE.min(d) as u64;
        let mut r = self.clone();
        if r.skip_codes(width, n).is_none() {
            return false;
        }
        let nonzero = (r.pos - self.pos).saturating_sub(n * u64::from(width));
        let zero = n - nonzero.min(n);
        if super::fast_pext() {
            // The chains or dense blocks, whichever the zero codes call for.
            return nonzero * MIXED_SHARE >= n;
        }
        nonzero * MIXED_SHARE >= n && zero * ZERO_SHARE >= n
    }

    /// $p$ for `d` codes of `width`-bit levels from the current position.
    #[cfg(feature = "parallel")]
    fn parse_cost(&self, d: usize, width: u32) -> f64 {
        let signs = self.sign_bits(d, width);
        if width == 1 {
            PARSE_COST_ONE_BIT
        } else if signs * 256 < d as u64 {
            PARSE_COST_SPARSE
        } else {
            PARSE_COST
        }
    }

    /// The codes by ranges, each thread parsing the codes before its range from the current
    /// position (the module docs).
    #[cfg(feature = "parallel")]
    pub(super) fn read_ranges(
        &mut self,
        out: &mut [i16],
        width: u32,
        kernel: &(impl Fn(&mut Self, &mut [i16]) -> (usize, bool) + Sync),
    ) -> Option<(usize, bool)> {
        use rayon::prelude::*;
        let d = out.len();
        let threads = rayon::current_num_threads();
        let keep = 1.0 - self.parse_cost(d, width);
        // a_0 = 0, a_{t+1} = 1 + (1 − p)·a_t; range t starts at d·a_t/a_T.
        let mut a = Vec::with_capacity(threads + 1);
        a.push(0.0f64);
        for t in 0..threads {
            a.push(1.0 + keep * a[t]);
        }
        let total = a[threads];
        let mut ranges = Vec::with_capacity(threads);
        let mut rest = &mut *out;
        let mut start = 0usize;
        for t in 0..threads {
            let end = if t + 1 == threads {
                d
            } else {
                ((d as f64 * a[t + 1] / total) as usize).clamp(start, d)
            };
            let (head, tail) = rest.split_at_mut(end - start);
            ranges.push((start, head));
            rest = tail;
            start = end;
        }
        let lens: Vec<usize> = ranges.iter().map(|(_, o)| o.len()).collect();
        let this = &*self;
        let read: Vec<Option<(usize, bool, u64)>> = ranges
            .into_par_iter()
            .map(|(k, o)| {
                let mut r = this.clone();
                r.skip_codes(width, k as u64)?;
                let (done, bad) = kernel(&mut r, o);
                Some((done, bad, r.pos))
            })
            .collect();
        let (mut done, mut bad, mut end) = (0, false, self.pos);
        for (t, (piece, &len)) in read.iter().zip(&lens).enumerate() {
            let (n, b, pos) = (*piece)?;
            // Every range but the last is whole (it ends before the end of the input).
            if n != len && t + 1 < threads {
                return None;
            }
            (done, bad, end) = (done + n, bad | b, pos);
        }
        self.pos = end;
        Some((done, bad))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::BitWriter;
    use super::*;
    use proptest::prelude::*;

    /// `prefix` bits, then sign-magnitude codes of `width`-bit levels; the bytes and every
    /// code's start.
    pub(in crate::bits) fn stream(prefix: u32, width: u32, codes: &[i16]) -> (Vec<u8>, Vec<u64>) {
        let mut w = BitWriter::new();
        w.write(0x2d, prefix);
        let mut starts = Vec::with_capacity(codes.len() + 1);
        for &c in codes {
            starts.push(w.bit_len());
            w.write(u64::from(c.unsigned_abs()), width);
            if c != 0 {
                w.write(u64::from(c < 0), 1);
            }
        }
        starts.push(w.bit_len());
        (w.finish().to_vec(), starts)
    }

    /// Kinds of code stream for the tests of the readers on a pool: (level width, `s`, 1 in
    /// how many codes non-zero — 0 for none, 1 for all): QSGD s = 16's, natural dithering
    /// s = 8's, TernGrad's and QSGD s = 255's densities, and all-zero, all-non-zero and 15-bit.
    #[cfg(feature = "parallel")]
    pub(in crate::bits) const STREAMS: [(u32, u16, u64); 10] = [
        (5, 16, 440),
        (5, 16, 200),
        (4, 8, 56),
        (4, 8, 40),
        (1, 1, 3),
        (1, 1, 300),
        (8, 255, 28),
        (15, 32_767, 100),
        (5, 16, 0),
        (3, 7, 1),
    ];

    /// Codes with level ≤ `s`, non-zero with probability about 1/`every` (never for 0).
    pub(in crate::bits) fn codes(n: usize, s: u16, every: u64, mut seed: u64) -> Vec<i16> {
        (0..n)
            .map(|_| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let r = seed >> 11;
                if every == 0 || !r.is_multiple_of(every) {
                    return 0;
                }
                let level = 1 + ((r >> 20) % u64::from(s)) as i16;
                if r >> 52 & 1 == 1 { -level } else { level }
            })
            .collect()
    }

    proptest! {
        /// From a code start, `skip_codes(n)` lands exactly on the start of the n-th code
        /// after it, or reports that the input ended.
        #[test]
        fn skip_lands_on_the_nth_code_start(
            width in 1u32..=15,
            // Dense to sparse: 1 in `every` codes non-zero (none for 0); the sparse ones
            // have runs of zero codes longer than a 56-bit window.
            every in prop_oneof![3 => 0u64..6, 1 => 50u64..400],
            len in 0usize..2000,
            seed in any::<u64>(),
            prefix in 0u32..64,
            from in 0usize..2000,
            n in 0u64..2200,
        ) {
            let s = ((1u32 << width) - 1).min(32_767) as u16;
            let codes = codes(len, s, every, seed);
            let (bytes, starts) = stream(prefix, width, &codes);
            let from = from.min(len);
            let mut r = BitReader::new(&bytes);
            r.pos = starts[from];
            let got = r.skip_codes(width, n);
            match starts.get(from + n as usize) {
                Some(&at) => {
                    prop_assert_eq!(got, Some(()));
                    prop_assert_eq!(r.pos, at);
                }
                // Past the last code: the padding parses as zero levels or the input ends.
                None => prop_assert!(got.is_none() || r.pos > *starts.last().unwrap()),
            }
        }
    }

    /// Over streams of many windows (sparse, and sparse again after a dense stretch that the
    /// code-by-code parse takes, from odd bit offsets), `skip_codes(n)` lands on the n-th code
    /// start for n at every window edge and around it, and reports an input that ends first.
    #[test]
    fn skip_lands_on_the_nth_code_start_across_windows() {
        let n = 150_000;
        for (width, every, dense_from) in [
            (5u32, 300u64, usize::MAX),
            (1, 40, 60_000),
            (4, 9, 90_000),
            (9, 2, 0),
            (3, 1500, 20_000),
        ] {
            let s = ((1u32 << width) - 1).min(32_767) as u16;
            let mut codes = codes(n, s, every, u64::from(width));
            // A dense stretch (every code non-zero) in the middle.
            let dense = dense_from.min(n)..dense_from.saturating_add(20_000).min(n);
            for (k, c) in codes[dense].iter_mut().enumerate() {
                *c = 1 + (k % usize::from(s)) as i16;
            }
            let (bytes, starts) = stream(5, width, &codes);
            let mut probes: Vec<usize> = (0..n).step_by(4999).collect();
            // Codes near each 4 KiB window edge.
            for edge in (0..bytes.len() * 8).step_by(4096 * 8) {
                let at = starts.partition_point(|&p| p < edge as u64);
                probes.extend(at.saturating_sub(3)..(at + 3).min(n + 1));
            }
            for from in [0usize, 1, 777] {
                for &to in probes.iter().filter(|&&t| t >= from) {
                    let mut r = BitReader::new(&bytes);
                    r.pos = starts[from];
                    assert_eq!(
                        r.skip_codes(width, (to - from) as u64),
                        Some(()),
                        "{width} {to}"
                    );
                    assert_eq!(r.pos, starts[to], "width {width}, {from} → {to}");
                }
                // One code past the end: the padding or the input's end.
                let mut r = BitReader::new(&bytes);
                r.pos = starts[from];
                let past = (n + 40 - from) as u64;
                assert_eq!(r.skip_codes(width, past), None, "width {width}");
            }
        }
    }

    /// A dense window (every bit set) hands the parse to the code-by-code one, and the input
    /// ends inside a non-zero code after a zero run: `skip_codes` lands on the last whole
    /// code's end and reports one code more as the input ending first (it used to step past
    /// the end), for every level width.
    #[test]
    fn skip_reports_a_code_cut_off_after_a_dense_window() {
        let mut bytes = vec![0xffu8; 4096];
        bytes.extend([0u8; 16]);
        bytes.push(0x80);
        for width in 1u32..=15 {
            // The reference: code by code, every start of a whole code.
            let mut r = BitReader::new(&bytes);
            let mut starts = vec![0u64];
            while let Ok(level) = r.read(width) {
                if level != 0 && r.read_bit().is_err() {
                    break;
                }
                starts.push(r.pos);
            }
            let whole = starts.len() as u64 - 1;
            let mut r = BitReader::new(&bytes);
            assert_eq!(r.skip_codes(width, whole), Some(()), "width {width}");
            assert_eq!(r.pos, *starts.last().unwrap(), "width {width}");
            let mut r = BitReader::new(&bytes);
            assert_eq!(r.skip_codes(width, whole + 1), None, "width {width}");
            assert_eq!(
                r.remaining(),
                bytes.len() as u64 * 8 - r.pos.min(bytes.len() as u64 * 8)
            );
        }
    }

    /// A count of codes past any input, up to `u64::MAX`, reports that the input ends (a
    /// zero run's length times the width once wrapped to a position inside it), for all-zero
    /// and all-non-zero codes of every width, from bit offsets 0 and 44.
    #[test]
    fn skip_of_more_codes_than_any_input_reports_its_end() {
        for width in 1u32..=15 {
            for bytes in [vec![0u8; 756], vec![0xffu8; 756]] {
                for at in [0u64, 44] {
                    for n in [u64::MAX / 2, u64::MAX / u64::from(width), u64::MAX] {
                        let mut r = BitReader::new(&bytes);
                        r.pos = at;
                        assert_eq!(r.skip_codes(width, n), None, "width {width}, n {n}");
                    }
                }
            }
        }
    }

    /// On two- and three-thread pools codes are read by ranges (not left to the caller), with
    /// the codes of the one-thread read and the position after the last one read.
    #[cfg(feature = "parallel")]
    #[test]
    fn prefixed_read_equals_the_one_thread_read() {
        let pools = [2, 3].map(super::super::test_pool);
        let n = super::super::WIRE_PARALLEL_MIN + 12_345;
        for (&(width, s, every), pool) in STREAMS.iter().zip(pools.iter().cycle()) {
            let codes = codes(n, s, every, 99);
            let (bytes, starts) = stream(3, width, &codes);
            let read =
                |r: &mut BitReader<'_>, out: &mut [i16]| r.read_sign_magnitude(out, width, s);
            let mut seq = BitReader::new(&bytes);
            seq.pos = 3;
            let mut want = vec![0i16; n];
            let (done, bad) = read(&mut seq, &mut want);
            assert!(!bad);
            let mut r = BitReader::new(&bytes);
            r.pos = 3;
            let mut got = vec![7i16; n];
            let split = pool.install(|| r.read_prefixed(&mut got, width, read));
            // The kernel stops within a group of the input's end, which group depends on
            // where its read began: the caller reads the rest code by code.
            let (got_done, got_bad) = split.unwrap();
            assert!(!got_bad && got_done + 64 > n, "width {width}: {got_done}");
            assert_eq!(r.pos, starts[got_done]);
            assert_eq!(got[..got_done], codes[..got_done]);
            assert_eq!(seq.pos, starts[done]);
            assert_eq!(want[..done], codes[..done]);
        }
    }

    /// Mixed codes are told from sparse ones followed by other data (a part of a `Concat`):
    /// the estimate from the bits left counts that data, the sample of parsed codes does not.
    #[cfg(feature = "parallel")]
    #[test]
    fn caller_reads_are_sampled_not_only_estimated() {
        let n = 600_000;
        let (mut bytes, _) = stream(0, 5, &codes(n, 16, 440, 3));
        assert!(!BitReader::new(&bytes).caller_reads(n, 5));
        bytes.extend(std::iter::repeat_n(0xa5u8, n));
        let r = BitReader::new(&bytes);
        assert!(
            r.sign_bits(n, 5) * 16 >= n as u64,
            "the estimate alone says mixed"
        );
        assert!(!r.caller_reads(n, 5));
        let (bytes, _) = stream(0, 12, &codes(n, 4095, 2, 3));
        assert!(BitReader::new(&bytes).caller_reads(n, 12));
        // Too narrow for the chains, however mixed.
        let (bytes, _) = stream(0, 4, &codes(n, 15, 2, 3));
        assert!(!BitReader::new(&bytes).caller_reads(n, 4));
        // Nearly all non-zero (1 in 1000 zero): chains seldom meet; the calling thread reads
        // them by dense blocks where those read (`pdep` fast), else the pool's parse does.
        for (width, s) in [(12u32, 4095u16), (14, 16_383), (15, 32_767)] {
            let mut dense = codes(n, s, 1, 3);
            for c in dense.iter_mut().step_by(1000) {
                *c = 0;
            }
            let (bytes, _) = stream(0, width, &dense);
            assert_eq!(
                BitReader::new(&bytes).caller_reads(n, width),
                super::super::fast_pext(),
                "width {width}"
            );
        }
    }
}
