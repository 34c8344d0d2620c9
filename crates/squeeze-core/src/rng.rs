//! Seeded random streams. No entropy source is ever consulted.
//!
//! Every random stream in squeeze is a [`SqueezeRng`] (xoshiro256++, serialisable so that
//! checkpoints capture it) derived from the experiment's one seed by [`SqueezeRng::stream`]:
//!
//! ```text
//! state = SplitMix64 expansion of mix(seed, purpose, index)
//! mix(a, b, c) = sm(sm(sm(a) ^ b) ^ c),   sm = SplitMix64 finaliser (Steele et al. 2014)
//! ```
//!
//! so that streams for different purposes ([`Purpose`]) and workers (`index`) never share a
//! seed word. The per-round seed shared by all workers (Perm-K permutations, shared coins) is
//! the pure function [`round_seed`]`(seed, round)`.
//!
//! [`WideRng`] runs 8 independent xoshiro256++ lanes side by side; its fill loop
//! auto-vectorises, which is what lets QSGD and natural compression draw one random number per
//! coordinate near memory speed. [`WideRng::advance`] jumps every lane ahead by any number of
//! steps exactly (see [`jump`]), which lets a compressor split one long fill across threads and
//! still draw the very words a sequential fill would.

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{SeedableRng, TryRng};
use serde::{Deserialize, Serialize};

/// What a random stream is used for; part of the stream derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u64)]
pub enum Purpose {
    /// Synthetic data generation.
    Data = 0x6461_7461,
    /// Splitting data across workers.
    Split = 0x7370_6c69,
    /// Minibatch and participation sampling.
    Sampling = 0x7361_6d70,
    /// Randomised compressors.
    Compression = 0x636f_6d70,
    /// Random graphs.
    Topology = 0x746f_706f,
    /// Initial points.
    Init = 0x696e_6974,
    /// Per-round values shared by all workers.
    Shared = 0x7368_6172,
    /// Privacy noise.
    Noise = 0x6e6f_6973,
}

/// SplitMix64 finaliser (a bijection on u64 with good avalanche).
#[inline]
pub const fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Deterministic mixer of three words, used for every stream derivation.
#[inline]
pub const fn mix(a: u64, b: u64, c: u64) -> u64 {
    splitmix64(splitmix64(splitmix64(a) ^ b) ^ c)
}

/// The seed shared by all workers in `round` (Perm-K permutations, shared coins).
///
/// ```
/// use squeeze_core::rng::round_seed;
/// assert_eq!(round_seed(7, 3), round_seed(7, 3));
/// assert_ne!(round_seed(7, 3), round_seed(7, 4));
/// ```
#[inline]
pub const fn round_seed(seed: u64, round: u64) -> u64 {
    mix(seed, Purpose::Shared as u64, round)
}

/// Expand one word into a xoshiro256 state with SplitMix64 (the generator authors' recipe;
/// the all-zero state replaced): the state [`SqueezeRng::from_seed_u64`] starts from.
pub fn seed_state(word: u64) -> [u64; 4] {
    let mut s = [0u64; 4];
    let mut z = word;
    for v in &mut s {
        *v = splitmix64(z);
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    }
    if s == [0; 4] {
        s[0] = 1;
    }
    s
}

/// The one random generator type of squeeze: xoshiro256++ with explicit seeding only.
///
/// ```
/// use squeeze_core::rng::{Purpose, SqueezeRng};
/// let mut a = SqueezeRng::stream(42, Purpose::Compression, 3);
/// let mut b = SqueezeRng::stream(42, Purpose::Compression, 3);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let u = a.next_f64();
/// assert!((0.0..1.0).contains(&u));
/// assert!(a.below(10) < 10);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqueezeRng(Xoshiro256PlusPlus);

impl SqueezeRng {
    /// A generator seeded from one word.
    pub fn from_seed_u64(seed: u64) -> Self {
        let s = seed_state(seed);
        let mut bytes = [0u8; 32];
        for (chunk, w) in bytes.chunks_exact_mut(8).zip(s) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        Self(Xoshiro256PlusPlus::from_seed(bytes))
    }

