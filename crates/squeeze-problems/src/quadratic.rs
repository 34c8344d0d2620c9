//! The synthetic quadratics of algorithms.md §10.3.
//!
//! ## 3PC quadratics ([`three_pc`])
//!
//! f_i(x) = ½ xᵀA_i x − b_iᵀx with T = tridiag(−1, 2, −1) (d × d) and, for i = 0..n−1,
//! ν_i = 1 + s·ξ_i, c_i = ν_i/4, b_i = c_i(−1 + s·ξ'_i)·e₁, A_i = c_i T + δ I, where δ shifts
//! every A_i so that the average Hessian Ā = avg_i A_i has smallest eigenvalue 10⁻⁶:
//! δ = 10⁻⁶ − λ_min(c̄ T). Each A_i is stored as two numbers (diagonal 2c_i + δ,
//! off-diagonal −c_i); a gradient is one O(d) stencil pass. ξ_i, ξ'_i ~ N(0, 1) are the first
//! two draws of `SqueezeRng::stream(seed, Purpose::Data, i)` (the 3PC code uses NumPy with
//! seed 12345; its numbers cannot be reproduced bit for bit, the distribution is the same).
//!
//! With T's eigenvalues t_k = 2 − 2cos(kπ/(d+1)) in closed form:
//! L_i = λ_max(A_i) = max(c_i t_1, c_i t_d) + δ, L = λ_max(Ā) = max(c̄ t_1, c̄ t_d) + δ,
//! L_± = sqrt(λ_max(avg A_i² − Ā²)) = sqrt(avg c_i² − c̄²)·t_d (the δ terms cancel).
//! The Hessian is A_i at every x, with λ_min(A_i) = 2c_i + δ − 2c_i cos(π/(d+1)).
//! Starting point x⁰ = √d e₁. These are not finite sums (m_i = 1; `minibatch_grad` returns
//! the exact gradient).
//!
//! ## MoTEF quadratics ([`motef`])
//!
//! f_i(x) = ½‖a_i x − b_i‖² with a_i = (i+1)/√n (A_i = a_i I_d) and b_i ~ N(0, ζ/(i+1)² I_d)
//! (`SqueezeRng::stream(seed, Purpose::Data, i)`). ∇f_i(x) = a_i(a_i x − b_i), L_i = a_i²,
//! L = avg_i a_i², x* = Σ_i a_i b_i / Σ_i a_i², start x* + (1/d)·1. The stochastic gradient
//! is the exact gradient plus N(0, (σ²/d) I): [`ScaledIdentityLsq::noisy_grad`], which draws
//! from the caller's RNG (the trait's `minibatch_grad` has no RNG and returns the exact
//! gradient).
//!
//! ```
//! use squeeze_problems::{quadratic, oracle::Oracle};
//! let p = quadratic::three_pc::<f64>(1000, 10, 0.1, 12345).unwrap();
//! assert_eq!((p.n_workers(), p.dim()), (10, 1000));
//! let s = p.smoothness();
//! assert!(s.l <= s.l_am * (1.0 + 1e-12) && s.l_pm.unwrap() > 0.0);
//! ```

use squeeze_core::rng::{Purpose, SqueezeRng};
use squeeze_core::{ParamError, Scalar};

use crate::error::ProblemError;
use crate::hessian::{Curvature, hess_vec_dims_ok, hessian_dims_ok};
use crate::oracle::{
    Candidates, HitWriter, Oracle, SCAN_CHUNK, Stop, add_gaussian_noise, dims_ok, probe_term,
    scan_block,
};
use crate::problem::Problem;
use crate::smoothness::Smoothness;

/// f(x) = ½xᵀAx − b₁x₁ with A = tridiag(off, diag, off) of size d (a 3PC worker).
#[derive(Debug, Clone, PartialEq)]
pub struct TridiagQuadratic<S> {
    d: usize,
    diag: S,
    off: S,
    b1: S,
    l: f64,
}

