//! 3PCv5 ("biased MARINA").

use squeeze_core::{Compressor, Message, ParamError, Purpose, Scalar, SqueezeRng};

use super::{MechCtx, ThreePoint, alpha_of, check_compressor_dim, check_p, dense_delta, sub_into};
use crate::method::MethodError;

/// 3PCv5: with probability $p$ (one coin per round, shared by all workers)
/// $\mathcal{C}_{h,y}(x) = x$, otherwise $h + C(x - y)$, $C \in B(\alpha)$.
///
/// Constants $A = 1 - \sqrt{1-p}$, $B = (1-p)(1-\alpha)/(1-\sqrt{1-p})$ (the 3PC code, with
/// $t = 1/\sqrt{1-p} - 1$); at $p = 1$: $A = 1$, $B = 0$ and the mechanism is GD. The code uses
/// $p = K/d$; here $p$ is a parameter (the driver defaults it to the compressor's $\alpha$).
///
/// Coin: `SqueezeRng::stream(round_seed, Purpose::Shared, 5).bernoulli(p)` — the same for every
/// worker in a round. Wire: `Dense(x − h)` on a full round (outcome 1), else the compressor's
/// message of $x - y$ (outcome 0); the server adds either.
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::three_point::{V5, ThreePoint};
/// let m = V5::<f64>::new(parse("top_k:k=25").unwrap(), 0.75).unwrap();
/// let (a, b) = m.constants(100).unwrap(); // A = 1/2, B = 0.25·0.75/0.5
/// assert!((a - 0.5).abs() < 1e-15 && (b - 0.375).abs() < 1e-15);
/// assert!(V5::<f64>::new(parse("top_k:k=1").unwrap(), 0.0).is_err());
/// ```
#[derive(Debug)]
pub struct V5<S: Scalar> {
    c: Box<dyn Compressor<S>>,
    p: f64,
}

impl<S: Scalar> V5<S> {
    /// 3PCv5 with compressor `c` and full-round probability `p ∈ (0, 1]`.
    pub fn new(c: Box<dyn Compressor<S>>, p: f64) -> Result<Self, ParamError> {
        check_p("3pc_v5", p)?;
        Ok(Self { c, p })
    }
}

/// The shared coin of 3PCv5 in the round with seed `round_seed`.
pub(crate) fn shared_coin(round_seed: u64, p: f64) -> bool {
    SqueezeRng::stream(round_seed, Purpose::Shared, 5).bernoulli(p)
}

impl<S: Scalar> ThreePoint<S> for V5<S> {
    fn name(&self) -> &'static str {
        "3pc_v5"
    }
    fn describe(&self) -> String {
        format!("3pc_v5({}, p={})", self.c.spec(), self.p)
    }
    fn check_dim(&self, d: usize) -> Result<(), MethodError> {
        check_compressor_dim("3pc_v5", self.c.as_ref(), d)
    }
    fn constants(&self, d: usize) -> Result<(f64, f64), MethodError> {
        let alpha = alpha_of("3pc_v5", "compressor", self.c.as_ref(), d)?;
        let r = (1.0 - self.p).sqrt();
        let a = 1.0 - r;
        let b = if self.p >= 1.0 {
            0.0
        } else {
            (1.0 - self.p) * (1.0 - alpha) / a
        };
        Ok((a, b))
    }
    fn compress(
        &self,
        h: &[S],
        y: &[S],
        x: &[S],
        ctx: &mut MechCtx<'_, S>,
        up: &mut Message<S>,
    ) -> Result<usize, MethodError> {
        if shared_coin(ctx.round_seed, self.p) {
            super::unskip(up, ctx.stash, true);
            dense_delta(x, h, up);
            return Ok(1);
        }
        super::unskip(up, ctx.stash, false);
        let meta = ctx.meta();
        sub_into(x, y, ctx.work);
        MechCtx::compress(
            ctx.rng,
            ctx.scratch,
            meta,
            self.c.as_ref(),
            ctx.work,
            up,
            "the difference ∇f_i(x^{t+1}) − ∇f_i(x^t)",
        )?;
        Ok(0)
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

/// The `[method]` parameters of `3pc_v5` (defaults as documented on the fields).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreePcV5Params {
    /// Compressor spec, e.g. `"top_k:k=1"`.
    #[serde(default)]
    pub compressor: Option<squeeze_compress::CompressorSpec>,
    /// Full-round probability (default: the compressor's α).
    #[serde(default)]
    pub p: Option<f64>,
    /// Stepsize rule.
    #[serde(default)]
    pub stepsize: crate::stepsize::Stepsize,
    /// Count the bits of an uncompressed initial round.
    #[serde(default)]
    pub count_init: bool,
}

/// Registry entry of `3pc_v5`: 3PC-GD, 3PCv5: shared coin p: dense x, else h + C(x − y) (compressor, p = α by default)
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreePcV5Spec;

impl crate::spec::MethodSpec for ThreePcV5Spec {
    const NAME: &'static str = "3pc_v5";
    const SUMMARY: &'static str =
        "3PC-GD, 3PCv5: shared coin p: dense x, else h + C(x − y) (compressor, p = α by default)";
    const TOPOLOGY: crate::spec::Topology = crate::spec::Topology::Star;
    const EXAMPLE: &'static str = "compressor = \"top_k:k=1\"";
    type Params = ThreePcV5Params;

    fn build<S: squeeze_core::Scalar, B: crate::spec::MethodSink<S>>(
        p: ThreePcV5Params,
        ctx: &crate::spec::BuildCtx,
        sink: B,
    ) -> Result<B::Output, B::Error> {
        use crate::spec as s;
        let c = s::compressor::<S>(Self::NAME, "compressor", p.compressor.as_ref(), ctx.dim)?;
        let prob = match p.p {
            Some(v) => v,
            None => c.class(ctx.dim).alpha().ok_or_else(|| {
                s::MethodConfigError::at(
                    "p",
                    "3pc_v5 defaults p to the compressor's α, but it has none; set p",
                )
            })?,
        };
        let mech = V5::new(c, prob).map_err(s::mech_param_err)?;
        s::three_pc(Box::new(mech), p.stepsize, p.count_init, sink)
    }
}
