//! A PowerSGD-style one-step low-rank operator for symmetric matrices.

use squeeze_core::{
    Class, CompressCtx, CompressError, Compressor, Message, ParamError, Scalar, check_input,
};

use super::eigen::jacobi_eigen;
use super::rank_r::{fill_full, write_eigenpairs};
use super::{check_rank, side_for_rank};
use crate::entry::{ParamDoc, Registered, compressor};
use crate::params::Params;

/// One power step (PowerSGD, Vogels, Karimireddy, Jaggi 2019, for a symmetric $H$, as in the
/// Newton-3PC code): draw $Q \in \mathbb R^{d\times r}$ with i.i.d. $\mathcal N(0, 1)$ entries
/// from the compression stream (`ctx.rng`), orthonormalise $HQ$ into $P$ (modified
/// Gram–Schmidt, applied twice; columns that vanish are dropped, so $P$ has $p \le r$
/// columns), and send $\mathcal C(H) = P(P^\top HP)P^\top$. The $p\times p$ core $P^\top HP$ is
/// diagonalised on the sender ($P^\top HP = W\Lambda W^\top$, [`jacobi_eigen`]), so the
/// message is the eigen form $\sum_k \lambda_k u_ku_k^\top$ with $u_k = Pw_k$ — one `LowRank`
/// message for both low-rank operators, and $p$ fewer values than factor + core. $Q$ is not
/// sent.
///
/// **Class**: none uniform (`Class::Neither`). $X \mapsto PP^\top XPP^\top$ is an orthogonal
/// projection in the Frobenius inner product, so $\lVert\mathcal C(H) - H\rVert_F^2 =
/// \lVert H\rVert_F^2 - \lVert P^\top HP\rVert_F^2 \le \lVert H\rVert_F^2$ always (α = 0 only), and
/// $\mathcal C(H) = H$ almost surely when $\operatorname{rank} H \le r$. The kept fraction is
/// random and can be small even in expectation: for $H = \mathrm{diag}(I_k, -I_k)$
/// ($d = 2k$) and $r = 1$, $P^\top HP = (A-B)/(A+B)$ with $A, B \sim \chi^2_k$, so
/// $\mathbb E\lVert P^\top HP\rVert_F^2/\lVert H\rVert_F^2 = 2/(d(d+2))$, far below Rank-R's
/// $1/d$. PowerSGD is meant to run inside error feedback (EF21/3PC), which needs no α for its
/// own bookkeeping; theory stepsizes that read α refuse it.
///
/// **Bits**: a `LowRank` message of rank $p \le r$: $4 + \lceil\log_2(d+1)\rceil + 32p(d+1)$
/// for `f32`; $32pd$ under the paper presets (PowerSGD's $32r(m+n)$ for $m = n = d$ counts
/// $P$ and $HP$; here the symmetric core replaces the second factor).
///
/// **Parameters**: `r=<rank>`, $1 \le r \le d$ (checked by `check_dim`).
///
/// **Cost**: $O(d^2 r)$ (the product $HQ$ and the core) plus $O(dr^2 + r^3)$; $d^2 + 3dr + r^2$
/// `f64` of `ctx.scratch.values`.
///
/// ```
/// use squeeze_compress::matrix::PowerSym;
/// use squeeze_compress::conformance::compress_once;
/// use squeeze_core::Compressor;
/// // H = 2·(1, 1, 0)(1, 1, 0)ᵀ has rank 1, so one power step recovers it exactly.
/// let x = [2.0f64, 2.0, 0.0, 2.0, 0.0, 0.0];
/// let y = compress_once(&PowerSym::new(1).unwrap(), &x, 5).unwrap().to_dense().unwrap();
/// assert!(y.iter().zip(&x).all(|(a, b)| (a - b).abs() < 1e-12));
/// assert_eq!(Compressor::<f64>::class(&PowerSym::new(1).unwrap(), 6).alpha(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerSym {
    r: usize,
}

impl PowerSym {
    /// Rank `r ≥ 1`.
    pub fn new(r: usize) -> Result<Self, ParamError> {
        Ok(Self {
            r: check_rank(Self::NAME, r)?,
        })
    }

    fn side(&self, dim: usize) -> Result<usize, CompressError> {
        side_for_rank(Self::NAME, self.r, dim)
    }
}

