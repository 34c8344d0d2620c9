//! 3PCv5 ("biased MARINA").

use squeeze_core::{Compressor, Message, ParamError, Purpose, Scalar, SqueezeRng};

use super::params::{alpha_of, check_dims, check_p};
use super::steps::{DIFFERENCE, compress_sub, send_dense, unskip};
use super::{MechCtx, MechanismError, ThreePoint};

/// 3PCv5: with probability $p$ (one coin per round, shared by all workers)
/// $\mathcal{C}_{h,y}(x) = x$, otherwise $h + C(x - y)$, $C \in B(\alpha)$.
///
/// Constants $A = 1 - \sqrt{1-p}$, $B = (1-p)(1-\alpha)/(1-\sqrt{1-p})$ (the 3PC code, with
/// $t = 1/\sqrt{1-p} - 1$); at $p = 1$: $A = 1$, $B = 0$ and the mechanism is GD. The code uses
/// $p = K/d$; here $p$ is a parameter (the driver defaults it to the compressor's $\alpha$).
///
/// Coin: `SqueezeRng::stream(round_seed, Purpose::Shared, 5).bernoulli(p)` — the same for every
/// worker in a round. Wire: `Dense(x − h)` on a full round (outcome 1), else the compressor's
/// message of $x - y$ (outcome 0); the server adds either.
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_compress::three_point::{V5, ThreePoint};
/// let m = V5::<f64>::new(parse("top_k:k=25").unwrap(), 0.75).unwrap();
/// let (a, b) = m.constants(100).unwrap(); // A = 1/2, B = 0.25·0.75/0.5
/// assert!((a - 0.5).abs() < 1e-15 && (b - 0.375).abs() < 1e-15);
/// assert!(V5::<f64>::new(parse("top_k:k=1").unwrap(), 0.0).is_err());
/// ```
#[derive(Debug)]
pub struct V5<S: Scalar> {
    c: Box<dyn Compressor<S>>,
    p: f64,
}

impl<S: Scalar> V5<S> {
    /// 3PCv5 with compressor `c` and full-round probability `p ∈ (0, 1]`.
    pub fn new(c: Box<dyn Compressor<S>>, p: f64) -> Result<Self, ParamError> {
        check_p("3pc_v5", p)?;
        Ok(Self { c, p })
    }
}

/// The shared coin of 3PCv5 in the round with seed `round_seed`.
pub(crate) fn shared_coin(round_seed: u64, p: f64) -> bool {
    SqueezeRng::stream(round_seed, Purpose::Shared, 5).bernoulli(p)
}

three_point! {
    V5<S>, "3pc_v5", |self, d| {
        describe: format!("3pc_v5({}, p={})", self.c.spec(), self.p),
        check_dim: check_dims("3pc_v5", &[self.c.as_ref()], d),
        constants: {
            let alpha = alpha_of("3pc_v5", "compressor", self.c.as_ref(), d)?;
            let r = (1.0 - self.p).sqrt();
            let a = 1.0 - r;
            let b = if self.p >= 1.0 {
                0.0
            } else {
                (1.0 - self.p) * (1.0 - alpha) / a
            };
            Ok((a, b))
        },
    }
    compress |h, y, x, ctx, up| {
        if shared_coin(ctx.round_seed, self.p) {
            return Ok(send_dense(h, x, ctx.stash, up));
        }
        unskip(up, ctx.stash, false);
        compress_sub(self.c.as_ref(), x, y, ctx, up, DIFFERENCE)?;
        Ok(0)
    }
}
