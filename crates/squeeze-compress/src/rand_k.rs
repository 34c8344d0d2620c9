//! Rand-K: keep $k$ uniformly random coordinates.

use squeeze_core::{
    Class, CompressCtx, CompressError, Compressor, Message, ParamError, Scalar, Sparsifier,
    SqueezeRng,
};

use crate::entry::{K_PARAMS, ParamDoc, Registered, compressor};
use crate::params::{KSpec, Params};

/// Rand-K: $\mathcal{C}(x) = \frac{d}{k}\sum_{j \in S} x_j e_j$ with $S$ a uniformly random
/// $k$-subset of $\lbrace0, \dots, d-1\rbrace$ drawn without replacement (`scaled=true`, the
/// default), or the plain projection $\sum_{j \in S} x_j e_j$ (`scaled=false`).
///
/// Class (each coordinate is kept with probability $p = k/d$):
/// * scaled: unbiased, $\mathbb{E}\thinspace\mathcal{C}(x)_j = p \cdot \frac{x_j}{p} = x_j$, and
///   $\mathbb{E}\lVert\mathcal{C}(x) - x\rVert^2 = \sum_j \big(p (\tfrac1p - 1)^2 + (1 - p)\big)
///   x_j^2 = (\tfrac{d}{k} - 1)\lVert x\rVert^2$, so $\omega = d/k - 1$ (tight for every $x$);
/// * unscaled: $\mathbb{E}\lVert\mathcal{C}(x) - x\rVert^2 = (1 - \tfrac{k}{d})\lVert x\rVert^2$,
///   contractive in expectation with $\alpha = k/d$ (algorithms.md §9.2).
///
/// $k$ is `k=` or `ratio=` ($k = \max(1, \lceil \text{ratio}\cdot d\rceil)$), $1 \le k \le d$.
///
/// Bits: a `Sparse` message, $4 + \lceil\log_2(d+1)\rceil + k\lceil\log_2 d\rceil + 32k$ for
/// `f32` (the indices are sent; papers that share the seed charge only $32k$, see
/// `BitConvention`).
///
/// Sampling (all randomness from `ctx.rng`): Floyd's algorithm draws a uniform $m$-subset with
/// exactly $m$ calls to `below` — for $j = d-m, \dots, d-1$: draw $t$ uniform in
/// $\lbrace0..j\rbrace$, insert $t$ unless already present, else insert $j$ — with membership kept
/// in a $d$-bit bitmap in `ctx.scratch.words`. For $k \le d/2$ it samples $S$ itself ($m = k$),
/// otherwise the complement ($m = d - k$). The sorted indices are then read off the bitmap word by
/// word (`trailing_zeros`). Cost per call: $O(\min(k, d-k) + d/64 + k)$ random draws and word
/// operations, no allocation once the scratch and message have grown; the finiteness scan of the
/// input (required by the contract) is one extra vectorised read pass.
///
/// If a scaled value $x_j d/k$ overflows the scalar type the call fails with
/// `CompressError::Incompatible` instead of sending $\pm\infty$.
///
/// ```
/// use squeeze_compress::RandK;
/// use squeeze_core::{Compressor, CompressCtx, Message, Scratch, SqueezeRng};
/// let c = RandK::with_count(2, true).unwrap();
/// let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(3), Scratch::default());
/// let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
/// let m = c.compress(&[1.0f32, 2.0, 3.0, 4.0], &mut ctx).unwrap();
/// let Message::Sparse { indices, values, .. } = &m else { panic!() };
/// assert_eq!(indices.len(), 2);
/// assert!(indices[0] < indices[1]);
/// // kept values are scaled by d/k = 2
/// for (&i, &v) in indices.iter().zip(values) {
///     assert_eq!(v, 2.0 * (i as f32 + 1.0));
/// }
/// assert_eq!(Compressor::<f32>::class(&c, 4).omega(), Some(1.0));
/// assert_eq!(m.bits(), 4 + 3 + 2 * 2 + 2 * 32);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandK {
    k: KSpec,
    scaled: bool,
}

