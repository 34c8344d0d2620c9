//! Top-K on a symmetric matrix, by Frobenius weight.

use squeeze_core::{
    Class, CompressCtx, CompressError, Compressor, Message, ParamError, Scalar, check_input,
};

use super::{for_each_entry, side_and_count};
use crate::entry::{K_PARAMS, ParamDoc, Registered, compressor};
use crate::params::{KSpec, Params};

/// Symmetric Top-K: of the packed upper triangle $p$ of a symmetric $d\times d$ matrix $H$
/// ($D = d(d+1)/2$ entries), keep the $K$ entries of largest Frobenius weight $w_j p_j^2$
/// ($w_j = 2$ off the diagonal, where $p_j$ stands for two entries of $H$; $1$ on it), zero the
/// rest. Ties go to the lower index. Newton-3PC's Top-K on the triangle (algorithms.md §8.1).
///
/// **Class** (Frobenius): contractive with $\alpha = K/D$. The dropped $D-K$ entries have the
/// smallest weights $w_jp_j^2$, so their sum is at most their share of the total:
/// $\lVert\mathcal C(H) - H\rVert_F^2 = \sum_{j\notin S} w_jp_j^2 \le \frac{D-K}{D}\sum_j
/// w_jp_j^2 = (1 - K/D)\lVert H\rVert_F^2$, attained when all $w_jp_j^2$ are equal. Selecting
/// by $\lvert p_j\rvert$ alone would not satisfy this (a diagonal entry can beat an
/// off-diagonal one of nearly the same size that carries twice the mass; see the tests).
///
/// **Bits**: a `Sparse` message over $D$: $4 + \lceil\log_2(D+1)\rceil + K(\lceil\log_2
/// D\rceil + 32)$ for `f32`; the Newton-3PC code charges $32K$ (`bits_values32`).
///
/// **Parameters**: `k=<count>` ($1 \le K \le D$, checked by `check_dim`) or `ratio=<r>` with
/// $K = \max(1, \lceil rD\rceil)$.
///
/// **Cost**: one pass for the keys (in `ctx.scratch.values`), an `O(D)` selection
/// (`select_nth_unstable_by` on the order (weight descending, index ascending)) and a sort
/// of the $K$ kept indices; no allocation once the scratch and message have grown.
///
/// ```
/// use squeeze_compress::matrix::SymTopK;
/// use squeeze_compress::conformance::compress_once;
/// use squeeze_core::{Compressor, Message};
/// // H = [[1, 0.9], [0.9, 0]]: the off-diagonal 0.9 weighs 2·0.81 > 1.
/// let c = SymTopK::with_k(1).unwrap();
/// let m = compress_once(&c, &[1.0f32, 0.9, 0.0], 0).unwrap();
/// assert_eq!(m, Message::Sparse { dim: 3, indices: vec![1], values: vec![0.9] });
/// assert_eq!(Compressor::<f32>::class(&c, 3).alpha(), Some(1.0 / 3.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SymTopK {
    k: KSpec,
}

impl SymTopK {
    /// Keep `k` entries (or `ratio·D`), validated (`k ≥ 1`, `ratio ∈ (0, 1]`).
    pub fn new(k: KSpec) -> Result<Self, ParamError> {
        let k = k.validated(Self::NAME)?;
        Ok(Self { k })
    }

    /// Keep exactly `k ≥ 1` entries of the triangle.
    pub fn with_k(k: usize) -> Result<Self, ParamError> {
        Self::new(KSpec::Count(k))
    }
}

impl Registered for SymTopK {
    const NAME: &'static str = "sym_top_k";
    const SUMMARY: &'static str = "matrix (packed symmetric): keep the K triangle entries of largest Frobenius weight w·h² (w = 2 off the diagonal); contractive α = K/D in Frobenius, D = d(d+1)/2 [Newton-3PC]; sparse, K(⌈log₂D⌉+32) bits + header (f32)";
    const PARAMS: &'static [ParamDoc] = &K_PARAMS;
    const EXAMPLES: &'static [&'static str] = &[
        "sym_top_k:k=1",
        "sym_top_k:k=3",
        "sym_top_k:ratio=0.3",
        "sym_top_k:ratio=1",
    ];
    const MATRIX: bool = true;
    fn from_params(p: &mut Params) -> Result<Self, ParamError> {
        Self::new(KSpec::from_params(p)?)
    }
}

