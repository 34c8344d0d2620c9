//! The contract every compressor must satisfy, as reusable checks.
//!
//! `tests/conformance.rs` runs [`check`] under proptest for every example spec of every registry
//! entry, on generated inputs (zeros, ties, tiny and huge magnitudes, `d = 1`), in `f32`, `f64`
//! and the 16-bit `f16`/`bf16`; matrix compressors (the registry's `matrix` flag) run through
//! [`check_matrix`] instead, on packed symmetric matrices of triangular length, with every norm
//! the Frobenius norm. A compressor outside this crate can be run through the same checks.
//!
//! Statistical checks are seeded Monte-Carlo estimates over `samples` draws with stated
//! tolerances (`Z` standard errors, [`Z`] = 6; the unbiasedness bound uses the factor
//! [`MEAN_FACTOR`] = 25, a χ²₁ tail below 10⁻⁶). Floating-point slack is relative:
//! [`slack`] × ‖x‖².

use squeeze_core::{
    BitWriter, CompressCtx, CompressError, Compressor, Message, Scalar, Scratch, SqueezeRng,
};

/// Standard errors allowed above a bound in Monte-Carlo mean tests.
pub const Z: f64 = 6.0;
/// `‖mean − x‖² ≤ MEAN_FACTOR · ω‖x‖²/N` in the unbiasedness test.
pub const MEAN_FACTOR: f64 = 25.0;

/// Relative floating-point slack for the scalar type: `1e-10` (`f64`), `1e-5` (`f32`), and
/// $2^{3 - m}$ with $m$ = `MANT_BITS` for the 16-bit types ($2^{-7} \approx 7.8\cdot 10^{-3}$ for
/// `f16`, $2^{-4} = 0.0625$ for `bf16`: a few units of their roundoff, since their kernels round
/// every product and sum to 11 or 8 significant bits).
pub fn slack<S: Scalar>() -> f64 {
    match S::BITS {
        64 => 1e-10,
        32 => 1e-5,
        _ => 2f64.powi(3 - S::MANT_BITS as i32),
    }
}

/// Worker identity and round seed for a check.
#[derive(Debug, Clone, Copy)]
pub struct CtxSpec {
    /// Worker index.
    pub worker: usize,
    /// Number of workers.
    pub n_workers: usize,
    /// Shared round seed.
    pub round_seed: u64,
}

impl Default for CtxSpec {
    fn default() -> Self {
        Self {
            worker: 0,
            n_workers: 1,
            round_seed: 12345,
        }
    }
}

fn run<S: Scalar>(
    c: &dyn Compressor<S>,
    x: &[S],
    rng: &mut SqueezeRng,
    scratch: &mut Scratch,
    spec: CtxSpec,
    out: &mut Message<S>,
) -> Result<(), CompressError> {
    with_ctx(rng, scratch, spec, |ctx| c.compress_into(x, ctx, out))
}

/// `f` with the context of `spec` on `rng` and `scratch`.
fn with_ctx<R>(
    rng: &mut SqueezeRng,
    scratch: &mut Scratch,
    spec: CtxSpec,
    f: impl FnOnce(&mut CompressCtx<'_>) -> R,
) -> R {
    let mut ctx = CompressCtx::new(rng, scratch)
        .with_worker(spec.worker, spec.n_workers)
        .with_round_seed(spec.round_seed);
    f(&mut ctx)
}

/// `C(x)` with a fresh stream of `seed`, fresh scratch and the default context (worker 0 of
/// 1): the one-off call of tests and examples.
///
/// ```
/// use squeeze_compress::{Identity, conformance::compress_once};
/// let m = compress_once(&Identity, &[1.0f32, -2.0], 0).unwrap();
/// assert_eq!(m.to_dense().unwrap(), vec![1.0, -2.0]);
/// ```
pub fn compress_once<S: Scalar>(
    c: &(impl Compressor<S> + ?Sized),
    x: &[S],
    seed: u64,
) -> Result<Message<S>, CompressError> {
    let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(seed), Scratch::default());
    c.compress(x, &mut CompressCtx::new(&mut rng, &mut scratch))
}

