//! Sign-magnitude codes on several threads, with no offsets in the message.
//!
//! A code is a `W`-bit level, then a sign bit iff the level is non-zero, so where code $j$
//! starts depends on every code before it and a piece of the message cannot be read from a
//! known offset. [`BitReader::read_synced`] reads it in three passes:
//!
//! 1. *Parse* (in parallel): the code region is cut at bit positions $b_j = p_0 + I_j W$
//!    ($I_j = \lfloor jd/J \rfloor$, where code $I_j$ would start if every code before it were
//!    zero), and piece $j$ is parsed from its guess $b_j$, as if a code started there, until
//!    the parse reaches $b_{j+1}$: positions only, nothing is written
//!    ([`BitReader::skip_sign_magnitude`]). A guessed parse is a valid parse from the first
//!    position it shares with the true one on: both then step through the same codes.
//! 2. *Sync* (in order, short): the true parse enters piece $j$ where piece $j-1$'s parse
//!    ended; it and piece $j$'s parse from $b_j$ are stepped, the one behind first, until
//!    they stand on the same bit ([`BitReader::sync`]). Where the codes are mostly zero
//!    (QSGD's and natural dithering's large messages) a wrong parse steps through zero codes
//!    in step with the true one, shifted by less than a code; it meets the true one by chance
//!    at the next non-zero codes, typically within a few of them. A piece whose parse does not meet the
//!    true one within [`SYNC_WINDOW`] bits is parsed again, on one thread, from its true
//!    start. The result is where every piece truly starts and how many codes it holds.
//! 3. *Read* (in parallel): every piece is read by the one-thread kernel from its true start
//!    into its place in the output.
//!
//! Whatever the guesses, the codes read are the sequential ones; only the speed depends on
//! how soon the parses meet. Errors (a level above `s`, truncation) are the kernel's: a flag
//! that sends the caller back to its entry-by-entry re-read for the exact error.

use super::BitReader;

/// How far past a piece's guessed start its parse and the true one are stepped before the
/// piece is parsed again from its true start: $2^{16}$ bits.
#[cfg(feature = "parallel")]
const SYNC_WINDOW: u64 = 1 << 16;

/// Pieces per thread of the pool to parse (some are faster to parse and read than others);
/// one more piece, the last, needs no parse.
#[cfg(feature = "parallel")]
const PIECES_PER_THREAD: usize = 8;

