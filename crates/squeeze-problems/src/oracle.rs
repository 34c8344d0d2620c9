//! The local-objective interface the driver calls, a gradient counter and a minibatch sampler.
//!
//! Worker i holds f_i(x) = (1/m_i) Σ_j f_ij(x) + r(x) (a finite sum of m_i samples plus a
//! regulariser) or a single function (m_i = 1). An [`Oracle`] evaluates f_i, ∇f_i and the
//! minibatch gradient (1/|B|) Σ_{j∈B} ∇f_ij + ∇r.
//!
//! **Dimensions.** Callers check vector lengths once at setup with [`Oracle::check_dim`]. The
//! hot methods do not return errors: if `x` or `grad` has the wrong length they write NaN into
//! `grad` and return NaN (never panic, never read out of bounds), so that a wiring mistake
//! shows up at the first non-finite check of the driver.
//!
//! ```
//! use squeeze_core::rng::{Purpose, SqueezeRng};
//! use squeeze_problems::{embedded, logreg::LogReg, oracle::*, Regularizer};
//! let f = Counted::new(LogReg::new(embedded::default_dataset::<f64>(), Regularizer::None).unwrap());
//! let mut g = vec![0.0; f.dim()];
//! f.loss_grad(&vec![0.0; f.dim()], &mut g);
//! let mut sampler = MinibatchSampler::new(f.n_samples(), 32).unwrap();
//! let mut rng = SqueezeRng::stream(0, Purpose::Sampling, 0);
//! f.minibatch_grad(&vec![0.0; f.dim()], sampler.sample(&mut rng), &mut g);
//! assert_eq!(f.grad_samples(), 569 + 32);
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use squeeze_core::rng::SqueezeRng;
use squeeze_core::{LengthMismatch, ParamError, Scalar};

use crate::glm::Glm;
use crate::hessian::Curvature;
use crate::regularizer::Regularizer;

/// A worker's local objective f_i (see the [module docs](self)).
pub trait Oracle<S: Scalar>: Send + Sync {
    /// Dimension d of x.
    fn dim(&self) -> usize;
    /// Number of samples m_i of the finite sum (1 if f_i is not a finite sum).
    fn n_samples(&self) -> usize;
    /// f_i(x), accumulated in `f64`.
    fn loss(&self, x: &[S]) -> f64;
    /// Writes ∇f_i(x) into `grad` and returns f_i(x).
    fn loss_grad(&self, x: &[S], grad: &mut [S]) -> f64;
    /// Writes (1/|B|) Σ_{j∈B} ∇f_ij(x) + ∇r(x) into `grad` (indices in `0..m_i`; an empty
    /// batch gives ∇r(x) alone; an out-of-range index poisons `grad` with NaN). Problems that
    /// are not finite sums ignore `batch` and write ∇f_i(x).
    fn minibatch_grad(&self, x: &[S], batch: &[u32], grad: &mut [S]);
    /// The smoothness constant L_i, computed as the papers do (see each problem).
    fn smoothness(&self) -> f64;

    /// Writes ∇f_i(x) into `grad`. Same as [`Oracle::loss_grad`] but may skip the loss
    /// (logistic regression then needs no logarithm).
    fn grad(&self, x: &[S], grad: &mut [S]) {
        self.loss_grad(x, grad);
    }

    /// Writes ∇f_i(x) − `sub` into `out` and returns whether every entry of `out` is finite:
    /// the vector error-feedback methods compress each round (EF21: ∇f_i(x) − g_i).
    ///
    /// The same bits as [`Oracle::grad`] followed by `out[k] -= sub[k]`; problems whose
    /// gradient is one elementwise pass override it to do everything in that pass. Wrong
    /// lengths write NaN and return `false`.
    fn grad_minus(&self, x: &[S], sub: &[S], out: &mut [S]) -> bool {
        if sub.len() != out.len() {
            out.fill(S::from_f64(f64::NAN));
            return false;
        }
        self.grad(x, out);
        sub_assign_all_finite(out, sub)
    }

