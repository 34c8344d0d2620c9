//! Perm-K: correlated sparsification with a permutation shared by all workers (MARINA).

use squeeze_core::{
    Class, CompressCtx, CompressError, Compressor, Message, ParamError, Scalar, Sparsifier,
    SqueezeRng,
};

use crate::entry::{ParamDoc, Registered, compressor};
use crate::params::Params;
use crate::rand_k::overflow_error;

pub mod assign;

/// Domain-separation word mixed into `ctx.round_seed` ("perm").
const PERM_TAG: u64 = 0x7065_726d;

/// Perm-K (Szlendak, Tyurin, Richtárik 2021, "Permutation compressors for provably faster
/// distributed nonconvex optimization"; used with MARINA, algorithms.md §6.3, §9.2).
///
/// All $n$ workers of a round use the same uniformly random permutation $\pi$ of $\lbrace0, \dots,
/// d-1\rbrace$, drawn from the shared `ctx.round_seed` (implicitly, see *Sampling*), cut into $n$
/// contiguous blocks $B_0, \dots, B_{n-1}$ of sizes $\lfloor d/n\rfloor$ or $\lceil d/n\rceil$ (the
/// first $d \bmod n$ blocks are the longer ones). Worker $i$ (`ctx.worker`) sends
/// $$\mathcal C_i(x) = \frac{d}{|B_i|}\sum_{j \in B_i} x_j e_j .$$
///
/// Class: $B_i$ is a uniformly random $|B_i|$-subset, so each $\mathcal C_i$ is Rand-$|B_i|$:
/// unbiased with $\mathbb{E}\lVert\mathcal C_i(x) - x\rVert^2 = (d/|B_i| - 1)\lVert x\rVert^2$. The
/// class reports the worst worker, $\omega = d/\min_i |B_i| - 1 = d/\lfloor d/n\rfloor - 1$ ($= n -
/// 1$ when $n \mid d$). The point of Perm-K is the correlation: the blocks partition the
/// coordinates, so when $n \mid d$ and all workers compress the same $x$, $\frac1n\sum_i \mathcal C_i(x) =
/// x$ exactly (MARINA's theory then uses the "Hessian variance" $L_\pm$ instead of $\omega$).
///
/// Requirements: $d \ge n$ (checked by `check_dim`) and `ctx.worker` $< n$ (a
/// `CompressError::Context` otherwise). `ctx.n_workers` is not consulted: `n` is the parameter.
///
/// Bits: a `Sparse` message with $|B_i| \le \lceil d/n\rceil$ entries,
/// $4 + \lceil\log_2(d+1)\rceil + |B_i|(\lceil\log_2 d\rceil + 32)$ for `f32` (papers that share
/// the seed charge only $32 d/n$).
///
/// *Sampling*: $\pi$ is never materialised; only the blocks' sets matter. Cutting a uniform permutation into blocks of fixed
/// sizes $b_0, \dots, b_{n-1}$ gives every ordered partition with those block sizes the
/// probability $\prod_l b_l!/d!$; so does assigning the coordinates $j = 0, 1, \dots$ in turn
/// to block $l$ with probability (places left in $l$)/(coordinates left), which is what is done:
/// with one shared draw $r_j$ uniform in $\lbrace0, \dots, d-j-1\rbrace$ per coordinate (from a
/// generator seeded by `ctx.round_seed` alone, the same sequence on every worker), coordinate
/// $j$ goes to the block whose range of remaining places contains $r_j$. Worker $i$ only needs
/// to count the places left before its block and in it, so a call is one sequential pass of
/// at most $d$ draws with no working memory (nothing in scratch, no allocation once the
/// message has grown), and the kept indices come out sorted. It stops once block $i$ is full,
/// and takes the rest in one go once only block $i$'s places are left.
///
/// ```
/// use squeeze_compress::PermK;
/// use squeeze_core::{Compressor, CompressCtx, Scratch, SqueezeRng};
/// let c = PermK::new(2).unwrap();
/// let x = [1.0f64, 2.0, 3.0, 4.0];
/// let mut sum = vec![0.0; 4];
/// for worker in 0..2 {
///     let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(worker as u64), Scratch::default());
///     let mut ctx = CompressCtx::new(&mut rng, &mut scratch)
///         .with_worker(worker, 2)
///         .with_round_seed(77);
///     let m = c.compress(&x, &mut ctx).unwrap();
///     m.add_to(&mut sum, 0.5).unwrap(); // average over the 2 workers
/// }
/// assert_eq!(sum, x.to_vec());
/// assert_eq!(Compressor::<f64>::class(&c, 4).omega(), Some(1.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PermK {
    n: usize,
}