impl RandK {
    /// Keep `k` (or `ratio·d`) coordinates; `scaled` multiplies them by $d/k$ (unbiased).
    pub fn new(k: KSpec, scaled: bool) -> Result<Self, ParamError> {
        let k = k.validated(Self::NAME)?;
        Ok(Self { k, scaled })
    }

    /// Keep exactly `k ≥ 1` coordinates.
    pub fn with_count(k: usize, scaled: bool) -> Result<Self, ParamError> {
        Self::new(KSpec::Count(k), scaled)
    }

    /// Keep $\max(1, \lceil \text{ratio}\cdot d\rceil)$ coordinates, `0 < ratio ≤ 1`.
    pub fn with_ratio(ratio: f64, scaled: bool) -> Result<Self, ParamError> {
        Self::new(KSpec::Ratio(ratio), scaled)
    }

    /// `true` for the unbiased variant (values × d/k).
    pub fn is_scaled(&self) -> bool {
        self.scaled
    }

    /// The number of kept coordinates at dimension `d`.
    pub fn k(&self, d: usize) -> Result<usize, CompressError> {
        self.k.resolve(Self::NAME, d)
    }
}

impl Registered for RandK {
    const NAME: &'static str = "rand_k";
    const SUMMARY: &'static str = "k uniformly random coordinates; scaled by d/k: unbiased ω = d/k − 1, unscaled: α = k/d in expectation; sparse, k(32 + ⌈log₂d⌉) bits (f32)";
    const PARAMS: &'static [ParamDoc] = &[
        K_PARAMS[0],
        K_PARAMS[1],
        ParamDoc {
            name: "scaled",
            doc: "true (default): values × d/k, unbiased; false: plain values, contractive",
        },
    ];
    const EXAMPLES: &'static [&'static str] = &[
        "rand_k:k=1",
        "rand_k:k=3",
        "rand_k:ratio=0.5",
        "rand_k:ratio=1",
        "rand_k:k=2,scaled=false",
    ];
    const BENCH: &'static [&'static str] = &["rand_k:ratio=0.01"];
    fn from_params(p: &mut Params) -> Result<Self, ParamError> {
        let k = KSpec::from_params(p)?;
        let scaled = p.bool("scaled")?.unwrap_or(true);
        Self::new(k, scaled)
    }
}

/// Zero the first `⌈d/64⌉` words of `words` (growing it if needed) and return that slice.
pub(crate) fn clear_bitmap(words: &mut Vec<u64>, d: usize) -> &mut [u64] {
    let nw = d.div_ceil(64);
    words.clear();
    words.resize(nw, 0);
    &mut words[..nw]
}

/// Floyd's algorithm: set `m` distinct uniformly random bits among the first `d` of `bitmap`
/// (which must be zero there), drawing exactly `m` numbers from `rng`.
pub(crate) fn floyd_sample(rng: &mut SqueezeRng, bitmap: &mut [u64], d: usize, m: usize) {
    for j in d - m..d {
        let t = rng.below(j as u64 + 1) as usize;
        // Branch-free: insert t, or j if t is already present (a select, not a jump, since
        // the outcome is unpredictable once the bitmap fills up).
        let taken = bitmap[t / 64] >> (t % 64) & 1 == 1;
        let p = if taken { j } else { t };
        bitmap[p / 64] |= 1 << (p % 64);
    }
}

