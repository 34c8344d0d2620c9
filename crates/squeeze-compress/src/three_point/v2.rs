//! 3PCv2.

use squeeze_core::{Compressor, Message, ParamError, Scalar};

use super::params::{alpha_of, check_dims};
use super::steps::{DIFFERENCE, compress_sub, refine, sub_into};
use super::{MechCtx, MechanismError, ThreePoint};

/// 3PCv2: $\mathcal{C}_{h,y}(x) = b + C(x - b)$ with $b = h + Q(x - y)$, $Q \in U(\omega)$
/// unbiased, $C \in B(\alpha)$.
///
/// Constants $A = \alpha$, $B = (1-\alpha)\thinspace\omega$ (from $\mathbb{E}\lVert b + C(x-b) -
/// x\rVert^2 \le (1-\alpha)\mathbb{E}\lVert x - b\rVert^2 = (1-\alpha)(\lVert h-y\rVert^2 +
/// \mathbb{E}\lVert Q(x-y) - (x-y)\rVert^2)$; the 3PC code uses Rand-K for $Q$ and Top-K for $C$).
/// Wire: `Pair(Q(x − y), C(x − b))`, both parts counted; the server adds both. One outcome (1 =
/// sent).
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_compress::three_point::{V2, ThreePoint};
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

three_point! {
    V2<S>, "3pc_v2", |self, d| {
        describe: format!("3pc_v2(C={}, Q={})", self.c.spec(), self.q.spec()),
        check_dim: check_dims("3pc_v2", &[self.c.as_ref(), self.q.as_ref()], d),
        constants: {
            let alpha = alpha_of("3pc_v2", "compressor", self.c.as_ref(), d)?;
            let omega = self.q.class(d).omega().ok_or_else(|| {
                MechanismError::Param(ParamError::new(
                    "3pc_v2",
                    "compressor2",
                    self.q.spec(),
                    "Q must be unbiased (ω), e.g. rand_k:k=10",
                ))
            })?;
            Ok((alpha, (1.0 - alpha) * omega))
        },
    }
    compress |h, y, x, ctx, up| {
        let (mq, mc) = up.pair_parts();
        compress_sub(self.q.as_ref(), x, y, ctx, mq, DIFFERENCE)?;
        // x − b = (x − h) − Q(x − y)
        sub_into(x, h, ctx.work);
        refine(self.c.as_ref(), mq, ctx, mc)
    }
}
