//! Matrix compressors: operators on a symmetric $d\times d$ matrix $H$ given as its packed
//! upper triangle ($D = d(d+1)/2$ values, [`squeeze_core::sym`]), the form in which Newton-type
//! methods (Newton-3PC, FedNL; algorithms.md §8.1) send their Hessian updates.
//!
//! Each infers $d$ from the input length (a length that is not triangular is a typed
//! [`CompressError::Incompatible`] naming the nearest valid lengths, from `check_dim` and
//! `compress_into`) and states its class in the **Frobenius** norm of the matrix,
//! $\lVert H\rVert_F^2 = \sum_j w_j p_j^2$ with weight $w_j = 2$ for an off-diagonal entry (it
//! stands for two) and $1$ on the diagonal — the norm of Newton-3PC's theory, not the Euclidean
//! norm of the packed vector. The conformance suite measures them in that norm (the registry's
//! `matrix` flag).
//!
//! | name | operator | class (Frobenius) | message |
//! |---|---|---|---|
//! | `sym_top_k` | keep the $K$ entries of largest $w_j p_j^2$ | α = K/D | `Sparse` |
//! | `sym_rand_k` | $K$ uniformly random entries $\times D/K$ | ω = D/K − 1 | `Sparse` |
//! | `sym_threshold` | keep $\lvert p_j\rvert \ge \lambda \max\lvert p\rvert$ | α = 1/(1 + (d²−1)λ²) | `Sparse` |
//! | `rank_r` | the $R$ eigenpairs of largest $\lvert\lambda\rvert$ | α = R/d | `LowRank` |
//! | `power_sym` | one power step: $P = \mathrm{orth}(HQ)$, $P(P^\top HP)P^\top$ | none (a projection: error ≤ ‖H‖²) | `LowRank` |
//!
//! ```
//! use squeeze_compress::registry::parse;
//! use squeeze_compress::conformance::compress_once;
//! use squeeze_core::sym::pack_upper;
//! // H = [[4, 1], [1, 3]] packed (4, 1, 3): rank 1 keeps its top eigenpair.
//! let mut p = Vec::new();
//! pack_upper(2, &[4.0f64, 1.0, 1.0, 3.0], &mut p).unwrap();
//! let c = parse::<f64>("rank_r:r=1").unwrap();
//! assert_eq!(c.class(3).alpha(), Some(0.5)); // R/d with d = 2 for D = 3
//! let m = compress_once(c.as_ref(), &p, 0).unwrap();
//! let h1 = m.to_dense().unwrap();
//! let top = (7.0 + 5f64.sqrt()) / 2.0; // λ_max
//! assert!((h1[0] + h1[2] - top).abs() < 1e-12); // trace of λ v vᵀ
//! let e = c.compress(&[1.0, 2.0], &mut squeeze_core::CompressCtx::new(
//!     &mut squeeze_core::SqueezeRng::from_seed_u64(0), &mut Default::default())).unwrap_err();
//! assert!(e.to_string().contains("d(d+1)/2"), "{e}");
//! ```

pub mod eigen;
pub mod power_sym;
pub mod rank_r;
pub mod sym_rand_k;
pub mod sym_threshold;
pub mod sym_top_k;
pub mod tridiag;

use squeeze_core::sym::{tri_neighbours, tri_side};
use squeeze_core::{CompressError, ParamError, check_dim_basic};

use crate::params::KSpec;

pub use power_sym::PowerSym;
pub use rank_r::RankR;
pub use sym_rand_k::SymRandK;
pub use sym_threshold::SymThreshold;
pub use sym_top_k::SymTopK;

/// The side $d$ of a packed symmetric input of length `len` ($d(d+1)/2 = $ `len`), or the
/// error: empty input, too large, or not a triangular length (with the nearest valid ones).
///
/// ```
/// use squeeze_compress::matrix::side_of;
/// assert_eq!(side_of("rank_r", 10).unwrap(), 4);
/// let e = side_of("rank_r", 11).unwrap_err().to_string();
/// assert!(e.contains("10") && e.contains("15"), "{e}");
/// ```
pub fn side_of(component: &'static str, len: usize) -> Result<usize, CompressError> {
    check_dim_basic(len)?;
    tri_side(len).ok_or_else(|| {
        let (lo, hi) = tri_neighbours(len);
        CompressError::Incompatible {
            component,
            param: "input length",
            value: len.to_string(),
            dim: len,
            hint: format!(
                "a matrix compressor takes the packed upper triangle of a symmetric d × d \
                 matrix, d(d+1)/2 values (squeeze_core::sym::pack_upper); the nearest such \
                 lengths are {lo} and {hi}"
            ),
        }
    })
}

/// The side $d$ of a packed input of length `dim` and the count of `k` over its $D = $ `dim`
/// entries, or the first error: [`side_of`]'s, then [`KSpec::resolve`]'s (`k ≤ D`).
pub(crate) fn side_and_count(
    component: &'static str,
    k: &KSpec,
    dim: usize,
) -> Result<(usize, usize), CompressError> {
    let d = side_of(component, dim)?;
    Ok((d, k.resolve(component, dim)?))
}

/// `true` where the packed position `j` of side `d` is a diagonal entry, as one pass:
/// calls `f(j, diagonal)` for `j` in `0..d(d+1)/2`.
#[inline]
pub(crate) fn for_each_entry(d: usize, mut f: impl FnMut(usize, bool)) {
    let mut j = 0;
    for r in 0..d {
        for c in r..d {
            f(j, c == r);
            j += 1;
        }
    }
}

/// A rank parameter: `r ≥ 1`.
pub(crate) fn check_rank(component: &'static str, r: usize) -> Result<usize, ParamError> {
    ParamError::require(
        r >= 1,
        component,
        "r",
        r,
        "r must be ≥ 1 (rank 0 sends nothing and never learns)",
    )?;
    Ok(r)
}

/// The side d of a packed input of length `dim` for a rank-`r` operator (`r ≤ d`).
pub(crate) fn side_for_rank(
    component: &'static str,
    r: usize,
    dim: usize,
) -> Result<usize, CompressError> {
    let d = side_of(component, dim)?;
    if r > d {
        return Err(rank_error(component, r, d));
    }
    Ok(d)
}

/// The error for a rank `r` above the side `d`.
fn rank_error(component: &'static str, r: usize, d: usize) -> CompressError {
    CompressError::Incompatible {
        component,
        param: "r",
        value: r.to_string(),
        dim: d,
        hint: format!(
            "the rank of a {d} × {d} matrix is at most {d}; use r ≤ {d} (r = {d} sends it whole)"
        ),
    }
}
