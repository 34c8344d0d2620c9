//! # squeeze-problems
//!
//! Problems and data for squeeze: minimise f(x) = (1/n) Σ_i f_i(x) where worker i holds f_i.
//!
//! * [`data`] — [`Csr`] sparse matrices and labelled [`Dataset`]s;
//! * [`libsvm`] — a LIBSVM text reader whose errors carry line, column and a hint;
//! * [`embedded`] — a real data set compiled in (breast cancer, 569 × 30) and an a9a-shaped
//!   synthetic generator;
//! * [`split`] — contiguous, shuffled and label-sorted splits over n workers;
//! * [`oracle`] — the [`Oracle`] trait the driver calls, a [`Counted`] wrapper and a τ-nice
//!   [`MinibatchSampler`];
//! * [`logreg`], [`least_squares`], [`quadratic`] — the problems of the papers, with the
//!   [`Regularizer`]s of EF21 (nonconvex) and FedNL (L2);
//! * [`glm`] — generalised linear models: the data basis and coefficients of a Hessian (BL1);
//! * [`hessian`] — local Hessians, Hessian–vector products and curvature bounds for the
//!   second-order methods;
//! * [`smoothness`] — λ_max(AᵀA) and the constants L_i, L, L̃, L_AM;
//! * [`problem`] — the [`Problem`] bundle: oracles, global f, ∇f, ‖∇f‖², x⁰.
//!
//! Everything is generic over [`squeeze_core::Scalar`] (`f64` or `f32`); losses are
//! accumulated in `f64`. Randomness comes only from [`squeeze_core::rng`] streams.
//!
//! ```
//! use squeeze_problems::prelude::*;
//! let data = embedded::default_dataset::<f64>();
//! let p = Problem::logreg(&data, 4, Split::Shuffled { seed: 1 }, Remainder::ToLast, Regularizer::EF21)?;
//! let x = p.initial_point(&InitPoint::Zeros)?;
//! let mut g = vec![0.0; p.dim()];
//! let f = p.oracle(0).loss_grad(&x, &mut g);
//! assert!((f - 2f64.ln()).abs() < 1e-12); // log 2 at x = 0
//! # Ok::<(), squeeze_problems::ProblemError>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod data;
pub mod embedded;
pub mod error;
pub mod glm;
pub mod hessian;
pub mod least_squares;
pub mod libsvm;
pub mod logreg;
pub mod oracle;
pub mod problem;
pub mod quadratic;
pub mod regularizer;
pub mod smoothness;
pub mod split;

pub use data::{Csr, Dataset, Row};
pub use error::{DataError, ParseKind, ProblemError};
pub use hessian::Curvature;
pub use least_squares::LeastSquares;
pub use libsvm::{ReadOptions, read_libsvm, read_libsvm_path};
pub use logreg::LogReg;
pub use oracle::{Counted, MinibatchSampler, Oracle};
pub use problem::{InitPoint, Problem, Workspace};
pub use regularizer::Regularizer;
pub use smoothness::{Smoothness, SmoothnessRule};
pub use split::{Remainder, Split};

/// The names most users need.
pub mod prelude {
    pub use crate::embedded;
    pub use crate::{
        Counted, Csr, Dataset, InitPoint, LeastSquares, LogReg, MinibatchSampler, Oracle, Problem,
        ReadOptions, Regularizer, Remainder, Smoothness, SmoothnessRule, Split, read_libsvm,
        read_libsvm_path,
    };
}

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
