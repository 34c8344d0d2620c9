//! 3PCv1.

use squeeze_core::{Compressor, Message, Scalar};

use super::{MechCtx, ThreePoint, alpha_of, check_compressor_dim, sub_into};
use crate::method::{MethodError, message_err};

/// 3PCv1: $\mathcal{C}_{h,y}(x) = y + C(x - y)$, $C \in B(\alpha)$.
///
/// Constants $A = 1$, $B = 1 - \alpha$ (the 3PC code's stepsize $1/(L + \tilde L\sqrt{1-\alpha})$).
///
/// Wire: the server must rebuild $y + C(x-y)$ but does not know $y = \nabla f_i(x^t)$, so the
/// worker sends the change of its estimate **dense**: `Dense((y − h) + C(x − y))` — $d$ values,
/// the full dense charge the Newton-3PC code applies to this mechanism (spec source `code:N3PC`). 3PCv1 is
/// of theoretical interest: per round it costs more than GD's dense gradient would save.
/// One outcome (1 = sent).
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::three_point::{V1, ThreePoint};
/// let m = V1::<f64>::new(parse("top_k:k=25").unwrap());
/// assert_eq!(m.constants(100).unwrap(), (1.0, 0.75));
/// ```
#[derive(Debug)]
pub struct V1<S: Scalar> {
    c: Box<dyn Compressor<S>>,
}

impl<S: Scalar> V1<S> {
    /// 3PCv1 with compressor `c`.
    pub fn new(c: Box<dyn Compressor<S>>) -> Self {
        Self { c }
    }
}

impl<S: Scalar> ThreePoint<S> for V1<S> {
    fn name(&self) -> &'static str {
        "3pc_v1"
    }
    fn describe(&self) -> String {
        format!("3pc_v1({})", self.c.spec())
    }
    fn check_dim(&self, d: usize) -> Result<(), MethodError> {
        check_compressor_dim("3pc_v1", self.c.as_ref(), d)
    }
    fn constants(&self, d: usize) -> Result<(f64, f64), MethodError> {
        let alpha = alpha_of("3pc_v1", "compressor", self.c.as_ref(), d)?;
        Ok((1.0, 1.0 - alpha))
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
        sub_into(x, y, ctx.work);
        MechCtx::compress(
            ctx.rng,
            ctx.scratch,
            meta,
            self.c.as_ref(),
            ctx.work,
            ctx.spare,
            "the difference ∇f_i(x^{t+1}) − ∇f_i(x^t)",
        )?;
        sub_into(y, h, ctx.aux);
        ctx.spare
            .add_to(ctx.aux, S::ONE)
            .map_err(message_err(ctx.worker, ctx.round))?;
        up.dense_parts().extend_from_slice(ctx.aux);
        Ok(1)
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

/// The `[method]` parameters of `3pc_v1` (defaults as documented on the fields).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreePcV1Params {
    /// Compressor spec, e.g. `"top_k:k=1"`.
    #[serde(default)]
    pub compressor: Option<squeeze_compress::CompressorSpec>,
    /// Stepsize rule.
    #[serde(default)]
    pub stepsize: crate::stepsize::Stepsize,
    /// Count the bits of an uncompressed initial round.
    #[serde(default)]
    pub count_init: bool,
}

/// Registry entry of `3pc_v1`: 3PC-GD, 3PCv1: y + C(x − y), sent dense (server lacks y) (compressor)
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreePcV1Spec;

impl crate::spec::MethodSpec for ThreePcV1Spec {
    const NAME: &'static str = "3pc_v1";
    const SUMMARY: &'static str =
        "3PC-GD, 3PCv1: y + C(x − y), sent dense (server lacks y) (compressor)";
    const TOPOLOGY: crate::spec::Topology = crate::spec::Topology::Star;
    const EXAMPLE: &'static str = "compressor = \"top_k:k=1\"";
    type Params = ThreePcV1Params;

    fn build<S: squeeze_core::Scalar, B: crate::spec::MethodSink<S>>(
        p: ThreePcV1Params,
        ctx: &crate::spec::BuildCtx,
        sink: B,
    ) -> Result<B::Output, B::Error> {
        use crate::spec as s;
        let mech = V1::new(s::compressor::<S>(
            Self::NAME,
            "compressor",
            p.compressor.as_ref(),
            ctx.dim,
        )?);
        s::three_pc(Box::new(mech), p.stepsize, p.count_init, sink)
    }
}
