//! A distributed problem: n local oracles, the global objective and its constants.
//!
//! f(x) = (1/n) Σ_i f_i(x). [`Problem::loss`] and [`Problem::loss_grad`] evaluate the workers in
//! order 0..n and sum in that order (the gradient in an `f64` accumulator), so the result is
//! the same bits on every run.
//!
//! ```
//! use squeeze_problems::{embedded, problem::{InitPoint, Problem}, split::{Remainder, Split}, Regularizer};
//! let data = embedded::default_dataset::<f64>();
//! let p = Problem::logreg(&data, 10, Split::Contiguous, Remainder::ToLast, Regularizer::EF21).unwrap();
//! let x0 = p.initial_point(&InitPoint::Gaussian { seed: 0, std: 1.0 }).unwrap();
//! let mut ws = p.workspace();
//! let mut g = vec![0.0; p.dim()];
//! let f = p.loss_grad(&x0, &mut g, &mut ws).unwrap();
//! assert!(f > 0.0 && p.grad_norm_sq(&x0, &mut ws).unwrap() > 0.0);
//! let s = p.smoothness();
//! assert!(s.l <= s.l_am + 1e-12 && s.l_am <= s.l_tilde + 1e-12);
//! ```

use squeeze_core::rng::{Purpose, SqueezeRng};
use squeeze_core::{LengthMismatch, ParamError, Scalar};

use crate::data::{Csr, Dataset};
use crate::error::ProblemError;
use crate::hessian::Curvature;
use crate::least_squares::LeastSquares;
use crate::logreg::LogReg;
use crate::oracle::Oracle;
use crate::regularizer::Regularizer;
use crate::smoothness::{Smoothness, SmoothnessRule, lambda_max_ata};
use crate::split::{Remainder, Split, split_indices};

/// How to choose x⁰.
#[derive(Debug, Clone, PartialEq)]
pub enum InitPoint {
    /// x⁰ = 0 (CLAG code).
    Zeros,
    /// x⁰ ~ N(0, std²·I), drawn from `SqueezeRng::stream(seed, Purpose::Init, 0)` (EF21 code:
    /// std = 1).
    Gaussian {
        /// Experiment seed.
        seed: u64,
        /// Standard deviation.
        std: f64,
    },
    /// This exact point (length d, finite).
    Given(Vec<f64>),
    /// The problem's own default (3PC: √d e₁; MoTEF: x* + 1/d), else zeros.
    ProblemDefault,
}

/// Scratch buffers for [`Problem::loss_grad`] (allocate once with [`Problem::workspace`]).
#[derive(Debug, Clone)]
pub struct Workspace<S> {
    tmp: Vec<S>,
    acc: Vec<f64>,
}

/// n local oracles plus the global objective (see the [module docs](self)).
pub struct Problem<S: Scalar> {
    name: String,
    oracles: Vec<Box<dyn Oracle<S>>>,
    smoothness: Smoothness,
    default_init: Option<Vec<S>>,
    dim: usize,
}

impl<S: Scalar> core::fmt::Debug for Problem<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Problem")
            .field("name", &self.name)
            .field("n_workers", &self.oracles.len())
            .field("dim", &self.dim)
            .field("smoothness", &self.smoothness)
            .finish_non_exhaustive()
    }
}

