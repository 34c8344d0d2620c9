//! DGC's coordinate selection: a threshold estimated from a random sample of $|v|$, then the
//! hierarchical exact top-$k$ when the threshold lets too many through.
//!
//! Given the accumulation $v \in \mathbb{R}^d$ and the target count $k$ (sparsity $s$:
//! $k = \max(1, \lceil(1 - s)d\rceil)$):
//!
//! 1. **Sample** $m = \min(d, \max(m\_{\min}, \lceil\rho d\rceil))$ magnitudes $|v_{j_1}|, …,
//!    |v_{j_m}|$ at positions drawn uniformly with replacement from the worker's own stream
//!    ($m = d$: every coordinate, no draw). The threshold $\theta$ is the sample's
//!    $r$-th largest magnitude, $r = \max(1, \lceil mk/d\rceil)$ — the sample's $s$-quantile.
//! 2. **Threshold**: $M = \lbrace j : |v_j| \ge \theta\rbrace$ (ties kept, as `threshold_abs`;
//!    zeros never, since $\theta$ is raised to the least positive value).
//! 3. **Hierarchical step** (Lin et al. 2018, the hierarchical threshold of their system
//!    section): if $|M| > c\thinspace k$ (the cap $c \ge 1$, default 1.3), keep the exact
//!    top-$k$ of $M$ (ties → lower index); if the sample overshot and $|M| < k$, keep the exact
//!    top-$k$ of $v$. Either way $k \le$ (kept) $\le c\thinspace k$.
//!
//! $k = d$ (sparsity 0) sends $v$ densely. Reused pieces: [`ThresholdAbs`] for step 2 and
//! [`TopK`] for step 3 (the crate's exact, vectorised selections).

use squeeze_compress::{ThresholdAbs, TopK};
use squeeze_core::{CompressCtx, CompressError, Message, Scalar, Scratch, Sparsifier, SqueezeRng};

/// How many coordinates are sampled and how far the threshold may overshoot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Fraction ρ ∈ (0, 1] of the coordinates sampled.
    pub fraction: f64,
    /// At least this many samples (≥ 1; capped at d).
    pub min_samples: usize,
    /// Cap c ≥ 1: more than c·k above the threshold triggers the exact top-k among them.
    pub cap: f64,
}

/// Which step decided the kept set (for tests and diagnostics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selected {
    /// $k = d$: the whole vector, as a `Dense` message.
    Dense,
    /// The sampled threshold alone ($k \le |M| \le ck$).
    Threshold,
    /// $|M| > ck$: the exact top-$k$ among the thresholded coordinates.
    Hierarchical,
    /// $|M| < k$: the exact top-$k$ of the whole vector.
    TopK,
}

/// The target count $k = \max(1, \lceil(1 - s)d\rceil)$ for sparsity $s \in [0, 1)$, with a
/// relative guard of $10^{-9}$ so that round-off in $1 - s$ does not add one
/// ($s = 0.999$, $d = 1000$ gives $k = 1$).
///
/// ```
/// use squeeze_methods::star::dgc::select::target;
/// assert_eq!((target(0.999, 1000), target(0.75, 8), target(0.0, 5), target(0.9, 3)), (1, 2, 5, 1));
/// ```
pub fn target(sparsity: f64, d: usize) -> usize {
    let keep = (1.0 - sparsity) * d as f64;
    ((keep - keep * 1e-9).ceil() as usize).clamp(1, d.max(1))
}

impl Sampling {
    /// Sample size at dimension `d`.
    pub fn samples(&self, d: usize) -> usize {
        ((self.fraction * d as f64).ceil() as usize)
            .max(self.min_samples)
            .min(d)
    }
}

