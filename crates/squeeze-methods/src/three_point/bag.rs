//! Bernoulli aggregation (BAG).

use squeeze_core::{Message, ParamError, Scalar};

use super::{MechCtx, ThreePoint, check_p, dense_delta, ef21_ab};
use crate::method::MethodError;

/// Bernoulli aggregation: with probability $p$ $\mathcal{C}_{h,y}(x) = x$, otherwise $h$
/// (Newton-3PC's BAG, applied here to gradients).
///
/// $\mathbb{E}\|\mathcal{C} - x\|^2 = (1-p)\|h - x\|^2 \le (1-p)(1+s)\|h-y\|^2 + (1-p)(1+1/s)\|x-y\|^2$,
/// so $A = 1 - (1-p)(1+s)$, $B = (1-p)(1+1/s)$; with the best $s = 1/\sqrt{1-p} - 1$ (the one
/// minimising $B/A$, hence maximising the theory stepsize): $A = 1-\sqrt{1-p}$,
/// $B = (1-p)/(1-\sqrt{1-p})$ — EF21's constants with $\alpha = p$.
///
/// UNCONFIRMED (spec §8.1): whether the coin is per node or shared. Here it is **per worker**,
/// drawn from the worker's own stream (`Purpose::Compression`, index = worker). Wire:
/// `Dense(x − h)` when the coin says send (outcome 1), else `Skip` (outcome 0, 0 bits). The local
/// gradient is still evaluated every round by 3PC-GD (it becomes the next $y$).
///
/// ```
/// use squeeze_methods::three_point::{Bag, ThreePoint};
/// let m = Bag::new(0.75).unwrap();
/// let (a, b) = <Bag as ThreePoint<f64>>::constants(&m, 10).unwrap();
/// assert!((a - 0.5).abs() < 1e-15 && (b - 0.5).abs() < 1e-15);
/// assert!(Bag::new(1.5).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Bag {
    p: f64,
}

impl Bag {
    /// BAG with send probability `p ∈ (0, 1]`.
    pub fn new(p: f64) -> Result<Self, ParamError> {
        check_p("bag", p)?;
        Ok(Self { p })
    }
}

impl<S: Scalar> ThreePoint<S> for Bag {
    fn name(&self) -> &'static str {
        "bag"
    }
    fn describe(&self) -> String {
        format!("bag(p={})", self.p)
    }
    fn check_dim(&self, _d: usize) -> Result<(), MethodError> {
        Ok(())
    }
    fn constants(&self, _d: usize) -> Result<(f64, f64), MethodError> {
        Ok(ef21_ab(self.p))
    }
    fn compress(
        &self,
        h: &[S],
        _y: &[S],
        x: &[S],
        ctx: &mut MechCtx<'_, S>,
        up: &mut Message<S>,
    ) -> Result<usize, MethodError> {
        if ctx.rng.bernoulli(self.p) {
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

/// The `[method]` parameters of `bag` (defaults as documented on the fields).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BagParams {
    /// Send probability (default 0.5).
    #[serde(default)]
    pub p: Option<f64>,
    /// Stepsize rule.
    #[serde(default)]
    pub stepsize: crate::stepsize::Stepsize,
    /// Count the bits of an uncompressed initial round.
    #[serde(default)]
    pub count_init: bool,
}

/// Registry entry of `bag`: 3PC-GD, Bernoulli aggregation: per-worker coin p: dense x, else nothing (p; no compressor)
#[derive(Debug, Clone, Copy, Default)]
pub struct BagSpec;

impl crate::spec::MethodSpec for BagSpec {
    const NAME: &'static str = "bag";
    const SUMMARY: &'static str = "3PC-GD, Bernoulli aggregation: per-worker coin p: dense x, else nothing (p; no compressor)";
    const TOPOLOGY: crate::spec::Topology = crate::spec::Topology::Star;
    const EXAMPLE: &'static str = "p = 0.5";
    const HINTS: &'static [(&'static str, &'static str)] = &[(
        "compressor",
        "bag sends dense gradients with probability p; remove the compressor",
    )];
    type Params = BagParams;

    fn build<S: squeeze_core::Scalar, B: crate::spec::MethodSink<S>>(
        p: BagParams,
        ctx: &crate::spec::BuildCtx,
        sink: B,
    ) -> Result<B::Output, B::Error> {
        use crate::spec as s;
        let _ = ctx;
        let mech = Bag::new(p.p.unwrap_or(0.5)).map_err(s::mech_param_err)?;
        s::three_pc(Box::new(mech), p.stepsize, p.count_init, sink)
    }
}
