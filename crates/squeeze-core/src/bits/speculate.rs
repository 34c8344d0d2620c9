//! Sign-magnitude codes on two threads, the second parsing from a guessed offset.
//!
//! In [`BitReader::read_prefixed`] the second thread parses every code before its range, from
//! the start of the codes, while the first thread reads those same codes: a speed-up of at
//! most $2 - p$, where $p$ is the parse's cost relative to the read. Here the second thread
//! starts its parse at a bit $g$ instead. It does not know where a code starts there, but the
//! first code start at or after $g$ is one of $g, g + 1, \dots, g + W$ (a code has at most
//! $W + 1$ bits), so it parses from each of these $W + 1$ candidate starts. A parse from a
//! code start is fixed by its position, so two candidates that reach the same bit are the same
//! parse from there on: they *merge*, one goes on and the other keeps the difference of their
//! counts. In the sparse codes this path is for, the candidates merge within some thousands of
//! codes (3–15 thousand for QSGD s = 16's, under a thousand for natural dithering s = 8's),
//! and one parse goes on to a bit $a$. Meanwhile the first thread reads the codes up to
//! the first code start $b \ge g$, which names the true candidate ($b - g$) and how many codes
//! lie before $b$. Then the first thread reads up to $a$ and the second from $a$ to the end.
//!
//! In units of a one-thread read (ranges in bits, the codes from 0 to 1), the first phase
//! takes $\max(g, p(a - g))$ and the second $\max(a - g, 1 - a)$; balanced, $g = p/(2 + p)$,
//! $a = (1 + g)/2$, and the read takes $(1 + p)/(2 + p)$: a speed-up of $(2 + p)/(1 + p)$,
//! 1.72 at $p = 0.38$ against $2 - p = 1.62$. Nothing read is guessed: the codes are the
//! one-thread ones. When the candidates have not merged before they have parsed, together,
//! half the bits from $g$ to $a$ (codes with few zero codes, or whose non-zero codes all have
//! the same level and sign: their candidates keep their distance), or anything else is off,
//! the rest is read as in `read_prefixed` from where the first thread stopped. Levels of one bit
//! (TernGrad's) stay with `read_prefixed`'s ranges, where $2 - p$ is already near the cap.

use super::BitReader;

/// $p$ for the split of this path, whatever the width and density. Best of 100 reads of 10⁷
/// codes on a two-thread pool (Intel Xeon VM, AVX-512), for $p$ = 0.3, 0.4, 0.5, 0.6, against
/// one thread and against the ranges of `read_prefixed` (measured before the review's mend —
/// first steps of 2¹⁰ codes instead of 2¹², and the budget — which changes neither phase's
/// balance):
///
/// | codes | one thread | ranges | 0.3 | 0.4 | 0.5 | 0.6 |
/// |---|---|---|---|---|---|---|
/// | 5-bit levels, 1 in 440 non-zero (QSGD s = 16) | 1.29–1.38 | 0.90–1.01 | 0.91–1.01 | 0.77–0.87 | 0.82–0.91 | 0.86–0.90 ms |
/// | 4-bit, 1 in 56 (natural dithering s = 8) | 3.32–3.35 | 2.23–2.24 | 2.21–2.22 | 2.04–2.07 | 2.09–2.10 | 2.15 ms |
/// | 1-bit, 1 in 230 (TernGrad, which stays with the ranges) | 1.25–1.28 | 0.80–0.85 | 0.82–0.85 | 0.80–0.81 | 0.79–0.80 | 0.80–0.83 ms |
/// | 8-bit, 1 in 28 (QSGD s = 255) | 6.50–6.51 | 5.94–6.02 | 5.36–5.38 | 5.10–5.17 | 5.00–5.03 | 4.68–4.74 ms |
pub(super) const SPECULATIVE_PARSE_COST: f64 = 0.4;

/// At most $W + 1 \le 16$ candidate starts.
const MAX_CANDIDATES: usize = 16;

/// Codes each candidate parses before the first check for merges; doubled at every check.
const FIRST_STEP: u64 = 1 << 10;