/// Append the coordinates whose bit in `bitmap` is set (or clear, if `invert`), in increasing
/// order, with values `x_j · scale` (or `x_j` when `scale` is `None`). Returns `false` if a
/// scaled value is not finite.
pub(crate) fn extract_bitmap<S: Scalar>(
    bitmap: &[u64],
    invert: bool,
    x: &[S],
    scale: Option<S>,
    indices: &mut Vec<u32>,
    values: &mut Vec<S>,
) -> bool {
    let d = x.len();
    let flip = if invert { u64::MAX } else { 0 };
    let mut finite = true;
    for (wi, &word) in bitmap.iter().enumerate() {
        let mut w = word ^ flip;
        let base = wi * 64;
        if d - base < 64 {
            w &= (1u64 << (d - base)) - 1;
        }
        while w != 0 {
            let j = base + w.trailing_zeros() as usize;
            w &= w - 1;
            indices.push(j as u32);
            let v = match scale {
                Some(s) => {
                    let v = x[j] * s;
                    finite &= v.is_finite();
                    v
                }
                None => x[j],
            };
            values.push(v);
        }
    }
    finite
}

/// The error for a value that overflows after scaling by `d/k`.
pub(crate) fn overflow_error(
    component: &'static str,
    param: &'static str,
    d: usize,
) -> CompressError {
    CompressError::Incompatible {
        component,
        param,
        value: "scaling".to_string(),
        dim: d,
        hint: "a kept value times the unbiasing factor overflows the scalar type; rescale the input (or use a biased variant)".to_string(),
    }
}