impl Registered for PowerSym {
    const NAME: &'static str = "power_sym";
    const SUMMARY: &'static str = "matrix (packed symmetric): one PowerSGD step, P = orth(HQ) with Gaussian Q, send P(PᵀHP)Pᵀ in eigen form; a projection (error ≤ ‖H‖²_F, exact for rank H ≤ r), no uniform α [Vogels et al. 2019; Newton-3PC]; low-rank, ≤ r(d+1)·32 bits + header (f32)";
    const PARAMS: &'static [ParamDoc] = &[ParamDoc {
        name: "r",
        doc: "rank r, 1 ≤ r ≤ d for a d × d matrix (required)",
    }];
    const EXAMPLES: &'static [&'static str] = &["power_sym:r=1", "power_sym:r=2"];
    const MATRIX: bool = true;
    fn from_params(p: &mut Params) -> Result<Self, ParamError> {
        let r = p.require("r", Params::u64, "<rank ≥ 1>", "1")?;
        Self::new(r as usize)
    }
}

/// Orthonormalise the `r` columns of length `d` in `y` (column-major) by modified
/// Gram–Schmidt, twice; columns whose norm falls below 10⁻¹⁰ of their initial norm (or to 0)
/// are dropped and the survivors moved to the front. Returns their number.
fn orthonormalise(d: usize, r: usize, y: &mut [f64]) -> usize {
    let mut p = 0;
    for i in 0..r {
        let start: f64 = y[i * d..(i + 1) * d]
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt();
        if start == 0.0 || !start.is_finite() {
            continue;
        }
        if i != p {
            y.copy_within(i * d..(i + 1) * d, p * d);
        }
        for _ in 0..2 {
            for j in 0..p {
                let (done, cur) = y.split_at_mut(p * d);
                let q = &done[j * d..(j + 1) * d];
                let c = &mut cur[..d];
                let dot: f64 = q.iter().zip(c.iter()).map(|(a, b)| a * b).sum();
                for (cv, qv) in c.iter_mut().zip(q) {
                    *cv -= dot * qv;
                }
            }
        }
        let c = &mut y[p * d..(p + 1) * d];
        let norm: f64 = c.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 1e-10 * start {
            c.iter_mut().for_each(|v| *v /= norm);
            p += 1;
        }
    }
    p
}

compressor! {
    PowerSym, |self, _dim| {
        spec: format!("{}:r={}", Self::NAME, self.r),
        class: Class::Neither,
        deterministic: false,
        fn check_dim(&self, dim: usize) -> Result<(), CompressError> {
            self.side(dim).map(|_| ())
        }
    }
    compress_into |x, ctx, out| {
        let d = self.side(x.len())?;
        check_input(x)?;
        let r = self.r;
        let buf = &mut ctx.scratch.values;
        buf.clear();
        buf.resize(d * d + 3 * d * r + 2 * r * r, 0.0);
        let (h, rest) = buf.split_at_mut(d * d);
        let (q, rest) = rest.split_at_mut(d * r);
        let (y, rest) = rest.split_at_mut(d * r);
        let (hp, rest) = rest.split_at_mut(d * r);
        let (core, w) = rest.split_at_mut(r * r);
        fill_full(d, x, h);
        for v in q.iter_mut() {
            *v = ctx.rng.normal();
        }
        // Y = H Q (column-major d × r), then P = orth(Y) in place (p columns).
        mat_cols(d, h, q, r, y);
        let p = orthonormalise(d, r, y);
        // core = Pᵀ (H P), exactly symmetrised, then its eigen-decomposition.
        mat_cols(d, h, &y[..p * d], p, &mut hp[..p * d]);
        let (core, w) = (&mut core[..p * p], &mut w[..p * p]);
        for i in 0..p {
            for j in i..p {
                let a: f64 = y[i * d..(i + 1) * d].iter().zip(&hp[j * d..(j + 1) * d]).map(|(s, t)| s * t).sum();
                let b: f64 = y[j * d..(j + 1) * d].iter().zip(&hp[i * d..(i + 1) * d]).map(|(s, t)| s * t).sum();
                core[i * p + j] = 0.5 * (a + b);
                core[j * p + i] = 0.5 * (a + b);
            }
        }
        // Lengths are p² by construction.
        jacobi_eigen(p, core, w).ok();
        let order = &mut ctx.scratch.indices;
        order.clear();
        order.extend(0..p as u32);
        order.sort_unstable_by(|&s, &t| {
            let (ls, lt) = (core[s as usize * (p + 1)].abs(), core[t as usize * (p + 1)].abs());
            lt.total_cmp(&ls).then(s.cmp(&t))
        });
        // u_k = P w_k: entry a of u_k is Σ_i P[a, i] W[i, k].
        write_eigenpairs(
            Self::NAME,
            d,
            order,
            out,
            |k| core[k * (p + 1)],
            |a, k| (0..p).map(|i| y[i * d + a] * w[i * p + k]).sum(),
        )
    }
}

