//! 3PCv1.

use squeeze_core::{Compressor, Message, Scalar};

use super::params::{alpha_of, check_dims};
use super::steps::{DIFFERENCE, sub_into};
use super::{MechCtx, MechanismError, ThreePoint, message_err};

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
/// use squeeze_compress::three_point::{V1, ThreePoint};
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

three_point! {
    V1<S>, "3pc_v1", |self, d| {
        describe: format!("3pc_v1({})", self.c.spec()),
        check_dim: check_dims("3pc_v1", &[self.c.as_ref()], d),
        constants: Ok((1.0, 1.0 - alpha_of("3pc_v1", "compressor", self.c.as_ref(), d)?)),
    }
    compress |h, y, x, ctx, up| {
        let meta = ctx.meta();
        sub_into(x, y, ctx.work);
        let c = self.c.as_ref();
        MechCtx::compress(ctx.rng, ctx.scratch, meta, c, ctx.work, ctx.spare, DIFFERENCE)?;
        sub_into(y, h, ctx.aux);
        ctx.spare
            .add_to(ctx.aux, S::ONE)
            .map_err(message_err(ctx.worker, ctx.round))?;
        up.dense_parts().extend_from_slice(ctx.aux);
        Ok(1)
    }
}
