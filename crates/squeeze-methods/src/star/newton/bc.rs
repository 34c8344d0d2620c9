//! Newton-3PC-BC / FedNL-BC: bidirectional compression (Safaryan, Islamov, Qian, Richtárik,
//! ICML 2022, FedNL-BC).

use serde::{Deserialize, Serialize};
use squeeze_core::rng::{Purpose, mix};
use squeeze_core::{Compressor, Message, Scalar, SqueezeRng};
use squeeze_problems::Problem;

use super::specs::UNIT_STEP;
use super::{
    HessianOrder, Newton3pc, NewtonServer, NewtonWorker, RegularizationRule, triangle_len,
};
use crate::method::{
    InitOf, MethodError, Result, ServerMethod, ServerState, WorkerCtx, check_prob, ensure_finite,
    local_grad, message_err, stream,
};
use crate::star::downlink::DownlinkBuffers;
use crate::star::server::absorbed_by_method;

/// Tag of the shared gradient coin (mixed with the round seed).
const GRAD_COIN: u64 = 0x6263_5f67_7261_6421;

/// Whether the workers send their gradients in the round with seed `round_seed`: a coin with
/// probability `p`, the same for every worker and the server (no communication); always for
/// p = 1.
///
/// ```
/// use squeeze_methods::star::newton::bc::gradient_round;
/// let s = squeeze_core::round_seed(3, 7);
/// assert!(gradient_round(s, 1.0));
/// assert_eq!(gradient_round(s, 0.5), gradient_round(s, 0.5));
/// ```
pub fn gradient_round(round_seed: u64, p: f64) -> bool {
    p >= 1.0 || SqueezeRng::from_seed_u64(mix(round_seed, GRAD_COIN, 0)).bernoulli(p)
}

/// Newton-3PC-BC / FedNL-BC: Newton-3PC's uplink, a compressed downlink of the model and
/// lazily sent gradients.
///
/// Everybody holds the learned model $z$; the server also holds its iterate $x$, the point
/// $y$ where the gradients were last computed and $g = \nabla f(y)$. Round t:
///
/// $$x^{t+1} = y - \lbrack H^t\rbrack^{-1} g,\qquad s^t = \mathcal C_M(x^{t+1} - z^t),\qquad
/// z^{t+1} = z^t + s^t\ \ (\text{broadcast } s^t),$$
/// $$H_i^{t+1} = \mathcal{C}_{H_i^t,\thinspace\nabla^2 f_i(z^t)}\big(\nabla^2
/// f_i(z^{t+1})\big),\qquad \text{with probability } p:\ y = z^{t+1},\ g = \nabla f(z^{t+1}).$$
///
/// The coin ([`gradient_round`]) comes from the shared round seed; in a round without
/// gradients the workers send only the Hessian part (and $l_i$ with the shift). The Hessian
/// order is FedNL's (the step uses $H^t$, then the update at $z^{t+1}$ is added; see
/// [`HessianOrder`]) and $l_i = \lVert H_i^t - \nabla^2 f_i(z^{t+1})\rVert_F$. Initially
/// $z = y = x^0$, $g = \nabla f(x^0)$, $H_i = \nabla^2 f_i(x^0)$.
///
/// **Reference and UNCONFIRMED points.** FedNL-BC (Algorithm 4 of the FedNL paper; the
/// authors' `FedNL_BC` code): the step there is $x^{t+1} = z^t - \lbrack H\rbrack^{-1}\big(
/// \lbrack H\rbrack(z^t - y) + \nabla f(y)\big)$, which is $y - \lbrack H\rbrack^{-1}\nabla f(y)$
/// in exact arithmetic (implemented in that form: no matrix–vector product). The model is
/// learned EF21-style with unit model stepsize ($z \mathrel{+}= \mathcal C_M(x - z)$, the
/// code's `iter_upd_rule = 2`); the damped rules ($\eta = 1 - \sqrt{1-\delta}$, or
/// $1/(\omega+1)$ for unbiased $\mathcal C_M$) are not implemented. Newton-3PC-BC (other
/// mechanisms than EF21) is this round with the mechanism on the uplink.
///
/// **Wire.** Uplink: `Concat([head, Hessian message])` with head `Dense(∇f_i(z) (+ l_i))` in a
/// gradient round, else `Sparse` with the one value $l_i$ (shift) or `Skip` (projection);
/// exact bits as charged. Downlink: the real message $s^t$ (e.g. `power_rounding:base=2`, the
/// authors' default "Rounding"), charged every round; downlink stream `Purpose::Compression`
/// index `u64::MAX`.
///
/// **Equivalence.** With $\mathcal C_M$ = identity and p = 1 it is FedNL in exact arithmetic;
/// in floating point $z + (x - z)$ equals $x$ only when the subtraction is exact, so the runs
/// agree to rounding, not bit for bit (tested to 1e-9 relative, as EF21-BC vs EF21).
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::ServerMethod;
/// use squeeze_methods::star::newton::bc::Newton3pcBc;
/// use squeeze_methods::star::newton::{HessianOrder, Newton3pc, RegularizationRule};
/// use squeeze_methods::three_point::Ef21Mech;
/// let inner = Newton3pc::<f64>::new(
///     "fednl_bc",
///     Box::new(Ef21Mech::new(parse("top_k:k=3").unwrap())),
///     RegularizationRule::Project,
///     None,
///     HessianOrder::Stale,
///     false,
/// )
/// .unwrap();
/// let m = Newton3pcBc::new(inner, parse("power_rounding:base=2").unwrap(), 0.5).unwrap();
/// let text = m.describe();
/// assert!(text.starts_with("fednl_bc(3pc_ef21(top_k:k=3), project, stale, down=power_rounding"));
/// assert!(text.ends_with(", p=0.5)"));
/// ```
#[derive(Debug)]
pub struct Newton3pcBc<S: Scalar> {
    inner: Newton3pc<S>,
    down: Box<dyn Compressor<S>>,
    p: f64,
}