impl<S: Scalar> TridiagQuadratic<S> {
    /// A = tridiag(`off`, `diag`, `off`) (d × d), b = `b1`·e₁; L = λ_max(A) in closed form.
    pub fn new(d: usize, diag: f64, off: f64, b1: f64) -> Result<Self, ParamError> {
        if d == 0 {
            return Err(ParamError::new(
                "quadratic",
                "d",
                d,
                "the dimension must be ≥ 1",
            ));
        }
        for (name, v) in [("diag", diag), ("off", off), ("b1", b1)] {
            if !v.is_finite() {
                return Err(ParamError::new("quadratic", name, v, "must be finite"));
            }
        }
        // Eigenvalues of tridiag(o, a, o): a + 2o·cos(kπ/(d+1)), k = 1..d.
        let c = (core::f64::consts::PI / (d as f64 + 1.0)).cos();
        let l = if d == 1 {
            diag
        } else {
            diag + 2.0 * off.abs() * c
        };
        Ok(Self {
            d,
            diag: S::from_f64(diag),
            off: S::from_f64(off),
            b1: S::from_f64(b1),
            l,
        })
    }

    /// (diagonal, off-diagonal, b₁).
    pub fn coefficients(&self) -> (f64, f64, f64) {
        (self.diag.to_f64(), self.off.to_f64(), self.b1.to_f64())
    }

    /// Row k of A x: `a·x_k + o·x_{k−1} + o·x_{k+1}`, added in that order (the neighbours that
    /// exist).
    #[inline(always)]
    fn row(&self, x: &[S], k: usize) -> S {
        let mut ax = self.diag * x[k];
        if k > 0 {
            ax += self.off * x[k - 1];
        }
        if k + 1 < self.d {
            ax += self.off * x[k + 1];
        }
        ax
    }

    /// grad = A x − b; returns ½xᵀAx − bᵀx.
    fn eval(&self, x: &[S], grad: Option<&mut [S]>) -> f64 {
        let mut q = 0.0f64;
        match grad {
            Some(g) => {
                for k in 0..self.d {
                    let ax = self.row(x, k);
                    q += ax.to_f64() * x[k].to_f64();
                    g[k] = ax;
                }
                g[0] -= self.b1;
            }
            None => {
                for k in 0..self.d {
                    q += self.row(x, k).to_f64() * x[k].to_f64();
                }
            }
        }
        0.5 * q - self.b1.to_f64() * x[0].to_f64()
    }

    /// grad = A x − b without the loss (no serial `f64` sum, so the interior vectorises).
    /// Each entry is computed as in [`Self::eval`] (`a·x_k + o·x_{k−1} + o·x_{k+1}`, in that
    /// order), so the bits are the same. Lengths are the caller's (both = d).
    fn grad_only(&self, x: &[S], g: &mut [S]) {
        self.apply(x, g);
        g[0] -= self.b1;
    }

    /// out = A v (the stencil of [`Self::grad_only`]). Lengths are the caller's (both = d).
    fn apply(&self, v: &[S], out: &mut [S]) {
        let d = self.d;
        let (a, o) = (self.diag, self.off);
        if d == 1 {
            out[0] = a * v[0];
        } else {
            out[0] = a * v[0] + o * v[1];
            for (ok, w) in out[1..d - 1].iter_mut().zip(v.windows(3)) {
                *ok = a * w[1] + o * w[0] + o * w[2];
            }
            out[d - 1] = a * v[d - 1] + o * v[d - 2];
        }
    }
}

/// The interior of the fused 3PC pass: `out[i] = ((a·x_{i+1} + o·x_i) + o·x_{i+2}) − sub[i]`
/// for i = 0..d−2 (entry k = i + 1 of ∇f − sub, `x.len() = d`, `out.len() = sub.len() = d − 2`);
/// returns whether every entry is finite (a sum of `v − v` probes: 0, or NaN). Blocks of 16
/// with exact lengths, so that the probe lanes stay in registers and the block vectorises (the
/// centre, left and right neighbours are three shifted views of x). The probe's summation
/// order does not matter (every term is 0 or NaN) and each entry is one expression, so the
/// AVX2 copy gives the same bits.
#[inline(always)]
fn tridiag_minus_body<S: Scalar>(a: S, o: S, x: &[S], sub: &[S], out: &mut [S]) -> bool {
    const B: usize = 16;
    let m = out.len();
    if sub.len() != m || x.len() != m + 2 {
        return false;
    }
    let (left, centre, right) = (&x[..m], &x[1..=m], &x[2..]);
    let mut probe = [S::ZERO; B];
    let mut outs = out.chunks_exact_mut(B);
    let mut ins = centre
        .chunks_exact(B)
        .zip(left.chunks_exact(B))
        .zip(right.chunks_exact(B))
        .zip(sub.chunks_exact(B));
    for (ob, (((cb, lb), rb), sb)) in (&mut outs).zip(&mut ins) {
        for j in 0..B {
            let v = (a * cb[j] + o * lb[j] + o * rb[j]) - sb[j];
            ob[j] = v;
            probe[j] += probe_term(v);
        }
    }
    let tail = m - m % B;
    for (j, ok) in outs.into_remainder().iter_mut().enumerate() {
        let k = tail + j;
        let v = (a * centre[k] + o * left[k] + o * right[k]) - sub[k];
        *ok = v;
        probe[j] += probe_term(v);
    }
    probe.iter().fold(S::ZERO, |acc, &p| acc + p) == S::ZERO
}