/// A candidate that is behind another by more bits than this at a check is taken as not
/// merged with it (yet); within it, it is stepped code by code to the other's position.
const CATCH_UP_BITS: u64 = 64;

/// The candidate parses: where each stands and, once merged, which one it follows.
struct Candidates {
    n: usize,
    pos: [u64; MAX_CANDIDATES],
    /// Codes parsed from the candidate's start (for a leader) or, for a follower, what to add
    /// to its leader's count (wrapping).
    count: [u64; MAX_CANDIDATES],
    lead: [usize; MAX_CANDIDATES],
    alive: [bool; MAX_CANDIDATES],
}

impl Candidates {
    fn new(g: u64, width: u32) -> Self {
        let n = width as usize + 1;
        let mut pos = [0; MAX_CANDIDATES];
        for (j, p) in pos.iter_mut().enumerate().take(n) {
            *p = g + j as u64;
        }
        Self {
            n,
            pos,
            count: [0; MAX_CANDIDATES],
            lead: std::array::from_fn(|j| j),
            alive: [true; MAX_CANDIDATES],
        }
    }

    fn leaders(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.n).filter(|&j| self.lead[j] == j && self.alive[j])
    }

    /// Follower `k` (or leader `k` and its followers) now follow leader `j`, both at the same
    /// code start.
    fn merge(&mut self, k: usize, j: usize) {
        let shift = self.count[k].wrapping_sub(self.count[j]);
        for m in 0..self.n {
            if self.lead[m] == k {
                self.lead[m] = j;
                self.count[m] = if m == k {
                    shift
                } else {
                    self.count[m].wrapping_add(shift)
                };
            }
        }
    }

    /// Candidate `j`'s count of codes from its start to where its leader stands, if alive.
    fn codes_of(&self, j: usize) -> Option<u64> {
        let l = self.lead[j];
        if !self.alive[l] {
            return None;
        }
        Some(if l == j {
            self.count[j]
        } else {
            self.count[l].wrapping_add(self.count[j])
        })
    }
}