    /// [`Oracle::grad_minus`] fused with a threshold scan: writes v = ∇f_i(x) − `sub` into
    /// `out` (the same bits) and appends every `(j, v_j)` with $|v_j| \ge t$ (and every
    /// non-finite one) to the [`Candidates`], in increasing `j`, reducing them whenever they
    /// reach the cap. Returns `Some(finite)` when fused (`Some(false)`: a non-finite entry or
    /// wrong lengths; then `out` and the candidates are unspecified), or `None` (the default)
    /// when this oracle has no fused pass: nothing is written and the caller takes
    /// `grad_minus` and its own scan.
    fn grad_minus_scan(
        &self,
        x: &[S],
        sub: &[S],
        out: &mut [S],
        hits: &mut Candidates<'_, S>,
    ) -> Option<bool> {
        let _ = (x, sub, out, hits);
        None
    }

    /// What is known of ∇²f_i at every x ([`crate::hessian`]); `None` (the default) if this
    /// oracle provides no Hessian.
    fn curvature(&self) -> Option<Curvature> {
        None
    }

    /// Writes ∇²f_i(x) into `h` (d × d, row-major, exactly symmetric; length d²). Oracles
    /// without a Hessian ([`Oracle::curvature`] is `None`) and wrong lengths write NaN.
    fn hessian(&self, x: &[S], h: &mut [S]) {
        let _ = x;
        h.fill(S::from_f64(f64::NAN));
    }

    /// Writes ∇²f_i(x)·v into `out` without forming the matrix. Oracles without a Hessian and
    /// wrong lengths write NaN.
    fn hess_vec(&self, x: &[S], v: &[S], out: &mut [S]) {
        let _ = (x, v);
        out.fill(S::from_f64(f64::NAN));
    }

    /// This objective as a generalised linear model (its data rows and Hessian coefficients,
    /// [`crate::glm`]); `None` (the default) if it is not one.
    fn glm(&self) -> Option<&dyn Glm<S>> {
        None
    }

    /// Setup-time check that a vector of length `len` fits this oracle.
    fn check_dim(&self, len: usize) -> Result<(), LengthMismatch> {
        if len == self.dim() {
            Ok(())
        } else {
            Err(LengthMismatch {
                expected: self.dim(),
                got: len,
            })
        }
    }
}

macro_rules! forward_oracle {
    ($($t:ty),*) => {$(
        impl<S: Scalar, O: Oracle<S> + ?Sized> Oracle<S> for $t {
            fn dim(&self) -> usize {
                (**self).dim()
            }
            fn n_samples(&self) -> usize {
                (**self).n_samples()
            }
            fn loss(&self, x: &[S]) -> f64 {
                (**self).loss(x)
            }
            fn loss_grad(&self, x: &[S], grad: &mut [S]) -> f64 {
                (**self).loss_grad(x, grad)
            }
            fn minibatch_grad(&self, x: &[S], batch: &[u32], grad: &mut [S]) {
                (**self).minibatch_grad(x, batch, grad)
            }
            fn smoothness(&self) -> f64 {
                (**self).smoothness()
            }
            fn grad(&self, x: &[S], grad: &mut [S]) {
                (**self).grad(x, grad)
            }
            fn grad_minus(&self, x: &[S], sub: &[S], out: &mut [S]) -> bool {
                (**self).grad_minus(x, sub, out)
            }
            fn grad_minus_scan(
                &self,
                x: &[S],
                sub: &[S],
                out: &mut [S],
                hits: &mut Candidates<'_, S>,
            ) -> Option<bool> {
                (**self).grad_minus_scan(x, sub, out, hits)
            }
            fn curvature(&self) -> Option<Curvature> {
                (**self).curvature()
            }
            fn hessian(&self, x: &[S], h: &mut [S]) {
                (**self).hessian(x, h)
            }
            fn hess_vec(&self, x: &[S], v: &[S], out: &mut [S]) {
                (**self).hess_vec(x, v, out)
            }
            fn glm(&self) -> Option<&dyn Glm<S>> {
                (**self).glm()
            }
        }
    )*};
}

