//! Bidirectional 3PC-GD: a three-point compressor on the uplink and another on the downlink
//! (bidirectional AdaCGD).

use serde::{Deserialize, Serialize};
use squeeze_core::{Message, Scalar, Scratch, round_seed};
use squeeze_problems::Problem;

use crate::method::{InitOf, Result, ServerMethod, WorkerCtx, full_grad_init, local_grad};
use crate::star::downlink::{DownlinkServer, DownlinkWorker};
use crate::star::three_pc::{Parked, RungBuffers, ThreePc, apply_counted, track_gradient};
use crate::stepsize::Stepsize;
use crate::three_point::{MechCtx, ThreePoint};

/// Bidirectional 3PC-GD: the workers' 3PC uplink of [`ThreePc`], and the server compresses its
/// broadcast with a second 3PC mechanism $\mathcal{D}$ applied to the aggregate, as EF21-BC
/// does with EF21 ([`crate::Ef21Bc`]; AdaCGD's bidirectional extension, algorithms.md §7).
///
/// Workers keep $\tilde g_i$ (uplink estimate), their previous local gradient $y_i$, the
/// downlink estimator $g$ and the model $x$; the server keeps
/// $\tilde g = \tfrac1n\sum_i \tilde g_i$, its previous value, $g$ and $x$. Round $t \ge 1$:
///
/// $$g^t = \mathcal D_{g^{t-1},\thinspace\tilde g^{t-1}}(\tilde g^t)\ \ (\text{broadcast the
/// change}),
/// \qquad x^{t+1} = x^t - \gamma g^t\ \ (\text{everybody}),$$
/// $$\tilde g_i^{t+1} = \mathcal C_{\tilde g_i^t,\thinspace\nabla f_i(x^t)}\big(\nabla
/// f_i(x^{t+1})\big),
/// \qquad \tilde g^{t+1} = \tilde g^t + \tfrac1n\textstyle\sum_i(\tilde g_i^{t+1} - \tilde g_i^t).$$
///
/// Round 0 broadcasts nothing (`Skip`, 0 bits): $g^0 = \tilde g^0 = \tfrac1n\sum_i\nabla f_i(x^0)$
/// is known to everybody (uncounted, like 3PC-GD's init; `count_init` charges the dense uplink).
/// With $\mathcal{D} = \text{EF21}$ this is EF21-BC's round with 3PC uplinks. With a lazy downlink
/// (LAG/CLAG/AdaCGD) the server sends `Skip` while $g$ is close enough to $\tilde g$; with
/// AdaCGD the broadcast carries the rung index ([`Message::Indexed`]) and the engine keeps the
/// downlink level histogram (`levels_down` in the records).
///
/// Downlink bits are the real broadcast's. The downlink stream is `Purpose::Compression` index
/// `u64::MAX` (workers use 0..n); the downlink mechanism sees itself as worker 0 of 1 (for
/// compressors that read the worker index, e.g. Perm-K, which is not meaningful here).
///
/// Stepsize: [`Stepsize::Theory`] is 3PC-GD's rule with the **uplink** mechanism's $(A, B)$
/// (as EF21-BC uses the uplink α; a bidirectional theorem's stepsize is UNCONFIRMED).
///
/// With an identity-only downlink (AdaCGD over `["identity"]`, ζ = 0) the broadcast is
/// $\tilde g - g$ and $g^t = g^{t-1} + (\tilde g^t - g^{t-1})$, which is $\tilde g^t$ — 3PC-GD's
/// unidirectional $g$ — up to the rounding of that subtraction: bit for bit on exactly
/// representable data, to rounding otherwise (tested in `squeeze-driver/tests/suite/three_pc.rs`).
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::three_point::AdaCgd;
/// use squeeze_methods::{ServerMethod, Stepsize, ThreePcBc};
/// let up = AdaCgd::<f64>::new(vec![parse("top_k:k=1").unwrap(), parse("top_k:k=4").unwrap()], 1.0).unwrap();
/// let down = AdaCgd::<f64>::new(vec![parse("top_k:k=2").unwrap(), parse("identity").unwrap()], 1.0).unwrap();
/// let m = ThreePcBc::new(Box::new(up), Box::new(down), Stepsize::default(), false).unwrap();
/// assert_eq!((m.uplink_levels(), m.downlink_levels()), (Some(2), Some(2)));
/// assert!(m.describe().starts_with("three_pc_bc(up=adacgd("));
/// ```
#[derive(Debug)]
pub struct ThreePcBc<S: Scalar> {
    up: ThreePc<S>,
    down: Box<dyn ThreePoint<S>>,
}

/// Bidirectional 3PC-GD server state: the bidirectional methods' ([`DownlinkServer`]) with
/// the downlink mechanism's part.
pub type ThreePcBcServer<S> = DownlinkServer<S, ThreePcDownlink<S>>;