impl BitReader<'_> {
    /// Parses the candidates from bits `g..=g + width` until they have merged into one, and
    /// that one on to about bit `a`: the code start reached and the count from each candidate
    /// to it. `None` if none is left, or if they have not merged before the bits parsed by
    /// all candidates together would pass `budget` (a step is not begun that could).
    fn parse_candidates(
        &self,
        width: u32,
        g: u64,
        a: u64,
        budget: u64,
    ) -> Option<(u64, Candidates)> {
        let mut c = Candidates::new(g, width);
        let mut r = self.clone();
        let mut step = FIRST_STEP;
        let mut spent = 0u64;
        loop {
            // At most W + 1 bits a code.
            let most = c.leaders().count() as u64 * step * (u64::from(width) + 1);
            if spent.saturating_add(most) > budget {
                return None;
            }
            for j in 0..c.n {
                if c.lead[j] != j || !c.alive[j] {
                    continue;
                }
                r.pos = c.pos[j];
                c.alive[j] = r.skip_codes(width, step).is_some();
                spent += r.pos.saturating_sub(c.pos[j]);
                (c.pos[j], c.count[j]) = (r.pos, c.count[j] + step);
            }
            // Close pairs: the one behind steps code by code up to the other.
            for j in 0..c.n {
                for k in 0..c.n {
                    let leads = |m: usize| c.lead[m] == m && c.alive[m];
                    if j == k || !leads(j) || !leads(k) || c.pos[k] > c.pos[j] {
                        continue;
                    }
                    if c.pos[j] - c.pos[k] > CATCH_UP_BITS {
                        continue;
                    }
                    r.pos = c.pos[k];
                    while r.pos < c.pos[j] {
                        if r.skip_tail(width, 1).is_none() {
                            c.alive[k] = false;
                            break;
                        }
                        c.count[k] += 1;
                    }
                    c.pos[k] = r.pos;
                    if c.alive[k] && r.pos == c.pos[j] {
                        c.merge(k, j);
                    }
                }
            }
            let (first, more) = {
                let mut leaders = c.leaders();
                (leaders.next()?, leaders.next().is_some())
            };
            if !more {
                // One parse left: on to about `a`, at the bits per code seen so far.
                let at = c.pos[first];
                if at < a {
                    let per_code = (at - g).max(1) as f64 / c.count[first].max(1) as f64;
                    let n = ((a - at) as f64 / per_code) as u64;
                    r.pos = at;
                    r.skip_codes(width, n)?;
                    (c.pos[first], c.count[first]) = (r.pos, c.count[first] + n);
                }
                return Some((c.pos[first], c));
            }
            step *= 2;
        }
    }

    /// Reads codes into `out[i..]` with `kernel` up to the first code start at or after bit
    /// `x`, in calls that cannot pass `x` ($W + 1$ bits a code at most) but the last, of one
    /// code. The index and position reached and whether a bad level was seen; `None` if
    /// `out` or the input ends first.
    fn read_to(
        &mut self,
        out: &mut [i16],
        mut i: usize,
        x: u64,
        width: u32,
        kernel: &impl Fn(&mut Self, &mut [i16]) -> (usize, bool),
    ) -> Option<(usize, bool)> {
        let longest = u64::from(width) + 1;
        let mut bad = false;
        while self.pos < x {
            let n = ((x - self.pos) / longest).max(1);
            let n = n.min((out.len() - i) as u64) as usize;
            if n == 0 {
                return None;
            }
            let (done, b) = kernel(self, &mut out[i..i + n]);
            bad |= b;
            i += done;
            if done < n {
                return None;
            }
        }
        Some((i, bad))
    }

    /// [`BitReader::read_prefixed`] on a pool of two threads (the module docs); `p` is the
    /// parse's cost relative to the read.
    pub(super) fn read_speculative(
        &mut self,
        out: &mut [i16],
        width: u32,
        p: f64,
        kernel: &(impl Fn(&mut Self, &mut [i16]) -> (usize, bool) + Sync),
    ) -> Option<(usize, bool)> {
        match self.speculate(out, width, p, kernel)? {
            Speculated::Read { codes, bad, at } => {
                self.pos = at;
                Some((codes, bad))
            }
            Speculated::Stopped { codes, bad, at } => {
                // The rest as in `read_prefixed`, from where the first thread stopped.
                let mut r = self.clone();
                r.pos = at;
                let (done, rest_bad) = r.read_ranges(&mut out[codes..], width, kernel)?;
                self.pos = r.pos;
                Some((codes + done, bad | rest_bad))
            }
        }
    }

    /// The two phases of the module docs; `None` if the input or `out` ends where it should
    /// not (the caller then reads on its own thread).
    fn speculate(
        &self,
        out: &mut [i16],
        width: u32,
        p: f64,
        kernel: &(impl Fn(&mut Self, &mut [i16]) -> (usize, bool) + Sync),
    ) -> Option<Speculated> {
        let d = out.len();
        let w = u64::from(width);
        let start = self.pos;
        // The codes take between d·W and d·(W + 1) bits; `a` stays inside the first d·W.
        let bits = self.len.saturating_sub(start).min(d as u64 * (w + 1));
        let g = start + (bits as f64 * p / (2.0 + p)) as u64;
        let a = (start + bits + g)
            .div_ceil(2)
            .min(start + d as u64 * w / 16 * 15);
        // The candidates may parse half the bits one parse of g..a would: at most about a
        // tenth of a one-thread read lost where they never merge. Merging took 50–185 k bits
        // for QSGD s = 16's codes (1 in 440 non-zero; a budget of 0.55 M bits at d = 2^19 and
        // 10 M at 10^7), 21 k for natural dithering s = 8's, 110–635 k at 1 in 2000.
        let budget = (a.saturating_sub(g)) / 2;
        if a <= g + FIRST_STEP * (w + 1) {
            return Some(Speculated::Stopped {
                codes: 0,
                bad: false,
                at: start,
            });
        }
        let (first, parsed) = rayon::join(
            || {
                let mut r = self.clone();
                let (i, bad) = r.read_to(out, 0, g, width, kernel)?;
                Some((i, bad, r.pos))
            },
            || self.parse_candidates(width, g, a, budget),
        );
        let (i, bad_first, b) = first?;
        let known = parsed.and_then(|(end, c)| {
            let j = usize::try_from(b - g).ok().filter(|&j| j < c.n)?;
            let k = i as u64 + c.codes_of(j)?;
            (k <= d as u64).then_some((end, k as usize))
        });
        let Some((end, k)) = known else {
            return Some(Speculated::Stopped {
                codes: i,
                bad: bad_first,
                at: b,
            });
        };
        let (head, tail) = out.split_at_mut(k);
        let (mid, last) = rayon::join(
            || {
                let mut r = self.clone();
                r.pos = b;
                let (reached, bad) = r.read_to(head, i, end, width, kernel)?;
                (reached == k && r.pos == end).then_some(bad)
            },
            || {
                let mut r = self.clone();
                r.pos = end;
                let (done, bad) = kernel(&mut r, tail);
                (done, bad, r.pos)
            },
        );
        let bad_mid = mid?;
        let (done, bad_last, at) = last;
        let bad = bad_first | bad_mid | bad_last;
        Some(Speculated::Read {
            codes: k + done,
            bad,
            at,
        })
    }
}