// `Box<dyn Oracle>` (what `Problem` stores), `&dyn Oracle` and `Arc<dyn Oracle>` are oracles.
forward_oracle!(Box<O>, &O, std::sync::Arc<O>);

/// `a −= b` in one pass (lengths: the shorter one), returning whether every result is finite.
///
/// `v − v` is 0 for finite v and NaN for NaN/±∞, so eight independent lanes of Σ(v − v) are
/// all 0 exactly when everything is finite; the loop vectorises and needs no second pass.
pub(crate) fn sub_assign_all_finite<S: Scalar>(a: &mut [S], b: &[S]) -> bool {
    let mut probe = [S::ZERO; 8];
    // Exact blocks of 8 so that the probe lanes stay in registers (with a ragged last block
    // the compiler spills them to the stack on every step).
    let mut a8s = a.chunks_exact_mut(8);
    let mut b8s = b.chunks_exact(8);
    for (a8, b8) in (&mut a8s).zip(&mut b8s) {
        for j in 0..8 {
            let v = a8[j] - b8[j];
            a8[j] = v;
            probe[j] += probe_term(v);
        }
    }
    let tail = a8s.into_remainder().iter_mut().zip(b8s.remainder());
    for ((x, &y), p) in tail.zip(&mut probe) {
        let v = *x - y;
        *x = v;
        *p += probe_term(v);
    }
    probe.iter().all(|&p| p == S::ZERO)
}

/// `v − v`: 0 for finite v, NaN for NaN/±∞ (summing these probes finiteness branch-free).
#[inline(always)]
#[allow(clippy::eq_op)]
pub(crate) fn probe_term<S: Scalar>(v: S) -> S {
    v - v
}

/// The candidates of a fused pass ([`Oracle::grad_minus_scan`]): the entries $v_j$ of the
/// result with `!(|v_j| < t)` — $|v_j| \ge t$, or non-finite — appended as `(j, v_j)` in
/// increasing `j`. After the entry (or block of [`SCAN_CHUNK`] entries) that brings them to
/// `cap` or more, `reduce` is called on them: it must keep fewer than `cap` (e.g. an exact
/// Top-K compaction) and returns the threshold for the rest of the pass. Nothing allocates
/// when `idx`/`val` have capacity for `cap +` [`SCAN_CHUNK`] entries.
pub struct Candidates<'a, S> {
    /// The threshold t ≥ 0.
    pub t: S,
    /// Reduce once this many candidates are held (≥ 1).
    pub cap: usize,
    /// Candidate indices.
    pub idx: &'a mut Vec<u32>,
    /// Candidate values.
    pub val: &'a mut Vec<S>,
    /// Reduces full candidate lists; returns the new threshold.
    pub reduce: &'a mut dyn FnMut(&mut Vec<u32>, &mut Vec<S>) -> S,
}

/// Entries per block of a fused scan (one bit each in a `u64` hit mask).
pub const SCAN_CHUNK: usize = 64;

/// Why a block scan stopped: all blocks done; the cursor reached the cap after the block
/// ending at the returned position; that block holds a non-finite entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Done,
    Full,
    NonFinite,
}

/// The hits of one block `c` (entry `i` has index `at + i`) written to `idx[*w..]`/`val[*w..]`
/// in index order ([`squeeze_core::ops::append_hits`]; the slots must have room for 64 more);
/// returns `false` if one of them is non-finite.
// `!(a < t)` (not `a >= t`) on purpose: it is also true for NaN.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
#[inline(always)]
pub(crate) fn scan_block<S: Scalar>(
    c: &[S; SCAN_CHUNK],
    at: usize,
    t: S,
    idx: &mut [u32],
    val: &mut [S],
    w: &mut usize,
) -> bool {
    let mut m = 0u64;
    for (i, &v) in c.iter().enumerate() {
        m |= u64::from(!(v.abs() < t)) << i;
    }
    // Indices fit in u32: Top-K callers have d ≤ MAX_DIM.
    squeeze_core::ops::append_hits(c, m, at, idx, val, w)
}

