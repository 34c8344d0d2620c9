//! 3PCv4.

use squeeze_core::{Compressor, Message, Scalar};

use super::{MechCtx, ThreePoint, alpha_of, check_compressor_dim, ef21_ab, sub_into};
use crate::method::{MethodError, message_err};

/// 3PCv4: $\mathcal{C}_{h,y}(x) = b + C_1(x - b)$ with $b = h + C_2(x - h)$, two contractive
/// compressors $C_1 \in B(\alpha_1)$, $C_2 \in B(\alpha_2)$.
///
/// Since $\|x - b - C_1(x-b)\|^2 \le (1-\alpha_1)(1-\alpha_2)\|x-h\|^2$, this is EF21 with
/// $\bar\alpha = 1 - (1-\alpha_1)(1-\alpha_2)$: $A = 1-\sqrt{1-\bar\alpha}$,
/// $B = (1-\bar\alpha)/(1-\sqrt{1-\bar\alpha})$ (the 3PC code). Wire:
/// `Pair(C₂(x − h), C₁(x − b))` ($K_1 + K_2$ entries for two Top-K). One outcome.
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::three_point::{V4, ThreePoint};
/// let m = V4::<f64>::new(parse("top_k:k=50").unwrap(), parse("top_k:k=50").unwrap());
/// let (a, b) = m.constants(100).unwrap(); // ᾱ = 3/4: A = 1/2, B = 1/2
/// assert!((a - 0.5).abs() < 1e-15 && (b - 0.5).abs() < 1e-15);
/// ```
#[derive(Debug)]
pub struct V4<S: Scalar> {
    c1: Box<dyn Compressor<S>>,
    c2: Box<dyn Compressor<S>>,
}

impl<S: Scalar> V4<S> {
    /// 3PCv4 with the outer $C_1$ and the inner $C_2$.
    pub fn new(c1: Box<dyn Compressor<S>>, c2: Box<dyn Compressor<S>>) -> Self {
        Self { c1, c2 }
    }
}

impl<S: Scalar> ThreePoint<S> for V4<S> {
    fn name(&self) -> &'static str {
        "3pc_v4"
    }
    fn describe(&self) -> String {
        format!("3pc_v4(C1={}, C2={})", self.c1.spec(), self.c2.spec())
    }
    fn check_dim(&self, d: usize) -> Result<(), MethodError> {
        check_compressor_dim("3pc_v4", self.c1.as_ref(), d)?;
        check_compressor_dim("3pc_v4", self.c2.as_ref(), d)
    }
    fn constants(&self, d: usize) -> Result<(f64, f64), MethodError> {
        let a1 = alpha_of("3pc_v4", "compressor", self.c1.as_ref(), d)?;
        let a2 = alpha_of("3pc_v4", "compressor2", self.c2.as_ref(), d)?;
        Ok(ef21_ab(1.0 - (1.0 - a1) * (1.0 - a2)))
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
        let (m2, m1) = up.pair_parts();
        sub_into(x, h, ctx.work);
        MechCtx::compress(
            ctx.rng,
            ctx.scratch,
            meta,
            self.c2.as_ref(),
            ctx.work,
            m2,
            "the correction ∇f_i − g_i",
        )?;
        m2.add_to(ctx.work, S::from_f64(-1.0))
            .map_err(message_err(ctx.worker, ctx.round))?;
        MechCtx::compress(
            ctx.rng,
            ctx.scratch,
            meta,
            self.c1.as_ref(),
            ctx.work,
            m1,
            "the correction ∇f_i − b",
        )?;
        Ok(1)
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

/// The `[method]` parameters of `3pc_v4` (defaults as documented on the fields).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreePcV4Params {
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

/// Registry entry of `3pc_v4`: 3PC-GD, 3PCv4: b + C₁(x − b), b = h + C₂(x − h) (compressor = C₁, compressor2 = C₂)
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreePcV4Spec;

impl crate::spec::MethodSpec for ThreePcV4Spec {
    const NAME: &'static str = "3pc_v4";
    const SUMMARY: &'static str =
        "3PC-GD, 3PCv4: b + C₁(x − b), b = h + C₂(x − h) (compressor = C₁, compressor2 = C₂)";
    const TOPOLOGY: crate::spec::Topology = crate::spec::Topology::Star;
    const EXAMPLE: &'static str = "compressor = \"top_k:k=1\"\ncompressor2 = \"top_k:k=2\"";
    type Params = ThreePcV4Params;

    fn build<S: squeeze_core::Scalar, B: crate::spec::MethodSink<S>>(
        p: ThreePcV4Params,
        ctx: &crate::spec::BuildCtx,
        sink: B,
    ) -> Result<B::Output, B::Error> {
        use crate::spec as s;
        let c2 = match p.compressor2.as_ref().or(p.compressor.as_ref()) {
            Some(spec) => s::build_compressor::<S>("compressor2", spec, ctx.dim)?,
            None => {
                return Err(s::MethodConfigError::at(
                    "compressor2",
                    "3pc_v4 needs a second compressor, e.g. compressor2 = \"rand_k:k=10\"",
                )
                .into());
            }
        };
        let c = s::compressor::<S>(Self::NAME, "compressor", p.compressor.as_ref(), ctx.dim)?;
        let mech = V4::new(c, c2);
        s::three_pc(Box::new(mech), p.stepsize, p.count_init, sink)
    }
}
