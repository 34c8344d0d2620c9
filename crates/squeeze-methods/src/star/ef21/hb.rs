//! EF21-HB, heavy-ball momentum on the server (Fatkhullin, Sokolov, Gorbunov, Li, Richtárik,
//! 2021).

use serde::{Deserialize, Serialize};
use squeeze_core::{Compressor, Message, ParamError, Scalar};

use crate::method::{Result, ServerState, step_and_broadcast};
use crate::star::ef21::{Ef21Family, Ef21Server, FullGrad, GradInit, ServerRule};
use crate::stepsize::Stepsize;

/// EF21-HB: EF21's workers, with a heavy-ball step on the server.
///
/// $$x^{t+1} = x^t - \gamma v^t,\qquad c_i^t = \mathcal{C}(\nabla f_i(x^{t+1}) - g_i^t),\qquad
/// g^{t+1} = g^t + \tfrac1n\textstyle\sum_i c_i^t,\qquad v^{t+1} = \eta v^t + g^{t+1},$$
/// with $v^0 = g^0$ and momentum $\eta \in [0, 1)$. With $\eta = 0$, $v^t = g^t$ and the run is
/// EF21's bit for bit (tested: $0\cdot v + g = g$ exactly for finite $v$).
///
/// Reference: Fatkhullin et al., *EF21 with bells & whistles* (2021), EF21-HB
/// (algorithms.md §2.3; experiments use η ∈ {0.2, 0.4, 0.9}, code default 0.99). Stepsize:
/// the EF21 theory rule × multiplier, as the experiment code uses — UNCONFIRMED against the
/// paper's HB theorem (whose bound shrinks with 1 − η). Only the server's state changes;
/// the wire is EF21's: [`Ef21Family`] with the full gradient and the [`HeavyBall`] rule.
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::{Ef21Hb, GradInit, Stepsize};
/// assert!(Ef21Hb::<f64>::new(parse("top_k:k=1").unwrap(), Stepsize::default(), GradInit::Full, false, 0.9).is_ok());
/// assert!(Ef21Hb::<f64>::new(parse("top_k:k=1").unwrap(), Stepsize::default(), GradInit::Full, false, 1.0).is_err());
/// assert!(Ef21Hb::<f64>::new(parse("top_k:k=1").unwrap(), Stepsize::default(), GradInit::Full, false, -0.1).is_err());
/// ```
pub type Ef21Hb<S> = Ef21Family<S, FullGrad, HeavyBall>;

/// The heavy-ball server rule $x \leftarrow x - \gamma v$, $v \leftarrow \eta v + g$ of EF21-HB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeavyBall {
    /// η ∈ [0, 1).
    pub momentum: f64,
}

/// EF21-HB server state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Ef21HbServer<S: Scalar> {
    /// EF21's server state (x, g, γ).
    pub ef21: Ef21Server<S>,
    /// Momentum buffer v.
    pub v: Vec<S>,
}

impl<S: Scalar> ServerState<S> for Ef21HbServer<S> {
    /// `x ← x − γ v`, then the dense model.
    fn broadcast(&mut self, round: u64, down: &mut Message<S>) -> Result {
        let s = &mut self.ef21;
        step_and_broadcast(&mut s.x, &self.v, s.gamma, round, down)
    }

    /// EF21's `g ← g + (1/n) Σ_i c_i` (the rule then updates v).
    fn absorb(&mut self, round: u64, ups: &[Message<S>]) -> Result {
        self.ef21.absorb(round, ups)
    }

    fn model(&self) -> &[S] {
        &self.ef21.x
    }
}

impl<S: Scalar> Ef21Hb<S> {
    /// EF21-HB with momentum η = `momentum` ∈ [0, 1).
    pub fn new(
        compressor: Box<dyn Compressor<S>>,
        stepsize: Stepsize,
        init: GradInit,
        count_init: bool,
        momentum: f64,
    ) -> Result<Self> {
        let rule = HeavyBall { momentum };
        Self::compose(compressor, stepsize, init, count_init, FullGrad, rule)
    }
}

impl<S: Scalar> ServerRule<S> for HeavyBall {
    type Server = Ef21HbServer<S>;

    fn server(&self, ef21: Ef21Server<S>) -> Ef21HbServer<S> {
        let v = ef21.g.clone();
        Ef21HbServer { ef21, v }
    }

    /// η = `momentum` ∈ [0, 1).
    fn validate(&self) -> Result<(), ParamError> {
        let momentum = self.momentum;
        ParamError::require(
            momentum.is_finite() && (0.0..1.0).contains(&momentum),
            "ef21_hb",
            "momentum",
            momentum,
            "must be in [0, 1) (0 = EF21; the paper uses 0.2–0.9)",
        )
    }

    fn after_absorb(&self, server: &mut Ef21HbServer<S>) {
        let eta = S::from_f64(self.momentum);
        for (v, &g) in server.v.iter_mut().zip(&server.ef21.g) {
            *v = eta * *v + g;
        }
    }

    fn describe(&self, inner: String) -> String {
        format!("ef21_hb({inner}, momentum={})", self.momentum)
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    Ef21HbSpec(Ef21HbParams {
        compressor, stepsize, init, count_init,
        /// Heavy-ball momentum η ∈ [0, 1) (required).
        momentum: Option<f64>,
    }): Star "ef21_hb",
    summary = "EF21-HB: EF21 with heavy-ball momentum on the server, v ← ηv + g (momentum)",
    example = "compressor = \"top_k:k=1\"\nmomentum = 0.5",
    |p, ctx, sink| {
        let c = p.main_compressor::<S>(ctx.dim)?;
        let mom = s::required(
            Self::NAME,
            "momentum",
            p.momentum,
            "the heavy-ball momentum in [0, 1), e.g. momentum = 0.9",
        )?;
        sink.star(Ef21Hb::new(c, p.stepsize, p.init, p.count_init, mom).map_err(s::method_err)?)
    }
}