/// A Newton-3PC-BC worker: Newton-3PC's state and the learned model z.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct NewtonBcWorker<S: Scalar> {
    /// $H_i$, the mechanism's previous Hessian, stream, outcomes.
    pub newton: NewtonWorker<S>,
    /// The learned model z.
    pub z: Vec<S>,
    /// The head's dense and sparse buffers while it is of the other kind (not serialised).
    #[serde(skip)]
    spare: [Message<S>; 2],
}

/// The Newton-3PC-BC server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct NewtonBcServer<S: Scalar> {
    /// The iterate x (recorded), g = ∇f(y), H, the pending update, l, μ.
    pub newton: NewtonServer<S>,
    /// The learned model z (what the workers hold).
    pub z: Vec<S>,
    /// y: where the gradients in `newton.g` were computed.
    pub y: Vec<S>,
    /// Downlink compression stream.
    pub rng: SqueezeRng,
    /// Downlink compressor working memory (not state).
    #[serde(skip)]
    bufs: DownlinkBuffers<S>,
}

impl<S: Scalar> ServerState<S> for NewtonBcServer<S> {
    /// The method's absorb is [`Newton3pcBc`]'s; this one refuses.
    fn absorb(&mut self, _round: u64, _ups: &[Message<S>]) -> Result {
        absorbed_by_method("newton_bc", "an absorb by the method")
    }

    fn model(&self) -> &[S] {
        &self.newton.x
    }
}

impl<S: Scalar> Newton3pcBc<S> {
    /// Bidirectional compression over `inner` with downlink compressor `down` ($\mathcal C_M$)
    /// and gradient probability `p` ∈ (0, 1].
    ///
    /// # Errors
    /// `p` outside (0, 1].
    pub fn new(inner: Newton3pc<S>, down: Box<dyn Compressor<S>>, p: f64) -> Result<Self> {
        check_prob(inner.name, "gradient_prob", p)?;
        Ok(Self { inner, down, p })
    }
}

/// Kind of a head message: 0 dense, 1 sparse, 2 anything else.
fn kind<S: Scalar>(m: &Message<S>) -> usize {
    match m {
        Message::Dense { .. } => 0,
        Message::Sparse { .. } => 1,
        _ => 2,
    }
}

/// Make room for a head of kind `want` (see [`kind`]): park the current head's buffers in
/// their spare slot and take `want`'s, so alternating kinds allocates nothing.
fn switch_head<S: Scalar>(head: &mut Message<S>, spare: &mut [Message<S>; 2], want: usize) {
    let have = kind(head);
    if have == want {
        return;
    }
    if let Some(slot) = spare.get_mut(have) {
        core::mem::swap(head, slot);
    }
    if let Some(slot) = spare.get_mut(want)
        && kind(slot) == want
    {
        core::mem::swap(head, slot);
    }
}

impl<S: Scalar> ServerMethod<S> for Newton3pcBc<S> {
    type Worker = NewtonBcWorker<S>;
    type Server = NewtonBcServer<S>;

    fn describe(&self) -> String {
        self.inner
            .describe_with(&format!("down={}, p={}", self.down.spec(), self.p))
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        self.down
            .check_dim(problem.dim())
            .map_err(|e| MethodError::Incompatible(format!("{} downlink: {e}", self.inner.name)))?;
        let init = self.inner.init(problem, x0, seed)?;
        Ok(init.map(
            |newton| NewtonBcServer {
                newton,
                z: x0.to_vec(),
                y: x0.to_vec(),
                rng: stream(seed, Purpose::Compression, usize::MAX),
                bufs: DownlinkBuffers::new(x0.len()),
            },
            |newton| NewtonBcWorker {
                newton,
                z: x0.to_vec(),
                spare: Default::default(),
            },
        ))
    }