/// Buffer reuse: `x` compressed twice into one message (one seed-0 stream) gives the same
/// message both times (for a deterministic `c`), and the buffer `buffer` points into (e.g. a
/// `Sign` message's words) keeps its address: it was reused, not allocated again.
pub fn check_reuse<S: Scalar, T>(
    c: &dyn Compressor<S>,
    x: &[S],
    buffer: impl Fn(&Message<S>) -> Option<*const T>,
) -> Result<(), String> {
    let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
    let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
    let mut m = Message::default();
    c.compress_into(x, &mut ctx, &mut m)
        .map_err(|e| e.to_string())?;
    let (first, at) = (m.clone(), buffer(&m));
    c.compress_into(x, &mut ctx, &mut m)
        .map_err(|e| e.to_string())?;
    if m != first {
        return Err(format!(
            "the second message {m:?} differs from the first {first:?}"
        ));
    }
    match (at, buffer(&m)) {
        (Some(a), Some(b)) if a == b => Ok(()),
        (None, _) => Err(format!("no buffer in {first:?}")),
        _ => Err("the buffer was allocated again".to_string()),
    }
}

fn err_sq<S: Scalar>(m: &Message<S>, x: &[S], w: &[f64]) -> Result<f64, String> {
    let dense = m.to_dense().map_err(|e| format!("to_dense: {e}"))?;
    Ok(dense
        .iter()
        .zip(x)
        .zip(w)
        .map(|((a, b), w)| {
            let d = a.to_f64() - b.to_f64();
            w * d * d
        })
        .sum())
}

/// The norm a check measures in: per-coordinate weights of $\lVert v\rVert^2 = \sum_j w_j v_j^2$
/// — all 1 (Euclidean), or the Frobenius weights of a packed symmetric matrix (2 off the
/// diagonal, 1 on it; `None` if `len` is not triangular).
fn weights(len: usize, matrix: bool) -> Option<Vec<f64>> {
    if !matrix {
        return Some(vec![1.0; len]);
    }
    let d = squeeze_core::sym::tri_side(len)?;
    let mut w = vec![2.0; len];
    for r in 0..d {
        w[squeeze_core::sym::row_start(d, r)] = 1.0;
    }
    Some(w)
}

/// Check the wire format of one message: valid, right dimension, `bits()` = encoded length,
/// decode ∘ encode = identity (and canonical: re-encoding gives the same bytes).
pub fn check_wire<S: Scalar>(m: &Message<S>, dim: usize) -> Result<(), String> {
    m.validate().map_err(|e| format!("invalid message: {e}"))?;
    if m.dim() != dim {
        return Err(format!("message dim {} for input dim {dim}", m.dim()));
    }
    let mut w = squeeze_core::BitWriter::new();
    m.encode(&mut w);
    if w.bit_len() != m.bits() {
        return Err(format!(
            "bits() = {} but encode wrote {} bits",
            m.bits(),
            w.bit_len()
        ));
    }
    let bytes = w.finish().to_vec();
    let back = Message::<S>::decode(&bytes, dim).map_err(|e| format!("decode failed: {e}"))?;
    if &back != m {
        return Err(format!(
            "decode(encode(m)) != m:\n  m    = {m:?}\n  back = {back:?}"
        ));
    }
    if back.to_bytes() != bytes {
        return Err("re-encoding the decoded message changed the bytes".to_string());
    }
    Ok(())
}

/// Seeded Monte-Carlo sums for the unit tests' own statistics: `draws` compressions of `x` by
/// `c` in one context on `SqueezeRng::from_seed_u64(seed)`; returns the per-coordinate sums
/// of $\mathcal C(x)$ and the sum over the draws of $\lVert\mathcal C(x) - r\rVert^2$ for the
/// reference `r` (`x` as `f64`, or the values `x` was rounded from).
#[cfg(test)]
pub(crate) fn draw_sums<S: Scalar>(
    c: &dyn Compressor<S>,
    x: &[S],
    r: &[f64],
    seed: u64,
    draws: usize,
) -> (Vec<f64>, f64) {
    let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(seed), Scratch::default());
    let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
    let mut m = Message::default();
    let (mut sum, mut err) = (vec![0.0; x.len()], 0.0);
    for _ in 0..draws {
        c.compress_into(x, &mut ctx, &mut m).unwrap();
        for (j, y) in m.to_dense().unwrap().iter().enumerate() {
            sum[j] += y.to_f64();
            err += (y.to_f64() - r[j]).powi(2);
        }
    }
    (sum, err)
}

