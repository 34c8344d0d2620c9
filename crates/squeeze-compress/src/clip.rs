//! Norm clipping $\operatorname{clip}_\tau$ (used by Clip21).

use squeeze_core::{Class, CompressCtx, CompressError, Compressor, Message, ParamError, Scalar};

use crate::entry::{ParamDoc, Registered, compressor};
use crate::params::Params;

/// Clipping: $\operatorname{clip}_\tau(x) = \min\lbrace1, \tau/\lVert x\rVert\rbrace\thinspace x$,
/// $\tau > 0$ (Clip21, Khirirat et al. 2023; algorithms.md §4).
///
/// Class: for finite $\tau$, **none** (`Class::Neither`). Clipping is the identity on the ball
/// $\lVert x\rVert \le \tau$ and otherwise has error $\lVert\operatorname{clip}_\tau(x) -
/// x\rVert^2 = (1 - \tau/\lVert x\rVert)^2\lVert x\rVert^2$, whose ratio to $\lVert x\rVert^2$
/// tends to $1$ as $\lVert x\rVert \to \infty$, so no $\alpha > 0$ holds uniformly: it is not a
/// $B(\alpha)$ compressor, which is why Clip21 needs its own analysis (algorithms.md §4). It is not
/// unbiased either. For $\tau = \infty$ (`tau=inf`) it is the identity: contractive with $\alpha =
/// 1$ and unbiased with $\omega = 0$ (`Class::Both`).
///
/// Deterministic. Bits: a `Dense` message, $4 + 32d$ for `f32` (clipping bounds the norm, not
/// the size).
///
/// Numerics (a convention, tested): $\lVert x\rVert$ is computed in `f64` with
/// `squeeze_core::ops::norm2` (no overflow for $10^{30}$-sized `f32` entries). When clipping is
/// active the factor is $(\tau/\lVert x\rVert)(1 - \delta)$ with $\delta = (d/8 +
/// 16)\thinspace2^{-52}$ for `f64` (plus $2^{-22}$ for `f32`), which absorbs the rounding of the
/// norm, the factor and the output, so the sent vector satisfies
/// $\lVert\operatorname{clip}_\tau(x)\rVert \le \tau$ — the property Clip21 and DP sensitivity
/// bounds rely on — at a relative cost of at most $\delta$. When $\lVert x\rVert \le \tau$ the
/// output is $x$ bit for bit.
///
/// ```
/// use squeeze_compress::Clip;
/// use squeeze_core::{Class, Compressor, CompressCtx, Scratch, SqueezeRng};
/// let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
/// let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
/// let c = Clip::new(1.0).unwrap();
/// // ‖(3, 4)‖ = 5 > 1: scaled to norm 1
/// let y = c.compress(&[3.0f64, 4.0], &mut ctx).unwrap().to_dense().unwrap();
/// assert!((y[0] - 0.6).abs() < 1e-9 && (y[1] - 0.8).abs() < 1e-9);
/// // inside the ball: unchanged
/// let y = c.compress(&[0.3f64, 0.4], &mut ctx).unwrap().to_dense().unwrap();
/// assert_eq!(y, vec![0.3, 0.4]);
/// assert_eq!(Compressor::<f64>::class(&c, 2), Class::Neither);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clip {
    tau: f64,
}

impl Clip {
    /// Clipping at radius `tau > 0` (`f64::INFINITY` allowed: no clipping).
    pub fn new(tau: f64) -> Result<Self, ParamError> {
        ParamError::require(
            tau > 0.0,
            Self::NAME,
            "tau",
            tau,
            "the clipping radius τ must be > 0 (use tau=inf for no clipping)",
        )?;
        Ok(Self { tau })
    }

    /// The clipping radius.
    pub fn tau(&self) -> f64 {
        self.tau
    }
}

impl Registered for Clip {
    const NAME: &'static str = "clip";
    const SUMMARY: &'static str = "min{1, τ/‖x‖}·x; no uniform α for finite τ (identity inside the ball), identity for τ = inf; dense, 32d bits (f32) [Clip21, Khirirat et al. 2023]";
    const PARAMS: &'static [ParamDoc] = &[ParamDoc {
        name: "tau",
        doc: "clipping radius τ > 0 (ℓ₂ norm); inf disables clipping",
    }];
    const EXAMPLES: &'static [&'static str] = &["clip:tau=1", "clip:tau=inf", "clip:tau=1e-3"];
    fn from_params(p: &mut Params) -> Result<Self, ParamError> {
        Self::new(p.require("tau", Params::f64, "<radius > 0>", "1 (or tau=inf)")?)
    }
}