impl PermK {
    /// Perm-K for `n ≥ 1` workers.
    pub fn new(n: usize) -> Result<Self, ParamError> {
        if n == 0 {
            return Err(ParamError::new(
                Self::NAME,
                "n",
                0,
                "n is the number of workers and must be ≥ 1",
            ));
        }
        if n > u32::MAX as usize {
            return Err(ParamError::new(
                Self::NAME,
                "n",
                n,
                "n must be ≤ 2³² − 1 (and ≤ d)",
            ));
        }
        Ok(Self { n })
    }

    /// Number of workers (blocks).
    pub fn n(&self) -> usize {
        self.n
    }

    /// The half-open range of positions of `π` that block `i` covers at dimension `d`.
    pub fn block(&self, i: usize, d: usize) -> core::ops::Range<usize> {
        let (q, r) = (d / self.n, d % self.n);
        let start = i * q + i.min(r);
        start..start + q + usize::from(i < r)
    }

    fn check(&self, d: usize) -> Result<(), CompressError> {
        squeeze_core::check_dim_basic(d)?;
        if d < self.n {
            return Err(CompressError::Incompatible {
                component: Self::NAME,
                param: "n",
                value: self.n.to_string(),
                dim: d,
                hint: format!(
                    "Perm-K needs d ≥ n so every worker gets a coordinate; use at most {d} workers, or rand_k for tiny vectors"
                ),
            });
        }
        Ok(())
    }
}

