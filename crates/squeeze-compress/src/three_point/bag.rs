//! Bernoulli aggregation (BAG).

use squeeze_core::{Message, ParamError, Scalar};

use super::params::{check_p, ef21_theta_beta};
use super::steps::dense_or_skip;
use super::{MechCtx, MechanismError, ThreePoint};

/// Bernoulli aggregation: with probability $p$ $\mathcal{C}_{h,y}(x) = x$, otherwise $h$
/// (Newton-3PC's BAG, applied here to gradients).
///
/// $\mathbb{E}\lVert\mathcal{C} - x\rVert^2 = (1-p)\lVert h - x\rVert^2 \le (1-p)(1+s)\lVert h-y\rVert^2 +
/// (1-p)(1+1/s)\lVert x-y\rVert^2$, so $A = 1 - (1-p)(1+s)$, $B = (1-p)(1+1/s)$; with the best $s =
/// 1/\sqrt{1-p} - 1$ (the one minimising $B/A$, hence maximising the theory stepsize): $A =
/// 1-\sqrt{1-p}$, $B = (1-p)/(1-\sqrt{1-p})$ — EF21's constants with $\alpha = p$.
///
/// UNCONFIRMED (spec §8.1): whether the coin is per node or shared. Here it is **per worker**,
/// drawn from the worker's own stream (`Purpose::Compression`, index = worker). Wire:
/// `Dense(x − h)` when the coin says send (outcome 1), else `Skip` (outcome 0, 0 bits). The local
/// gradient is still evaluated every round by 3PC-GD (it becomes the next $y$).
///
/// ```
/// use squeeze_compress::three_point::{Bag, ThreePoint};
/// let m = Bag::new(0.75).unwrap();
/// let (a, b) = <Bag as ThreePoint<f64>>::constants(&m, 10).unwrap();
/// assert!((a - 0.5).abs() < 1e-15 && (b - 0.5).abs() < 1e-15);
/// assert!(Bag::new(1.5).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Bag {
    p: f64,
}

impl Bag {
    /// BAG with send probability `p ∈ (0, 1]`.
    pub fn new(p: f64) -> Result<Self, ParamError> {
        check_p("bag", p)?;
        Ok(Self { p })
    }
}

three_point! {
    Bag, "bag", |self, _d| {
        describe: format!("bag(p={})", self.p),
        check_dim: Ok(()),
        constants: Ok(ef21_theta_beta(self.p)),
    }
    compress |h, _y, x, ctx, up| {
        let send = ctx.rng.bernoulli(self.p);
        Ok(dense_or_skip(send, h, x, ctx.stash, up))
    }
}
