//! EF21 as a three-point compressor.

use squeeze_core::{Compressor, Message, Scalar};

use super::{MechCtx, ThreePoint, alpha_of, check_compressor_dim, ef21_ab, sub_into};
use crate::method::MethodError;

/// EF21 as a 3PC: $\mathcal{C}_{h,y}(x) = h + C(x - h)$, $C \in B(\alpha)$.
///
/// Constants (optimal $s$ in $A = 1-(1-\alpha)(1+s)$, $B = (1-\alpha)(1+1/s)$):
/// $A = 1 - \sqrt{1-\alpha}$, $B = (1-\alpha)/(1-\sqrt{1-\alpha})$ (Richtárik et al. 2021/2022;
/// the 3PC code's `Top_k.theta/beta`). Wire: the compressor's message of $x - h$. Always one
/// outcome sent (outcome 1; outcome 0 is never reported).
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::three_point::{Ef21Mech, ThreePoint};
/// let m = Ef21Mech::<f64>::new(parse("top_k:k=25").unwrap());
/// let (a, b) = m.constants(100).unwrap(); // α = 1/4
/// assert!((a - (1.0 - 0.75f64.sqrt())).abs() < 1e-15 && (b - 0.75 / a).abs() < 1e-12);
/// ```
#[derive(Debug)]
pub struct Ef21Mech<S: Scalar> {
    c: Box<dyn Compressor<S>>,
}

impl<S: Scalar> Ef21Mech<S> {
    /// EF21 with compressor `c`.
    pub fn new(c: Box<dyn Compressor<S>>) -> Self {
        Self { c }
    }
}

impl<S: Scalar> ThreePoint<S> for Ef21Mech<S> {
    fn name(&self) -> &'static str {
        "3pc_ef21"
    }
    fn describe(&self) -> String {
        format!("3pc_ef21({})", self.c.spec())
    }
    fn check_dim(&self, d: usize) -> Result<(), MethodError> {
        check_compressor_dim("3pc_ef21", self.c.as_ref(), d)
    }
    fn constants(&self, d: usize) -> Result<(f64, f64), MethodError> {
        Ok(ef21_ab(alpha_of(
            "3pc_ef21",
            "compressor",
            self.c.as_ref(),
            d,
        )?))
    }
    fn compress(
        &self,
        h: &[S],
        _y: &[S],
        x: &[S],
        ctx: &mut MechCtx<'_, S>,
        up: &mut Message<S>,
    ) -> Result<usize, MethodError> {
        let meta = ctx.meta();
        sub_into(x, h, ctx.work);
        MechCtx::compress(
            ctx.rng,
            ctx.scratch,
            meta,
            self.c.as_ref(),
            ctx.work,
            up,
            "the correction ∇f_i − g_i",
        )?;
        Ok(1)
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

/// The `[method]` parameters of `3pc_ef21` (defaults as documented on the fields).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreePcEf21Params {
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

/// Registry entry of `3pc_ef21`: 3PC-GD with the EF21 mechanism h + C(x − h) (same trajectory as ef21)
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreePcEf21Spec;

impl crate::spec::MethodSpec for ThreePcEf21Spec {
    const NAME: &'static str = "3pc_ef21";
    const SUMMARY: &'static str =
        "3PC-GD with the EF21 mechanism h + C(x − h) (same trajectory as ef21)";
    const TOPOLOGY: crate::spec::Topology = crate::spec::Topology::Star;
    const EXAMPLE: &'static str = "compressor = \"top_k:k=1\"";
    type Params = ThreePcEf21Params;

    fn build<S: squeeze_core::Scalar, B: crate::spec::MethodSink<S>>(
        p: ThreePcEf21Params,
        ctx: &crate::spec::BuildCtx,
        sink: B,
    ) -> Result<B::Output, B::Error> {
        use crate::spec as s;
        let mech = Ef21Mech::new(s::compressor::<S>(
            Self::NAME,
            "compressor",
            p.compressor.as_ref(),
            ctx.dim,
        )?);
        s::three_pc(Box::new(mech), p.stepsize, p.count_init, sink)
    }
}