impl<S: Scalar> Problem<S> {
    /// Bundle oracles that share one dimension. `smoothness.l_i` is replaced by the
    /// oracles' own L_i; the pooled L of f (`smoothness.l_pooled`), L_± and the
    /// [`SmoothnessRule`] are kept as given.
    pub fn new(
        name: impl Into<String>,
        oracles: Vec<Box<dyn Oracle<S>>>,
        smoothness: Smoothness,
        default_init: Option<Vec<S>>,
    ) -> Result<Self, ProblemError> {
        let first = oracles.first().ok_or(ProblemError::NoWorkers)?;
        let dim = first.dim();
        for (w, o) in oracles.iter().enumerate() {
            if o.dim() != dim {
                return Err(ProblemError::MixedDims {
                    worker: w,
                    expected: dim,
                    got: o.dim(),
                });
            }
        }
        if let Some(x) = &default_init {
            check_len(dim, x.len())?;
        }
        let l_i = oracles.iter().map(|o| o.smoothness()).collect();
        let (l_pm, rule) = (smoothness.l_pm, smoothness.rule);
        let mut smoothness = Smoothness::new(l_i, smoothness.l_pooled).with_rule(rule);
        smoothness.l_pm = l_pm;
        Ok(Self {
            name: name.into(),
            oracles,
            smoothness,
            default_init,
            dim,
        })
    }

    /// Logistic regression (see [`LogReg`]) on `data` split over `n_workers`. L is
    /// λ_max(AᵀA)/(4N) + L_r on the pooled rows actually used (all rows unless the remainder
    /// is dropped).
    pub fn logreg(
        data: &Dataset<S>,
        n_workers: usize,
        split: Split,
        remainder: Remainder,
        reg: Regularizer,
    ) -> Result<Self, ProblemError> {
        let parts = row_blocks(&data.labels, n_workers, split, remainder, reg)?;
        let name = format!("logreg({}, n={n_workers})", data.name);
        Self::from_row_blocks(name, &data.features, &parts, 4.0, reg, |w, rows| {
            let mut d = data.select_rows(rows)?;
            d.name = format!("{}[{w}/{n_workers}]", data.name);
            Ok(Box::new(LogReg::new(d, reg)?))
        })
    }

    /// One oracle per block of rows of `a`: `oracle(w, parts[w])` builds worker w's; L is
    /// λ_max(AᵀA)/(`scale`·N) + L_r on the N pooled rows of the blocks (`scale` = 4 for
    /// logistic regression, whose losses have curvature ≤ 1/4; 1 for least squares).
    fn from_row_blocks(
        name: String,
        a: &Csr<S>,
        parts: &[Vec<usize>],
        scale: f64,
        reg: Regularizer,
        mut oracle: impl FnMut(usize, &[usize]) -> Result<Box<dyn Oracle<S>>, ProblemError>,
    ) -> Result<Self, ProblemError> {
        let mut oracles: Vec<Box<dyn Oracle<S>>> = Vec::with_capacity(parts.len());
        for (w, rows) in parts.iter().enumerate() {
            oracles.push(oracle(w, rows)?);
        }
        let pooled: Vec<usize> = parts.concat();
        let pooled_a = a.select_rows(&pooled)?;
        let l = lambda_max_ata(&pooled_a) / (scale * pooled.len() as f64) + reg.smoothness();
        Self::new(name, oracles, Smoothness::new(Vec::new(), l), None)
    }

    /// The EF21 experiments' problem (algorithms.md §10.1): nonconvex logistic regression
    /// $f_i(x) = \tfrac1{m_i}\sum_{j} \log(1 + e^{-b_j a_j^\top x}) + \lambda\sum_k
    /// \tfrac{x_k^2}{1 + x_k^2}$ with λ = 0.1 ([`Regularizer::EF21`]), the rows split
    /// contiguously over `n_workers` with the remainder to the last worker. The same as
    /// [`logreg`](Self::logreg) with [`Split::Contiguous`], [`Remainder::ToLast`],
    /// [`Regularizer::EF21`].
    ///
    /// ```
    /// use squeeze_problems::{Problem, embedded};
    /// let p = Problem::logreg_ef21(&embedded::default_dataset::<f64>(), 5).unwrap();
    /// assert_eq!((p.n_workers(), p.dim()), (5, 30));
    /// assert!(Problem::logreg_ef21(&embedded::default_dataset::<f64>(), 0).is_err());
    /// ```
    pub fn logreg_ef21(data: &Dataset<S>, n_workers: usize) -> Result<Self, ProblemError> {
        Self::logreg(
            data,
            n_workers,
            Split::Contiguous,
            Remainder::ToLast,
            Regularizer::EF21,
        )
    }