squeeze_core::dispatch_avx2! {
    /// [`tridiag_minus_body`], dispatched to its AVX2 copy when the CPU has AVX2.
    fn tridiag_minus_interior<S: Scalar>(a: S, o: S, x: &[S], sub: &[S], out: &mut [S]) -> bool
        => tridiag_minus_body
}

/// [`tridiag_minus_body`] fused with the threshold scan of [`Oracle::grad_minus_scan`]: the
/// same entries (each one expression, so the same bits) in blocks of [`SCAN_CHUNK`], each block
/// tested by [`scan_block`] while it is in L1 (`out[i]` has index `base + i`; `how` = (t,
/// cap)). Stops after the block that brings the cursor `*w` to the cap ([`Stop::Full`]) or at a
/// block with a non-finite entry; returns the position reached. The slots need room for
/// `cap + SCAN_CHUNK` with `*w < cap` on entry.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn tridiag_scan_body<S: Scalar>(
    ao: (S, S),
    x: &[S],
    sub: &[S],
    out: &mut [S],
    base: usize,
    how: (S, usize),
    slots: (&mut [u32], &mut [S]),
    w: &mut usize,
) -> (usize, Stop) {
    let ((a, o), (t, cap), (idx, val)) = (ao, how, slots);
    let m = out.len();
    if sub.len() != m || x.len() != m + 2 {
        return (0, Stop::NonFinite);
    }
    let (left, centre, right) = (&x[..m], &x[1..=m], &x[2..]);
    let ins = (centre.as_chunks::<SCAN_CHUNK>().0.iter())
        .zip(left.as_chunks::<SCAN_CHUNK>().0)
        .zip(right.as_chunks::<SCAN_CHUNK>().0)
        .zip(sub.as_chunks::<SCAN_CHUNK>().0);
    let outs = out.as_chunks_mut::<SCAN_CHUNK>().0;
    let whole = outs.len() * SCAN_CHUNK;
    for (ci, (ob, (((cb, lb), rb), sb))) in outs.iter_mut().zip(ins).enumerate() {
        for j in 0..SCAN_CHUNK {
            ob[j] = (a * cb[j] + o * lb[j] + o * rb[j]) - sb[j];
        }
        let pos = ci * SCAN_CHUNK;
        if !scan_block(ob, base + pos, t, idx, val, w) {
            return (pos, Stop::NonFinite);
        }
        if *w >= cap {
            return (pos + SCAN_CHUNK, Stop::Full);
        }
    }
    (whole, Stop::Done)
}

squeeze_core::dispatch_avx2! {
    /// [`tridiag_scan_body`], dispatched to its AVX2 copy when the CPU has AVX2.
    #[allow(clippy::too_many_arguments)]
    fn tridiag_scan_interior<S: Scalar>(
        ao: (S, S),
        x: &[S],
        sub: &[S],
        out: &mut [S],
        base: usize,
        how: (S, usize),
        slots: (&mut [u32], &mut [S]),
        w: &mut usize,
    ) -> (usize, Stop) => tridiag_scan_body
}