/// Relative shrink of the clipping factor (see the type's doc).
fn margin<S: Scalar>(d: usize) -> f64 {
    // Rounding of the f64 norm (8 accumulators of d/8 terms each) and of the factor.
    let f64_part = (d as f64 / 8.0 + 16.0) * 2f64.powi(-52);
    if S::BITS < 64 {
        // Plus 4 ulps of the output rounding (unit roundoff 2^-(MANT_BITS+1): 2⁻²⁴ for f32,
        // 2⁻¹¹ for f16, 2⁻⁸ for bf16).
        4.0 * 2f64.powi(-(S::MANT_BITS as i32 + 1)) + f64_part
    } else {
        f64_part
    }
}

compressor! {
    Clip, |self, _dim| {
        spec: format!("{}:tau={}", Self::NAME, self.tau),
        class: if self.tau == f64::INFINITY {
            Class::Both {
                alpha: 1.0,
                omega: 0.0,
            }
        } else {
            Class::Neither
        },
        deterministic: true,
    }
    compress_into |x, _ctx, out| {
        let d = x.len();
        squeeze_core::check_dim_basic(d)?;
        let norm = squeeze_core::ops::norm2(x);
        let values = out.dense_parts();
        if !norm.is_finite() {
            // NaN/±∞ entry, or (f64 input only) a norm beyond f64's range.
            if let Some((index, v)) = squeeze_core::ops::first_non_finite(x) {
                return Err(CompressError::NonFinite {
                    index,
                    value: v.to_f64(),
                });
            }
        }
        values.extend_from_slice(x);
        self.scale_down(values, norm);
        Ok(())
    }
}

impl Clip {
    /// $x \leftarrow \operatorname{clip}_\tau(x)$ in place, with the same arithmetic (and the same
    /// bits) as [`Compressor::compress_into`]; for methods that clip a work vector and then
    /// compress or send it (Press-Clip21, DP-Clip21) without a message round trip.
    ///
    /// ```
    /// use squeeze_compress::Clip;
    /// let mut x = vec![3.0f64, 4.0];
    /// Clip::new(1.0).unwrap().clip_in_place(&mut x).unwrap();
    /// assert!((x[0] - 0.6).abs() < 1e-9 && squeeze_core::ops::norm2(&x) <= 1.0);
    /// ```
    pub fn clip_in_place<S: Scalar>(&self, x: &mut [S]) -> Result<(), CompressError> {
        squeeze_core::check_dim_basic(x.len())?;
        let norm = squeeze_core::ops::norm2(x);
        if !norm.is_finite()
            && let Some((index, v)) = squeeze_core::ops::first_non_finite(x)
        {
            return Err(CompressError::NonFinite {
                index,
                value: v.to_f64(),
            });
        }
        self.scale_down(x, norm);
        Ok(())
    }