    /// Least squares (see [`LeastSquares`]) of A x ≈ b split over `n_workers` by rows
    /// ([`Split::SortedByLabel`] sorts by target). L = λ_max(AᵀA)/N + L_r on the pooled rows.
    pub fn least_squares(
        a: &Csr<S>,
        b: &[S],
        n_workers: usize,
        split: Split,
        remainder: Remainder,
        reg: Regularizer,
    ) -> Result<Self, ProblemError> {
        check_len(a.n_rows(), b.len())?;
        let parts = row_blocks(b, n_workers, split, remainder, reg)?;
        let name = format!("least_squares(n={n_workers})");
        Self::from_row_blocks(name, a, &parts, 1.0, reg, |_, rows| {
            let ai = a.select_rows(rows)?;
            let bi = rows.iter().map(|&r| b[r]).collect();
            Ok(Box::new(LeastSquares::new(ai, bi, reg)?))
        })
    }

    /// Name for logs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of workers n.
    pub fn n_workers(&self) -> usize {
        self.oracles.len()
    }

    /// Dimension d.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Worker `i`'s oracle. Panics if `i ≥ n` (a programming error).
    pub fn oracle(&self, i: usize) -> &dyn Oracle<S> {
        self.oracles[i].as_ref()
    }

    /// All oracles, in worker order.
    pub fn oracles(&self) -> &[Box<dyn Oracle<S>>] {
        &self.oracles
    }

    /// The smoothness constants.
    pub fn smoothness(&self) -> &Smoothness {
        &self.smoothness
    }

    /// What is known of ∇²f = (1/n) Σ_i ∇²f_i at every x: the mean of the workers' bounds
    /// ([`Curvature::mean`]), or `None` if some worker's oracle has no Hessian.
    ///
    /// ```
    /// use squeeze_problems::{embedded, Problem, Regularizer, Remainder, Split};
    /// let data = embedded::default_dataset::<f64>();
    /// let l2 = Regularizer::L2 { lambda: 1e-3 };
    /// let p = Problem::logreg(&data, 4, Split::Contiguous, Remainder::ToLast, l2).unwrap();
    /// assert_eq!(p.curvature().unwrap().strong_convexity(), Some(1e-3));
    /// let p = Problem::logreg_ef21(&data, 4).unwrap(); // the nonconvex regulariser
    /// assert!(!p.curvature().unwrap().is_convex());
    /// ```
    pub fn curvature(&self) -> Option<Curvature> {
        let parts: Option<Vec<Curvature>> = self.oracles.iter().map(|o| o.curvature()).collect();
        Curvature::mean(parts?)
    }

    /// Choose the L that the theory stepsizes read ([`Smoothness::l`]): the pooled L (the
    /// default) or the mean of the workers' L_i ([`SmoothnessRule`]). Set once, before a
    /// method is initialised on the problem.
    pub fn set_smoothness_rule(&mut self, rule: SmoothnessRule) {
        self.smoothness = self.smoothness.clone().with_rule(rule);
    }

    /// Setup-time dimension check for a vector that will be passed to the oracles.
    pub fn check_dim(&self, len: usize) -> Result<(), ProblemError> {
        check_len(self.dim, len)
    }

    /// Scratch space for [`Problem::loss_grad`].
    pub fn workspace(&self) -> Workspace<S> {
        Workspace {
            tmp: vec![S::ZERO; self.dim],
            acc: vec![0.0; self.dim],
        }
    }

    /// f(x) = (1/n) Σ_i f_i(x), summed in worker order.
    pub fn loss(&self, x: &[S]) -> Result<f64, ProblemError> {
        self.check_dim(x.len())?;
        let s: f64 = self.oracles.iter().map(|o| o.loss(x)).sum();
        Ok(s / self.n_workers() as f64)
    }

