//! The parse of sparse sign-magnitude codes by their set bits, with no branch per code.
//!
//! A code is a `W`-bit level, then a sign bit iff the level is non-zero. Counted from the
//! start of the codes, the code after $c$ codes of which $\mathit{nz}$ were non-zero starts
//! at bit $\mathit{rel} = cW + \mathit{nz}$, so $\mathit{rel} \equiv m = \mathit{nz} \bmod W$.
//! A zero code is $W$ zero bits; so for the first set bit $b \ge \mathit{rel}$, every code
//! from $\mathit{rel}$ up to the one holding $b$ is zero, and that one starts at
//! $b - ((b - m) \bmod W)$ and is non-zero ($W + 1$ bits). Set bits below $\mathit{rel}$ lie
//! in the code before. So one step per set bit, a few compares and selects with no branch,
//! walks the codes; the set bits of a window are listed first (non-zero 64-byte blocks, their
//! non-zero words, their bits), with no branch per set bit either (only per window, and for
//! the rare word with more than four set bits). The branchy parse of
//! [`BitReader::skip_codes`] paid a mispredicted branch at the end of nearly every zero run.
//!
//! The walk pays per set bit, so codes with many (a window with more than one per byte), or
//! with one non-zero code in [`MIXED`] or more (the window walked last), go to the chains of
//! `skip_chains.rs` for [`DENSE_RUN`] windows' worth, and the walk tries again after them.

use super::BitReader;

/// Bytes of input per window.
const WINDOW: usize = 4096;

/// After a dense window (more than [`WINDOW`] set bits), how many windows' worth of dense
/// codes (at one set bit per byte) the code-by-code parse takes before the walk is tried
/// again: a dense window costs the walk its listing for nothing. At 8, a skip over dense
/// codes took up to 19 % longer than the code-by-code parse alone; at 32, within ±5 %. Two
/// in this crate's tests, whose streams then go back to the walk after a dense stretch.
const DENSE_RUN: u64 = if cfg!(test) { 2 } else { 32 };

/// A walked window with at least one non-zero code in this many hands the next windows to
/// the chains of `skip_chains.rs`, as a dense window does: their parses from other bits meet
/// the true one within a few codes there, but not in sparser codes, whose zero runs keep them
/// apart.
const MIXED: u64 = 16;

/// The chain's state: the codes before bit `rel` (relative to where the parse began) are
/// parsed; `nz` of them were non-zero, and `m = nz mod W`.
#[derive(Clone, Copy)]
struct Walk {
    rel: u64,
    nz: u64,
    m: u64,
}

impl Walk {
    /// Codes parsed.
    fn codes(self, w: u64) -> u64 {
        (self.rel - self.nz) / w
    }

    /// Where the code holding the set bit at `rb ≥ rel` (relative) starts:
    /// $b - ((b - m) \bmod W)$, with no branch.
    #[inline(always)]
    fn start_of(self, rb: u64, w: u64) -> u64 {
        let rbm = rb % w;
        let back = std::hint::select_unpredictable(
            rbm >= self.m,
            rbm.wrapping_sub(self.m),
            rbm + w - self.m,
        );
        rb.wrapping_sub(back)
    }

    /// The step for the set bit at `rb` (relative), with no branch.
    #[inline(always)]
    fn step(&mut self, rb: u64, w: u64) {
        use std::hint::select_unpredictable as select;
        let next = self.start_of(rb, w) + w + 1;
        let m1 = select(self.m + 1 == w, 0, self.m + 1);
        let starts = rb >= self.rel;
        self.rel = select(starts, next, self.rel);
        self.m = select(starts, m1, self.m);
        self.nz += u64::from(starts);
    }

    /// The step for `rb` if code `n` lies past it, else where code `n` starts.
    fn step_to(&mut self, rb: u64, w: u64, n: u64) -> Option<u64> {
        if rb >= self.rel {
            let before = (self.start_of(rb, w) - self.nz) / w;
            if before >= n {
                return Some(self.rel + (n - self.codes(w)) * w);
            }
        }
        self.step(rb, w);
        (self.codes(w) == n).then_some(self.rel)
    }
}