    /// $x = y - \lbrack H\rbrack^{-1} g$, then $s = \mathcal C_M(x - z)$ down and $z \mathrel{+}= s$.
    fn broadcast(&self, server: &mut Self::Server, round: u64, down: &mut Message<S>) -> Result {
        self.inner.newton_direction(&mut server.newton, round)?;
        let nw = &mut server.newton;
        for ((x, &y), &dx) in nw.x.iter_mut().zip(&server.y).zip(&nw.work.delta) {
            *x = y - S::from_f64(dx);
        }
        ensure_finite(&nw.x, "the model x", round)?;
        server.bufs.compress_change(
            self.down.as_ref(),
            (&nw.x, &mut server.z),
            &mut server.rng,
            round,
            "the model difference x − z",
            down,
        )
    }

    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        ctx.down
            .add_to(&mut worker.z, S::ONE)
            .map_err(message_err(ctx.worker, ctx.round))?;
        let with_grad = gradient_round(ctx.round_seed, self.p);
        if with_grad {
            local_grad(ctx, &worker.z)?;
        }
        let d = worker.z.len();
        ctx.with_up(|ctx, up| {
            let (head, hess) = up.concat_parts();
            let l = self
                .inner
                .learn_hessian(&mut worker.newton, &worker.z, ctx, hess)?;
            match (with_grad, l) {
                (true, l) => {
                    switch_head(head, &mut worker.spare, 0);
                    let values = head.dense_parts();
                    values.extend_from_slice(&ctx.buffers.grad);
                    values.extend(l.map(S::from_f64));
                }
                (false, Some(l)) => {
                    switch_head(head, &mut worker.spare, 1);
                    let (indices, values) = head.sparse_parts(d + 1);
                    indices.push(d as u32);
                    values.push(S::from_f64(l));
                }
                (false, None) => {
                    switch_head(head, &mut worker.spare, 2);
                    head.set_skip(d);
                }
            }
            Ok(())
        })
    }

    /// In worker order: the Hessian updates (and $l$) always; in a gradient round (the heads
    /// are dense) $g = \tfrac1n\sum_i\nabla f_i(z)$ and $y = z$.
    fn absorb(&self, server: &mut Self::Server, round: u64, ups: &[Message<S>]) -> Result {
        let inv_n = self.inner.start_absorb(&mut server.newton, ups.len());
        let nw = &mut server.newton;
        let dense_head = |m: &Message<S>| match m {
            Message::Concat(parts) => Some(kind(&parts[0]) == 0),
            _ => None,
        };
        let with_grad = ups.first().and_then(dense_head).unwrap_or(false);
        for (i, up) in ups.iter().enumerate() {
            if dense_head(up) != Some(with_grad) {
                return Err(MethodError::Protocol {
                    method: self.inner.name,
                    expected: "Concat([head, Hessian message]), gradients from all workers or none",
                });
            }
            up.add_to(&mut nw.work.acc, inv_n)
                .map_err(message_err(i, round))?;
        }
        self.inner.finish_absorb(nw, with_grad);
        if with_grad {
            server.y.copy_from_slice(&server.z);
            ensure_finite(&nw.g, "the averaged gradient", round)?;
        }
        Ok(())
    }

    fn phase_dims(&self, d: usize, phase: usize) -> (usize, usize) {
        ServerMethod::<S>::phase_dims(&self.inner, d, phase)
    }

    fn uplink_levels(&self) -> Option<usize> {
        ServerMethod::<S>::uplink_levels(&self.inner)
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    FedNlBcSpec(FedNlBcParams {
        compressor,
        hessian_mechanism,
        newton_step,
        /// The server's model compressor C_M: z += C_M(x − z) is broadcast (required).
        downlink_compressor: Option<squeeze_compress::CompressorSpec>,
        /// Probability in (0, 1] that a round's workers send their gradients at z (FedNL-BC's p; default 1).
        gradient_prob: Option<f64>,
        count_init,
    }): Star "fednl_bc",
    summary = "FedNL-BC / Newton-3PC-BC: Newton-3PC uplink (compressor, mechanism), the model learned through a compressed downlink (downlink_compressor), gradients with probability gradient_prob",
    example = "compressor = \"top_k:k=30\"\ndownlink_compressor = \"power_rounding:base=2\"",
    hints = [UNIT_STEP],
    |p, ctx, sink| {
        let mech = p.hessian_mechanism::<S>(triangle_len(ctx.dim))?;
        let rule = p.regularization.unwrap_or(RegularizationRule::Project);
        let down = s::required_compressor::<S, _>(
            "downlink_compressor",
            p.downlink_compressor.as_ref(),
            || "fednl_bc needs the server's model compressor, e.g. downlink_compressor = \"power_rounding:base=2\"",
            ctx.dim,
        )?;
        let inner = Newton3pc::new("fednl_bc", mech, rule, p.mu, HessianOrder::Stale, p.count_init)
            .map_err(s::method_err)?;
        let gp = p.gradient_prob.unwrap_or(1.0);
        sink.star(Newton3pcBc::new(inner, down, gp).map_err(s::method_err)?)
    }
}