/// The write side of a fused scan: a cursor into [`Candidates`] grown to `cap +`
/// [`SCAN_CHUNK`] slots, reduced when full and truncated by [`HitWriter::finish`].
pub(crate) struct HitWriter<'c, 'a, S> {
    c: &'c mut Candidates<'a, S>,
    pub(crate) w: usize,
}

impl<'c, 'a, S: Scalar> HitWriter<'c, 'a, S> {
    /// Start appending after the candidates already held.
    pub(crate) fn new(c: &'c mut Candidates<'a, S>) -> Self {
        c.cap = c.cap.max(1);
        let w = c.idx.len().min(c.val.len());
        let mut h = Self { c, w };
        if w >= h.c.cap {
            h.reduce();
        } else {
            h.grow();
        }
        h
    }

    fn grow(&mut self) {
        let len = self.c.cap + SCAN_CHUNK;
        self.c.idx.resize(len, 0);
        self.c.val.resize(len, S::ZERO);
    }

    /// The threshold, the cap and the slots (for a block kernel).
    pub(crate) fn slots(&mut self) -> (S, usize, &mut [u32], &mut [S]) {
        (self.c.t, self.c.cap, self.c.idx, self.c.val)
    }

    /// Hand the full list to `reduce`, take its threshold, grow the slots again.
    pub(crate) fn reduce(&mut self) {
        self.c.idx.truncate(self.w);
        self.c.val.truncate(self.w);
        self.c.t = (self.c.reduce)(self.c.idx, self.c.val);
        self.w = self.c.idx.len().min(self.c.val.len());
        // A reduction that kept too much: raise the cap so that the pass still progresses.
        self.c.cap = self.c.cap.max(self.w + 1);
        self.grow();
    }

    /// Test one entry `v` (index `j`); `false` if it is non-finite.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    #[inline]
    pub(crate) fn push(&mut self, j: usize, v: S) -> bool {
        if !(v.abs() < self.c.t) {
            if !v.is_finite() {
                return false;
            }
            self.c.idx[self.w] = j as u32;
            self.c.val[self.w] = v;
            self.w += 1;
            if self.w >= self.c.cap {
                self.reduce();
            }
        }
        true
    }

    /// Truncate the candidates to those written.
    pub(crate) fn finish(self) {
        self.c.idx.truncate(self.w);
        self.c.val.truncate(self.w);
    }
}

/// `true` if `x` and `grad` both have length `dim`; otherwise fills `grad` with NaN.
/// The shared guard of every hot method (see the [module docs](self)).
#[inline]
pub(crate) fn dims_ok<S: Scalar>(dim: usize, x: &[S], grad: &mut [S]) -> bool {
    if x.len() == dim && grad.len() == dim {
        true
    } else {
        grad.fill(S::from_f64(f64::NAN));
        false
    }
}

/// A GLM's minibatch gradient $\frac{1}{|B|}\sum_{j \in B} \nabla\ell_j(x) + \nabla r(x)$ over
/// `m` rows in dimension `dim`: `grad` is zeroed, `term(j, c, grad)` adds row j's gradient
/// times $c = 1/|B|$ for each j of `batch` in order, then `reg` adds $\nabla r(x)$. Wrong
/// lengths or a row index ≥ m fill `grad` with NaN instead (`term` is never called then).
pub(crate) fn minibatch_glm<S: Scalar>(
    dim: usize,
    m: usize,
    reg: Regularizer,
    x: &[S],
    batch: &[u32],
    grad: &mut [S],
    mut term: impl FnMut(usize, f64, &mut [S]),
) {
    if !dims_ok(dim, x, grad) {
        return;
    }
    if batch.iter().any(|&j| j as usize >= m) {
        grad.fill(S::from_f64(f64::NAN));
        return;
    }
    grad.fill(S::ZERO);
    if !batch.is_empty() {
        let c = 1.0 / batch.len() as f64;
        for &j in batch {
            term(j as usize, c, grad);
        }
    }
    reg.add_grad(x, grad);
}