impl<S: Scalar> TridiagQuadratic<S> {
    /// The fused pass of [`Oracle::grad_minus_scan`] once the lengths are checked (`d ≥ 2`):
    /// entry 0, the interior blocks (resumed after each reduction), the interior tail, entry
    /// d − 1 — every entry the expression of `grad_minus`, tested in index order.
    fn scan_pass(
        &self,
        x: &[S],
        sub: &[S],
        out: &mut [S],
        hits: &mut HitWriter<'_, '_, S>,
    ) -> bool {
        let d = self.d;
        let (a, o) = (self.diag, self.off);
        out[0] = ((a * x[0] + o * x[1]) - self.b1) - sub[0];
        if !hits.push(0, out[0]) {
            return false;
        }
        let m = d - 2;
        let mut pos = 0;
        loop {
            let mut w = hits.w;
            let (t, cap, idx, val) = hits.slots();
            let (n, stop) = tridiag_scan_interior(
                (a, o),
                &x[pos..],
                &sub[1 + pos..d - 1],
                &mut out[1 + pos..d - 1],
                1 + pos,
                (t, cap),
                (idx, val),
                &mut w,
            );
            hits.w = w;
            pos += n;
            match stop {
                Stop::Done => break,
                Stop::Full => hits.reduce(),
                Stop::NonFinite => return false,
            }
        }
        for k in pos + 1..=m {
            out[k] = (a * x[k] + o * x[k - 1] + o * x[k + 1]) - sub[k];
            if !hits.push(k, out[k]) {
                return false;
            }
        }
        out[d - 1] = (a * x[d - 1] + o * x[d - 2]) - sub[d - 1];
        hits.push(d - 1, out[d - 1])
    }
}

impl<S: Scalar> Oracle<S> for TridiagQuadratic<S> {
    fn dim(&self) -> usize {
        self.d
    }
    fn n_samples(&self) -> usize {
        1
    }
    fn loss(&self, x: &[S]) -> f64 {
        if x.len() != self.d {
            return f64::NAN;
        }
        self.eval(x, None)
    }
    fn loss_grad(&self, x: &[S], grad: &mut [S]) -> f64 {
        if !dims_ok(self.d, x, grad) {
            return f64::NAN;
        }
        self.eval(x, Some(grad))
    }
    fn grad(&self, x: &[S], grad: &mut [S]) {
        if dims_ok(self.d, x, grad) {
            self.grad_only(x, grad);
        }
    }
    /// (A x − b) − sub in one pass, the stencil fused with the subtraction and the
    /// finiteness probe (same bits as `grad` then the subtraction: each entry is
    /// `((a·x_k + o·x_{k−1}) + o·x_{k+1}) − sub_k`, with `− b₁` before `− sub₀` at k = 0).
    /// This pass is the local-gradient half of an EF21 round at scale (`benches/rounds.rs`).
    fn grad_minus(&self, x: &[S], sub: &[S], out: &mut [S]) -> bool {
        if !dims_ok(self.d, x, out) || sub.len() != out.len() {
            out.fill(S::from_f64(f64::NAN));
            return false;
        }
        let d = self.d;
        let (a, o) = (self.diag, self.off);
        if d == 1 {
            out[0] = (a * x[0] - self.b1) - sub[0];
            return out[0].is_finite();
        }
        out[0] = ((a * x[0] + o * x[1]) - self.b1) - sub[0];
        out[d - 1] = (a * x[d - 1] + o * x[d - 2]) - sub[d - 1];
        let edges = probe_term(out[0]) + probe_term(out[d - 1]);
        let interior = tridiag_minus_interior(a, o, x, &sub[1..d - 1], &mut out[1..d - 1]);
        edges == S::ZERO && interior
    }
    /// [`Oracle::grad_minus`]'s pass with the threshold scan of each block of 64 entries
    /// while it is in L1 (the same bits in `out`; EF21 + Top-K then skips its pass over the
    /// difference, see [`Oracle::grad_minus_scan`]).
    fn grad_minus_scan(
        &self,
        x: &[S],
        sub: &[S],
        out: &mut [S],
        hits: &mut Candidates<'_, S>,
    ) -> Option<bool> {
        if !dims_ok(self.d, x, out) || sub.len() != out.len() {
            out.fill(S::from_f64(f64::NAN));
            return Some(false);
        }
        let mut h = HitWriter::new(hits);
        let ok = if self.d == 1 {
            out[0] = (self.diag * x[0] - self.b1) - sub[0];
            h.push(0, out[0])
        } else {
            self.scan_pass(x, sub, out, &mut h)
        };
        h.finish();
        Some(ok)
    }
    fn minibatch_grad(&self, x: &[S], _batch: &[u32], grad: &mut [S]) {
        self.grad(x, grad);
    }
    fn smoothness(&self) -> f64 {
        self.l
    }
    /// λ_min(A) = a − 2|o| cos(π/(d + 1)) (tridiagonal Toeplitz eigenvalues; a for d = 1).
    fn curvature(&self) -> Option<Curvature> {
        let (a, o) = (self.diag.to_f64(), self.off.to_f64());
        let min_eigenvalue = if self.d == 1 {
            a
        } else {
            a - 2.0 * o.abs() * (core::f64::consts::PI / (self.d as f64 + 1.0)).cos()
        };
        Some(Curvature { min_eigenvalue })
    }
    /// ∇²f = A, the same at every x.
    fn hessian(&self, x: &[S], h: &mut [S]) {
        let d = self.d;
        if !hessian_dims_ok(d, x, h) {
            return;
        }
        h.fill(S::ZERO);
        for k in 0..d {
            h[k * d + k] = self.diag;
            if k + 1 < d {
                h[k * d + k + 1] = self.off;
                h[(k + 1) * d + k] = self.off;
            }
        }
    }
    fn hess_vec(&self, x: &[S], v: &[S], out: &mut [S]) {
        if hess_vec_dims_ok(self.d, x, v, out) {
            self.apply(v, out);
        }
    }
}