/// Select about `k` coordinates of `v` (see the module docs) into `up` (`Sparse` with
/// increasing indices and the values of `v`, or `Dense` when `k ≥ d`). `spare` is working
/// memory (its buffers are reused); `rng` is the worker's stream, `scratch` its scratch.
///
/// # Errors
/// A non-finite entry of `v` ([`CompressError::NonFinite`]).
pub fn select<S: Scalar>(
    v: &[S],
    k: usize,
    rule: &Sampling,
    rng: &mut SqueezeRng,
    scratch: &mut Scratch,
    spare: &mut Message<S>,
    up: &mut Message<S>,
) -> Result<Selected, CompressError> {
    let d = v.len();
    if k >= d {
        squeeze_core::check_input(v)?;
        up.dense_parts().extend_from_slice(v);
        return Ok(Selected::Dense);
    }
    let theta = sampled_threshold(v, k, rule, rng, scratch);
    let Ok(threshold) = ThresholdAbs::new(theta) else {
        // θ = ∞ was sampled: report the first non-finite entry.
        squeeze_core::check_input(v)?;
        return Err(CompressError::NonFinite {
            index: 0,
            value: theta,
        });
    };
    let top = |k| TopK::with_k(k).map_err(|_| CompressError::EmptyInput);
    let mut ctx = CompressCtx::new(rng, scratch);
    // The candidates |v_j| ≥ θ go to `spare`; what is sent, to `up`.
    let (cand_idx, cand_val) = spare.sparse_parts(d);
    threshold.sparsify_into(v, &mut ctx, cand_idx, cand_val)?;
    let count = cand_idx.len();
    let (idx, val) = up.sparse_parts(d);
    if count < k {
        top(k)?.sparsify_into(v, &mut ctx, idx, val)?;
        return Ok(Selected::TopK);
    }
    if count as f64 <= rule.cap * k as f64 {
        idx.extend_from_slice(cand_idx);
        val.extend_from_slice(cand_val);
        return Ok(Selected::Threshold);
    }
    // Too many: the top-k among the candidates (positions among them), mapped back.
    top(k)?.sparsify_into(cand_val, &mut ctx, idx, val)?;
    for i in idx.iter_mut() {
        *i = cand_idx[*i as usize];
    }
    Ok(Selected::Hierarchical)
}