    /// The stream for `purpose` and `index` (worker or node) under experiment seed `seed`.
    pub fn stream(seed: u64, purpose: Purpose, index: u64) -> Self {
        Self::from_seed_u64(mix(seed, purpose as u64, index))
    }

    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        match self.0.try_next_u64() {
            Ok(v) => v,
            Err(e) => match e {},
        }
    }

    /// Next 32 random bits (the high half of a 64-bit draw).
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` (`n ≥ 1`), unbiased (Lemire's multiply-and-reject,
    /// [`below_with`] on this generator's words).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        below_with(n, || self.next_u64())
    }

    /// `true` with probability `p` (clamped to `[0, 1]`).
    #[inline]
    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// Standard normal via Box–Muller (two uniforms per draw; deterministic).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (core::f64::consts::TAU * u2).cos()
    }

    /// Fill `out` with random words.
    pub fn fill_u64(&mut self, out: &mut [u64]) {
        for v in out {
            *v = self.next_u64();
        }
    }
}

/// Uniform integer in `0..n` from a stream of uniform 64-bit words `next`, unbiased
/// (Lemire's multiply-and-reject): $\lfloor wn/2^{64}\rfloor$ for the first word $w$ whose low
/// product half $wn \bmod 2^{64}$ is at least $2^{64} \bmod n$. Draws one word, more only on
/// a rejection (probability below $n/2^{64}$), none for `n ≤ 1` (then 0). The code of
/// [`SqueezeRng::below`], for other streams of the same words.
///
/// ```
/// use squeeze_core::rng::below_with;
/// let mut words = [u64::MAX, 0].into_iter();
/// assert_eq!(below_with(10, || words.next().unwrap()), 9);
/// assert_eq!(below_with(1, || unreachable!()), 0);
/// ```
#[inline(always)]
pub fn below_with(n: u64, mut next: impl FnMut() -> u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    let mut m = (next() as u128) * (n as u128);
    if (m as u64) < n {
        let t = n.wrapping_neg() % n;
        while (m as u64) < t {
            m = (next() as u128) * (n as u128);
        }
    }
    (m >> 64) as u64
}

impl TryRng for SqueezeRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.next_u32())
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.next_u64())
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.0.try_fill_bytes(dst)
    }
}

/// Number of independent lanes in [`WideRng`].
pub const WIDE_LANES: usize = 8;

/// Eight xoshiro256++ lanes stepped together; `fill` auto-vectorises.
///
/// Seed it from a [`SqueezeRng`] at the start of a compression call (8 lanes × 4 words = 32
/// draws), then draw blocks of random words at several GB/s. Output order is fixed: word `k` of
/// a fill comes from lane `k % 8`.
///
/// ```
/// use squeeze_core::rng::{SqueezeRng, WideRng};
/// let mut base = SqueezeRng::from_seed_u64(1);
/// let mut w = WideRng::from_rng(&mut base);
/// let mut buf = [0u64; 20];
/// w.fill(&mut buf);
/// let mut again = WideRng::from_rng(&mut SqueezeRng::from_seed_u64(1));
/// let mut buf2 = [0u64; 20];
/// again.fill(&mut buf2);
/// assert_eq!(buf, buf2);
/// ```
#[derive(Debug, Clone)]
pub struct WideRng {
    s: [[u64; WIDE_LANES]; 4],
    buf: [u64; WIDE_LANES],
    used: usize,
}

impl WideRng {
    /// Seed all lanes from `rng`.
    pub fn from_rng(rng: &mut SqueezeRng) -> Self {
        let mut s = [[0u64; WIDE_LANES]; 4];
        for lane in 0..WIDE_LANES {
            let st = seed_state(rng.next_u64());
            for (row, v) in s.iter_mut().zip(st) {
                row[lane] = v;
            }
        }
        Self {
            s,
            buf: [0; WIDE_LANES],
            used: WIDE_LANES,
        }
    }