    /// Writes ∇f(x) = (1/n) Σ_i ∇f_i(x) into `grad` (accumulated in `f64`, worker order) and
    /// returns f(x). No allocation.
    pub fn loss_grad(
        &self,
        x: &[S],
        grad: &mut [S],
        ws: &mut Workspace<S>,
    ) -> Result<f64, ProblemError> {
        self.check_dim(x.len())?;
        self.check_dim(grad.len())?;
        self.check_dim(ws.tmp.len())?;
        self.check_dim(ws.acc.len())?;
        ws.acc.fill(0.0);
        let mut f = 0.0f64;
        for o in &self.oracles {
            f += o.loss_grad(x, &mut ws.tmp);
            for (a, &g) in ws.acc.iter_mut().zip(&ws.tmp) {
                *a += g.to_f64();
            }
        }
        let inv_n = 1.0 / self.n_workers() as f64;
        for (g, &a) in grad.iter_mut().zip(&ws.acc) {
            *g = S::from_f64(a * inv_n);
        }
        Ok(f * inv_n)
    }

    /// ‖∇f(x)‖² (the y-axis of most plots), computed from the `f64` accumulator.
    pub fn grad_norm_sq(&self, x: &[S], ws: &mut Workspace<S>) -> Result<f64, ProblemError> {
        self.check_dim(x.len())?;
        self.check_dim(ws.tmp.len())?;
        self.check_dim(ws.acc.len())?;
        ws.acc.fill(0.0);
        for o in &self.oracles {
            o.grad(x, &mut ws.tmp);
            for (a, &g) in ws.acc.iter_mut().zip(&ws.tmp) {
                *a += g.to_f64();
            }
        }
        let inv_n = 1.0 / self.n_workers() as f64;
        Ok(ws.acc.iter().map(|a| (a * inv_n) * (a * inv_n)).sum())
    }

    /// The initial point x⁰ (see [`InitPoint`]).
    pub fn initial_point(&self, init: &InitPoint) -> Result<Vec<S>, ProblemError> {
        match init {
            InitPoint::Zeros => Ok(vec![S::ZERO; self.dim]),
            InitPoint::ProblemDefault => Ok(self
                .default_init
                .clone()
                .unwrap_or_else(|| vec![S::ZERO; self.dim])),
            InitPoint::Gaussian { seed, std } => {
                if !(std.is_finite() && *std >= 0.0) {
                    return Err(ParamError::new(
                        "init",
                        "std",
                        std,
                        "the standard deviation must be finite and ≥ 0",
                    )
                    .into());
                }
                let mut rng = SqueezeRng::stream(*seed, Purpose::Init, 0);
                Ok((0..self.dim)
                    .map(|_| S::from_f64(std * rng.normal()))
                    .collect())
            }
            InitPoint::Given(x) => {
                self.check_dim(x.len())?;
                let v: Vec<S> = x.iter().map(|&v| S::from_f64(v)).collect();
                if let Some(k) = v.iter().position(|v| !v.is_finite()) {
                    return Err(ParamError::new(
                        "init",
                        "x0",
                        format!("x0[{k}] = {}", x[k]),
                        "the initial point must be finite in the scalar type",
                    )
                    .into());
                }
                Ok(v)
            }
        }
    }
}

/// The checks and the split shared by the row-block problems: `reg` must be valid, then the
/// rows (one label or target each) are split over `n_workers` ([`split_indices`]).
fn row_blocks<S: Scalar>(
    labels: &[S],
    n_workers: usize,
    split: Split,
    remainder: Remainder,
    reg: Regularizer,
) -> Result<Vec<Vec<usize>>, ProblemError> {
    reg.validate()?;
    split_indices(labels, n_workers, split, remainder)
}

fn check_len(expected: usize, got: usize) -> Result<(), ProblemError> {
    if expected == got {
        Ok(())
    } else {
        Err(LengthMismatch { expected, got }.into())
    }
}