/// What [`BitReader::speculate`] did: how many codes it read, whether a level was bad, and the
/// position after them.
#[derive(Debug, PartialEq)]
enum Speculated {
    /// Read as far as the kernel reads.
    Read { codes: usize, bad: bool, at: u64 },
    /// Stopped where the first thread stopped: the candidates did not merge (or the codes are
    /// too few to split).
    Stopped { codes: usize, bad: bool, at: u64 },
}

#[cfg(test)]
mod tests {
    use super::super::prefix::tests::{STREAMS, codes, stream};
    use super::super::test_pool;
    use super::*;

    /// Codes with level ≤ `s`, 1 in `every` non-zero, after `prefix` bits; the bytes and every
    /// code's start.
    fn case(
        n: usize,
        width: u32,
        s: u16,
        every: u64,
        prefix: u32,
    ) -> (Vec<i16>, Vec<u8>, Vec<u64>) {
        let codes = codes(n, s, every, u64::from(width) * 31 + every);
        let (bytes, starts) = stream(prefix, width, &codes);
        (codes, bytes, starts)
    }

    /// The candidates from any bit `g` merge (for codes with zero codes among them) and end
    /// on a code start; the true candidate — the first code start at or after `g` — counts
    /// the codes from there to that end.
    #[test]
    fn the_true_candidate_counts_the_codes_to_the_merged_end() {
        // Codes with zeros among them (their candidates meet), and 1 in 2 or 5 non-zero.
        let streams = STREAMS.iter().filter(|&&(_, _, every)| every > 1);
        for &(width, s, every) in streams.chain(&[(1, 1, 2), (3, 7, 5)]) {
            let (_, bytes, starts) = case(300_000, width, s, every, 7);
            let total = *starts.last().unwrap();
            let r = BitReader::new(&bytes);
            for g in [
                starts[1000] - 1,
                starts[4321],
                starts[4321] + 1,
                total / 3 + 3,
            ] {
                let a = total * 2 / 3;
                let (end, c) = r.parse_candidates(width, g, a, u64::MAX).expect("merged");
                let at = starts.binary_search(&end).expect("ends on a code start");
                // On to about `a`, at the bits per code seen while merging.
                assert!(end.abs_diff(a) < (a - g) / 20, "{end} far from {a}");
                let b = starts.partition_point(|&p| p < g);
                let j = (starts[b] - g) as usize;
                let want = (at - b) as u64;
                assert_eq!(
                    c.codes_of(j),
                    Some(want),
                    "width {width}, 1 in {every}, g {g}"
                );
                // Every live candidate, true or not, leader or follower: a parse code by code
                // from its start lands on `end` after that many codes.
                for k in 0..c.n {
                    let Some(count) = c.codes_of(k) else {
                        continue;
                    };
                    let mut p = BitReader::new(&bytes);
                    p.pos = g + k as u64;
                    let mut parsed = 0;
                    while p.pos < end && p.skip_tail(width, 1).is_some() {
                        parsed += 1;
                    }
                    assert_eq!(
                        (p.pos, parsed),
                        (end, count),
                        "width {width}, candidate {k}"
                    );
                }
            }
        }
    }