    /// Skip the next `8·steps` words of the output exactly: afterwards the generator is in the
    /// state that `steps` calls of `fill` on 8 words would leave it in (each lane advanced by
    /// `steps` xoshiro256 transitions, via [`jump::advance_state`]). Costs
    /// $O(\mathrm{popcount}(steps))$ 256-bit matrix–vector products per lane, not $O(steps)$.
    ///
    /// ```
    /// use squeeze_core::rng::{SqueezeRng, WideRng};
    /// let mut seq = WideRng::from_rng(&mut SqueezeRng::from_seed_u64(4));
    /// let mut jumped = seq.clone();
    /// let mut skipped = vec![0u64; 8 * 1000];
    /// seq.fill(&mut skipped);
    /// jumped.advance(1000);
    /// let (mut a, mut b) = ([0u64; 11], [0u64; 11]);
    /// seq.fill(&mut a);
    /// jumped.fill(&mut b);
    /// assert_eq!(a, b);
    /// ```
    pub fn advance(&mut self, steps: u64) {
        if steps == 0 {
            return;
        }
        // Words still buffered (`used < 8`) are part of the skipped stretch: skip the rest of
        // this buffer plus `steps − 1` lane steps, then refill, leaving `used` where it was.
        let buffered = self.used < WIDE_LANES;
        let lane_steps = if buffered { steps - 1 } else { steps };
        for lane in 0..WIDE_LANES {
            let st = [
                self.s[0][lane],
                self.s[1][lane],
                self.s[2][lane],
                self.s[3][lane],
            ];
            let st = jump::advance_state(st, lane_steps);
            for (row, v) in self.s.iter_mut().zip(st) {
                row[lane] = v;
            }
        }
        if buffered {
            self.buf = self.step();
        }
    }

    #[inline(always)]
    fn step(&mut self) -> [u64; WIDE_LANES] {
        step_lanes(&mut self.s)
    }

    /// Fill `out` with random words. The whole groups of 8 words run through
    /// `fill_lanes` (an AVX2 copy when the CPU has it: 4 lanes per instruction instead of
    /// 2; integer operations, so the same words).
    pub fn fill(&mut self, out: &mut [u64]) {
        let whole = out.len() / WIDE_LANES * WIDE_LANES;
        let (head, tail) = out.split_at_mut(whole);
        fill_lanes(&mut self.s, head);
        for v in tail {
            *v = self.next_u64();
        }
    }

    /// One random word (buffered lane output).
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        if self.used == WIDE_LANES {
            self.buf = self.step();
            self.used = 0;
        }
        let v = self.buf[self.used];
        self.used += 1;
        v
    }
}

/// One step of `N` xoshiro256++ generators stored lane-wise (`s[i][k]` is state word `i` of
/// lane `k`): their outputs, states advanced. Plain loops over the lanes, which vectorise;
/// used for the [`WideRng`] lanes (`N` = 8) and Perm-K's shared stream (`N` = 4).
#[inline(always)]
pub fn step_lanes<const N: usize>(s: &mut [[u64; N]; 4]) -> [u64; N] {
    let [s0, s1, s2, s3] = s;
    let mut out = [0u64; N];
    for i in 0..N {
        let sum = s0[i].wrapping_add(s3[i]);
        out[i] = sum.rotate_left(23).wrapping_add(s0[i]);
        let t = s1[i] << 17;
        s2[i] ^= s0[i];
        s3[i] ^= s1[i];
        s1[i] ^= s2[i];
        s0[i] ^= s3[i];
        s2[i] ^= t;
        s3[i] = s3[i].rotate_left(45);
    }
    out
}

/// `out` (a multiple of 8 words) filled by successive lane steps: word `k` from lane `k % 8`.
#[inline(always)]
fn fill_lanes_body(s: &mut [[u64; WIDE_LANES]; 4], out: &mut [u64]) {
    for c in out.chunks_exact_mut(WIDE_LANES) {
        c.copy_from_slice(&step_lanes(s));
    }
}

crate::dispatch_avx2! {
    /// [`fill_lanes_body`], dispatched (see [`crate::simd`]).
    fn fill_lanes(s: &mut [[u64; WIDE_LANES]; 4], out: &mut [u64]) => fill_lanes_body
}

pub mod jump {
    //! Exact jump-ahead for xoshiro256 states.
    //!
    //! The state transition $T$ of xoshiro256 (the output scrambler `++` aside) is linear over
    //! $\mathrm{GF}(2)^{256}$ (Blackman & Vigna 2021, arXiv 1805.01407): shifts, rotations and
    //! XORs. So $T^n$ is a $256\times256$ bit matrix and
    //! $T^n = \prod_{j:\ n_j = 1} T^{2^j}$ over the binary digits $n_j$ of $n$. The matrices
    //! $T^{2^j}$, $j < 64$, are computed on first use by repeated squaring (8 KiB each, only
    //! the ones a jump needs) and cached for the life of the process.