#[cfg(any(feature = "parallel", test))]
impl BitReader<'_> {
    /// Step over sign-magnitude codes of `width`-bit levels (`1 ≤ width ≤ 15`) from the
    /// current position to the first code start at or past `until`; returns how many codes
    /// were stepped over, or `None` if the input ended first (the position is then
    /// unspecified). Levels are not checked, and a wrong start parses garbage without
    /// complaint.
    pub(crate) fn skip_sign_magnitude(&mut self, width: u32, until: u64) -> Option<u64> {
        macro_rules! widths {
            ($($w:literal)*) => {
                match width {
                    $($w => self.skip_sign_magnitude_w::<$w>(until),)*
                    _ => None,
                }
            };
        }
        if width == 1 {
            return self.skip_one_bit_levels(until);
        }
        widths!(2 3 4 5 6 7 8 9 10 11 12 13 14 15)
    }

    /// [`BitReader::skip_sign_magnitude`] for 1-bit levels (TernGrad's), 56 bits per step
    /// with no chain per code: a set bit at a code start makes the next bit a sign bit, as a
    /// backslash escapes the next character, so the sign bits of a word are the escaped
    /// positions, found with one addition whose carry runs through each run of set bits
    /// (the even/odd-run method of simdjson's string scanner). A run that begins at a code
    /// start escapes its odd offsets and, if its length is odd, the bit after it.
    fn skip_one_bit_levels(&mut self, until: u64) -> Option<u64> {
        const EVEN: u64 = 0x5555_5555_5555_5555;
        const LOW56: u64 = (1 << 56) - 1;
        let mut count = 0u64;
        // Whether the bit at `pos` is a sign bit.
        let mut carry = 0u64;
        while self.pos + 57 <= until {
            let Some(word) = self.peek_57() else {
                break;
            };
            let ones = word & LOW56 & !carry;
            let follows = ones << 1 | carry;
            let odd_starts = ones & !EVEN & !follows;
            let even_runs = odd_starts.wrapping_add(ones);
            let signs = (EVEN ^ (even_runs << 1)) & follows;
            count += 56 - u64::from((signs & LOW56).count_ones());
            carry = (signs >> 56) & 1;
            self.pos += 56;
        }
        // A sign bit at `pos` belongs to a code already counted.
        self.pos += carry;
        self.skip_tail(1, until, count)
    }

    #[inline(always)]
    fn skip_sign_magnitude_w<const W: u32>(&mut self, until: u64) -> Option<u64> {
        let group = 56 / (W + 1);
        let zero_bits = group * W;
        let zero_mask = (1u64 << zero_bits) - 1;
        let level_mask = (1u64 << W) - 1;
        let mut count = 0u64;
        while self.pos < until {
            let Some(word) = self.peek_57() else {
                return self.skip_tail(W, until, count);
            };
            if word & zero_mask == 0 {
                // A run of zero codes: every whole level before the next set bit is zero, and
                // the code holding that bit is not. Stop at the first start at or past
                // `until`.
                let (zeros, next_one) = self.zero_codes(W);
                let to_until = (until - self.pos).div_ceil(u64::from(W));
                let zeros = zeros.min(to_until);
                count += zeros;
                self.pos += zeros * u64::from(W);
                if next_one && zeros < to_until {
                    count += 1;
                    self.pos += u64::from(W) + 1;
                }
                continue;
            }
            if self.pos + u64::from(group * (W + 1)) > until {
                // Near `until`: one code at a time, so as to stop at the first start past it.
                self.pos += u64::from(W) + u64::from(word & level_mask != 0);
                count += 1;
                continue;
            }
            // Bit o of z: the level starting at offset o is non-zero (the chain of
            // `BitReader::read_sign_magnitude`).
            let mut z = word;
            for k in 1..W {
                z |= word >> k;
            }
            let mut used = 0u32;
            for _ in 0..group {
                used += W + ((z >> used) & 1) as u32;
            }
            self.pos += u64::from(used);
            count += u64::from(group);
        }
        Some(count)
    }

    /// From the current position: how many whole `width`-bit fields lie before the next set
    /// bit, and whether there is a set bit (else the fields run to the end of the input).
    #[inline(always)]
    fn zero_codes(&self, width: u32) -> (u64, bool) {
        match self.next_one(self.pos) {
            Some(one) => ((one - self.pos) / u64::from(width), true),
            None => ((self.len - self.pos) / u64::from(width), false),
        }
    }

    /// The position of the first set bit at or after `pos`, if any: 32 bytes per step through
    /// zero bytes.
    #[inline(always)]
    fn next_one(&self, pos: u64) -> Option<u64> {
        let found = |at: usize, word: u64| {
            let one = at as u64 * 8 + u64::from(word.trailing_zeros());
            (one < self.len).then_some(one)
        };
        let byte = (pos / 8) as usize;
        let first = self.load_u64(byte) >> (pos % 8);
        if first != 0 {
            return (pos + u64::from(first.trailing_zeros()) < self.len)
                .then(|| pos + u64::from(first.trailing_zeros()));
        }
        let mut at = byte + 8;
        let word = |b: &[u8]| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        };
        while let Some(block) = self.bytes.get(at..at + 32) {
            let (w0, w1) = (word(&block[..8]), word(&block[8..16]));
            let (w2, w3) = (word(&block[16..24]), word(&block[24..]));
            if w0 | w1 | w2 | w3 != 0 {
                break;
            }
            at += 32;
        }
        while at < self.bytes.len() {
            let w = self.load_u64(at);
            if w != 0 {
                return found(at, w);
            }
            at += 8;
        }
        None
    }

    /// [`BitReader::skip_sign_magnitude`]'s last few bytes, code by code.
    #[cold]
    fn skip_tail(&mut self, width: u32, until: u64, mut count: u64) -> Option<u64> {
        while self.pos < until {
            let level = self.read(width).ok()?;
            if level != 0 {
                self.read_bit().ok()?;
            }
            count += 1;
        }
        Some(count)
    }
}