    /// Where every code is the top level, positive (W ones and a zero), every W bits off a
    /// code start hold a one: the candidates read only non-zero codes, keep their distance,
    /// and the parse gives up rather than guess.
    #[test]
    fn candidates_that_never_merge_give_up() {
        for width in [2u32, 4, 9] {
            let top = ((1u32 << width) - 1) as i16;
            let (bytes, starts) = stream(3, width, &vec![top; 200_000]);
            let total = *starts.last().unwrap();
            let r = BitReader::new(&bytes);
            assert!(
                r.parse_candidates(width, total / 4 + 1, total / 2, total / 3)
                    .is_none()
            );
        }
    }

    /// On a two-thread pool, the speculative read gives the one-thread codes, flag and
    /// position, for sparse to dense codes (dense ones fall back to the ranges of
    /// `read_prefixed`), from bit offsets 0–63, and with levels above `s` in the first
    /// thread's head, its middle and the second thread's range.
    #[test]
    fn speculative_read_equals_the_one_thread_read() {
        let pool = test_pool(2);
        let n = 400_000;
        let cases = [
            (5u32, 16u16, 440u64, 0u32, 16u16),
            (5, 16, 440, 61, 16),
            (4, 8, 56, 13, 8),
            (1, 1, 3, 5, 1),
            (1, 1, 300, 0, 1),
            (3, 7, 1, 8, 7),
            (9, 511, 0, 3, 511),
            (8, 255, 28, 33, 255),
            // Levels up to 16 read with s = 15: some are bad, in every range.
            (5, 16, 60, 2, 15),
        ];
        for (width, s_codes, every, prefix, s) in cases {
            let (codes, bytes, starts) = case(n, width, s_codes, every, prefix);
            let read =
                |r: &mut BitReader<'_>, out: &mut [i16]| r.read_sign_magnitude(out, width, s);
            let mut seq = BitReader::new(&bytes);
            seq.pos = u64::from(prefix);
            let mut want = vec![0i16; n];
            let (done, bad) = read(&mut seq, &mut want);
            assert_eq!(bad, s < s_codes, "width {width}");
            assert_eq!(seq.pos, starts[done]);
            for p in [0.1, 0.3, 0.6] {
                let mut r = BitReader::new(&bytes);
                r.pos = u64::from(prefix);
                let mut got = vec![7i16; n];
                if every > 1 {
                    // The candidates merge: no fallback.
                    let how = pool.install(|| r.speculate(&mut got, width, p, &read));
                    let stopped = matches!(how, Some(Speculated::Stopped { .. }));
                    assert!(!stopped, "width {width}, 1 in {every}: {how:?}");
                }
                let split = pool.install(|| r.read_speculative(&mut got, width, p, &read));
                let (got_done, got_bad) = split.expect("read on the pool");
                assert_eq!(got_bad, bad, "width {width}, 1 in {every}, p {p}");
                // The kernel stops within a group of the input's end, which group depends on
                // where its read began.
                assert!(got_done + 64 > n, "width {width}: {got_done}");
                assert_eq!(r.pos, starts[got_done]);
                if !bad {
                    assert_eq!(got[..got_done], codes[..got_done], "width {width}, p {p}");
                }
            }
        }
    }