    use std::sync::OnceLock;

    /// One xoshiro256 state transition (the linear part of xoshiro256++).
    #[inline]
    pub fn transition(s: [u64; 4]) -> [u64; 4] {
        let [mut s0, mut s1, mut s2, mut s3] = s;
        let t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = s3.rotate_left(45);
        [s0, s1, s2, s3]
    }

    /// A linear map on 256-bit states by its columns: `cols[i]` is the image of bit `i % 64`
    /// of word `i / 64`.
    struct BitMatrix([[u64; 4]; 256]);

    impl BitMatrix {
        fn apply(&self, v: [u64; 4]) -> [u64; 4] {
            let mut r = [0u64; 4];
            for (w, &word) in v.iter().enumerate() {
                let mut bits = word;
                while bits != 0 {
                    let c = &self.0[w * 64 + bits.trailing_zeros() as usize];
                    for (ri, ci) in r.iter_mut().zip(c) {
                        *ri ^= ci;
                    }
                    bits &= bits - 1;
                }
            }
            r
        }
    }

    /// $T^{2^j}$ (computed on first use, from $T^{2^{j-1}}$).
    fn power_of_two(j: usize) -> &'static BitMatrix {
        static POWERS: [OnceLock<Box<BitMatrix>>; 64] = [const { OnceLock::new() }; 64];
        POWERS[j].get_or_init(|| {
            let mut m = Box::new(BitMatrix([[0; 4]; 256]));
            if j == 0 {
                for (i, col) in m.0.iter_mut().enumerate() {
                    let mut e = [0u64; 4];
                    e[i / 64] = 1 << (i % 64);
                    *col = transition(e);
                }
            } else {
                let half = power_of_two(j - 1);
                for (col, h) in m.0.iter_mut().zip(&half.0) {
                    *col = half.apply(*h);
                }
            }
            m
        })
    }

    /// The state after `steps` transitions of `s`, exactly (see the module docs).
    ///
    /// ```
    /// use squeeze_core::rng::jump::{advance_state, transition};
    /// let mut s = [1u64, 2, 3, 4];
    /// let jumped = advance_state(s, 77);
    /// for _ in 0..77 {
    ///     s = transition(s);
    /// }
    /// assert_eq!(jumped, s);
    /// ```
    pub fn advance_state(mut s: [u64; 4], steps: u64) -> [u64; 4] {
        let mut rest = steps;
        while rest != 0 {
            let j = rest.trailing_zeros() as usize;
            s = power_of_two(j).apply(s);
            rest &= rest - 1;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_fill_avx2_copy_equals_portable_copy() {
        for len in (0..70).chain([1024, 4099]) {
            let mut base = SqueezeRng::from_seed_u64(len as u64 + 5);
            let w = WideRng::from_rng(&mut base);
            let (mut fast, mut slow) = (w.clone(), w);
            let (mut a, mut b) = (vec![0u64; len], vec![0u64; len]);
            // Two fills each, so the lane buffer carries over between calls.
            fast.fill(&mut a[..len / 3]);
            fast.fill(&mut a[len / 3..]);
            crate::simd::portable(|| {
                slow.fill(&mut b[..len / 3]);
                slow.fill(&mut b[len / 3..]);
            });
            assert_eq!(a, b, "len {len}");
            assert_eq!(fast.next_u64(), slow.next_u64());
        }
        // The words are xoshiro256++ of each lane, word k from lane k % 8.
        let mut base = SqueezeRng::from_seed_u64(9);
        let mut w = WideRng::from_rng(&mut base);
        let mut out = vec![0u64; 40];
        w.fill(&mut out);
        let mut base = SqueezeRng::from_seed_u64(9);
        let lanes: Vec<u64> = (0..WIDE_LANES).map(|_| base.next_u64()).collect();
        for (lane, &seed) in lanes.iter().enumerate() {
            let st = seed_state(seed);
            let mut bytes = [0u8; 32];
            for (chunk, v) in bytes.chunks_exact_mut(8).zip(st) {
                chunk.copy_from_slice(&v.to_le_bytes());
            }
            let mut x = Xoshiro256PlusPlus::from_seed(bytes);
            for k in 0..5 {
                assert_eq!(out[k * WIDE_LANES + lane], x.try_next_u64().unwrap());
            }
        }
    }

    #[test]
    fn jump_equals_sequential_transitions() {
        let mut r = SqueezeRng::from_seed_u64(11);
        for _ in 0..12 {
            let s0 = [r.next_u64(), r.next_u64(), r.next_u64(), r.next_u64()];
            let n = r.below(5000);
            let mut s = s0;
            for _ in 0..n {
                s = jump::transition(s);
            }
            assert_eq!(jump::advance_state(s0, n), s, "n = {n}");
        }
        // Large jumps compose: T^a · T^b = T^(a+b), also across the top bit.
        let s0 = [5u64, 6, 7, 8];
        for (a, b) in [
            (1u64 << 40, 3u64),
            (u64::MAX / 3, 12345),
            (1 << 63, (1 << 63) - 1),
        ] {
            let once = jump::advance_state(s0, a + b);
            let twice = jump::advance_state(jump::advance_state(s0, a), b);
            assert_eq!(once, twice, "{a} + {b}");
        }
    }

    #[test]
    fn wide_advance_equals_skipping_words_including_buffered_ones() {
        let mut base = SqueezeRng::from_seed_u64(21);
        for (pre, steps) in [(0usize, 1u64), (0, 513), (3, 1), (5, 700), (8, 64), (13, 0)] {
            let mut a = WideRng::from_rng(&mut base);
            let mut b = a.clone();
            for _ in 0..pre {
                a.next_u64();
                b.next_u64();
            }
            let mut skip = vec![0u64; 8 * steps as usize];
            for v in &mut skip {
                *v = a.next_u64();
            }
            b.advance(steps);
            for k in 0..20 {
                assert_eq!(
                    a.next_u64(),
                    b.next_u64(),
                    "pre {pre} steps {steps} word {k}"
                );
            }
        }
    }

    #[test]
    fn chunked_fill_equals_one_fill() {
        let mut w = WideRng::from_rng(&mut SqueezeRng::from_seed_u64(8));
        let mut whole = vec![0u64; 4096 + 5];
        w.clone().fill(&mut whole);
        let mut parts = vec![0u64; whole.len()];
        for (i, c) in parts.chunks_mut(1024).enumerate() {
            let mut lane = w.clone();
            lane.advance(i as u64 * 1024 / 8);
            lane.fill(c);
        }
        assert_eq!(parts, whole);
        w.advance(0);
        let mut again = vec![0u64; whole.len()];
        w.fill(&mut again);
        assert_eq!(again, whole);
    }

    #[test]
    fn streams_differ_by_purpose_and_index() {
        let a = SqueezeRng::stream(1, Purpose::Compression, 0).next_u64();
        let b = SqueezeRng::stream(1, Purpose::Compression, 1).next_u64();
        let c = SqueezeRng::stream(1, Purpose::Sampling, 0).next_u64();
        assert!(a != b && a != c && b != c);
    }

    #[test]
    fn wide_rng_lanes_match_scalar_xoshiro() {
        // Lane 0 of WideRng must be exactly xoshiro256++ on its state.
        let mut base = SqueezeRng::from_seed_u64(9);
        let mut probe = base.clone();
        let mut w = WideRng::from_rng(&mut base);
        let first_seed = probe.next_u64();
        let mut scalar = SqueezeRng::from_seed_u64(first_seed);
        let mut buf = [0u64; 32];
        w.fill(&mut buf);
        for k in 0..4 {
            assert_eq!(buf[k * WIDE_LANES], scalar.next_u64());
        }
    }

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut r = SqueezeRng::from_seed_u64(5);
        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            counts[r.below(7) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn serde_round_trip_preserves_state() {
        let mut r = SqueezeRng::from_seed_u64(3);
        r.next_u64();
        let json = serde_json::to_string(&r).unwrap();
        let mut back: SqueezeRng = serde_json::from_str(&json).unwrap();
        assert_eq!(r.next_u64(), back.next_u64());
    }
}