/// Wraps an oracle and counts gradient work in sample units: a full gradient costs m_i, a
/// minibatch gradient |B|. Loss-only evaluations are counted separately (also in samples), and
/// so is Hessian work: a Hessian or a Hessian–vector product costs m_i.
/// Counters are relaxed atomics, so a `Counted` can be shared between threads.
#[derive(Debug, Default)]
pub struct Counted<O> {
    inner: O,
    grad_samples: AtomicU64,
    loss_samples: AtomicU64,
    hess_samples: AtomicU64,
}

impl<O> Counted<O> {
    /// Wrap `inner` with zeroed counters.
    pub fn new(inner: O) -> Self {
        Self {
            inner,
            grad_samples: AtomicU64::new(0),
            loss_samples: AtomicU64::new(0),
            hess_samples: AtomicU64::new(0),
        }
    }
    /// Samples touched by gradient calls so far.
    pub fn grad_samples(&self) -> u64 {
        self.grad_samples.load(Ordering::Relaxed)
    }
    /// Samples touched by loss-only calls so far.
    pub fn loss_samples(&self) -> u64 {
        self.loss_samples.load(Ordering::Relaxed)
    }
    /// Samples touched by Hessian and Hessian–vector calls so far.
    pub fn hess_samples(&self) -> u64 {
        self.hess_samples.load(Ordering::Relaxed)
    }
    /// Reset every counter to zero.
    pub fn reset(&self) {
        self.grad_samples.store(0, Ordering::Relaxed);
        self.loss_samples.store(0, Ordering::Relaxed);
        self.hess_samples.store(0, Ordering::Relaxed);
    }
    /// The wrapped oracle.
    pub fn inner(&self) -> &O {
        &self.inner
    }
    /// Unwrap.
    pub fn into_inner(self) -> O {
        self.inner
    }
}

impl<S: Scalar, O: Oracle<S>> Oracle<S> for Counted<O> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn n_samples(&self) -> usize {
        self.inner.n_samples()
    }
    fn loss(&self, x: &[S]) -> f64 {
        self.loss_samples
            .fetch_add(self.inner.n_samples() as u64, Ordering::Relaxed);
        self.inner.loss(x)
    }
    fn loss_grad(&self, x: &[S], grad: &mut [S]) -> f64 {
        self.grad_samples
            .fetch_add(self.inner.n_samples() as u64, Ordering::Relaxed);
        self.inner.loss_grad(x, grad)
    }
    fn minibatch_grad(&self, x: &[S], batch: &[u32], grad: &mut [S]) {
        self.grad_samples
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.inner.minibatch_grad(x, batch, grad)
    }
    fn smoothness(&self) -> f64 {
        self.inner.smoothness()
    }
    fn grad(&self, x: &[S], grad: &mut [S]) {
        self.grad_samples
            .fetch_add(self.inner.n_samples() as u64, Ordering::Relaxed);
        self.inner.grad(x, grad)
    }
    fn grad_minus(&self, x: &[S], sub: &[S], out: &mut [S]) -> bool {
        self.grad_samples
            .fetch_add(self.inner.n_samples() as u64, Ordering::Relaxed);
        self.inner.grad_minus(x, sub, out)
    }
    fn grad_minus_scan(
        &self,
        x: &[S],
        sub: &[S],
        out: &mut [S],
        hits: &mut Candidates<'_, S>,
    ) -> Option<bool> {
        let r = self.inner.grad_minus_scan(x, sub, out, hits);
        if r.is_some() {
            self.grad_samples
                .fetch_add(self.inner.n_samples() as u64, Ordering::Relaxed);
        }
        r
    }
    fn curvature(&self) -> Option<Curvature> {
        self.inner.curvature()
    }
    fn hessian(&self, x: &[S], h: &mut [S]) {
        self.hess_samples
            .fetch_add(self.inner.n_samples() as u64, Ordering::Relaxed);
        self.inner.hessian(x, h)
    }
    fn hess_vec(&self, x: &[S], v: &[S], out: &mut [S]) {
        self.hess_samples
            .fetch_add(self.inner.n_samples() as u64, Ordering::Relaxed);
        self.inner.hess_vec(x, v, out)
    }
    /// The inner oracle's view (coefficient evaluations are not counted here: the method
    /// that calls [`Glm::coefficients`] counts them, like Hessian work).
    fn glm(&self) -> Option<&dyn Glm<S>> {
        self.inner.glm()
    }
}