impl BitReader<'_> {
    /// [`BitReader::skip_codes`] for `W`-bit levels by the set bits of the input, window by
    /// window; at a window with more than [`WINDOW`] set bits (one per byte of a whole window:
    /// dense codes) the code-by-code parse takes the next [`DENSE_RUN`] windows' worth of
    /// codes, and the walk goes on from where it stops.
    pub(super) fn skip_sparse_codes<const W: u32>(&mut self, n: u64) -> Option<()> {
        #[cfg(target_arch = "x86_64")]
        if super::bmi2()
            && std::is_x86_feature_detected!("bmi1")
            && std::is_x86_feature_detected!("popcnt")
        {
            #[target_feature(enable = "avx2,bmi1,bmi2,popcnt")]
            fn with_popcnt<const W: u32>(r: &mut BitReader<'_>, n: u64) -> Option<()> {
                r.skip_sparse_codes_body::<W>(n)
            }
            // SAFETY: this CPU has AVX2, BMI1, BMI2 and POPCNT (checked above).
            return unsafe { with_popcnt::<W>(self, n) };
        }
        self.skip_sparse_codes_body::<W>(n)
    }

    #[inline(always)]
    fn skip_sparse_codes_body<const W: u32>(&mut self, n: u64) -> Option<()> {
        if n == 0 {
            return Some(());
        }
        let w = u64::from(W);
        let pos0 = self.pos;
        let mut walk = Walk {
            rel: 0,
            nz: 0,
            m: 0,
        };
        let mut blocks = [0u16; WINDOW / 64];
        let mut words = [(0u64, 0u32); WINDOW / 8];
        let mut bits = [0u32; WINDOW + 64];
        let mut byte = (pos0 / 8) as usize;
        let mut target = None;
        let mut mixed = false;
        while target.is_none() {
            let Some(window) = self.bytes.get(byte..) else {
                break;
            };
            let window = &window[..window.len().min(WINDOW)];
            if window.is_empty() {
                break;
            }
            // Every set bit of the window, in order (`None`: dense), unless the last window
            // walked was mixed.
            let listed = if mixed {
                None
            } else {
                let first = (byte as u64 * 8 <= pos0).then_some(pos0 % 8);
                set_bits(window, first, &mut blocks, &mut words, &mut bits)
            };
            let dense = listed.is_none();
            let nbits = listed.unwrap_or(0);
            if dense {
                // Dense or mixed codes, faster on the chains of `skip_chains.rs`: about
                // DENSE_RUN windows' worth, then the walk again from the code reached.
                // At least one code: a walk that reaches code n stops (`target`).
                let k = (n - walk.codes(w)).min(DENSE_RUN * WINDOW as u64 * 8 / (w + 1));
                debug_assert!(k > 0);
                self.pos = pos0 + walk.rel;
                self.skip_dense_codes::<W>(k)?;
                let rel = self.pos - pos0;
                let codes = walk.codes(w) + k;
                let nz = rel - codes * w;
                walk = Walk { rel, nz, m: nz % w };
                if codes == n {
                    target = Some(rel);
                }
                byte = (self.pos / 8) as usize;
                mixed = false;
                continue;
            }
            let from = (byte as u64 * 8).wrapping_sub(pos0);
            let before = walk;
            for &b in &bits[..nbits] {
                walk.step(from.wrapping_add(u64::from(b)), w);
            }
            if walk.codes(w) >= n {
                // Code n starts in this window: walk it again, one set bit at a time.
                walk = before;
                target = bits[..nbits]
                    .iter()
                    .find_map(|&b| walk.step_to(from.wrapping_add(u64::from(b)), w, n));
            }
            let nz = walk.nz - before.nz;
            mixed = W > 1 && nz > 0 && nz * MIXED >= walk.codes(w) - before.codes(w);
            byte += window.len();
        }
        // Past the last set bit (or none read), every code is zero.
        // Saturating: an `n` past any input (up to u64::MAX) reports that the input ends.
        let zeros = (n - walk.codes(w).min(n)).saturating_mul(w);
        let rel = target.unwrap_or_else(|| walk.rel.saturating_add(zeros));
        self.pos = pos0.saturating_add(rel);
        (self.pos <= self.len).then_some(())
    }

    /// The parse of [`BitReader::skip_codes`] code by code (runs of zero codes at once);
    /// `Some` only with the position at most at the end of the input.
    fn skip_dense_codes<const W: u32>(&mut self, n: u64) -> Option<()> {
        if W == 1 {
            self.skip_one_bit_codes(n)
        } else {
            self.skip_codes_chains::<W>(n)
        }
    }
}

/// Every set bit of `window` (bits below `first` of its first byte cleared) into `bits`, as
/// bit offsets in order, through its non-zero words; how many, or `None` past [`WINDOW`].
#[inline(always)]
fn set_bits(
    window: &[u8],
    first: Option<u64>,
    blocks: &mut [u16],
    words: &mut [(u64, u32)],
    bits: &mut [u32],
) -> Option<usize> {
    let nw = nonzero_words(window, blocks, words);
    if let Some(skip) = first
        && let Some((x, 0)) = words.first_mut().filter(|_| nw > 0)
    {
        *x &= !0 << skip;
    }
    let mut nbits = 0;
    for &(mut x, at) in &words[..nw] {
        let c = x.count_ones() as usize;
        if nbits + c > WINDOW {
            return None;
        }
        for k in 0..4 {
            bits[nbits + k] = at + x.trailing_zeros();
            x &= x.wrapping_sub(1);
        }
        for slot in bits.iter_mut().skip(nbits + 4).take(c.saturating_sub(4)) {
            *slot = at + x.trailing_zeros();
            x &= x.wrapping_sub(1);
        }
        nbits += c;
    }
    Some(nbits)
}

/// The non-zero 8-byte words of `window` with their bit offsets (in order), through its
/// non-zero 64-byte blocks, with no branch on the data; a last piece under 64 bytes is
/// read zero-padded. Returns how many.
#[inline(always)]
fn nonzero_words(window: &[u8], blocks: &mut [u16], words: &mut [(u64, u32)]) -> usize {
    let load = super::padded_u64;
    let mut nb = 0;
    for (k, block) in window.chunks_exact(64).enumerate() {
        let or = block.chunks_exact(8).fold(0, |a, c| a | load(c));
        blocks[nb] = k as u16;
        nb += usize::from(or != 0);
    }
    let mut nw = 0;
    for &k in &blocks[..nb] {
        let at = usize::from(k) * 64;
        for (j, c) in window[at..at + 64].chunks_exact(8).enumerate() {
            let x = load(c);
            words[nw] = (x, ((at + 8 * j) * 8) as u32);
            nw += usize::from(x != 0);
        }
    }
    let tail = window.len() / 64 * 64;
    for (j, c) in window[tail..].chunks(8).enumerate() {
        let x = load(c);
        words[nw] = (x, ((tail + 8 * j) * 8) as u32);
        nw += usize::from(x != 0);
    }
    nw
}