/// The downlink mechanism's part of the bidirectional 3PC-GD server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct ThreePcDownlink<S: Scalar> {
    /// g̃ at the previous broadcast (the downlink mechanism's y).
    pub g_tilde_prev: Vec<S>,
    /// Experiment seed (round seeds for the downlink mechanism).
    pub seed: u64,
    /// How often each outcome of the downlink mechanism occurred (rounds ≥ 1).
    pub outcomes: Vec<u64>,
    /// Working memory of the downlink mechanism (not state).
    #[serde(skip)]
    bufs: DownBuffers<S>,
}

#[derive(Debug, Clone, Default)]
struct DownBuffers<S: Scalar> {
    scratch: Scratch,
    work: Vec<S>,
    aux: Vec<S>,
    spare: Message<S>,
    stash: Message<S>,
    rungs: Vec<Message<S>>,
}

/// Bidirectional 3PC-GD worker state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct ThreePcBcWorker<S: Scalar> {
    /// The bidirectional methods' worker: g̃_i (the uplink mechanism's h), g, x, γ, stream.
    #[serde(flatten)]
    pub down: DownlinkWorker<S>,
    /// Previous local gradient (the uplink mechanism's y).
    pub y: Vec<S>,
    /// How often each outcome of the uplink mechanism occurred.
    pub outcomes: Vec<u64>,
    /// Parked uplink buffers (not state, see [`crate::ThreePcWorker::parked`]).
    #[serde(skip)]
    pub parked: Parked<S>,
    /// Per-rung message buffers (not state, see [`crate::ThreePcWorker::rungs`]).
    #[serde(skip)]
    pub rungs: RungBuffers<S>,
}

impl<S: Scalar> ThreePcBc<S> {
    /// Uplink mechanism `up`, downlink mechanism `down`.
    pub fn new(
        up: Box<dyn ThreePoint<S>>,
        down: Box<dyn ThreePoint<S>>,
        stepsize: Stepsize,
        count_init: bool,
    ) -> Result<Self> {
        Ok(Self {
            up: ThreePc::new(up, stepsize, count_init)?,
            down,
        })
    }

    /// The downlink mechanism.
    pub fn downlink(&self) -> &dyn ThreePoint<S> {
        self.down.as_ref()
    }
}

impl<S: Scalar> ServerMethod<S> for ThreePcBc<S> {
    type Worker = ThreePcBcWorker<S>;
    type Server = ThreePcBcServer<S>;

    fn describe(&self) -> String {
        let up = ServerMethod::<S>::describe(&self.up);
        let up = up
            .strip_prefix("three_pc(")
            .and_then(|s| s.strip_suffix(')'))
            .unwrap_or(&up);
        format!("three_pc_bc(up={up}, down={})", self.down.describe())
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        let d = problem.dim();
        self.up.mechanism().check_dim(d)?;
        self.down.check_dim(d)?;
        let step = self.up.stepsize_report(problem)?;
        let gamma = step.gamma;
        let init = full_grad_init(problem, x0, self.up.count_init())?;
        Ok(init
            .start(
                seed,
                |gi, rng, g| ThreePcBcWorker {
                    y: gi.clone(),
                    down: DownlinkWorker::at(gi, g, x0, gamma, rng),
                    outcomes: vec![0; self.up.mechanism().outcomes()],
                    parked: Parked::default(),
                    rungs: RungBuffers::default(),
                },
                |g, _| {
                    let own = ThreePcDownlink {
                        g_tilde_prev: g.clone(),
                        seed,
                        outcomes: vec![0; self.down.outcomes()],
                        bufs: DownBuffers::default(),
                    };
                    DownlinkServer::at(x0, g, gamma, seed, own)
                },
            )
            .with_stepsize(step))
    }

    fn broadcast(&self, server: &mut Self::Server, round: u64, down: &mut Message<S>) -> Result {
        // At round 0 the previous g̃ is g̃ itself (both are g⁰), so only later rounds move it.
        server.broadcast_with(round, down, |server, down| {
            let d = server.x.len();
            let own = &mut server.own;
            let b = &mut own.bufs;
            b.work.resize(d, S::ZERO);
            b.aux.resize(d, S::ZERO);
            let mctx = MechCtx::new(
                (0, 1, round, round_seed(own.seed, round)),
                &mut server.rng,
                (&mut b.scratch, &mut b.spare),
                (&mut b.work, &mut b.aux),
                (&mut b.stash, &mut b.rungs),
            );
            let h = (
                &mut server.g[..],
                &own.g_tilde_prev[..],
                &server.g_tilde[..],
            );
            apply_counted(self.down.as_ref(), h, mctx, &mut own.outcomes, down)?;
            own.g_tilde_prev.copy_from_slice(&server.g_tilde);
            Ok(())
        })
    }

    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        worker.down.follow(ctx)?;
        local_grad(ctx, &worker.down.x)?;
        let mech = (self.up.mechanism(), &mut worker.down.rng);
        let track = (
            &mut worker.outcomes[..],
            &mut worker.parked,
            &mut worker.rungs,
        );
        track_gradient(mech, (&mut worker.down.g_tilde, &mut worker.y), track, ctx)
    }

    fn uplink_levels(&self) -> Option<usize> {
        self.up.mechanism().wire_levels()
    }

    fn downlink_levels(&self) -> Option<usize> {
        self.down.wire_levels()
    }
}