impl BitReader<'_> {
    /// `kernel(r, out)` — the one-thread reader of sign-magnitude codes of `width`-bit levels,
    /// which returns how many it read (fewer only near the end of the input) and a flag — on
    /// the calling rayon pool by pieces whose true starts are found by parsing (the module
    /// docs). Returns what the kernel would have returned on one thread, with the position
    /// after the codes read, or `None` (position unchanged) when not on a pool of two or more
    /// threads, below [`super::WIRE_PARALLEL_MIN`] codes, or when the input ends inside a
    /// piece: the caller then reads on its own thread.
    pub(crate) fn read_synced(
        &mut self,
        out: &mut [i16],
        width: u32,
        kernel: impl Fn(&mut Self, &mut [i16]) -> (usize, bool) + Sync,
    ) -> Option<(usize, bool)> {
        #[cfg(feature = "parallel")]
        if super::wire_parallel(out.len()) && (1..=15).contains(&width) {
            return self.read_synced_par(out, width, kernel);
        }
        let _ = (out, width, kernel);
        None
    }

    #[cfg(feature = "parallel")]
    fn read_synced_par(
        &mut self,
        out: &mut [i16],
        width: u32,
        kernel: impl Fn(&mut Self, &mut [i16]) -> (usize, bool) + Sync,
    ) -> Option<(usize, bool)> {
        use rayon::prelude::*;
        let d = out.len();
        let pieces = (rayon::current_num_threads() * PIECES_PER_THREAD + 1).min(d);
        let p0 = self.pos;
        let guess = |j: usize| p0 + (j * d / pieces) as u64 * u64::from(width);
        // 1. Parse every piece but the last from its guess: (codes, end).
        let this = &*self;
        let parsed: Vec<Option<(u64, u64)>> = (0..pieces - 1)
            .into_par_iter()
            .map(|j| {
                let mut r = this.clone();
                r.pos = guess(j);
                let n = r.skip_sign_magnitude(width, guess(j + 1))?;
                Some((n, r.pos))
            })
            .collect();
        // 2. True starts and code counts, piece by piece: (start, codes).
        let mut pieces_at = Vec::with_capacity(pieces);
        let (mut start, mut before) = (p0, 0u64);
        for (j, piece) in parsed.iter().enumerate() {
            let (n, end) = (*piece)?;
            let m = match self.sync(start, guess(j), end, width) {
                Some((true_steps, guess_steps)) => {
                    let m = true_steps + n.checked_sub(guess_steps)?;
                    pieces_at.push((start, m));
                    start = end;
                    m
                }
                None => {
                    let mut r = self.clone();
                    r.pos = start;
                    let m = r.skip_sign_magnitude(width, guess(j + 1))?;
                    pieces_at.push((start, m));
                    start = r.pos;
                    m
                }
            };
            before += m;
        }
        pieces_at.push((start, (d as u64).saturating_sub(before)));
        // 3. Read every piece from its true start into its place (the codes may end before
        // the last piece: the pieces past them are left out).
        let mut slices = Vec::with_capacity(pieces);
        let mut rest = &mut *out;
        for &(s, m) in &pieces_at {
            if rest.is_empty() {
                break;
            }
            let (head, tail) = rest.split_at_mut((m as usize).min(rest.len()));
            slices.push((s, head));
            rest = tail;
        }
        let lens: Vec<usize> = slices.iter().map(|(_, o)| o.len()).collect();
        let read: Vec<(usize, bool, u64)> = slices
            .into_par_iter()
            .map(|(s, o)| {
                let mut r = this.clone();
                r.pos = s;
                let (done, bad) = kernel(&mut r, o);
                (done, bad, r.pos)
            })
            .collect();
        // Every piece but the last is whole (it ends before the end of the input).
        let last = read.len() - 1;
        if read[..last].iter().zip(&lens).any(|(r, &len)| r.0 != len) {
            return None;
        }
        self.pos = read[last].2;
        let done = lens[..last].iter().sum::<usize>() + read[last].0;
        Some((done, read.iter().any(|r| r.1)))
    }

    /// Where the true parse from `truth` and the guessed parse from `guess` first stand on
    /// the same bit, at most [`SYNC_WINDOW`] bits past `guess` and not past `end` (where the
    /// guessed parse stopped): how many codes each stepped over to get there.
    ///
    /// Between set bits both parses step over zero levels, `width` bits each: from the lower
    /// position `lo` and the higher `hi` with no set bit between, they meet at `hi` iff
    /// $W \mid hi - lo$, and otherwise not before the next set bit, past which both then
    /// step (one jump each). With a set bit between, the lower parse steps to its first start
    /// at or past `hi`. A stream of mostly zero levels is so crossed a set bit at a time.
    #[cfg(feature = "parallel")]
    fn sync(&self, truth: u64, guess: u64, end: u64, width: u32) -> Option<(u64, u64)> {
        let w = u64::from(width);
        let mut a = (self.clone(), 0u64);
        let mut b = (self.clone(), 0u64);
        a.0.pos = truth;
        b.0.pos = guess;
        let limit = end.min(guess + SYNC_WINDOW);
        while a.0.pos != b.0.pos {
            if a.0.pos.max(b.0.pos) > limit {
                return None;
            }
            let (lo, hi) = if a.0.pos < b.0.pos {
                (&mut a, &mut b)
            } else {
                (&mut b, &mut a)
            };
            let gap = hi.0.pos - lo.0.pos;
            match self.next_one(lo.0.pos) {
                Some(one) if one < hi.0.pos => {
                    lo.1 += lo.0.skip_sign_magnitude(width, hi.0.pos)?;
                }
                _ if gap % w == 0 => {
                    lo.1 += gap / w;
                    lo.0.pos = hi.0.pos;
                }
                Some(one) => {
                    lo.1 += lo.0.skip_sign_magnitude(width, one + 1)?;
                    hi.1 += hi.0.skip_sign_magnitude(width, one + 1)?;
                }
                None => return None,
            }
        }
        // Met, but past `end` the guessed parse's count does not reach.
        (a.0.pos <= end).then_some((a.1, b.1))
    }
}