/// The 3PC synthetic problem (see the [module docs](self)): d ≥ 2, n ≥ 1 workers,
/// heterogeneity s ≥ 0 (the paper uses d = 1000, n ∈ {10, 100, 1000}, s ∈ {0.05, 0.1}).
/// The problem's default initial point is √d e₁; `smoothness().l_pm` is L_±.
pub fn three_pc<S: Scalar>(
    d: usize,
    n: usize,
    s: f64,
    seed: u64,
) -> Result<Problem<S>, ProblemError> {
    if d < 2 {
        return Err(ParamError::new("quadratic_3pc", "d", d, "use d ≥ 2").into());
    }
    if n == 0 {
        return Err(ProblemError::NoWorkers);
    }
    if !(s.is_finite() && s >= 0.0) {
        return Err(ParamError::new("quadratic_3pc", "s", s, "use a finite s ≥ 0").into());
    }
    let angle = core::f64::consts::PI / (d as f64 + 1.0);
    let t_min = 2.0 - 2.0 * angle.cos();
    let t_max = 2.0 + 2.0 * angle.cos();
    let (mut c, mut b1) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let mut rng = SqueezeRng::stream(seed, Purpose::Data, i as u64);
        let (xi, xi2) = (rng.normal(), rng.normal());
        let ci = (1.0 + s * xi) / 4.0;
        c.push(ci);
        b1.push(ci * (-1.0 + s * xi2));
    }
    let nf = n as f64;
    let c_bar = c.iter().sum::<f64>() / nf;
    let delta = 1e-6 - (c_bar * t_min).min(c_bar * t_max);
    let mut oracles: Vec<Box<dyn Oracle<S>>> = Vec::with_capacity(n);
    let mut l_i = Vec::with_capacity(n);
    for (&ci, &bi) in c.iter().zip(&b1) {
        let q = TridiagQuadratic::<S>::new(d, 2.0 * ci + delta, -ci, bi)?;
        l_i.push((ci * t_min).max(ci * t_max) + delta);
        oracles.push(Box::new(q));
    }
    let l = (c_bar * t_min).max(c_bar * t_max) + delta;
    let var = (c.iter().map(|v| v * v).sum::<f64>() / nf - c_bar * c_bar).max(0.0);
    let mut smooth = Smoothness::new(l_i, l);
    smooth.l_pm = Some(var.sqrt() * t_max);
    let mut x0 = vec![S::ZERO; d];
    x0[0] = S::from_f64((d as f64).sqrt());
    Problem::new(
        format!("quadratic_3pc(d={d},n={n},s={s})"),
        oracles,
        smooth,
        Some(x0),
    )
}

/// f(x) = ½‖a x − b‖² with a scalar a (A = aI): a MoTEF synthetic worker.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaledIdentityLsq<S> {
    a: S,
    b: Vec<S>,
    sigma: f64,
}