    /// Scale `x` (whose f64 norm is `norm`, all entries finite) onto the τ-ball if outside.
    fn scale_down<S: Scalar>(&self, x: &mut [S], norm: f64) {
        if norm <= self.tau {
            return;
        }
        let d = x.len();
        let shrink = 1.0 - margin::<S>(d);
        let r = self.tau / norm * shrink;
        if r.is_normal() {
            for v in x.iter_mut() {
                *v = S::from_f64(v.to_f64() * r);
            }
        } else {
            // τ/‖x‖ underflows (or ‖x‖ overflowed): divide by the largest entry first.
            let m = squeeze_core::ops::max_abs(x).to_f64();
            let rel = x
                .iter()
                .map(|&v| {
                    let t = v.to_f64() / m;
                    t * t
                })
                .sum::<f64>()
                .sqrt();
            let t = self.tau / rel * shrink;
            for v in x.iter_mut() {
                *v = S::from_f64(v.to_f64() / m * t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::compress_once;
    use crate::registry::parse;
    use squeeze_core::SqueezeRng;

    fn clip<S: Scalar>(tau: f64, x: &[S]) -> Result<Vec<S>, CompressError> {
        let m = compress_once(&Clip::new(tau).unwrap(), x, 0)?;
        assert!(matches!(m, Message::Dense { .. }));
        Ok(m.to_dense().unwrap())
    }

    #[test]
    fn hand_computed() {
        let y = clip(2.0, &[6.0f32, -8.0]).unwrap();
        assert!(
            (y[0] - 1.2).abs() < 1e-6 && (y[1] + 1.6).abs() < 1e-6,
            "{y:?}"
        );
        // On the sphere and inside: unchanged, bit for bit.
        assert_eq!(clip(5.0, &[3.0f64, 4.0]).unwrap(), vec![3.0, 4.0]);
        assert_eq!(clip(1.0, &[0.0f32; 4]).unwrap(), vec![0.0; 4]);
        assert_eq!(
            clip(f64::INFINITY, &[1e30f32, -1e30]).unwrap(),
            vec![1e30, -1e30]
        );
    }

    #[test]
    fn output_norm_never_exceeds_tau() {
        let mut rng = SqueezeRng::from_seed_u64(11);
        for trial in 0..300 {
            let d = 1 + (trial * 7) % 500;
            let scale = [1e-30, 1e-3, 1.0, 1e3, 1e30][trial % 5];
            let tau = [1e-3, 1.0, 0.37, 1e-35][trial % 4];
            let x32: Vec<f32> = (0..d)
                .map(|_| ((rng.next_f64() - 0.5) * scale) as f32)
                .collect();
            let x64: Vec<f64> = x32.iter().map(|&v| v as f64 * 1.000_000_1).collect();
            let y32 = clip(tau, &x32).unwrap();
            let y64 = clip(tau, &x64).unwrap();
            let (n32, n64) = (
                squeeze_core::ops::norm2(&y32),
                squeeze_core::ops::norm2(&y64),
            );
            assert!(n32 <= tau, "f32 trial {trial}: {n32} > {tau}");
            assert!(n64 <= tau, "f64 trial {trial}: {n64} > {tau}");
            if squeeze_core::ops::norm2(&x64) > tau && tau >= 1e-30 {
                // Active clipping lands on the sphere up to the documented margin.
                assert!(n64 >= tau * (1.0 - 1e-12), "{n64} vs {tau}");
                if tau > 1e-30 {
                    assert!(n32 >= tau * (1.0 - 1e-5), "{n32} vs {tau}");
                }
            }
        }
    }

    #[test]
    fn extreme_inputs() {
        // f32 entries whose squares overflow f32.
        let y = clip(1.0, &[3e30f32, 4e30]).unwrap();
        assert!((y[0] - 0.6).abs() < 1e-6 && (y[1] - 0.8).abs() < 1e-6);
        // f64 whose norm overflows f64, and τ/‖x‖ that underflows.
        let y = clip(1.0, &[f64::MAX, f64::MAX]).unwrap();
        let h = 0.5f64.sqrt();
        assert!(
            (y[0] - h).abs() < 1e-12 && (y[1] - h).abs() < 1e-12,
            "{y:?}"
        );
        let y = clip(1e-300, &[1e300f64, 0.0]).unwrap();
        assert!((y[0] / 1e-300 - 1.0).abs() < 1e-12 && y[1] == 0.0, "{y:?}");
    }

    #[test]
    fn errors_and_specs() {
        for bad in ["clip:tau=0", "clip:tau=-1", "clip:tau=-inf"] {
            let e = parse::<f32>(bad).unwrap_err().to_string();
            assert!(e.contains("must be > 0"), "{bad}: {e}");
        }
        assert!(
            parse::<f32>("clip:tau=nan")
                .unwrap_err()
                .to_string()
                .contains("number")
        );
        assert!(
            parse::<f32>("clip")
                .unwrap_err()
                .to_string()
                .contains("needs tau=")
        );
        for spec in ["clip:tau=1", "clip:tau=inf", "clip:tau=0.001"] {
            assert_eq!(parse::<f32>(spec).unwrap().spec(), spec);
        }
        assert_eq!(
            parse::<f32>("clip:tau=1e-3").unwrap().spec(),
            "clip:tau=0.001"
        );
        let inf = parse::<f32>("clip:tau=inf").unwrap();
        assert_eq!(
            inf.class(3),
            Class::Both {
                alpha: 1.0,
                omega: 0.0
            }
        );
        assert_eq!(parse::<f32>("clip:tau=1").unwrap().class(3), Class::Neither);
        let e = clip(1.0, &[1.0f32, f32::NEG_INFINITY, f32::NAN]).unwrap_err();
        assert!(
            matches!(e, CompressError::NonFinite { index: 1, .. }),
            "{e:?}"
        );
        let e = clip(f64::INFINITY, &[0.0f64, 2.0, f64::NAN]).unwrap_err();
        assert!(
            matches!(e, CompressError::NonFinite { index: 2, .. }),
            "{e:?}"
        );
        assert_eq!(
            clip::<f64>(1.0, &[]).unwrap_err(),
            CompressError::EmptyInput
        );
    }
}
