//! Absolute hard threshold: keep the entries with $|x_j| \ge \lambda$.

use squeeze_core::{
    Class, CompressCtx, CompressError, Compressor, Message, ParamError, Scalar, Sparsifier,
    check_dim_basic, check_input,
};

use crate::entry::{ParamDoc, Registered, compressor};
use crate::params::Params;
use crate::sparse_scan::{fmt_real, round_up, scan_at_least};

/// Absolute hard threshold: $\mathcal{C}(x)_j = x_j$ if $|x_j| \ge \lambda$, else $0$.
///
/// **Class**: none (`Class::Neither`). The error is bounded absolutely, not relatively: every
/// dropped entry has $|x_j| < \lambda$, so $\lVert\mathcal{C}(x) - x\rVert^2 < (d - |S|)\lambda^2
/// \le d\lambda^2$ (the "absolute compressor" bound). No $\alpha > 0$ works for all $x$: for $0 <
/// \lVert x\rVert_\infty < \lambda$ everything is dropped and $\lVert\mathcal{C}(x) - x\rVert^2 =
/// \lVert x\rVert^2$. The number of kept entries depends on the input ([`Sparsifier::kept`] is
/// `None`).
///
/// **Comparison** (convention): $|x_j| \ge \lambda$ is decided exactly, with $\lambda$ taken as the
/// real number it denotes (for `f32` input it is rounded *up* to the least `f32` not below
/// $\lambda$, which decides the same way). Ties at $\lambda$ are kept; zeros are never kept
/// since $\lambda > 0$.
///
/// **Bits**: $4 + \lceil\log_2(d+1)\rceil + |S|(\lceil\log_2 d\rceil + 32)$ for `f32`, where
/// $|S|$ is the number of kept entries (64-bit values for `f64`).
///
/// ```
/// use squeeze_compress::ThresholdAbs;
/// use squeeze_core::{Compressor, CompressCtx, Message, Scratch, SqueezeRng};
/// let c = ThresholdAbs::new(1.0).unwrap();
/// let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
/// let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
/// let m = c.compress(&[0.5f32, -1.0, 3.0, 0.999], &mut ctx).unwrap();
/// assert_eq!(m, Message::Sparse { dim: 4, indices: vec![1, 2], values: vec![-1.0, 3.0] });
/// assert_eq!(m.bits(), 4 + 3 + 2 * (2 + 32));
/// assert_eq!(Compressor::<f32>::class(&c, 4).alpha(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdAbs {
    lambda: f64,
}

impl ThresholdAbs {
    /// Keep `|x_j| ≥ lambda`; `lambda` must be finite and > 0.
    pub fn new(lambda: f64) -> Result<Self, ParamError> {
        ParamError::require(
            lambda.is_finite() && lambda > 0.0,
            Self::NAME,
            "lambda",
            lambda,
            "lambda must be a finite number > 0 (the magnitude below which entries are dropped)",
        )?;
        Ok(Self { lambda })
    }

    /// The threshold λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }
}

impl Registered for ThresholdAbs {
    const NAME: &'static str = "threshold_abs";
    const SUMMARY: &'static str = "keep |x_j| ≥ λ; no uniform class (error ≤ dλ², absolute compressor); #kept·(⌈log₂d⌉+32) bits + header (f32)";
    const PARAMS: &'static [ParamDoc] = &[ParamDoc {
        name: "lambda",
        doc: "absolute threshold λ, finite and > 0 (required)",
    }];
    const EXAMPLES: &'static [&'static str] = &[
        "threshold_abs:lambda=0.5",
        "threshold_abs:lambda=1e-30",
        "threshold_abs:lambda=1e-300",
        "threshold_abs:lambda=1e30",
        "threshold_abs:lambda=1e300",
    ];
    const BENCH: &'static [&'static str] = &["threshold_abs:lambda=2.6"];
    fn from_params(p: &mut Params) -> Result<Self, ParamError> {
        Self::new(p.require("lambda", Params::f64, "<threshold > 0>", "0.01")?)
    }
}

compressor! {
    ThresholdAbs, |self, _dim| {
        spec: lambda_spec(Self::NAME, self.lambda),
        class: Class::Neither,
        deterministic: true,
    }
    sparsify_into |x, _ctx, indices, values| {
        keep_at_least(x, indices, values, |_| Some(round_up(self.lambda)))
    },
    kept |_d| None,
    projection: true,
}

/// The spec `name:lambda=<λ>` of a threshold compressor (λ in the shorter of its plain and
/// scientific forms); shared with [`ThresholdRel`](crate::ThresholdRel) and
/// [`SymThreshold`](crate::matrix::SymThreshold).
pub(crate) fn lambda_spec(name: &str, lambda: f64) -> String {
    format!("{name}:lambda={}", fmt_real(lambda))
}