/// Run the whole contract for compressor `c` on input `x`:
///
/// 1. if `check_dim(d)` fails, `compress_into` must fail too (and nothing else is checked);
///    if the context does not fit ([`CompressError::Context`], e.g. a worker index beyond
///    Perm-K's `n`), the whole contract is run as worker 0 of 1 instead;
/// 2. wire format ([`check_wire`]);
/// 3. same seed ⇒ same message, also when compressing into a reused message; and
///    [`Compressor::compress_encode`] writes the bits of the message's encoding, leaving the
///    generator where `compress_into` does;
/// 4. the class inequality: per sample for deterministic compressors, in a seeded Monte-Carlo
///    mean over `samples` draws for random ones (contraction, unbiasedness, variance ≤ ω‖x‖²);
/// 5. NaN and ±∞ anywhere in `x` give [`CompressError::NonFinite`]; empty input gives an error.
pub fn check<S: Scalar>(
    c: &dyn Compressor<S>,
    x: &[S],
    seed: u64,
    spec: CtxSpec,
    samples: usize,
) -> Result<(), String> {
    check_in(c, x, seed, spec, samples, false)
}

/// [`check`] for a matrix compressor ([`crate::matrix`]): `x` is read as the packed upper
/// triangle of a symmetric matrix and every norm is the Frobenius norm (off-diagonal entries
/// weigh 2). An input whose length is not triangular must be refused by `check_dim` and
/// `compress_into` alike.
///
/// ```
/// use squeeze_compress::{conformance::{CtxSpec, check_matrix}, registry::parse};
/// let c = parse::<f64>("sym_top_k:k=2").unwrap();
/// check_matrix(c.as_ref(), &[3.0, 1.0, -2.0, 0.5, 0.0, 1.0], 1, CtxSpec::default(), 1).unwrap();
/// check_matrix(c.as_ref(), &[3.0, 1.0, -2.0, 0.5], 1, CtxSpec::default(), 1).unwrap();
/// ```
pub fn check_matrix<S: Scalar>(
    c: &dyn Compressor<S>,
    x: &[S],
    seed: u64,
    spec: CtxSpec,
    samples: usize,
) -> Result<(), String> {
    check_in(c, x, seed, spec, samples, true)
}