impl<S: Scalar> ScaledIdentityLsq<S> {
    /// f(x) = ½‖a x − b‖², stochastic-gradient noise level σ ≥ 0.
    pub fn new(a: f64, b: Vec<S>, sigma: f64) -> Result<Self, ParamError> {
        if !a.is_finite() {
            return Err(ParamError::new("motef_quadratic", "a", a, "must be finite"));
        }
        if b.is_empty() || b.iter().any(|v| !v.is_finite()) {
            return Err(ParamError::new(
                "motef_quadratic",
                "b",
                b.len(),
                "b must be non-empty and finite",
            ));
        }
        if !(sigma.is_finite() && sigma >= 0.0) {
            return Err(ParamError::new(
                "motef_quadratic",
                "sigma",
                sigma,
                "use a finite σ ≥ 0",
            ));
        }
        Ok(Self {
            a: S::from_f64(a),
            b,
            sigma,
        })
    }

    /// Exact gradient plus N(0, (σ²/d) I) noise drawn from `rng` (MoTEF's stochastic
    /// oracle). Returns the exact f(x).
    pub fn noisy_grad(&self, x: &[S], rng: &mut SqueezeRng, grad: &mut [S]) -> f64 {
        let f = self.loss_grad(x, grad);
        if f.is_finite() {
            add_gaussian_noise(grad, self.sigma, rng);
        }
        f
    }

    /// The offset vector b.
    pub fn b(&self) -> &[S] {
        &self.b
    }
}

impl<S: Scalar> Oracle<S> for ScaledIdentityLsq<S> {
    fn dim(&self) -> usize {
        self.b.len()
    }
    fn n_samples(&self) -> usize {
        1
    }
    fn loss(&self, x: &[S]) -> f64 {
        if x.len() != self.b.len() {
            return f64::NAN;
        }
        let s: f64 = x
            .iter()
            .zip(&self.b)
            .map(|(&x, &b)| {
                let r = (self.a * x - b).to_f64();
                r * r
            })
            .sum();
        0.5 * s
    }
    fn loss_grad(&self, x: &[S], grad: &mut [S]) -> f64 {
        if !dims_ok(self.b.len(), x, grad) {
            return f64::NAN;
        }
        let mut s = 0.0f64;
        for ((g, &x), &b) in grad.iter_mut().zip(x).zip(&self.b) {
            let r = self.a * x - b;
            s += r.to_f64() * r.to_f64();
            *g = self.a * r;
        }
        0.5 * s
    }
    /// ∇f = a(a x − b) without the loss (whose serial `f64` sum would bound the pass).
    fn grad(&self, x: &[S], grad: &mut [S]) {
        if !dims_ok(self.b.len(), x, grad) {
            return;
        }
        for ((g, &x), &b) in grad.iter_mut().zip(x).zip(&self.b) {
            *g = self.a * (self.a * x - b);
        }
    }
    /// a(a x − b) − sub in one pass (same bits as `grad` then the subtraction).
    fn grad_minus(&self, x: &[S], sub: &[S], out: &mut [S]) -> bool {
        if !dims_ok(self.b.len(), x, out) || sub.len() != out.len() {
            out.fill(S::from_f64(f64::NAN));
            return false;
        }
        let a = self.a;
        let mut probe = [S::ZERO; 8];
        let chunks = out
            .chunks_mut(8)
            .zip(x.chunks(8))
            .zip(self.b.chunks(8))
            .zip(sub.chunks(8));
        for (((o8, x8), b8), s8) in chunks {
            let lanes = o8.iter_mut().zip(x8).zip(b8).zip(s8).zip(&mut probe);
            for ((((o, &x), &b), &s), p) in lanes {
                let v = a * (a * x - b) - s;
                *o = v;
                *p += probe_term(v);
            }
        }
        probe.iter().all(|&p| p == S::ZERO)
    }
    fn minibatch_grad(&self, x: &[S], _batch: &[u32], grad: &mut [S]) {
        self.grad(x, grad);
    }
    fn smoothness(&self) -> f64 {
        self.a.to_f64() * self.a.to_f64()
    }
    fn curvature(&self) -> Option<Curvature> {
        Some(Curvature {
            min_eigenvalue: (self.a * self.a).to_f64(),
        })
    }
    /// ∇²f = a² I.
    fn hessian(&self, x: &[S], h: &mut [S]) {
        let d = self.b.len();
        if hessian_dims_ok(d, x, h) {
            h.fill(S::ZERO);
            let a2 = self.a * self.a;
            for k in 0..d {
                h[k * d + k] = a2;
            }
        }
    }
    fn hess_vec(&self, x: &[S], v: &[S], out: &mut [S]) {
        if hess_vec_dims_ok(self.b.len(), x, v, out) {
            let a2 = self.a * self.a;
            for (o, &vk) in out.iter_mut().zip(v) {
                *o = a2 * vk;
            }
        }
    }
}