/// The hard thresholds' pass: `indices`, `values` (cleared first) ← the $j$ with
/// $|x_j| \ge t$ and their $x_j$, for $t$ = `threshold(x)`, in one chunked scan that also
/// reports a NaN or ±∞ (`None`: nothing kept, `x` only checked). Shared by [`ThresholdAbs`]
/// and [`ThresholdRel`](crate::ThresholdRel).
pub(crate) fn keep_at_least<S: Scalar>(
    x: &[S],
    indices: &mut Vec<u32>,
    values: &mut Vec<S>,
    threshold: impl FnOnce(&[S]) -> Option<S>,
) -> Result<(), CompressError> {
    indices.clear();
    values.clear();
    check_dim_basic(x.len())?;
    match threshold(x) {
        Some(t) => scan_at_least(x, 0, t, usize::MAX, indices, values).map(|_| ()),
        None => check_input(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::compress_once;

    fn compress<S: Scalar>(lambda: f64, x: &[S]) -> Result<Message<S>, CompressError> {
        compress_once(&ThresholdAbs::new(lambda).unwrap(), x, 0)
    }

    fn sparse<S: Scalar>(m: Message<S>) -> (Vec<u32>, Vec<S>) {
        match m {
            Message::Sparse {
                indices, values, ..
            } => (indices, values),
            other => panic!("not sparse: {other:?}"),
        }
    }

    #[test]
    fn keeps_exactly_the_entries_at_or_above_lambda() {
        let x = [0.0f64, 0.1, -0.2, 0.3, -0.25, 0.2];
        assert_eq!(
            sparse(compress(0.2, &x).unwrap()),
            (vec![2, 3, 4, 5], vec![-0.2, 0.3, -0.25, 0.2])
        );
        // Nothing passes: an empty sparse message (tag + count only).
        let m = compress(10.0, &x).unwrap();
        assert_eq!(m.bits(), 4 + 3);
        assert_eq!(m.to_dense().unwrap(), vec![0.0; 6]);
        // f32 input against λ = 0.1 (not an f32): the f32 nearest 0.1 is above 0.1 and kept,
        // the one below is not.
        let above = 0.1f32;
        let below = f32::from_bits(above.to_bits() - 1);
        assert!((above as f64) > 0.1 && (below as f64) < 0.1);
        assert_eq!(
            sparse(compress(0.1, &[below, above, -above]).unwrap()).0,
            vec![1, 2]
        );
        // Zeros are never kept, even for tiny λ; subnormals are.
        let tiny = f32::from_bits(1);
        assert_eq!(
            sparse(compress(1e-300, &[0.0f32, tiny, -0.0]).unwrap()).0,
            vec![1]
        );
        // λ above f32::MAX keeps nothing finite.
        assert_eq!(
            sparse(compress(1e300, &[f32::MAX, 1.0]).unwrap()).0,
            Vec::<u32>::new()
        );
    }

    #[test]
    fn long_inputs_take_the_chunked_path() {
        let x: Vec<f32> = (0..1000).map(|i| ((i * 37) % 101) as f32 - 50.0).collect();
        let (idx, val) = sparse(compress(45.0, &x).unwrap());
        let want: Vec<u32> = (0..1000u32)
            .filter(|&i| x[i as usize].abs() >= 45.0)
            .collect();
        assert_eq!(idx, want);
        assert!(val.iter().zip(&idx).all(|(v, &i)| *v == x[i as usize]));
    }

    #[test]
    fn errors() {
        let e = ThresholdAbs::new(0.0).unwrap_err().to_string();
        assert!(e.contains("lambda must be a finite number > 0"), "{e}");
        assert!(ThresholdAbs::new(-1.0).is_err());
        assert!(ThresholdAbs::new(f64::INFINITY).is_err());
        let e = crate::registry::parse::<f32>("threshold_abs")
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs lambda="), "{e}");
        assert_eq!(
            compress::<f32>(1.0, &[]).unwrap_err(),
            CompressError::EmptyInput
        );
        let e = compress(1e30, &[1.0f32, 2.0, f32::NEG_INFINITY, f32::NAN]).unwrap_err();
        assert!(
            matches!(e, CompressError::NonFinite { index: 2, .. }),
            "{e}"
        );
    }

    #[test]
    fn spec_round_trips() {
        for l in [0.5, 1e-30, 1e300, 0.1] {
            let c = ThresholdAbs::new(l).unwrap();
            let s = Compressor::<f32>::spec(&c);
            let back = crate::registry::parse::<f32>(&s).unwrap();
            assert_eq!(back.spec(), s);
        }
    }
}