fn check_in<S: Scalar>(
    c: &dyn Compressor<S>,
    x: &[S],
    seed: u64,
    spec: CtxSpec,
    samples: usize,
    matrix: bool,
) -> Result<(), String> {
    let d = x.len();
    let name = c.spec();
    let mut scratch = Scratch::default();
    let mut m = Message::default();
    if let Err(e) = c.check_dim(d) {
        let mut rng = SqueezeRng::from_seed_u64(seed);
        return match run(c, x, &mut rng, &mut scratch, spec, &mut m) {
            Err(_) => Ok(()),
            Ok(()) => Err(format!(
                "{name}: check_dim({d}) failed ({e}) but compress succeeded"
            )),
        };
    }
    let Some(wt) = weights(d, matrix) else {
        return Err(format!(
            "{name}: a matrix compressor accepted the non-triangular length {d} in check_dim"
        ));
    };
    let mut rng = SqueezeRng::from_seed_u64(seed);
    match run(c, x, &mut rng, &mut scratch, spec, &mut m) {
        Ok(()) => {}
        // The worker layout does not fit the compressor's configuration (e.g. `perm_k:n=1`
        // run as worker 2 of 3): run the whole contract as worker 0 of 1 instead, which every
        // compressor must accept.
        Err(CompressError::Context { .. }) if spec.worker != 0 || spec.n_workers != 1 => {
            let single = CtxSpec {
                worker: 0,
                n_workers: 1,
                ..spec
            };
            return check_in(c, x, seed, single, samples, matrix);
        }
        Err(e) => return Err(format!("{name}: compress failed on valid input: {e}")),
    }
    check_wire(&m, d).map_err(|e| format!("{name}: {e}"))?;

    // Determinism, fresh and reused message.
    let mut rng2 = SqueezeRng::from_seed_u64(seed);
    let mut m2 = Message::default();
    run(c, x, &mut rng2, &mut Scratch::default(), spec, &mut m2).map_err(|e| e.to_string())?;
    if m2 != m {
        return Err(format!("{name}: same seed gave different messages"));
    }
    let mut rng3 = SqueezeRng::from_seed_u64(seed);
    run(c, x, &mut rng3, &mut scratch, spec, &mut m2).map_err(|e| e.to_string())?;
    if m2 != m {
        return Err(format!(
            "{name}: compressing into a reused message changed the result"
        ));
    }

    // The wire path straight from `x`: the bytes of compress then encode, and the generator
    // left where compress leaves it.
    let mut rng4 = SqueezeRng::from_seed_u64(seed);
    let mut w = BitWriter::new();
    let mut buf = Message::default();
    with_ctx(&mut rng4, &mut scratch, spec, |ctx| {
        c.compress_encode(x, ctx, &mut buf, &mut w)
    })
    .map_err(|e| format!("{name}: compress_encode failed where compress did not: {e}"))?;
    if w.finish() != m.to_bytes() {
        return Err(format!(
            "{name}: compress_encode wrote other bits than compress then encode"
        ));
    }
    if rng4.next_u64() != rng3.next_u64() {
        return Err(format!(
            "{name}: compress_encode left the generator elsewhere than compress"
        ));
    }

    // Class inequality.
    let class = c.class(d);
    let xx: f64 = x
        .iter()
        .zip(&wt)
        .map(|(v, w)| w * v.to_f64() * v.to_f64())
        .sum();
    let tol = slack::<S>() * xx;
    if c.is_deterministic() {
        let e = err_sq(&m, x, &wt)?;
        if let Some(a) = class.alpha()
            && e > (1.0 - a) * xx + tol
        {
            return Err(format!(
                "{name}: ‖C(x)−x‖² = {e:e} > (1−α)‖x‖² = {:e} (α = {a})",
                (1.0 - a) * xx
            ));
        }
        if let Some(w) = class.omega()
            && e > w * xx + tol
        {
            return Err(format!(
                "{name}: deterministic ‖C(x)−x‖² = {e:e} > ω‖x‖² = {:e}",
                w * xx
            ));
        }
    } else if samples > 1 && (class.alpha().is_some() || class.omega().is_some()) {
        let mut rng = SqueezeRng::from_seed_u64(seed ^ 0x5eed);
        let mut mean = vec![0.0f64; d];
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for i in 0..samples {
            let sp = CtxSpec {
                round_seed: spec.round_seed.wrapping_add(i as u64),
                ..spec
            };
            run(c, x, &mut rng, &mut scratch, sp, &mut m).map_err(|e| e.to_string())?;
            let dense = m.to_dense().map_err(|e| e.to_string())?;
            let mut e = 0.0;
            for (((mu, a), b), w) in mean.iter_mut().zip(&dense).zip(x).zip(&wt) {
                *mu += a.to_f64();
                let diff = a.to_f64() - b.to_f64();
                e += w * diff * diff;
            }
            s1 += e;
            s2 += e * e;
        }
        let n = samples as f64;
        let mean_err = s1 / n;
        let se = ((s2 / n - mean_err * mean_err).max(0.0) / n).sqrt();
        if let Some(a) = class.alpha()
            && mean_err > (1.0 - a) * xx + Z * se + tol
        {
            return Err(format!(
                "{name}: mean ‖C(x)−x‖² = {mean_err:e} > (1−α)‖x‖² = {:e} + {Z}·SE ({se:e})",
                (1.0 - a) * xx
            ));
        }
        if let Some(w) = class.omega() {
            if mean_err > w * xx + Z * se + tol {
                return Err(format!(
                    "{name}: mean ‖C(x)−x‖² = {mean_err:e} > ω‖x‖² = {:e} + {Z}·SE ({se:e})",
                    w * xx
                ));
            }
            let bias: f64 = mean
                .iter()
                .zip(x)
                .zip(&wt)
                .map(|((mu, b), wj)| {
                    let diff = mu / n - b.to_f64();
                    wj * diff * diff
                })
                .sum();
            let bound = MEAN_FACTOR * w * xx / n + tol;
            if bias > bound {
                return Err(format!(
                    "{name}: biased: ‖mean − x‖² = {bias:e} > {MEAN_FACTOR}·ω‖x‖²/N = {bound:e}"
                ));
            }
        }
    }

    // Bad input.
    for bad in [
        S::from_f64(f64::NAN),
        S::from_f64(f64::INFINITY),
        S::from_f64(f64::NEG_INFINITY),
    ] {
        let mut y = x.to_vec();
        let pos = (seed as usize) % d;
        y[pos] = bad;
        let mut rng = SqueezeRng::from_seed_u64(seed);
        match run(c, &y, &mut rng, &mut scratch, spec, &mut m) {
            Err(CompressError::NonFinite { index, .. }) if index == pos => {}
            other => {
                return Err(format!(
                    "{name}: input with {bad} at {pos} gave {other:?}, expected NonFinite at {pos}"
                ));
            }
        }
    }
    let mut rng = SqueezeRng::from_seed_u64(seed);
    if run(c, &[], &mut rng, &mut scratch, spec, &mut m).is_ok() {
        return Err(format!("{name}: empty input accepted"));
    }
    Ok(())
}
