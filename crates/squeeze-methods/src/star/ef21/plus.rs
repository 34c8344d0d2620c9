//! EF21+ (Richtárik, Sokolov, Fatkhullin, NeurIPS 2021).

use serde::{Deserialize, Serialize};
use squeeze_core::{CompressCtx, Compressor, Message, Scalar, SqueezeRng, ops};
use squeeze_problems::Problem;

use crate::method::ServerState;
use crate::method::{
    InitOf, MethodError, Result, ServerMethod, WorkerCtx, compress_err, dense_down, ensure_finite,
    full_grad_init, message_err,
};
use crate::star::ef21::{CompressedStart, GradInit};
use crate::star::server::StepServer;
use crate::stepsize::Stepsize;

/// Which candidate an EF21+ uplink message carries, read from the message itself.
///
/// The uplink is `Message::Pair([c, Skip])` for the EF21 candidate (the server adds c to
/// $g_i$) and `Message::Pair([Skip, b])` for the plain one (the server replaces $g_i$ by b):
/// the position of the `Skip` is the choice flag.
///
/// ```
/// use squeeze_core::Message;
/// use squeeze_methods::star::ef21::plus::{Choice, choice};
/// let c = Message::<f64>::Sparse { dim: 4, indices: vec![1], values: vec![2.0] };
/// let up = Message::Pair(Box::new([c.clone(), Message::Skip { dim: 4 }]));
/// assert_eq!(choice(&up).unwrap().0, Choice::Ef21);
/// let up = Message::Pair(Box::new([Message::Skip { dim: 4 }, c]));
/// assert_eq!(choice(&up).unwrap().0, Choice::Plain);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// $m_i = g_i + \mathcal{C}(\nabla f_i - g_i)$.
    Ef21,
    /// $b_i = \mathcal{C}(\nabla f_i)$.
    Plain,
}

/// The choice and the compressed vector of an EF21+ uplink message (None if malformed).
pub fn choice<S: Scalar>(up: &Message<S>) -> Option<(Choice, &Message<S>)> {
    match up {
        Message::Pair(p) => match (&p[0], &p[1]) {
            (c, Message::Skip { .. }) if !c.is_skip() => Some((Choice::Ef21, c)),
            (Message::Skip { .. }, b) if !b.is_skip() => Some((Choice::Plain, b)),
            _ => None,
        },
        _ => None,
    }
}

/// EF21+: each worker sends whichever of the EF21 update and plain compression is closer to
/// its gradient.
///
/// $$x^{t+1} = x^t - \gamma g^t,\qquad b_i = \mathcal{C}(\nabla f_i(x^{t+1})),\qquad
/// m_i = g_i^t + \mathcal{C}(\nabla f_i(x^{t+1}) - g_i^t),$$
/// $$g_i^{t+1} = \arg\min_{y\in\lbrace m_i,\thinspace b_i\rbrace} \lVert y - \nabla
/// f_i(x^{t+1})\rVert,\qquad
/// g^{t+1} = \tfrac1n\textstyle\sum_i g_i^{t+1}\ \text{(maintained incrementally)}.$$
///
/// Ties go to $m_i$ (the EF21 candidate). Both candidates are compressed each round (two
/// compressor calls on the worker's stream, $\mathcal{C}(\nabla f_i - g_i)$ first). The server
/// keeps every $g_i$ (n·d memory), since a plain choice replaces $g_i$.
///
/// Wire: `Message::Pair` with the chosen compressed vector in slot 0 (EF21) or slot 1 (plain)
/// and `Skip` in the other ([`choice`]); exact bits are the Pair's: the chosen message plus 8
/// bits (the pair's and the skip's 4-bit tags, which carry the 1-bit flag). The paper
/// conventions (32/64 bits per value) count the values only, as the reference code does (it
/// does not count the flag).
///
/// Reference: Richtárik, Sokolov, Fatkhullin, *EF21* (NeurIPS 2021), EF21+; algorithms.md
/// §2.2. Stepsize: the EF21 theory rule × multiplier (the reference script uses a PL-style
/// min{1/(L + L̃√(2β/θ)), θ/(2μ)} heuristically; neither is confirmed for EF21+ — UNCONFIRMED).
/// Initialisation $g_i^0 = \nabla f_i(x^0)$ (counted with `count_init`).
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::{Ef21Plus, Stepsize};
/// let m = Ef21Plus::<f64>::new(parse("top_k:k=1").unwrap(), Stepsize::default(), false).unwrap();
/// assert!(squeeze_methods::ServerMethod::<f64>::describe(&m).starts_with("ef21_plus"));
/// ```
#[derive(Debug)]
pub struct Ef21Plus<S: Scalar> {
    /// Compressor and stepsize rule; the start is [`GradInit::Full`].
    start: CompressedStart<S>,
}

/// EF21+ server state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Ef21PlusServer<S: Scalar> {
    /// Model x, g = (1/n) Σ g_i, resolved stepsize γ (keys `x`, `g`, `gamma`).
    #[serde(flatten)]
    pub step: StepServer<S>,
    /// Every worker's g_i.
    pub gs: Vec<Vec<S>>,
}

impl<S: Scalar> ServerState<S> for Ef21PlusServer<S> {
    /// `x ← x − γ g`, then the dense model ([`StepServer`]).
    fn broadcast(&mut self, round: u64, down: &mut Message<S>) -> Result {
        self.step.broadcast(round, down)
    }

