//! LAG: lazy aggregation.

use squeeze_core::{Message, ParamError, Scalar};

use super::params::check_zeta;
use super::steps::{dense_or_skip, triggered};
use super::{MechCtx, MechanismError, ThreePoint};

/// LAG (lazily aggregated gradients) as a 3PC:
/// $\mathcal{C}_{h,y}(x) = x$ if $\lVert x - h\rVert^2 > \zeta\lVert x - y\rVert^2$, else $h$.
///
/// Constants $A = 1$, $B = \zeta$ (the CLAG stepsize formula with $\alpha = 1$; the LAG code takes
/// γ as input). Wire: `Dense(x − h)` when triggered (the server adds it to its average; the new
/// estimate is $h + (x - h)$, which equals $x$ up to rounding), else `Skip` (0 bits).
/// Outcomes: 0 = skipped, 1 = sent. The trigger is strict, so with $\zeta = 0$ LAG sends unless
/// $x = h$ exactly, and then sending would not change $h$ anyway.
///
/// ```
/// use squeeze_compress::three_point::{Lag, ThreePoint};
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

three_point! {
    Lag, "lag", |self, _d| {
        describe: format!("lag(ζ={})", self.zeta),
        check_dim: Ok(()),
        constants: Ok((1.0, self.zeta)),
    }
    compress |h, y, x, ctx, up| {
        let send = triggered(self.zeta, h, y, x).is_some();
        Ok(dense_or_skip(send, h, x, ctx.stash, up))
    }
}
