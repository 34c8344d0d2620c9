//! CLAG: compressed lazy aggregation.

use squeeze_core::{Compressor, Message, ParamError, Scalar};

use super::{
    MechCtx, ThreePoint, alpha_of, check_compressor_dim, check_zeta, dist2, ef21_ab, sub_into,
    within,
};
use crate::method::MethodError;

/// CLAG as a 3PC: $\mathcal{C}_{h,y}(x) = h + C(x - h)$ if $\|x - h\|^2 > \zeta\|x - y\|^2$,
/// else $h$ ($C \in B(\alpha)$).
///
/// Constants $A = 1 - \sqrt{1-\alpha}$, $B = \max(\beta, \zeta)$ with
/// $\beta = (1-\alpha)/(1-\sqrt{1-\alpha})$ (the CLAG code's stepsize uses `max(β, ζ)`;
/// Richtárik et al. 2022, spec source `code:3PC-CLAG`). Wire: the compressor's message of $x - h$ when
/// triggered, else `Skip` (0 bits). Outcomes: 0 = skipped, 1 = sent.
///
/// Boundary: the trigger is strict (`>`), as in the authors' code. With $\zeta = 0$ CLAG skips
/// exactly when $x = h$; EF21 would then send $C(0)$, which leaves $h$ unchanged. So CLAG(ζ = 0)
/// follows EF21's trajectory bit for bit; their bit counts differ only in rounds with
/// $\nabla f_i = g_i$ exactly (tested in `squeeze-driver/tests/three_pc.rs`). With the identity
/// compressor CLAG is [`super::Lag`] bit for bit (both send `Dense(x − h)`).
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::three_point::{Clag, ThreePoint};
/// let m = Clag::<f64>::new(parse("top_k:k=25").unwrap(), 4.0).unwrap();
/// let (a, b) = m.constants(100).unwrap(); // α = 1/4: β ≈ 5.60 > ζ
/// assert!((a - (1.0 - 0.75f64.sqrt())).abs() < 1e-15 && (b - 0.75 / a).abs() < 1e-12);
/// assert!(Clag::<f64>::new(parse("top_k:k=1").unwrap(), f64::NAN).is_err());
/// ```
#[derive(Debug)]
pub struct Clag<S: Scalar> {
    c: Box<dyn Compressor<S>>,
    zeta: f64,
}

impl<S: Scalar> Clag<S> {
    /// CLAG with compressor `c` and trigger threshold ζ ≥ 0.
    pub fn new(c: Box<dyn Compressor<S>>, zeta: f64) -> Result<Self, ParamError> {
        check_zeta("clag", zeta)?;
        Ok(Self { c, zeta })
    }
}

impl<S: Scalar> ThreePoint<S> for Clag<S> {
    fn name(&self) -> &'static str {
        "clag"
    }
    fn describe(&self) -> String {
        format!("clag({}, ζ={})", self.c.spec(), self.zeta)
    }
    fn check_dim(&self, d: usize) -> Result<(), MethodError> {
        check_compressor_dim("clag", self.c.as_ref(), d)
    }
    fn constants(&self, d: usize) -> Result<(f64, f64), MethodError> {
        let (a, b) = ef21_ab(alpha_of("clag", "compressor", self.c.as_ref(), d)?);
        Ok((a, b.max(self.zeta)))
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
            super::unskip(up, ctx.stash, false);
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
        } else {
            super::skip(up, ctx.stash, x.len());
            Ok(0)
        }
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

/// The `[method]` parameters of `clag` (defaults as documented on the fields).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClagParams {
    /// Compressor spec, e.g. `"top_k:k=1"`.
    #[serde(default)]
    pub compressor: Option<squeeze_compress::CompressorSpec>,
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

/// Registry entry of `clag`: 3PC-GD, CLAG: EF21 step iff ‖∇f_i − g_i‖² > ζ‖∇f_i − y_i‖², else nothing (compressor, zeta)
#[derive(Debug, Clone, Copy, Default)]
pub struct ClagSpec;

impl crate::spec::MethodSpec for ClagSpec {
    const NAME: &'static str = "clag";
    const SUMMARY: &'static str = "3PC-GD, CLAG: EF21 step iff ‖∇f_i − g_i‖² > ζ‖∇f_i − y_i‖², else nothing (compressor, zeta)";
    const TOPOLOGY: crate::spec::Topology = crate::spec::Topology::Star;
    const EXAMPLE: &'static str = "compressor = \"top_k:k=1\"\nzeta = 4.0";
    type Params = ClagParams;

    fn build<S: squeeze_core::Scalar, B: crate::spec::MethodSink<S>>(
        p: ClagParams,
        ctx: &crate::spec::BuildCtx,
        sink: B,
    ) -> Result<B::Output, B::Error> {
        use crate::spec as s;
        let c = s::compressor::<S>(Self::NAME, "compressor", p.compressor.as_ref(), ctx.dim)?;
        let mech = Clag::new(c, p.zeta.unwrap_or(1.0)).map_err(s::mech_param_err)?;
        s::three_pc(Box::new(mech), p.stepsize, p.count_init, sink)
    }
}
