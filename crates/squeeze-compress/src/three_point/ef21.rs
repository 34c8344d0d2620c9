//! EF21 as a three-point compressor.

use squeeze_core::{Compressor, Message, Scalar};

use super::params::{check_dims, ef21_ab_of};
use super::steps::ef21_step;
use super::{MechCtx, MechanismError, ThreePoint};

/// EF21 as a 3PC: $\mathcal{C}_{h,y}(x) = h + C(x - h)$, $C \in B(\alpha)$.
///
/// Constants (optimal $s$ in $A = 1-(1-\alpha)(1+s)$, $B = (1-\alpha)(1+1/s)$):
/// $A = 1 - \sqrt{1-\alpha}$, $B = (1-\alpha)/(1-\sqrt{1-\alpha})$ (Richtárik et al. 2021/2022;
/// the 3PC code's `Top_k.theta/beta`). Wire: the compressor's message of $x - h$. Always one
/// outcome sent (outcome 1; outcome 0 is never reported).
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_compress::three_point::{Ef21Mech, ThreePoint};
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

three_point! {
    Ef21Mech<S>, "3pc_ef21", |self, d| {
        describe: format!("3pc_ef21({})", self.c.spec()),
        check_dim: check_dims("3pc_ef21", &[self.c.as_ref()], d),
        constants: ef21_ab_of("3pc_ef21", self.c.as_ref(), d),
    }
    compress |h, _y, x, ctx, up| ef21_step(self.c.as_ref(), h, x, ctx, up)
}