/// The threshold θ > 0 as an `f64` (exactly a value of `S`): the sample's r-th largest
/// magnitude, raised to the least positive value of `S` when it is 0. Entries of `v` must
/// be finite (checked later by the scan; a non-finite sample gives θ = ∞, which the scan
/// reports at its index).
fn sampled_threshold<S: Scalar>(
    v: &[S],
    k: usize,
    rule: &Sampling,
    rng: &mut SqueezeRng,
    scratch: &mut Scratch,
) -> f64 {
    let d = v.len();
    let m = rule.samples(d);
    let words = &mut scratch.words;
    words.clear();
    if m >= d {
        words.extend(v.iter().map(|x| x.abs().to_bits_u64()));
    } else {
        words.extend((0..m).map(|_| v[rng.below(d as u64) as usize].abs().to_bits_u64()));
    }
    let r = target(1.0 - k as f64 / d as f64, m);
    let (_, kth, _) = words.select_nth_unstable(m - r);
    let theta = S::from_bits_u64(*kth);
    if theta > S::ZERO {
        theta.to_f64()
    } else {
        S::from_bits_u64(1).to_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Sampling = Sampling {
        fraction: 0.01,
        min_samples: 64,
        cap: 1.3,
    };

    fn run(v: &[f64], k: usize, rule: &Sampling, seed: u64) -> (Message<f64>, Selected) {
        let mut rng = SqueezeRng::from_seed_u64(seed);
        let (mut scratch, mut spare, mut up) =
            (Scratch::default(), Message::default(), Message::default());
        let how = select(v, k, rule, &mut rng, &mut scratch, &mut spare, &mut up).unwrap();
        (up, how)
    }

    fn kept(m: &Message<f64>) -> (Vec<u32>, Vec<f64>) {
        match m {
            Message::Sparse {
                indices, values, ..
            } => (indices.clone(), values.clone()),
            other => panic!("not sparse: {other:?}"),
        }
    }

    /// A heavy-tailed vector with distinct magnitudes (a permuted ramp, cubed).
    fn ramp(d: usize) -> Vec<f64> {
        (0..d)
            .map(|j| {
                let t = ((j * 7919) % d) as f64 / d as f64;
                let s = if j % 3 == 0 { -1.0 } else { 1.0 };
                s * t * t * t
            })
            .collect()
    }

    #[test]
    fn sampled_threshold_keeps_between_target_and_the_cap() {
        let v = ramp(20_000);
        let mut seen = [0usize; 3];
        for (seed, s) in (0..60).zip([0.99, 0.999, 0.9, 0.75].iter().cycle()) {
            let k = target(*s, v.len());
            let (m, how) = run(&v, k, &RULE, seed);
            let (idx, val) = kept(&m);
            assert!(
                k <= idx.len() && idx.len() as f64 <= 1.3 * k as f64,
                "s = {s}, seed {seed}: kept {} for k = {k} ({how:?})",
                idx.len()
            );
            assert!(idx.windows(2).all(|w| w[0] < w[1]));
            assert!(idx.iter().zip(&val).all(|(&i, &x)| v[i as usize] == x));
            // Every kept magnitude is at least every dropped one's (a top set), except that
            // the threshold path may keep more than k.
            let min_kept = val.iter().fold(f64::INFINITY, |a, x| a.min(x.abs()));
            let dropped_above = (0..v.len())
                .filter(|j| idx.binary_search(&(*j as u32)).is_err())
                .filter(|&j| v[j].abs() > min_kept)
                .count();
            assert_eq!(dropped_above, 0, "s = {s}, seed {seed}: not a top set");
            match how {
                Selected::Threshold => seen[0] += 1,
                Selected::Hierarchical => seen[1] += 1,
                Selected::TopK => seen[2] += 1,
                Selected::Dense => panic!("k < d"),
            }
            if how != Selected::Threshold {
                assert_eq!(idx.len(), k, "{how:?} keeps exactly k");
            }
        }
        // The sampled threshold alone decides a good share of the rounds, and the fallbacks
        // are exercised.
        assert!(seen[0] >= 10, "{seen:?}");
        assert!(seen[1] + seen[2] >= 1, "{seen:?}");
    }

    #[test]
    fn hierarchical_step_takes_the_exact_top_k_of_ties() {
        // 100 equal magnitudes pass any threshold: the cap triggers the exact top-k, which
        // breaks ties toward lower indices.
        let mut v = vec![0.0f64; 1000];
        for j in 0..100 {
            v[j * 10 + 3] = if j % 2 == 0 { 1.0 } else { -1.0 };
        }
        let k = 20;
        let (m, how) = run(&v, k, &RULE, 1);
        assert_eq!(how, Selected::Hierarchical);
        let (idx, val) = kept(&m);
        assert_eq!(idx, (0..20).map(|j| j * 10 + 3).collect::<Vec<u32>>());
        assert!(val.iter().all(|x| x.abs() == 1.0));
    }

    #[test]
    fn exact_when_the_sample_covers_the_vector_and_dense_at_k_equal_d() {
        let v = [0.5, -3.0, 0.0, 2.0, -0.25];
        let all = Sampling {
            min_samples: 1000,
            ..RULE
        };
        let (m, how) = run(&v, 2, &all, 0);
        assert_eq!(how, Selected::Threshold);
        assert_eq!(kept(&m), (vec![1, 3], vec![-3.0, 2.0]));
        let (m, how) = run(&v, 5, &all, 0);
        assert_eq!(how, Selected::Dense);
        assert_eq!(m, Message::Dense { values: v.to_vec() });
        // All zeros: nothing passes θ > 0, the fallback sends k zeros at the lowest indices.
        let (m, how) = run(&[0.0; 4], 2, &all, 0);
        assert_eq!(how, Selected::TopK);
        assert_eq!(kept(&m).0, vec![0, 1]);
    }

    #[test]
    fn same_stream_same_selection_and_non_finite_is_an_error() {
        let v = ramp(5_000);
        let k = target(0.99, v.len());
        assert_eq!(run(&v, k, &RULE, 9), run(&v, k, &RULE, 9));
        let mut bad = v.clone();
        bad[4321] = f64::NAN;
        let mut rng = SqueezeRng::from_seed_u64(0);
        let (mut scratch, mut spare, mut up) =
            (Scratch::default(), Message::default(), Message::default());
        let e = select(&bad, k, &RULE, &mut rng, &mut scratch, &mut spare, &mut up).unwrap_err();
        assert!(
            matches!(e, CompressError::NonFinite { index: 4321, .. }),
            "{e:?}"
        );
    }
}
