//! CLAG: compressed lazy aggregation.

use squeeze_core::{Compressor, Message, ParamError, Scalar};

use super::params::{check_dims, check_zeta, ef21_ab_of};
use super::steps::{ef21_step, lazily};
use super::{MechCtx, MechanismError, ThreePoint};

/// CLAG as a 3PC: $\mathcal{C}_{h,y}(x) = h + C(x - h)$ if $\lVert x - h\rVert^2 > \zeta\lVert x -
/// y\rVert^2$, else $h$ ($C \in B(\alpha)$).
///
/// Constants $A = 1 - \sqrt{1-\alpha}$, $B = \max(\beta, \zeta)$ with
/// $\beta = (1-\alpha)/(1-\sqrt{1-\alpha})$ (the CLAG code's stepsize uses `max(β, ζ)`;
/// Richtárik et al. 2022, spec source `code:3PC-CLAG`). Wire: the compressor's message of $x - h$ when
/// triggered, else `Skip` (0 bits). Outcomes: 0 = skipped, 1 = sent.
///
/// Boundary: the trigger is strict (`>`), as in the authors' code. With $\zeta = 0$ CLAG skips
/// exactly when $x = h$; EF21 would then send $C(0)$, which leaves $h$ unchanged. So CLAG(ζ = 0)
/// follows EF21's trajectory bit for bit; their bit counts differ only in rounds with
/// $\nabla f_i = g_i$ exactly (tested in `squeeze-driver/tests/suite/three_pc.rs`). With the identity
/// compressor CLAG is [`super::Lag`] bit for bit (both send `Dense(x − h)`).
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_compress::three_point::{Clag, ThreePoint};
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

three_point! {
    Clag<S>, "clag", |self, d| {
        describe: format!("clag({}, ζ={})", self.c.spec(), self.zeta),
        check_dim: check_dims("clag", &[self.c.as_ref()], d),
        constants: ef21_ab_of("clag", self.c.as_ref(), d).map(|(a, b)| (a, b.max(self.zeta))),
    }
    compress |h, y, x, ctx, up| lazily(self.zeta, (h, y, x), ctx, up, |_, ctx, up| {
        ef21_step(self.c.as_ref(), h, x, ctx, up)
    })
}