compressor! {
    SymTopK, |self, dim| {
        spec: format!("{}:{}", Self::NAME, self.k.spec()),
        class: Class::Contractive {
            alpha: self.k.fraction(dim),
        },
        deterministic: true,
        fn check_dim(&self, dim: usize) -> Result<(), CompressError> {
            side_and_count(Self::NAME, &self.k, dim).map(|_| ())
        }
    }
    compress_into |x, ctx, out| {
        let (d, k) = side_and_count(Self::NAME, &self.k, x.len())?;
        check_input(x)?;
        // Key √(w_j)·|p_j| / √2: |p_j| off the diagonal, |p_j|/√2 on it (no overflow, no
        // underflow of squares).
        let keys = &mut ctx.scratch.values;
        keys.clear();
        keys.resize(x.len(), 0.0);
        for_each_entry(d, |j, diagonal| {
            let a = x[j].abs().to_f64();
            keys[j] = if diagonal { a * std::f64::consts::FRAC_1_SQRT_2 } else { a };
        });
        let order = &mut ctx.scratch.indices;
        order.clear();
        order.extend(0..x.len() as u32);
        let keys = &ctx.scratch.values;
        let by_weight = |a: &u32, b: &u32| {
            keys[*b as usize]
                .total_cmp(&keys[*a as usize])
                .then(a.cmp(b))
        };
        if k < order.len() {
            order.select_nth_unstable_by(k - 1, by_weight);
        }
        let kept = &mut order[..k];
        kept.sort_unstable();
        let (indices, values) = out.sparse_parts(x.len());
        indices.extend_from_slice(kept);
        values.extend(kept.iter().map(|&i| x[i as usize]));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::compress_once;
    use crate::registry::assert_refused;
    use squeeze_core::sym::frobenius_sq;

    fn kept(k: usize, x: &[f64]) -> Vec<u32> {
        match compress_once(&SymTopK::with_k(k).unwrap(), x, 0).unwrap() {
            Message::Sparse { indices, .. } => indices,
            other => panic!("not sparse: {other:?}"),
        }
    }

    /// Selecting by |h| alone breaks α = K/D in Frobenius; the weighted selection holds it.
    #[test]
    fn magnitude_selection_would_violate_the_frobenius_bound() {
        // H = [[1, 0.99], [0.99, 1]] packed (1, 0.99, 1), K = 1, D = 3.
        let x = [1.0, 0.99, 1.0];
        let total = frobenius_sq(2, &x);
        let bound = (1.0 - 1.0 / 3.0) * total;
        // |h|-Top-1 keeps h₀₀ = 1: the error is 2·0.99² + 1 = 2.96 > 2.64 = (1 − 1/3)·3.96.
        let by_magnitude = 2.0 * 0.99 * 0.99 + 1.0;
        assert!(by_magnitude > bound, "{by_magnitude} ≤ {bound}");
        // The weighted choice keeps the off-diagonal entry: error 2 ≤ 2.64.
        assert_eq!(kept(1, &x), vec![1]);
        let err = total - 2.0 * 0.99 * 0.99;
        assert!(err <= bound);
    }

    #[test]
    fn ties_order_and_k() {
        // Side 3: diagonal at 0, 3, 5. All off-diagonal 1 (weight 2) beat diagonal 1.2
        // (weight 1.44); equal weights go to the lower index.
        let x = [1.2, 1.0, -1.0, 1.2, 1.0, 1.2];
        assert_eq!(kept(2, &x), vec![1, 2]);
        assert_eq!(kept(3, &x), vec![1, 2, 4]);
        assert_eq!(kept(4, &x), vec![0, 1, 2, 4]);
        assert_eq!(kept(6, &x), vec![0, 1, 2, 3, 4, 5]);
        // Near-ties follow the weights: 2·1.06² = 2.2472 < 1.5² = 2.25 < 2·1.07² = 2.2898.
        assert_eq!(kept(1, &[1.5, 1.06, 0.0]), vec![0]);
        assert_eq!(kept(1, &[1.5, 1.07, 0.0]), vec![1]);
    }

    #[test]
    fn errors() {
        let c = SymTopK::with_k(4).unwrap();
        let e = Compressor::<f32>::check_dim(&c, 3).unwrap_err().to_string();
        assert!(e.contains("k must be ≤ d = 3"), "{e}");
        let e = compress_once(&c, &[1.0f32; 5], 0).unwrap_err().to_string();
        assert!(e.contains("nearest such lengths are 3 and 6"), "{e}");
        assert!(matches!(
            compress_once(&c, &[1.0f32, 2.0, f32::NAN, 0.0, 1.0, 1.0], 0),
            Err(CompressError::NonFinite { index: 2, .. })
        ));
        assert_eq!(
            compress_once(&c, &[] as &[f32], 0).unwrap_err(),
            CompressError::EmptyInput
        );
        assert_refused("sym_top_k:k=0", "k must be ≥ 1");
        assert_refused("sym_top_k", "needs k=");
    }
}