/// τ-nice sampling: each call returns τ distinct indices of `0..m`, every τ-subset equally
/// likely, independently across calls.
///
/// Implementation: a partial Fisher–Yates shuffle of a persistent permutation buffer (the
/// first τ positions are re-drawn each call; the buffer stays a permutation, so no reset is
/// needed). O(τ) per call, no allocation after construction. The batch is not sorted.
///
/// ```
/// use squeeze_core::rng::{Purpose, SqueezeRng};
/// use squeeze_problems::oracle::MinibatchSampler;
/// let mut s = MinibatchSampler::new(10, 3).unwrap();
/// let mut rng = SqueezeRng::stream(1, Purpose::Sampling, 0);
/// let b = s.sample(&mut rng).to_vec();
/// assert_eq!(b.len(), 3);
/// assert!(b.iter().all(|&j| j < 10) && b[0] != b[1] && b[1] != b[2] && b[0] != b[2]);
/// assert!(MinibatchSampler::new(10, 11).is_err());
/// ```
/// Serialisable: the permutation is state (checkpoints capture it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MinibatchSampler {
    perm: Vec<u32>,
    tau: usize,
}

impl MinibatchSampler {
    /// A sampler of τ = `tau` out of `m` indices; needs 1 ≤ τ ≤ m ≤ 2³².
    pub fn new(m: usize, tau: usize) -> Result<Self, ParamError> {
        if m == 0 || m > u32::MAX as usize + 1 {
            return Err(ParamError::new(
                "minibatch",
                "m",
                m,
                "the number of samples must be in 1..=2^32",
            ));
        }
        if tau == 0 || tau > m {
            return Err(ParamError::new(
                "minibatch",
                "tau",
                tau,
                format!("the batch size must be in 1..={m} (the local sample count)"),
            ));
        }
        Ok(Self {
            perm: (0..m).map(|j| j as u32).collect(),
            tau,
        })
    }

    /// Batch size τ.
    pub fn tau(&self) -> usize {
        self.tau
    }

    /// Draw the next batch.
    pub fn sample(&mut self, rng: &mut SqueezeRng) -> &[u32] {
        let m = self.perm.len();
        for k in 0..self.tau {
            let j = k + rng.below((m - k) as u64) as usize;
            self.perm.swap(k, j);
        }
        &self.perm[..self.tau]
    }
}