#[cfg(test)]
mod tests {
    use super::super::BitWriter;
    use super::*;
    use proptest::prelude::*;

    /// `prefix` bits, then sign-magnitude codes of `width`-bit levels; the bytes and every
    /// code's start.
    fn stream(prefix: u32, width: u32, codes: &[i16]) -> (Vec<u8>, Vec<u64>) {
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

    /// Codes with level ≤ `s`, non-zero with probability about 1/`every` (never for 0).
    fn codes(n: usize, s: u16, every: u64, mut seed: u64) -> Vec<i16> {
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
        /// From a true start, the parse stops at the first code start at or past `until`
        /// and counts the codes before it.
        #[test]
        fn skip_stops_at_the_first_start_past_until(
            width in 1u32..=15,
            every in 0u64..6,
            n in 0usize..2000,
            seed in any::<u64>(),
            prefix in 0u32..64,
            from in 0usize..2000,
            ahead in 0u64..3000,
        ) {
            let s = ((1u32 << width) - 1).min(32_767) as u16;
            let codes = codes(n, s, every, seed);
            let (bytes, starts) = stream(prefix, width, &codes);
            let from = from.min(n);
            let until = starts[from] + ahead;
            let mut r = BitReader::new(&bytes);
            r.pos = starts[from];
            let got = r.skip_sign_magnitude(width, until);
            match starts.iter().position(|&p| p >= until) {
                Some(k) => {
                    prop_assert_eq!(got, Some((k - from) as u64));
                    prop_assert_eq!(r.pos, starts[k]);
                }
                // Past the last code: the padding parses as zero levels or the input ends.
                None => prop_assert!(got.is_none() || r.pos >= until),
            }
        }
    }

    /// A parse from a wrong start meets the true one soon in sparse codes; the steps it
    /// reports lead both parses to the same true code start.
    #[cfg(feature = "parallel")]
    #[test]
    fn a_guessed_parse_meets_the_true_one() {
        for (width, s, every) in [(5u32, 16u16, 200u64), (4, 8, 40), (1, 1, 3), (10, 1000, 7)] {
            let codes = codes(200_000, s, every, u64::from(width) * 77);
            let (bytes, starts) = stream(7, width, &codes);
            let r = BitReader::new(&bytes);
            for guess in [starts[1000] + 1, starts[50_000] - 2, 7 + 123_457] {
                let truth = *starts.iter().find(|&&p| p >= guess).unwrap();
                let end = *starts.last().unwrap();
                let (true_steps, guess_steps) = r.sync(truth, guess, end, width).unwrap();
                let k = starts.iter().position(|&p| p == truth).unwrap();
                let meet = starts[k + true_steps as usize];
                let mut g = r.clone();
                g.pos = guess;
                for _ in 0..guess_steps {
                    g.skip_tail(width, g.pos + 1, 0).unwrap();
                }
                assert_eq!(g.pos, meet, "width {width}, guess {guess}");
                assert!(meet - guess <= SYNC_WINDOW);
            }
        }
    }

    /// On a two-thread pool sparse codes are read by pieces (not left to the caller), with
    /// the codes of the one-thread read and the position after the last one read.
    #[cfg(feature = "parallel")]
    #[test]
    fn synced_read_equals_the_one_thread_read() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let n = super::super::WIRE_PARALLEL_MIN + 12_345;
        for (width, s, every) in [(5u32, 16u16, 200u64), (4, 8, 40), (1, 1, 3), (5, 16, 0)] {
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
            let synced = pool.install(|| r.read_synced(&mut got, width, read));
            // The kernel stops within a group of the input's end, which group depends on
            // where its read began: the caller reads the rest code by code.
            let (got_done, got_bad) = synced.unwrap();
            assert!(!got_bad && got_done + 64 > n, "width {width}: {got_done}");
            assert_eq!(r.pos, starts[got_done]);
            assert_eq!(got[..got_done], codes[..got_done]);
            assert_eq!(seq.pos, starts[done]);
            assert_eq!(want[..done], codes[..done]);
        }
    }
}