    fn absorb(&mut self, round: u64, ups: &[Message<S>]) -> Result {
        let inv_n = S::from_f64(1.0 / ups.len() as f64);
        for ((i, up), gi) in ups.iter().enumerate().zip(&mut self.gs) {
            match choice(up) {
                Some((Choice::Ef21, c)) => {
                    c.add_to(gi, S::ONE).map_err(message_err(i, round))?;
                    c.add_to(&mut self.step.g, inv_n)
                        .map_err(message_err(i, round))?;
                }
                Some((Choice::Plain, b)) => {
                    // g ← g + (b − g_i)/n, g_i ← b.
                    b.add_to(&mut self.step.g, inv_n)
                        .map_err(message_err(i, round))?;
                    for (g, &v) in self.step.g.iter_mut().zip(gi.iter()) {
                        *g -= inv_n * v;
                    }
                    b.write_dense(gi).map_err(message_err(i, round))?;
                }
                None => {
                    return Err(MethodError::Protocol {
                        method: "ef21_plus",
                        expected: "Pair([c, Skip]) or Pair([Skip, b])",
                    });
                }
            }
        }
        Ok(())
    }

    fn model(&self) -> &[S] {
        self.step.model()
    }
}

/// EF21+ worker state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Ef21PlusWorker<S: Scalar> {
    /// Gradient estimate g_i.
    pub g: Vec<S>,
    /// Compression stream.
    pub rng: SqueezeRng,
    /// Buffers of the candidate not sent (scratch, not serialised).
    #[serde(skip)]
    spare: Message<S>,
}

impl<S: Scalar> Ef21Plus<S> {
    /// EF21+ with `compressor`.
    pub fn new(
        compressor: Box<dyn Compressor<S>>,
        stepsize: Stepsize,
        count_init: bool,
    ) -> Result<Self> {
        let start = CompressedStart::new(compressor, stepsize, GradInit::Full, count_init)?;
        Ok(Self { start })
    }
}

impl<S: Scalar> ServerMethod<S> for Ef21Plus<S> {
    type Worker = Ef21PlusWorker<S>;
    type Server = Ef21PlusServer<S>;

    fn describe(&self) -> String {
        format!(
            "ef21_plus({}, {:?})",
            self.start.compressor.spec(),
            self.start.stepsize
        )
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        let step = self.start.checked_stepsize_report("ef21_plus", problem)?;
        let gamma = step.gamma;
        let init = full_grad_init(problem, x0, self.start.count_init)?;
        Ok(init
            .start(
                seed,
                |g, rng, _| Ef21PlusWorker {
                    g,
                    rng,
                    spare: Message::default(),
                },
                |g, workers| Ef21PlusServer {
                    step: StepServer::at(x0, g, gamma),
                    gs: workers.iter().map(|w| w.g.clone()).collect(),
                },
            )
            .with_stepsize(step))
    }

    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        let x = dense_down(ctx.down, "ef21_plus")?;
        let (worker_i, round) = (ctx.worker, ctx.round);
        let b = &mut *ctx.buffers;
        // grad = ∇f_i, work = ∇f_i − g_i.
        ctx.oracle.grad(x, &mut b.grad);
        ctx.grad_samples += ctx.oracle.n_samples() as u64;
        for ((w, &f), &g) in b.work.iter_mut().zip(&b.grad).zip(&worker.g) {
            *w = f - g;
        }
        ensure_finite(
            &b.work,
            "the local gradient or the correction ∇f_i − g_i",
            round,
        )?;
        let d = worker.g.len();
        let spare = &mut worker.spare;
        let (m_msg, b_msg) = ctx.up.pair_parts();
        // Reuse the parked buffers for whichever slot was the Skip last round.
        if m_msg.is_skip() {
            core::mem::swap(m_msg, spare);
        } else if b_msg.is_skip() {
            core::mem::swap(b_msg, spare);
        }
        {
            let mut cctx = CompressCtx::new(&mut worker.rng, &mut b.scratch)
                .with_worker(worker_i, ctx.n_workers)
                .with_round_seed(ctx.round_seed)
                .with_round(round);
            self.start
                .compressor
                .compress_into(&b.work, &mut cctx, m_msg)
                .map_err(compress_err(worker_i, round, "the correction ∇f_i − g_i"))?;
            self.start
                .compressor
                .compress_into(&b.grad, &mut cctx, b_msg)
                .map_err(compress_err(worker_i, round, "the local gradient"))?;
        }
        // ‖m_i − ∇f_i‖² = ‖C(∇f − g) − (∇f − g)‖², ‖b_i − ∇f_i‖² = ‖C(∇f) − ∇f‖².
        m_msg
            .add_to(&mut b.work, -S::ONE)
            .map_err(message_err(worker_i, round))?;
        b_msg
            .add_to(&mut b.grad, -S::ONE)
            .map_err(message_err(worker_i, round))?;
        let dist_m = ops::norm2_sq(&b.work);
        let dist_b = ops::norm2_sq(&b.grad);
        if dist_m <= dist_b {
            m_msg
                .add_to(&mut worker.g, S::ONE)
                .map_err(message_err(worker_i, round))?;
            core::mem::swap(b_msg, spare);
            b_msg.set_skip(d);
        } else {
            b_msg
                .write_dense(&mut worker.g)
                .map_err(message_err(worker_i, round))?;
            core::mem::swap(m_msg, spare);
            m_msg.set_skip(d);
        }
        Ok(())
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    Ef21PlusSpec(Ef21PlusParams { compressor, stepsize, init, count_init }): Star "ef21_plus",
    summary = "EF21+: send the closer of g_i + C(∇f_i − g_i) and C(∇f_i), with a choice flag",
    example = "compressor = \"top_k:k=1\"",
    |p, ctx, sink| {
        s::full_init_only(Self::NAME, p.init)?;
        let c = p.main_compressor::<S>(ctx.dim)?;
        sink.star(Ef21Plus::new(c, p.stepsize, p.count_init).map_err(s::method_err)?)
    }
}
