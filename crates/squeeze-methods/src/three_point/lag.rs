//! LAG: lazy aggregation.

use squeeze_core::{Message, ParamError, Scalar};

use super::{MechCtx, ThreePoint, check_zeta, dense_delta, dist2, within};
use crate::method::MethodError;

/// LAG (lazily aggregated gradients) as a 3PC:
/// $\mathcal{C}_{h,y}(x) = x$ if $\|x - h\|^2 > \zeta\|x - y\|^2$, else $h$.
///
/// Constants $A = 1$, $B = \zeta$ (the CLAG stepsize formula with $\alpha = 1$; the LAG code takes
/// γ as input). Wire: `Dense(x − h)` when triggered (the server adds it to its average; the new
/// estimate is $h + (x - h)$, which equals $x$ up to rounding), else `Skip` (0 bits).
/// Outcomes: 0 = skipped, 1 = sent. The trigger is strict, so with $\zeta = 0$ LAG sends unless
/// $x = h$ exactly, and then sending would not change $h$ anyway.
///
/// ```
/// use squeeze_methods::three_point::{Lag, ThreePoint};
/// let m = Lag::new(2.0).unwrap();
/// assert_eq!(<Lag as ThreePoint<f64>>::constants(&m, 10).unwrap(), (1.0, 2.0));
/// assert!(Lag::new(-1.0).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Lag {
    zeta: f64,
}

impl Lag {
    /// LAG with trigger threshold ζ ≥ 0.
    pub fn new(zeta: f64) -> Result<Self, ParamError> {
        check_zeta("lag", zeta)?;
        Ok(Self { zeta })
    }
}

impl<S: Scalar> ThreePoint<S> for Lag {
    fn name(&self) -> &'static str {
        "lag"
    }
    fn describe(&self) -> String {
        format!("lag(ζ={})", self.zeta)
    }
    fn check_dim(&self, _d: usize) -> Result<(), MethodError> {
        Ok(())
    }
    fn constants(&self, _d: usize) -> Result<(f64, f64), MethodError> {
        Ok((1.0, self.zeta))
    }
    fn compress(
        &self,
        h: &[S],
        y: &[S],
        x: &[S],
        ctx: &mut MechCtx<'_, S>,
        up: &mut Message<S>,
    ) -> Result<usize, MethodError> {
        if !within(dist2(x, h), self.zeta, dist2(x, y)) {
            super::unskip(up, ctx.stash, true);
            dense_delta(x, h, up);
            Ok(1)
        } else {
            super::skip(up, ctx.stash, x.len());
            Ok(0)
        }
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

/// The `[method]` parameters of `lag` (defaults as documented on the fields).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LagParams {
    /// Trigger threshold ζ ≥ 0 (default 1).
    #[serde(default)]
    pub zeta: Option<f64>,
    /// Stepsize rule.
    #[serde(default)]
    pub stepsize: crate::stepsize::Stepsize,
    /// Count the bits of an uncompressed initial round.
    #[serde(default)]
    pub count_init: bool,
}

/// Registry entry of `lag`: 3PC-GD, LAG: send ∇f_i dense iff ‖∇f_i − g_i‖² > ζ‖∇f_i − y_i‖², else nothing (zeta; no compressor)
#[derive(Debug, Clone, Copy, Default)]
pub struct LagSpec;

impl crate::spec::MethodSpec for LagSpec {
    const NAME: &'static str = "lag";
    const SUMMARY: &'static str = "3PC-GD, LAG: send ∇f_i dense iff ‖∇f_i − g_i‖² > ζ‖∇f_i − y_i‖², else nothing (zeta; no compressor)";
    const TOPOLOGY: crate::spec::Topology = crate::spec::Topology::Star;
    const EXAMPLE: &'static str = "zeta = 1.0";
    const HINTS: &'static [(&'static str, &'static str)] = &[(
        "compressor",
        "lag sends dense gradients (use clag for a compressed trigger); remove the compressor",
    )];
    type Params = LagParams;

    fn build<S: squeeze_core::Scalar, B: crate::spec::MethodSink<S>>(
        p: LagParams,
        ctx: &crate::spec::BuildCtx,
        sink: B,
    ) -> Result<B::Output, B::Error> {
        use crate::spec as s;
        let _ = ctx;
        let mech = Lag::new(p.zeta.unwrap_or(1.0)).map_err(s::mech_param_err)?;
        s::three_pc(Box::new(mech), p.stepsize, p.count_init, sink)
    }
}
