//! EF21-BC, bidirectional compression (Fatkhullin, Sokolov, Gorbunov, Li, Richtárik, 2021).

use squeeze_core::{Compressor, Message, Scalar};
use squeeze_problems::Problem;

use crate::method::{
    InitOf, MethodError, Result, ServerMethod, WorkerCtx, full_grad_init, grad_minus_estimate,
};
use crate::star::downlink::{DownlinkBuffers, DownlinkServer, DownlinkWorker};
use crate::star::ef21::{CompressedStart, GradInit, correct_by_buffer};
use crate::stepsize::Stepsize;

/// EF21-BC: EF21 on the uplink and a second EF21 mechanism on the downlink.
///
/// Workers keep their uplink estimate $\tilde g_i$, the shared downlink estimator $g$ and the
/// model $x$; the server keeps $\tilde g = \tfrac1n\sum_i\tilde g_i$, $g$ and $x$. Round $t$:
///
/// $$b^t = \mathcal{C}_M(\tilde g^t - g^{t-1}),\quad g^t = g^{t-1} + b^t\ \ (\text{broadcast } b^t;\ t \ge 1),\qquad
/// x^{t+1} = x^t - \gamma g^t\ \ (\text{everybody}),$$
/// $$c_i^t = \mathcal{C}_w(\nabla f_i(x^{t+1}) - \tilde g_i^t),\quad \tilde g_i^{t+1} = \tilde g_i^t + c_i^t,\quad
/// \tilde g^{t+1} = \tilde g^t + \tfrac1n\textstyle\sum_i c_i^t.$$
///
/// This is algorithms.md §2.3's round with the server's compression moved to the start of the
/// next round (the same values). Initialisation: $\tilde g_i^0 = \nabla f_i(x^0)$ and
/// $g^0 = \tilde g^0$ known to everybody (uncounted, like EF21's default init; `count_init`
/// charges the dense uplink only). Round 0 broadcasts nothing (`Skip`, 0 bits). Downlink bits
/// are the real message $b^t$'s; the downlink stream is `Purpose::Compression` index
/// `u64::MAX` (workers use 0..n).
///
/// Reference: Fatkhullin et al., *EF21 with bells & whistles* (2021), EF21-BC. Stepsize: the
/// EF21 theory rule with the uplink compressor's α, × multiplier (the reference code's
/// choice; the BC theorem's stepsize, depending on α_w and α_M, is UNCONFIRMED and not
/// implemented).
///
/// With both compressors the identity it is EF21 in exact arithmetic. In floating point
/// $g + (\tilde g - g)$ equals $\tilde g$ (EF21's $g$, formed by the same additions) only when
/// the subtraction is exact (Sterbenz), so the runs agree to rounding, not bit for bit in
/// general (tested: relative 1e-12 in f64; observed bit-equal on some problems, not on
/// others — `squeeze-driver/tests/suite/ef21_variants.rs`).
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::{Ef21Bc, Stepsize};
/// let m = Ef21Bc::<f64>::new(parse("top_k:k=1").unwrap(), parse("top_k:k=2").unwrap(), Stepsize::default(), false).unwrap();
/// assert!(squeeze_methods::ServerMethod::<f64>::describe(&m).contains("down=top_k:k=2"));
/// ```
#[derive(Debug)]
pub struct Ef21Bc<S: Scalar> {
    /// The uplink compressor, the stepsize rule and `count_init` (the start is
    /// [`GradInit::Full`]).
    up: CompressedStart<S>,
    down: Box<dyn Compressor<S>>,
}

/// EF21-BC server state: the bidirectional methods' ([`DownlinkServer`]) with the downlink
/// compressor's working memory.
pub type Ef21BcServer<S> = DownlinkServer<S, DownlinkBuffers<S>>;

/// EF21-BC worker state (the bidirectional methods' [`DownlinkWorker`]).
pub type Ef21BcWorker<S> = DownlinkWorker<S>;

impl<S: Scalar> Ef21Bc<S> {
    /// EF21-BC with uplink compressor `up` (C_w) and downlink compressor `down` (C_M).
    pub fn new(
        up: Box<dyn Compressor<S>>,
        down: Box<dyn Compressor<S>>,
        stepsize: Stepsize,
        count_init: bool,
    ) -> Result<Self> {
        let up = CompressedStart::new(up, stepsize, GradInit::Full, count_init)?;
        Ok(Self { up, down })
    }
}

impl<S: Scalar> ServerMethod<S> for Ef21Bc<S> {
    type Worker = Ef21BcWorker<S>;
    type Server = Ef21BcServer<S>;

    fn describe(&self) -> String {
        format!(
            "ef21_bc(up={}, down={}, {:?})",
            self.up.compressor.spec(),
            self.down.spec(),
            self.up.stepsize
        )
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        let step = self.up.checked_stepsize_report("ef21_bc", problem)?;
        let gamma = step.gamma;
        self.down
            .check_dim(problem.dim())
            .map_err(|e| MethodError::Incompatible(format!("ef21_bc downlink: {e}")))?;
        let init = full_grad_init(problem, x0, self.up.count_init)?;
        Ok(init
            .start(
                seed,
                |g_tilde, rng, g| DownlinkWorker::at(g_tilde, g, x0, gamma, rng),
                |g, _| DownlinkServer::at(x0, g, gamma, seed, DownlinkBuffers::default()),
            )
            .with_stepsize(step))
    }

    fn broadcast(&self, server: &mut Self::Server, round: u64, down: &mut Message<S>) -> Result {
        server.broadcast_with(round, down, |server, down| {
            server.own.compress_change(
                self.down.as_ref(),
                (&server.g_tilde, &mut server.g),
                &mut server.rng,
                round,
                "the downlink difference g̃ − g",
                down,
            )
        })
    }

    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        worker.follow(ctx)?;
        grad_minus_estimate(
            ctx,
            &worker.x,
            &worker.g_tilde,
            "the local gradient or the correction ∇f_i − g̃_i",
        )?;
        let estimate = (&mut worker.g_tilde[..], &mut worker.rng);
        let c = self.up.compressor.as_ref();
        correct_by_buffer(c, estimate, ctx, "the correction ∇f_i − g̃_i")
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    Ef21BcSpec(Ef21BcParams {
        compressor,
        /// The server's downlink compressor C_M (required).
        downlink_compressor: Option<squeeze_compress::CompressorSpec>,
        stepsize, init, count_init,
    }): Star "ef21_bc",
    summary = "EF21-BC: EF21 uplink and a compressed EF21 downlink (downlink_compressor)",
    example = "compressor = \"top_k:k=1\"\ndownlink_compressor = \"top_k:k=2\"",
    |p, ctx, sink| {
        let down = s::required_compressor::<S, _>(
            "downlink_compressor",
            p.downlink_compressor.as_ref(),
            || "ef21_bc needs the server's compressor, e.g. downlink_compressor = \"top_k:k=2\"",
            ctx.dim,
        )?;
        s::full_init_only(Self::NAME, p.init)?;
        let c = p.main_compressor::<S>(ctx.dim)?;
        sink.star(Ef21Bc::new(c, down, p.stepsize, p.count_init).map_err(s::method_err)?)
    }
}