compressor! {
    RandK, |self, dim| {
        spec: if self.scaled {
            format!("{}:{}", Self::NAME, self.k.spec())
        } else {
            format!("{}:{},scaled=false", Self::NAME, self.k.spec())
        },
        class: {
            let p = self.k.fraction(dim);
            if self.scaled {
                Class::Unbiased {
                    omega: 1.0 / p - 1.0,
                }
            } else {
                Class::Contractive { alpha: p }
            }
        },
        deterministic: false,
        fn check_dim(&self, dim: usize) -> Result<(), CompressError> {
            self.k(dim).map(|_| ())
        }
    }
    sparsify_into |x, ctx, indices, values| {
        let d = x.len();
        let k = self.k(d)?;
        squeeze_core::check_input(x)?;
        indices.clear();
        values.clear();
        indices.reserve(k);
        values.reserve(k);
        let invert = 2 * k > d;
        let m = if invert { d - k } else { k };
        let bitmap = clear_bitmap(&mut ctx.scratch.words, d);
        floyd_sample(ctx.rng, bitmap, d, m);
        let scale = (self.scaled && k < d).then(|| S::from_f64(d as f64 / k as f64));
        if !extract_bitmap(bitmap, invert, x, scale, indices, values) {
            return Err(overflow_error(<Self as Registered>::NAME, "scaled", d));
        }
        debug_assert_eq!(indices.len(), k);
        Ok(())
    },
    kept |d| self.k(d).ok(),
    projection: !self.scaled,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::assert_refused;
    use crate::registry::parse;
    use squeeze_core::Scratch;

    fn draw(c: &RandK, x: &[f64], rng: &mut SqueezeRng, scratch: &mut Scratch) -> Message<f64> {
        let mut ctx = CompressCtx::new(rng, scratch);
        c.compress(x, &mut ctx).unwrap()
    }

    /// Inclusion and pair-inclusion frequencies over N seeded draws, for both sampling branches
    /// (subset for k ≤ d/2, complement for k > d/2). Tolerance: 6 binomial standard errors
    /// (false-failure probability < 1e-8 per cell).
    #[test]
    fn inclusion_frequencies_are_uniform() {
        const N: usize = 100_000;
        let d = 10usize;
        for k in [1usize, 3, 5, 7, 9] {
            let c = RandK::with_count(k, false).unwrap();
            let x: Vec<f64> = (0..d).map(|j| j as f64 + 1.0).collect();
            let mut rng = SqueezeRng::from_seed_u64(1000 + k as u64);
            let mut scratch = Scratch::default();
            let mut single = vec![0usize; d];
            let mut pair = vec![0usize; d * d];
            let mut m = Message::default();
            for _ in 0..N {
                let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
                c.compress_into(&x, &mut ctx, &mut m).unwrap();
                let Message::Sparse {
                    indices, values, ..
                } = &m
                else {
                    panic!("not sparse")
                };
                assert_eq!(indices.len(), k);
                assert!(indices.windows(2).all(|w| w[0] < w[1]));
                for (&i, &v) in indices.iter().zip(values) {
                    assert_eq!(v, x[i as usize]);
                    single[i as usize] += 1;
                    for &j in indices {
                        pair[i as usize * d + j as usize] += 1;
                    }
                }
            }
            let p1 = k as f64 / d as f64;
            let p2 = (k * (k - 1)) as f64 / (d * (d - 1)) as f64;
            let tol = |p: f64| 6.0 * (p * (1.0 - p) / N as f64).sqrt() + 1e-12;
            for i in 0..d {
                let f = single[i] as f64 / N as f64;
                assert!((f - p1).abs() <= tol(p1), "k={k} coord {i}: {f} vs {p1}");
                for j in 0..d {
                    if i != j {
                        let f = pair[i * d + j] as f64 / N as f64;
                        assert!((f - p2).abs() <= tol(p2), "k={k} pair {i},{j}: {f} vs {p2}");
                    }
                }
            }
        }
    }

    #[test]
    fn scaled_values_and_unbiasedness() {
        let x = [1.0, -2.0, 0.5, 4.0, 0.0, -3.0];
        let c = RandK::with_count(2, true).unwrap();
        let mut rng = SqueezeRng::from_seed_u64(7);
        let mut scratch = Scratch::default();
        const N: usize = 60_000;
        let mut mean = [0.0f64; 6];
        let mut err = 0.0;
        for _ in 0..N {
            let m = draw(&c, &x, &mut rng, &mut scratch);
            if let Message::Sparse {
                indices, values, ..
            } = &m
            {
                for (&i, &v) in indices.iter().zip(values) {
                    assert_eq!(v, 3.0 * x[i as usize]);
                }
            }
            let y = m.to_dense().unwrap();
            for j in 0..6 {
                mean[j] += y[j] / N as f64;
                err += (y[j] - x[j]).powi(2) / N as f64;
            }
        }
        // Var of coordinate j's estimate is 2 x_j² (ω = d/k − 1 = 2); SE = sqrt(2/N)|x_j|.
        for j in 0..6 {
            let se = (2.0 / N as f64).sqrt() * x[j].abs();
            assert!(
                (mean[j] - x[j]).abs() <= 6.0 * se + 1e-12,
                "{j}: {}",
                mean[j]
            );
        }
        // E‖C(x) − x‖² = ω‖x‖² exactly; 2% tolerance (≈ 6 SE at N = 60000 for this x).
        let xx: f64 = x.iter().map(|v| v * v).sum();
        assert!(
            (err / (2.0 * xx) - 1.0).abs() < 0.02,
            "{err} vs {}",
            2.0 * xx
        );
    }

    #[test]
    fn k_equal_d_keeps_everything() {
        let x = [3.0, -1.0, 2.0];
        for spec in ["rand_k:ratio=1", "rand_k:k=3", "rand_k:k=3,scaled=false"] {
            let c = parse::<f64>(spec).unwrap();
            let mut rng = SqueezeRng::from_seed_u64(1);
            let mut scratch = Scratch::default();
            let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
            let m = c.compress(&x, &mut ctx).unwrap();
            assert_eq!(m.to_dense().unwrap(), x.to_vec(), "{spec}");
            assert_eq!(
                c.class(3).omega().or(c.class(3).alpha().map(|a| 1.0 - a)),
                Some(0.0)
            );
        }
    }

    #[test]
    fn classes_and_specs() {
        let c = parse::<f32>("rand_k:k=2,scaled=false").unwrap();
        assert_eq!(c.class(8).alpha(), Some(0.25));
        assert_eq!(c.spec(), "rand_k:k=2,scaled=false");
        let c = parse::<f32>("rand_k:ratio=0.5,scaled=true").unwrap();
        assert_eq!(c.spec(), "rand_k:ratio=0.5");
        // k = ⌈0.5·5⌉ = 3 ⇒ ω = 5/3 − 1
        assert!((c.class(5).omega().unwrap() - 2.0 / 3.0).abs() < 1e-15);
        let s = c.as_sparsifier().unwrap();
        assert_eq!(s.kept(5), Some(3));
        assert!(!s.is_projection());
        let u = parse::<f32>("rand_k:k=1,scaled=false").unwrap();
        assert!(u.as_sparsifier().unwrap().is_projection());
    }

    #[test]
    fn errors_are_actionable() {
        assert_refused("rand_k:k=0", "k must be ≥ 1");
        assert_refused("rand_k:ratio=1.5", "(0, 1]");
        assert_refused("rand_k:k=2,scaled=maybe", "true or false");
        assert_refused("rand_k", "needs k=");

        let c = RandK::with_count(5, true).unwrap();
        let mut rng = SqueezeRng::from_seed_u64(1);
        let mut scratch = Scratch::default();
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
        let e = c.compress(&[1.0f32; 3], &mut ctx).unwrap_err();
        assert!(
            matches!(e, CompressError::Incompatible { dim: 3, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("k must be ≤ d = 3"), "{e}");
        assert!(Compressor::<f32>::check_dim(&c, 3).is_err());
        assert_eq!(
            c.compress(&[] as &[f32], &mut ctx).unwrap_err(),
            CompressError::EmptyInput
        );
        let e = c
            .compress(
                &[1.0f32, 2.0, 3.0, 4.0, 5.0, f32::NAN, f32::INFINITY],
                &mut ctx,
            )
            .unwrap_err();
        assert!(
            matches!(e, CompressError::NonFinite { index: 5, .. }),
            "{e:?}"
        );
        // Overflow of the unbiasing factor is an error, not an infinite value.
        let c = RandK::with_count(1, true).unwrap();
        let e = c.compress(&[f32::MAX; 4], &mut ctx).unwrap_err();
        assert!(e.to_string().contains("overflows"), "{e}");
    }

    #[test]
    fn steady_state_reuses_buffers() {
        let c = RandK::with_ratio(0.3, true).unwrap();
        let x: Vec<f32> = (0..1000).map(|j| j as f32).collect();
        let mut rng = SqueezeRng::from_seed_u64(2);
        let mut scratch = Scratch::default();
        let mut m = Message::default();
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
        c.compress_into(&x, &mut ctx, &mut m).unwrap();
        let ptrs = |m: &Message<f32>| match m {
            Message::Sparse {
                indices, values, ..
            } => (indices.as_ptr(), values.as_ptr()),
            _ => panic!(),
        };
        let before = ptrs(&m);
        let words = ctx.scratch.words.as_ptr();
        for _ in 0..10 {
            c.compress_into(&x, &mut ctx, &mut m).unwrap();
            assert_eq!(ptrs(&m), before);
            assert_eq!(ctx.scratch.words.as_ptr(), words);
        }
    }

    #[test]
    fn stale_scratch_does_not_matter() {
        // Garbage left in scratch.words by another compressor must not change the result.
        let c = RandK::with_count(3, false).unwrap();
        let x: Vec<f64> = (0..130).map(|j| j as f64).collect();
        let a = draw(
            &c,
            &x,
            &mut SqueezeRng::from_seed_u64(5),
            &mut Scratch::default(),
        );
        let mut dirty = Scratch {
            words: vec![u64::MAX; 7],
            ..Scratch::default()
        };
        let b = draw(&c, &x, &mut SqueezeRng::from_seed_u64(5), &mut dirty);
        assert_eq!(a, b);
    }
}