/// The MoTEF synthetic problem (see the [module docs](self)) and its solution.
#[derive(Debug)]
pub struct Motef<S: Scalar> {
    /// The problem; its default initial point is x* + (1/d)·1.
    pub problem: Problem<S>,
    /// Workers with their [`ScaledIdentityLsq::noisy_grad`] (same functions as `problem`).
    pub workers: Vec<ScaledIdentityLsq<S>>,
    /// x* = Σ a_i b_i / Σ a_i².
    pub x_star: Vec<S>,
}

/// Build the MoTEF quadratics with d ≥ 1, n ≥ 1 workers, ζ ≥ 0 (heterogeneity) and σ ≥ 0
/// (gradient noise).
///
/// ```
/// use squeeze_problems::{quadratic, oracle::Oracle};
/// let m = quadratic::motef::<f64>(50, 4, 1.0, 0.1, 0).unwrap();
/// // ∇f(x*) = 0
/// let mut ws = m.problem.workspace();
/// let mut g = vec![0.0; 50];
/// m.problem.loss_grad(&m.x_star, &mut g, &mut ws).unwrap();
/// assert!(g.iter().all(|v| v.abs() < 1e-12));
/// ```
pub fn motef<S: Scalar>(
    d: usize,
    n: usize,
    zeta: f64,
    sigma: f64,
    seed: u64,
) -> Result<Motef<S>, ProblemError> {
    if d == 0 {
        return Err(ParamError::new("motef_quadratic", "d", d, "use d ≥ 1").into());
    }
    if n == 0 {
        return Err(ProblemError::NoWorkers);
    }
    if !(zeta.is_finite() && zeta >= 0.0) {
        return Err(ParamError::new("motef_quadratic", "zeta", zeta, "use a finite ζ ≥ 0").into());
    }
    let sqrt_n = (n as f64).sqrt();
    let mut workers = Vec::with_capacity(n);
    let mut num = vec![0.0f64; d];
    let mut den = 0.0f64;
    for i in 0..n {
        let a = (i as f64 + 1.0) / sqrt_n;
        let std = zeta.sqrt() / (i as f64 + 1.0);
        let mut rng = SqueezeRng::stream(seed, Purpose::Data, i as u64);
        let b: Vec<S> = (0..d).map(|_| S::from_f64(std * rng.normal())).collect();
        for (acc, &bk) in num.iter_mut().zip(&b) {
            *acc += a * bk.to_f64();
        }
        den += a * a;
        workers.push(ScaledIdentityLsq::new(a, b, sigma)?);
    }
    let x_star: Vec<S> = num.iter().map(|v| S::from_f64(v / den)).collect();
    let start: Vec<S> = x_star
        .iter()
        .map(|&v| v + S::from_f64(1.0 / d as f64))
        .collect();
    let l_i: Vec<f64> = workers.iter().map(|w| w.smoothness()).collect();
    let l = den / n as f64;
    let oracles: Vec<Box<dyn Oracle<S>>> = workers
        .iter()
        .map(|w| Box::new(w.clone()) as Box<dyn Oracle<S>>)
        .collect();
    let problem = Problem::new(
        format!("quadratic_motef(d={d},n={n},zeta={zeta},sigma={sigma})"),
        oracles,
        Smoothness::new(l_i, l),
        Some(start),
    )?;
    Ok(Motef {
        problem,
        workers,
        x_star,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits<S: Scalar>(v: &[S]) -> Vec<u64> {
        v.iter().map(|x| x.to_f64().to_bits()).collect()
    }

    /// The loss-free `grad` (and `minibatch_grad`) of both quadratics give the same bits as
    /// `loss_grad`, at the edge dimensions of the stencil.
    fn grad_matches_loss_grad<S: Scalar>() {
        for d in [1usize, 2, 3, 4, 9, 10, 11, 17, 1001] {
            let x: Vec<S> = (0..d)
                .map(|k| S::from_f64((k as f64 * 0.731).sin() * 2.0))
                .collect();
            let tri = TridiagQuadratic::<S>::new(d, 2.1, -0.7, 0.3).unwrap();
            let motef = motef::<S>(d, 3, 1.0, 0.0, 2).unwrap();
            let oracles = motef.problem.oracles().iter().map(|o| o.as_ref());
            for o in oracles.chain([&tri as &dyn Oracle<S>]) {
                let (mut g1, mut g2, mut g3) =
                    (vec![S::ZERO; d], vec![S::ZERO; d], vec![S::ZERO; d]);
                o.loss_grad(&x, &mut g1);
                o.grad(&x, &mut g2);
                o.minibatch_grad(&x, &[0], &mut g3);
                assert_eq!(bits(&g1), bits(&g2), "d = {d}");
                assert_eq!(bits(&g1), bits(&g3), "d = {d}");
                // grad_minus = grad − sub, bit for bit, and reports finiteness.
                let sub: Vec<S> = (0..d).map(|k| S::from_f64(k as f64 * 0.1 - 0.3)).collect();
                let mut gm = vec![S::ZERO; d];
                assert!(o.grad_minus(&x, &sub, &mut gm));
                let want: Vec<S> = g1.iter().zip(&sub).map(|(&g, &s)| g - s).collect();
                assert_eq!(bits(&gm), bits(&want), "d = {d}");
                let mut bad = sub.clone();
                bad[d / 2] = S::from_f64(f64::NAN);
                assert!(!o.grad_minus(&x, &bad, &mut gm));
                assert!(!o.grad_minus(&x, &sub[1..], &mut gm));
                // Wrong lengths poison with NaN.
                let mut short = vec![S::ZERO; d + 1];
                o.grad(&x, &mut short);
                assert!(short.iter().all(|v| v.to_f64().is_nan()));
            }
        }
    }

    /// The fused 3PC pass gives the same bits through its AVX2 copy (when the CPU has it) as
    /// through the baseline copy and as `loss_grad` − sub, for d = 1..70 and longer odd d,
    /// with NaN/±∞ in `sub` (reported as non-finite by both copies).
    fn fused_pass_copies_agree<S: Scalar>() {
        let mut rng = SqueezeRng::from_seed_u64(11);
        for d in (1usize..70).chain([127, 129, 1001, 4099]) {
            let q = TridiagQuadratic::<S>::new(d, 2.1, -0.7, 0.3).unwrap();
            let x: Vec<S> = (0..d).map(|_| S::from_f64(rng.normal() * 3.0)).collect();
            for bad in [
                None,
                Some(f64::NAN),
                Some(f64::INFINITY),
                Some(f64::NEG_INFINITY),
            ] {
                let mut sub: Vec<S> = (0..d).map(|_| S::from_f64(rng.normal())).collect();
                let at = (rng.next_f64() * d as f64) as usize % d;
                if let Some(v) = bad {
                    sub[at] = S::from_f64(v);
                }
                let mut g = vec![S::ZERO; d];
                q.loss_grad(&x, &mut g);
                let want: Vec<S> = g.iter().zip(&sub).map(|(&g, &s)| g - s).collect();
                // Every copy of the kernel (baseline, AVX2, AVX-512 where the CPU has them).
                for level in squeeze_core::simd::Level::ALL {
                    let mut out = vec![S::ZERO; d];
                    let ok =
                        squeeze_core::simd::at_most(level, || q.grad_minus(&x, &sub, &mut out));
                    assert_eq!(ok, bad.is_none(), "d = {d}, {bad:?} at {at}, {level:?}");
                    assert_eq!(bits(&out), bits(&want), "d = {d}, {level:?}");
                }
            }
        }
    }

    #[test]
    fn fused_pass_copies_agree_f32_f64() {
        fused_pass_copies_agree::<f32>();
        fused_pass_copies_agree::<f64>();
    }

    #[test]
    fn grad_matches_loss_grad_f64() {
        grad_matches_loss_grad::<f64>();
    }

    #[test]
    fn grad_matches_loss_grad_f32() {
        grad_matches_loss_grad::<f32>();
    }
}