    /// Codes whose candidates never merge: the read falls back to ranges from where the first
    /// thread stopped, and gives the one-thread codes and position.
    #[test]
    fn a_read_whose_candidates_never_merge_falls_back() {
        let pool = test_pool(2);
        let (width, s) = (4u32, 15u16);
        let mut codes = vec![15i16; 150_000];
        codes[149_000] = -3;
        let (bytes, starts) = stream(11, width, &codes);
        let read = |r: &mut BitReader<'_>, out: &mut [i16]| r.read_sign_magnitude(out, width, s);
        let mut r = BitReader::new(&bytes);
        r.pos = 11;
        let mut got = vec![0i16; codes.len()];
        let split = pool.install(|| r.read_speculative(&mut got, width, 0.3, &read));
        let (done, bad) = split.expect("read on the pool");
        assert!(!bad && done + 64 > codes.len());
        assert_eq!(r.pos, starts[done]);
        assert_eq!(got[..done], codes[..done]);
    }

    /// Malformed inputs on a two-thread pool — cut short, with trailing garbage, with flipped
    /// bits, and read for more or fewer codes than were written — never panic, and what is
    /// returned is what a code-by-code parse gives: `done` codes at most as many as parse,
    /// those codes (when not flagged bad) and the position after them, or `None` with the
    /// position unchanged.
    #[test]
    fn malformed_inputs_read_as_code_by_code() {
        let pool = test_pool(2);
        let mut rng = crate::rng::SqueezeRng::from_seed_u64(23);
        let mut next = || rng.next_u64();
        for round in 0..24 {
            let width = 2 + (round % 14) as u32;
            let s = ((1u32 << width) - 1).min(32_767) as u16;
            let every = [440u64, 56, 7, 2][round % 4];
            let n = 60_000 + (next() % 40_000) as usize;
            let (_, mut bytes, _) = case(n, width, s, every, (next() % 64) as u32);
            match round % 3 {
                0 => bytes.truncate(bytes.len() * (1 + (next() % 9) as usize) / 10),
                1 => bytes.extend((0..next() % 5000).map(|_| next() as u8)),
                _ => {
                    for _ in 0..1 + next() % 4 {
                        let bit = next() as usize % (bytes.len() * 8);
                        bytes[bit / 8] ^= 1 << (bit % 8);
                    }
                }
            }
            let d = [n, n / 3, n + 777][(round / 3) % 3];
            let s_read = if round % 5 == 0 { s / 2 } else { s };
            let prefix = (next() % 64).min(bytes.len() as u64 * 8);
            // The reference: code by code.
            let mut p = BitReader::new(&bytes);
            p.pos = prefix;
            let (mut want, mut starts) = (Vec::new(), vec![prefix]);
            while want.len() < d {
                let Ok(level) = p.read(width) else { break };
                let negative = match level {
                    0 => false,
                    _ => match p.read_bit() {
                        Ok(bit) => bit,
                        Err(_) => break,
                    },
                };
                want.push(level as i32 * if negative { -1 } else { 1 });
                starts.push(p.pos);
            }
            let read =
                |r: &mut BitReader<'_>, out: &mut [i16]| r.read_sign_magnitude(out, width, s_read);
            for prob in [0.1, 0.4, 0.8] {
                let mut r = BitReader::new(&bytes);
                r.pos = prefix;
                let mut got = vec![0i16; d];
                let what = format!("round {round}, width {width}, d {d}, p {prob}");
                match pool.install(|| r.read_speculative(&mut got, width, prob, &read)) {
                    None => assert_eq!(r.pos, prefix, "{what}"),
                    Some((done, bad)) => {
                        assert!(done <= want.len(), "{what}: {done} > {}", want.len());
                        assert_eq!(r.pos, starts[done], "{what}");
                        let over = want[..done]
                            .iter()
                            .any(|&c| c.unsigned_abs() > u32::from(s_read));
                        if bad {
                            assert!(over, "{what}: flagged bad with no bad level");
                        } else {
                            assert!(!over, "{what}: a bad level not flagged");
                            let got: Vec<i32> = got[..done].iter().map(|&c| i32::from(c)).collect();
                            assert_eq!(got, want[..done], "{what}");
                        }
                    }
                }
            }
        }
    }
}