/// Add N(0, (σ²/d)·I) noise to `grad` (so that E‖noise‖² = σ²): MoTEF's stochastic-gradient
/// model for synthetic problems. Draws d normals from `rng`.
///
/// ```
/// use squeeze_core::rng::{Purpose, SqueezeRng};
/// let mut g = vec![0.0f64; 10_000];
/// squeeze_problems::oracle::add_gaussian_noise(&mut g, 2.0, &mut SqueezeRng::stream(0, Purpose::Noise, 0));
/// let e: f64 = g.iter().map(|v| v * v).sum();
/// assert!((e - 4.0).abs() < 0.3);
/// ```
pub fn add_gaussian_noise<S: Scalar>(grad: &mut [S], sigma: f64, rng: &mut SqueezeRng) {
    if grad.is_empty() {
        return;
    }
    let std = sigma / (grad.len() as f64).sqrt();
    for g in grad {
        *g += S::from_f64(std * rng.normal());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use squeeze_core::rng::Purpose;

    #[test]
    fn tau_nice_is_uniform_over_indices() {
        let (m, tau) = (7usize, 3usize);
        let mut s = MinibatchSampler::new(m, tau).unwrap();
        let mut rng = SqueezeRng::stream(3, Purpose::Sampling, 0);
        let mut counts = [0u32; 7];
        let draws = 70_000;
        for _ in 0..draws {
            let b = s.sample(&mut rng);
            let mut seen = [false; 7];
            for &j in b {
                assert!(!seen[j as usize], "repeat in {b:?}");
                seen[j as usize] = true;
                counts[j as usize] += 1;
            }
        }
        // Each index appears with probability τ/m = 3/7 per draw: 30,000 expected.
        for c in counts {
            assert!((29_000..31_000).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn full_batch_is_a_permutation() {
        let mut s = MinibatchSampler::new(5, 5).unwrap();
        let mut rng = SqueezeRng::stream(0, Purpose::Sampling, 0);
        let mut b = s.sample(&mut rng).to_vec();
        b.sort_unstable();
        assert_eq!(b, vec![0, 1, 2, 3, 4]);
        assert!(MinibatchSampler::new(0, 0).is_err());
        assert!(MinibatchSampler::new(5, 0).is_err());
    }
}

#[cfg(test)]
mod grad_minus_tests {
    use super::*;
    use crate::{LogReg, Regularizer, embedded};

    #[test]
    fn sub_assign_all_finite_subtracts_and_detects() {
        for n in [0usize, 1, 7, 8, 9, 100] {
            let b: Vec<f64> = (0..n).map(|k| k as f64 * 0.5).collect();
            let mut a: Vec<f64> = (0..n).map(|k| k as f64 * 2.0).collect();
            assert!(sub_assign_all_finite(&mut a, &b));
            assert!(a.iter().enumerate().all(|(k, &v)| v == k as f64 * 1.5));
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                for pos in [0, n / 2, n.saturating_sub(1)] {
                    if n > 0 {
                        let mut a2 = a.clone();
                        a2[pos] = bad;
                        assert!(!sub_assign_all_finite(&mut a2, &b), "{n} {pos} {bad}");
                    }
                }
            }
        }
        // An overflowing difference counts as non-finite.
        assert!(!sub_assign_all_finite(&mut [f64::MAX], &[-f64::MAX]));
    }

    #[test]
    fn default_grad_minus_is_grad_then_subtract() {
        let f = Counted::new(
            LogReg::new(embedded::synthetic_binary::<f64>(200, 1), Regularizer::EF21).unwrap(),
        );
        let x: Vec<f64> = (0..123).map(|k| (k as f64).sin()).collect();
        let sub: Vec<f64> = (0..123).map(|k| (k as f64).cos() * 0.01).collect();
        let mut g = vec![0.0; 123];
        f.grad(&x, &mut g);
        let mut out = vec![0.0; 123];
        assert!(f.grad_minus(&x, &sub, &mut out));
        for k in 0..123 {
            assert_eq!(out[k].to_bits(), (g[k] - sub[k]).to_bits());
        }
        assert_eq!(f.grad_samples(), 400);
        let mut bad = sub.clone();
        bad[7] = f64::INFINITY;
        assert!(!f.grad_minus(&x, &bad, &mut out));
        assert!(!f.grad_minus(&x, &sub[1..], &mut out));
        assert!(out.iter().all(|v| v.is_nan()));
    }
}

#[cfg(test)]
mod scan_tests {
    use super::*;
    use crate::quadratic::TridiagQuadratic;

    type Hits = (Vec<u32>, Vec<u32>);
    type Out = (bool, Vec<u32>, Hits, usize);

    /// `grad_minus_scan` with threshold `t` and cap `cap`; every reduction moves the candidates
    /// to a side list and keeps the threshold, so the concatenation is the whole candidate
    /// stream. Returns (finite, out bits, candidates as (indices, value bits), reductions), or
    /// `None` if the oracle has no fused pass.
    fn fused(f: &dyn Oracle<f32>, x: &[f32], sub: &[f32], t: f32, cap: usize) -> Option<Out> {
        let mut out = vec![0.0f32; sub.len()];
        let (mut side_i, mut side_v, mut reductions) = (Vec::new(), Vec::new(), 0);
        let mut reduce = |i: &mut Vec<u32>, v: &mut Vec<f32>| {
            reductions += 1;
            side_i.append(i);
            side_v.append(v);
            t
        };
        let (mut idx, mut val) = (Vec::new(), Vec::new());
        let mut c = Candidates {
            t,
            cap,
            idx: &mut idx,
            val: &mut val,
            reduce: &mut reduce,
        };
        let ok = f.grad_minus_scan(x, sub, &mut out, &mut c)?;
        side_i.extend(idx);
        side_v.extend(val);
        let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        Some((ok, bits(&out), (side_i, bits(&side_v)), reductions))
    }

    /// The fused pass writes `grad_minus`'s bits and exactly the entries with `!(|v| < t)` in
    /// index order, with both kernel copies, on lengths 1..70 and odd tails around the
    /// 64-entry blocks, with ties at the threshold (entries on a 1/4 grid), NaN and ±∞,
    /// with and without reductions of the candidate list.
    #[test]
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(|v| < t)`: NaN is a hit too.
    fn fused_scan_matches_grad_minus_and_a_scan() {
        let mut rng = SqueezeRng::from_seed_u64(9);
        let mut grid = |scale: f64| ((rng.next_f64() * 16.0).floor() - 8.0) as f32 * scale as f32;
        let lens = (1..70).chain([127, 128, 129, 130, 131, 193, 1000]);
        let mut seen = [0usize; 3];
        for d in lens {
            let f = TridiagQuadratic::<f32>::new(d, 0.5, -0.25, 0.75).unwrap();
            for case in 0..5 {
                let x: Vec<f32> = (0..d).map(|_| grid(0.25)).collect();
                let mut sub: Vec<f32> = (0..d)
                    .map(|_| grid(if case == 1 { 0.0 } else { 0.125 }))
                    .collect();
                if case >= 2 {
                    let bad = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][case - 2];
                    sub[(d * 7 / 11 + case) % d] = bad;
                }
                let mut want_out = vec![0.0f32; d];
                let want_ok = f.grad_minus(&x, &sub, &mut want_out);
                let want_bits: Vec<u32> = want_out.iter().map(|v| v.to_bits()).collect();
                for t in [0.0f32, 0.25, 0.5, 1.0, f32::INFINITY] {
                    let want: Hits = want_out
                        .iter()
                        .enumerate()
                        .filter(|(_, v)| !(v.abs() < t))
                        .map(|(j, v)| (j as u32, v.to_bits()))
                        .unzip();
                    for cap in [d + 1, 3] {
                        for level in squeeze_core::simd::Level::ALL {
                            let run = || fused(&f, &x, &sub, t, cap).unwrap();
                            let (ok, out, hits, reductions) =
                                squeeze_core::simd::at_most(level, run);
                            let at = format!("d {d} case {case} t {t} cap {cap} {level:?}");
                            assert_eq!(ok, want_ok, "{at}");
                            if want_ok {
                                assert_eq!(out, want_bits, "{at}");
                                assert_eq!(hits, want, "{at}");
                                let full = cap == 3 && want.0.len() >= 3;
                                assert_eq!(reductions > 0, full, "{at}");
                                seen[usize::from(reductions > 0)] += 1;
                            } else {
                                seen[2] += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(seen.iter().all(|&s| s > 100), "{seen:?}");
        // Wrong lengths: not finite, NaN written.
        let f = TridiagQuadratic::<f32>::new(5, 0.5, -0.25, 0.75).unwrap();
        let (ok, out, _, _) = fused(&f, &[0.0; 4], &[0.0; 5], 0.0, 9).unwrap();
        assert!(!ok && out.iter().all(|&b| f32::from_bits(b).is_nan()));
        // An oracle without a fused pass (the MoTEF quadratic) says so.
        let m = crate::quadratic::motef::<f32>(5, 1, 1.0, 0.0, 3).unwrap();
        let plain = m.problem.oracles()[0].as_ref();
        assert_eq!(fused(plain, &[1.0; 5], &[0.0; 5], 0.0, 9), None);
    }
}
