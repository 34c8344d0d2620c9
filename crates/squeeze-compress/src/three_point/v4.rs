//! 3PCv4.

use squeeze_core::{Compressor, Message, Scalar};

use super::params::{alpha_of, check_dims, ef21_theta_beta};
use super::steps::{CORRECTION, compress_sub, refine};
use super::{MechCtx, MechanismError, ThreePoint};

/// 3PCv4: $\mathcal{C}_{h,y}(x) = b + C_1(x - b)$ with $b = h + C_2(x - h)$, two contractive
/// compressors $C_1 \in B(\alpha_1)$, $C_2 \in B(\alpha_2)$.
///
/// Since $\lVert x - b - C_1(x-b)\rVert^2 \le (1-\alpha_1)(1-\alpha_2)\lVert x-h\rVert^2$, this is
/// EF21 with $\bar\alpha = 1 - (1-\alpha_1)(1-\alpha_2)$: $A = 1-\sqrt{1-\bar\alpha}$, $B =
/// (1-\bar\alpha)/(1-\sqrt{1-\bar\alpha})$ (the 3PC code). Wire: `Pair(C₂(x − h), C₁(x − b))`
/// ($K_1 + K_2$ entries for two Top-K). One outcome.
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_compress::three_point::{V4, ThreePoint};
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

three_point! {
    V4<S>, "3pc_v4", |self, d| {
        describe: format!("3pc_v4(C1={}, C2={})", self.c1.spec(), self.c2.spec()),
        check_dim: check_dims("3pc_v4", &[self.c1.as_ref(), self.c2.as_ref()], d),
        constants: {
            let a1 = alpha_of("3pc_v4", "compressor", self.c1.as_ref(), d)?;
            let a2 = alpha_of("3pc_v4", "compressor2", self.c2.as_ref(), d)?;
            Ok(ef21_theta_beta(1.0 - (1.0 - a1) * (1.0 - a2)))
        },
    }
    compress |h, _y, x, ctx, up| {
        let (m2, m1) = up.pair_parts();
        compress_sub(self.c2.as_ref(), x, h, ctx, m2, CORRECTION)?;
        refine(self.c1.as_ref(), m2, ctx, m1)
    }
}
