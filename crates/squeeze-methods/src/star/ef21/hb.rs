//! EF21-HB, heavy-ball momentum on the server (Fatkhullin, Sokolov, Gorbunov, Li, Richtárik,
//! 2021).

use serde::{Deserialize, Serialize};
use squeeze_core::{Compressor, Message, ParamError, Scalar};
use squeeze_problems::Problem;

use crate::method::{Init, MethodError, ServerMethod, WorkerCtx, step_and_broadcast};
use crate::star::ef21::{Ef21, Ef21Server, Ef21Worker, GradInit};
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
/// the wire is EF21's.
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::{Ef21Hb, GradInit, Stepsize};
/// assert!(Ef21Hb::<f64>::new(parse("top_k:k=1").unwrap(), Stepsize::default(), GradInit::Full, false, 0.9).is_ok());
/// assert!(Ef21Hb::<f64>::new(parse("top_k:k=1").unwrap(), Stepsize::default(), GradInit::Full, false, 1.0).is_err());
/// assert!(Ef21Hb::<f64>::new(parse("top_k:k=1").unwrap(), Stepsize::default(), GradInit::Full, false, -0.1).is_err());
/// ```
#[derive(Debug)]
pub struct Ef21Hb<S: Scalar> {
    inner: Ef21<S>,
    momentum: f64,
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

impl<S: Scalar> Ef21Hb<S> {
    /// EF21-HB with momentum η = `momentum` ∈ [0, 1).
    pub fn new(
        compressor: Box<dyn Compressor<S>>,
        stepsize: Stepsize,
        init: GradInit,
        count_init: bool,
        momentum: f64,
    ) -> Result<Self, MethodError> {
        if !(momentum.is_finite() && (0.0..1.0).contains(&momentum)) {
            return Err(ParamError::new(
                "ef21_hb",
                "momentum",
                momentum,
                "must be in [0, 1) (0 = EF21; the paper uses 0.2–0.9)",
            )
            .into());
        }
        Ok(Self {
            inner: Ef21::new(compressor, stepsize, init, count_init)?,
            momentum,
        })
    }
}

impl<S: Scalar> ServerMethod<S> for Ef21Hb<S> {
    type Worker = Ef21Worker<S>;
    type Server = Ef21HbServer<S>;

    fn describe(&self) -> String {
        format!(
            "ef21_hb({}, momentum={})",
            ServerMethod::<S>::describe(&self.inner),
            self.momentum
        )
    }

    fn init(
        &self,
        problem: &Problem<S>,
        x0: &[S],
        seed: u64,
    ) -> Result<Init<Self::Server, Self::Worker>, MethodError> {
        let init = self.inner.init(problem, x0, seed)?;
        let v = init.server.g.clone();
        Ok(Init {
            server: Ef21HbServer {
                ef21: init.server,
                v,
            },
            workers: init.workers,
            init_up: init.init_up,
            grad_samples: init.grad_samples,
        })
    }

    fn broadcast(
        &self,
        server: &mut Self::Server,
        round: u64,
        down: &mut Message<S>,
    ) -> Result<(), MethodError> {
        let s = &mut server.ef21;
        step_and_broadcast(&mut s.x, &server.v, s.gamma, round, down)
    }

    fn worker_round(
        &self,
        worker: &mut Self::Worker,
        down: &Message<S>,
        ctx: &mut WorkerCtx<'_, S>,
        up: &mut Message<S>,
    ) -> Result<(), MethodError> {
        self.inner.worker_round(worker, down, ctx, up)
    }

    fn absorb(
        &self,
        server: &mut Self::Server,
        round: u64,
        ups: &[Message<S>],
    ) -> Result<(), MethodError> {
        self.inner.absorb(&mut server.ef21, round, ups)?;
        let eta = S::from_f64(self.momentum);
        for (v, &g) in server.v.iter_mut().zip(&server.ef21.g) {
            *v = eta * *v + g;
        }
        Ok(())
    }

    fn iterate<'a>(&self, server: &'a Self::Server) -> &'a [S] {
        &server.ef21.x
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

/// The `[method]` parameters of `ef21_hb` (defaults as documented on the fields).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ef21HbParams {
    /// Compressor spec, e.g. `"top_k:k=1"`.
    #[serde(default)]
    pub compressor: Option<squeeze_compress::CompressorSpec>,
    /// Stepsize rule.
    #[serde(default)]
    pub stepsize: crate::stepsize::Stepsize,
    /// Initial gradient estimates.
    #[serde(default)]
    pub init: crate::star::ef21::GradInit,
    /// Count the bits of an uncompressed initial round.
    #[serde(default)]
    pub count_init: bool,
    /// Heavy-ball momentum η ∈ [0, 1) (required).
    #[serde(default)]
    pub momentum: Option<f64>,
}

/// Registry entry of `ef21_hb`: EF21-HB: EF21 with heavy-ball momentum on the server, v ← ηv + g (momentum)
#[derive(Debug, Clone, Copy, Default)]
pub struct Ef21HbSpec;

impl crate::spec::MethodSpec for Ef21HbSpec {
    const NAME: &'static str = "ef21_hb";
    const SUMMARY: &'static str =
        "EF21-HB: EF21 with heavy-ball momentum on the server, v ← ηv + g (momentum)";
    const TOPOLOGY: crate::spec::Topology = crate::spec::Topology::Star;
    const EXAMPLE: &'static str = "compressor = \"top_k:k=1\"\nmomentum = 0.5";
    type Params = Ef21HbParams;

    fn build<S: squeeze_core::Scalar, B: crate::spec::MethodSink<S>>(
        p: Ef21HbParams,
        ctx: &crate::spec::BuildCtx,
        sink: B,
    ) -> Result<B::Output, B::Error> {
        use crate::spec as s;
        let c = s::compressor::<S>(Self::NAME, "compressor", p.compressor.as_ref(), ctx.dim)?;
        let mom = s::required(
            Self::NAME,
            "momentum",
            p.momentum,
            "the heavy-ball momentum in [0, 1), e.g. momentum = 0.9",
        )?;
        sink.star(Ef21Hb::new(c, p.stepsize, p.init, p.count_init, mom).map_err(s::method_err)?)
    }
}