/// `out` ← H·M for the `cols` columns of length d in `m` (column-major), H row-major d × d.
fn mat_cols(d: usize, h: &[f64], m: &[f64], cols: usize, out: &mut [f64]) {
    for i in 0..cols {
        let mi = &m[i * d..(i + 1) * d];
        for a in 0..d {
            out[i * d + a] = h[a * d..(a + 1) * d]
                .iter()
                .zip(mi)
                .map(|(s, t)| s * t)
                .sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::compress_once;
    use squeeze_core::SqueezeRng;
    use squeeze_core::sym::frobenius_sq;

    fn err_and_total(d: usize, r: usize, x: &[f64], seed: u64) -> (f64, f64, Message<f64>) {
        let m = compress_once(&PowerSym::new(r).unwrap(), x, seed).unwrap();
        let y = m.to_dense().unwrap();
        let diff: Vec<f64> = y.iter().zip(x).map(|(a, b)| a - b).collect();
        (frobenius_sq(d, &diff), frobenius_sq(d, x), m)
    }

    /// A projection: the error never exceeds ‖H‖²_F and equals ‖H‖² − ‖C(H)‖².
    #[test]
    fn projection_error_bound() {
        let mut rng = SqueezeRng::from_seed_u64(1);
        for (d, r) in [(1, 1), (3, 1), (5, 2), (8, 3), (8, 8)] {
            for seed in 0..20 {
                let x: Vec<f64> = (0..d * (d + 1) / 2).map(|_| rng.normal()).collect();
                let (err, total, m) = err_and_total(d, r, &x, seed);
                let kept = frobenius_sq(d, &m.to_dense().unwrap());
                assert!(err <= total * (1.0 + 1e-12), "d {d} r {r}");
                assert!((err - (total - kept)).abs() < 1e-9 * total, "d {d} r {r}");
                if r == d {
                    assert!(err < 1e-18 * total, "full rank is exact: {err}");
                }
            }
        }
    }

    /// rank H ≤ r ⇒ C(H) = H; the zero matrix gives a rank-0 message.
    #[test]
    fn low_rank_inputs_are_exact() {
        // H = u uᵀ − v vᵀ, rank 2, d = 4.
        let (u, v) = ([1.0, 2.0, 0.0, -1.0], [0.5, 0.0, 1.0, 1.0]);
        let mut x = Vec::new();
        for a in 0..4 {
            for b in a..4 {
                x.push(u[a] * u[b] - v[a] * v[b]);
            }
        }
        for seed in 0..5 {
            let (err, total, m) = err_and_total(4, 2, &x, seed);
            assert!(err < 1e-20 * total, "{err}");
            let Message::LowRank { weights, .. } = &m else {
                panic!()
            };
            assert_eq!(weights.len(), 2);
        }
        let (_, _, m) = err_and_total(3, 2, &[0.0; 6], 0);
        assert_eq!(
            m,
            Message::LowRank {
                side: 3,
                weights: vec![],
                vectors: vec![]
            }
        );
        assert_eq!(m.bits(), 4 + 2);
    }

    /// No uniform α: on diag(1, −1) with r = 1 the kept fraction is 1/4 = 2/(d(d+2)) in
    /// expectation (and near 0 for some draws).
    #[test]
    fn indefinite_matrices_keep_little_in_expectation() {
        let x = [1.0, 0.0, -1.0];
        let n = 4000;
        let (mut kept, mut least) = (0.0, f64::INFINITY);
        for seed in 0..n {
            let (err, total, _) = err_and_total(2, 1, &x, seed);
            kept += 1.0 - err / total;
            least = least.min(1.0 - err / total);
        }
        let mean = kept / n as f64;
        assert!((mean - 0.25).abs() < 0.02, "{mean}");
        assert!(least < 1e-3, "{least}");
    }

    #[test]
    fn errors_and_determinism() {
        let c = PowerSym::new(3).unwrap();
        let e = Compressor::<f32>::check_dim(&c, 3).unwrap_err().to_string();
        assert!(e.contains("at most 2"), "{e}");
        assert!(compress_once(&c, &[1.0f32; 4], 0).is_err());
        assert!(PowerSym::new(0).is_err());
        let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let c = PowerSym::new(1).unwrap();
        assert_eq!(
            compress_once(&c, &x, 9).unwrap(),
            compress_once(&c, &x, 9).unwrap()
        );
        assert!(matches!(
            compress_once(&c, &[1.0f32, f32::NAN, 0.0], 0),
            Err(CompressError::NonFinite { index: 1, .. })
        ));
    }
}