impl Registered for PermK {
    const NAME: &'static str = "perm_k";
    const SUMMARY: &'static str = "shared random permutation, worker i keeps block i (≈ d/n coords) × d/|B_i|; unbiased ω = d/⌊d/n⌋ − 1, exact average when n | d [Szlendak et al. 2021]";
    const PARAMS: &'static [ParamDoc] = &[ParamDoc {
        name: "n",
        doc: "number of workers ≥ 1 (= number of blocks); needs d ≥ n and ctx.worker < n",
    }];
    const EXAMPLES: &'static [&'static str] = &["perm_k:n=1", "perm_k:n=4"];
    const BENCH: &'static [&'static str] = &["perm_k:n=4"];
    fn from_params(p: &mut Params) -> Result<Self, ParamError> {
        let n = p.require(
            "n",
            Params::u64,
            "perm_k needs n=<number of workers>, e.g. perm_k:n=4",
        )?;
        Self::new(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

compressor! {
    PermK, |self, dim| {
        spec: format!("{}:n={}", Self::NAME, self.n),
        class: {
            let min_block = (dim / self.n).max(1);
            Class::Unbiased {
                omega: dim.max(1) as f64 / min_block as f64 - 1.0,
            }
        },
        deterministic: false,
        fn check_dim(&self, dim: usize) -> Result<(), CompressError> {
            self.check(dim)
        }
    }
    sparsify_into |x, ctx, indices, values| {
        let d = x.len();
        self.check(d)?;
        if ctx.worker >= self.n {
            return Err(CompressError::Context {
                component: Self::NAME,
                what: format!(
                    "worker index {} but perm_k was configured for n = {} workers; set n to the number of workers (perm_k:n={})",
                    ctx.worker,
                    self.n,
                    ctx.n_workers.max(ctx.worker + 1)
                ),
            });
        }
        squeeze_core::check_input(x)?;
        let block = self.block(ctx.worker, d);
        let b = block.len();
        // Exactly 1 when b = d (n = 1).
        let scale = S::from_f64(d as f64 / b as f64);
        indices.clear();
        indices.resize(b, 0);
        values.clear();
        values.resize(b, S::ZERO);

        // Sequential assignment from the shared seed (see the type's doc and `assign`): the
        // kept indices first, then their values in one streaming gather (indices sorted).
        let mut rng =
            SqueezeRng::from_seed_u64(squeeze_core::rng::mix(ctx.round_seed, PERM_TAG, 0));
        assign::assign(&mut rng, d, block.start, b, indices);
        for (v, &jj) in values.iter_mut().zip(indices.iter()) {
            *v = x[jj as usize] * scale;
        }
        if squeeze_core::ops::first_non_finite(values).is_some() {
            return Err(overflow_error(<Self as Registered>::NAME, "n", d));
        }
        Ok(())
    },
    kept |d| (d >= self.n && d > 0).then(|| d.div_ceil(self.n)),
    projection: false,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::assert_refused;
    use crate::registry::parse;
    use squeeze_core::Scratch;

    fn run(c: &PermK, x: &[f64], worker: usize, round_seed: u64, private: u64) -> Message<f64> {
        let mut rng = SqueezeRng::from_seed_u64(private);
        let mut scratch = Scratch::default();
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch)
            .with_worker(worker, c.n())
            .with_round_seed(round_seed);
        c.compress(x, &mut ctx).unwrap()
    }

    fn support(m: &Message<f64>) -> Vec<u32> {
        match m {
            Message::Sparse { indices, .. } => indices.clone(),
            _ => panic!("not sparse"),
        }
    }

    #[test]
    fn blocks_partition_and_have_near_equal_sizes() {
        let c = PermK::new(4).unwrap();
        assert_eq!(
            (0..4).map(|i| c.block(i, 10)).collect::<Vec<_>>(),
            vec![0..3, 3..6, 6..8, 8..10]
        );
        let x: Vec<f64> = (0..10).map(|j| j as f64 + 1.0).collect();
        let mut all: Vec<u32> = Vec::new();
        for i in 0..4 {
            // Different private streams: the permutation must come from the round seed only.
            let s = support(&run(&c, &x, i, 9, 100 + i as u64));
            assert!(s.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(s.len(), c.block(i, 10).len());
            all.extend(s);
        }
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<u32>>());
        // ω = d/⌊d/n⌋ − 1 = 10/2 − 1
        assert_eq!(Compressor::<f64>::class(&c, 10).omega(), Some(4.0));
        assert_eq!(Sparsifier::<f64>::kept(&c, 10), Some(3));
    }

    #[test]
    fn average_over_workers_is_exact_when_n_divides_d() {
        for (n, d) in [(4usize, 12usize), (4, 64), (2, 7 * 2), (1, 5)] {
            let c = PermK::new(n).unwrap();
            let x: Vec<f64> = (0..d).map(|j| (j as f64 - 3.3) * 0.7).collect();
            for round in 0..20u64 {
                let mut avg = vec![0.0; d];
                for i in 0..n {
                    let m = run(&c, &x, i, round, i as u64);
                    if let Message::Sparse {
                        indices, values, ..
                    } = &m
                    {
                        for (&j, &v) in indices.iter().zip(values) {
                            assert_eq!(v, n as f64 * x[j as usize]);
                        }
                    }
                    m.add_to(&mut avg, 1.0 / n as f64).unwrap();
                }
                assert_eq!(avg, x, "n={n} d={d} round={round}");
            }
        }
        // n = 3 (not a power of two): exact up to the rounding of (3x)/3.
        let c = PermK::new(3).unwrap();
        let x: Vec<f64> = (0..9).map(|j| j as f64 * 0.37 - 1.0).collect();
        let mut avg = vec![0.0; 9];
        for i in 0..3 {
            run(&c, &x, i, 5, 0).add_to(&mut avg, 1.0 / 3.0).unwrap();
        }
        for (a, b) in avg.iter().zip(&x) {
            assert!((a - b).abs() <= 4.0 * f64::EPSILON * b.abs(), "{a} vs {b}");
        }
    }

    #[test]
    fn permutation_changes_with_the_round_and_is_uniform() {
        // Block 0 of n = 5 at d = 10 is a uniform 2-subset: each coordinate in it w.p. 1/5.
        // N = 50000 rounds; tolerance 6 binomial standard errors.
        let c = PermK::new(5).unwrap();
        let x = vec![1.0; 10];
        const N: usize = 50_000;
        let mut counts = [0usize; 10];
        let mut rng = SqueezeRng::from_seed_u64(0);
        let mut scratch = Scratch::default();
        let mut m = Message::default();
        for round in 0..N as u64 {
            let mut ctx = CompressCtx::new(&mut rng, &mut scratch)
                .with_worker(0, 5)
                .with_round_seed(squeeze_core::rng::round_seed(42, round));
            c.compress_into(&x, &mut ctx, &mut m).unwrap();
            for j in support(&m) {
                counts[j as usize] += 1;
            }
        }
        let p = 0.2;
        let tol = 6.0 * (p * (1.0 - p) / N as f64).sqrt();
        for (j, &k) in counts.iter().enumerate() {
            let f = k as f64 / N as f64;
            assert!((f - p).abs() <= tol, "coord {j}: {f}");
        }
    }

    #[test]
    fn each_worker_is_unbiased() {
        // d = 7, n = 3: blocks of 3, 2, 2 scaled by 7/3, 7/2, 7/2.
        let c = PermK::new(3).unwrap();
        let x = [1.0, -2.0, 3.0, 0.5, 0.0, 4.0, -1.5];
        const N: usize = 40_000;
        for i in 0..3 {
            let b = c.block(i, 7).len() as f64;
            let w = 7.0 / b - 1.0;
            let mut mean = [0.0; 7];
            for round in 0..N as u64 {
                let y = run(&c, &x, i, round, 0).to_dense().unwrap();
                for j in 0..7 {
                    mean[j] += y[j] / N as f64;
                }
            }
            for j in 0..7 {
                let se = (w / N as f64).sqrt() * x[j].abs();
                assert!(
                    (mean[j] - x[j]).abs() <= 6.0 * se + 1e-12,
                    "worker {i} coord {j}"
                );
            }
        }
        assert!((Compressor::<f64>::class(&c, 7).omega().unwrap() - 2.5).abs() < 1e-15);
    }

    #[test]
    fn errors_are_actionable() {
        assert_refused("perm_k:n=0", "must be ≥ 1");
        assert_refused("perm_k", "needs n=");
        let c = PermK::new(4).unwrap();
        let e = Compressor::<f32>::check_dim(&c, 3).unwrap_err();
        assert!(e.to_string().contains("d ≥ n"), "{e}");
        let mut rng = SqueezeRng::from_seed_u64(0);
        let mut scratch = Scratch::default();
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch).with_worker(4, 5);
        let e = c.compress(&[1.0f32; 8], &mut ctx).unwrap_err();
        assert!(matches!(e, CompressError::Context { .. }), "{e:?}");
        assert!(e.to_string().contains("perm_k:n=5"), "{e}");
        let mut ctx = ctx.with_worker(1, 4);
        let e = c
            .compress(&[1.0f32, 2.0, f32::NAN, 0.0, f32::NAN], &mut ctx)
            .unwrap_err();
        assert!(
            matches!(e, CompressError::NonFinite { index: 2, .. }),
            "{e:?}"
        );
        assert!(c.compress(&[] as &[f32], &mut ctx).is_err());
        assert!(c.compress(&[1.0f32; 3], &mut ctx).is_err());
        assert_eq!(Sparsifier::<f32>::kept(&c, 3), None);
    }

    /// The joint law of the blocks is that of a uniform permutation cut into blocks: at d = 5,
    /// n = 3 (sizes 2, 2, 1) each of the 5!/(2!·2!·1!) = 30 ordered partitions has probability
    /// 1/30. N = 60000 rounds; tolerance 6 binomial standard errors per cell.
    #[test]
    fn ordered_partitions_are_uniform() {
        let c = PermK::new(3).unwrap();
        let x = [1.0; 5];
        const N: usize = 60_000;
        let mut counts = std::collections::BTreeMap::new();
        for round in 0..N as u64 {
            let seed = squeeze_core::rng::round_seed(3, round);
            let key: Vec<Vec<u32>> = (0..3).map(|i| support(&run(&c, &x, i, seed, 0))).collect();
            let mut all: Vec<u32> = key.concat();
            all.sort_unstable();
            assert_eq!(all, vec![0, 1, 2, 3, 4], "blocks must partition");
            *counts.entry(key).or_insert(0usize) += 1;
        }
        assert_eq!(counts.len(), 30);
        let p = 1.0 / 30.0;
        let tol = 6.0 * (p * (1.0 - p) / N as f64).sqrt();
        for (k, &n) in &counts {
            let f = n as f64 / N as f64;
            assert!((f - p).abs() <= tol, "{k:?}: {f}");
        }
    }

    #[test]
    fn spec_round_trips() {
        let c = parse::<f32>("perm_k:n=4").unwrap();
        assert_eq!(c.spec(), "perm_k:n=4");
        assert!(c.as_sparsifier().is_some());
        assert_eq!(c.class(8).omega(), Some(3.0));
        // n = 1 is the identity.
        let m = run(&PermK::new(1).unwrap(), &[2.0, -1.0], 0, 3, 0);
        assert_eq!(m.to_dense().unwrap(), vec![2.0, -1.0]);
        assert_eq!(
            Compressor::<f64>::class(&PermK::new(1).unwrap(), 2).omega(),
            Some(0.0)
        );
    }
}
