//! 3PCv2.

use squeeze_core::{Compressor, Message, ParamError, Scalar};

use super::{MechCtx, ThreePoint, alpha_of, check_compressor_dim, sub_into};
use crate::method::{MethodError, message_err};

/// 3PCv2: $\mathcal{C}_{h,y}(x) = b + C(x - b)$ with $b = h + Q(x - y)$, $Q \in U(\omega)$
/// unbiased, $C \in B(\alpha)$.
///
/// Constants $A = \alpha$, $B = (1-\alpha)\,\omega$ (from
/// $\mathbb{E}\|b + C(x-b) - x\|^2 \le (1-\alpha)\mathbb{E}\|x - b\|^2
/// = (1-\alpha)(\|h-y\|^2 + \mathbb{E}\|Q(x-y) - (x-y)\|^2)$; the 3PC code uses Rand-K for
/// $Q$ and Top-K for $C$). Wire: `Pair(Q(x − y), C(x − b))`, both parts counted; the server adds
/// both. One outcome (1 = sent).
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::three_point::{V2, ThreePoint};
/// let m = V2::<f64>::new(parse("top_k:k=25").unwrap(), parse("rand_k:k=50").unwrap()).unwrap();
/// let (a, b) = m.constants(100).unwrap(); // α = 1/4, ω = d/k − 1 = 1
/// assert_eq!((a, b), (0.25, 0.75));
/// ```
#[derive(Debug)]
pub struct V2<S: Scalar> {
    c: Box<dyn Compressor<S>>,
    q: Box<dyn Compressor<S>>,
}

impl<S: Scalar> V2<S> {
    /// 3PCv2 with contractive `c` and unbiased `q`.
    pub fn new(c: Box<dyn Compressor<S>>, q: Box<dyn Compressor<S>>) -> Result<Self, ParamError> {
        Ok(Self { c, q })
    }
}

impl<S: Scalar> ThreePoint<S> for V2<S> {
    fn name(&self) -> &'static str {
        "3pc_v2"
    }
    fn describe(&self) -> String {
        format!("3pc_v2(C={}, Q={})", self.c.spec(), self.q.spec())
    }
    fn check_dim(&self, d: usize) -> Result<(), MethodError> {
        check_compressor_dim("3pc_v2", self.c.as_ref(), d)?;
        check_compressor_dim("3pc_v2", self.q.as_ref(), d)
    }
    fn constants(&self, d: usize) -> Result<(f64, f64), MethodError> {
        let alpha = alpha_of("3pc_v2", "compressor", self.c.as_ref(), d)?;
        let omega = self.q.class(d).omega().ok_or_else(|| {
            MethodError::Param(ParamError::new(
                "3pc_v2",
                "compressor2",
                self.q.spec(),
                "Q must be unbiased (ω), e.g. rand_k:k=10",
            ))
        })?;
        Ok((alpha, (1.0 - alpha) * omega))
    }
    fn compress(
        &self,
        h: &[S],
        y: &[S],
        x: &[S],
        ctx: &mut MechCtx<'_, S>,
        up: &mut Message<S>,
    ) -> Result<usize, MethodError> {
        let meta = ctx.meta();
        let (mq, mc) = up.pair_parts();
        sub_into(x, y, ctx.work);
        MechCtx::compress(
            ctx.rng,
            ctx.scratch,
            meta,
            self.q.as_ref(),
            ctx.work,
            mq,
            "the difference ∇f_i(x^{t+1}) − ∇f_i(x^t)",
        )?;
        // x − b = (x − h) − Q(x − y)
        sub_into(x, h, ctx.work);
        mq.add_to(ctx.work, S::from_f64(-1.0))
            .map_err(message_err(ctx.worker, ctx.round))?;
        MechCtx::compress(
            ctx.rng,
            ctx.scratch,
            meta,
            self.c.as_ref(),
            ctx.work,
            mc,
            "the correction ∇f_i − b",
        )?;
        Ok(1)
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

/// The `[method]` parameters of `3pc_v2` (defaults as documented on the fields).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreePcV2Params {
    /// Compressor spec, e.g. `"top_k:k=1"`.
    #[serde(default)]
    pub compressor: Option<squeeze_compress::CompressorSpec>,
    /// The second compressor (3PCv2: the unbiased Q, required; 3PCv4: C₂, default = compressor).
    #[serde(default)]
    pub compressor2: Option<squeeze_compress::CompressorSpec>,
    /// Stepsize rule.
    #[serde(default)]
    pub stepsize: crate::stepsize::Stepsize,
    /// Count the bits of an uncompressed initial round.
    #[serde(default)]
    pub count_init: bool,
}

/// Registry entry of `3pc_v2`: 3PC-GD, 3PCv2: b + C(x − b), b = h + Q(x − y); two messages (compressor = C, compressor2 = Q unbiased)
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreePcV2Spec;

impl crate::spec::MethodSpec for ThreePcV2Spec {
    const NAME: &'static str = "3pc_v2";
    const SUMMARY: &'static str = "3PC-GD, 3PCv2: b + C(x − b), b = h + Q(x − y); two messages (compressor = C, compressor2 = Q unbiased)";
    const TOPOLOGY: crate::spec::Topology = crate::spec::Topology::Star;
    const EXAMPLE: &'static str = "compressor = \"top_k:k=1\"\ncompressor2 = \"rand_k:k=3\"";
    type Params = ThreePcV2Params;

    fn build<S: squeeze_core::Scalar, B: crate::spec::MethodSink<S>>(
        p: ThreePcV2Params,
        ctx: &crate::spec::BuildCtx,
        sink: B,
    ) -> Result<B::Output, B::Error> {
        use crate::spec as s;
        let spec = p.compressor2.as_ref().ok_or_else(|| {
            s::MethodConfigError::at(
                "compressor2",
                "3pc_v2 needs a second compressor, e.g. compressor2 = \"rand_k:k=10\"",
            )
        })?;
        let q = s::build_compressor::<S>("compressor2", spec, ctx.dim)?;
        let c = s::compressor::<S>(Self::NAME, "compressor", p.compressor.as_ref(), ctx.dim)?;
        let mech = V2::new(c, q).map_err(s::mech_param_err)?;
        s::three_pc(Box::new(mech), p.stepsize, p.count_init, sink)
    }
}
