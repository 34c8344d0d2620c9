//! Newton-3PC-PP / FedNL-PP: partial participation (Safaryan, Islamov, Qian, Richtárik, ICML
//! 2022, FedNL-PP).

use serde::{Deserialize, Serialize};
use squeeze_core::{Message, Scalar};
use squeeze_problems::Problem;

use super::specs::UNIT_STEP;
use super::{
    HessianOrder, Newton3pc, NewtonServer, NewtonWorker, RegularizationRule, packed_matvec_add,
    triangle_len,
};
use crate::method::{
    InitOf, MethodError, Result, ServerMethod, ServerState, WorkerCtx, check_prob, dense_down,
    ensure_finite, message_err,
};
use crate::star::ef21::pp::participation_round;
use crate::star::server::absorbed_by_method;

/// Newton-3PC-PP / FedNL-PP: in each round only $\tau = \max(1, \lfloor pn\rfloor)$ of the n
/// workers, drawn uniformly without replacement from the shared round seed (the draw of
/// [`crate::Ef21Pp`]), compute and send; the server keeps every worker's last state and uses
/// it for the others.
///
/// Worker i remembers the point $w_i$ of its last participation, and the server keeps its
/// gradient $g_i = \nabla f_i(w_i)$, its learned Hessian $H_i$ and its shift $l_i$. Round t,
/// with $S_t$ the participants:
///
/// $$x^{t+1} = x^t - \lbrack H^t\rbrack^{-1}\thinspace\tfrac1n\textstyle\sum_i
/// \big(g_i + (H_i + l_iI)(x^t - w_i)\big),\qquad H^t = \tfrac1n\textstyle\sum_i H_i,$$
/// $$i \in S_t:\quad w_i = x^{t+1},\quad g_i = \nabla f_i(x^{t+1}),\quad
/// H_i \leftarrow \mathcal C_{H_i,\thinspace\nabla^2 f_i(w_i^{\text{old}})}\big(\nabla^2
/// f_i(x^{t+1})\big),\quad l_i = \lVert H_i - \nabla^2 f_i(x^{t+1})\rVert_F;$$
///
/// the others keep $w_i, g_i, H_i, l_i$ and send `Skip` (0 bits, no work). The step is FedNL-PP's
/// (Algorithm 3 of the FedNL paper and the authors' `FedNL_PP` code):
/// $x^{t+1} = (H + lI)^{-1}\tfrac1n\sum_i\big((H_i + l_iI)w_i - \nabla f_i(w_i)\big)$ is the
/// same point, written as a step from $x^t$ with the first-order Taylor models of the silent
/// workers' gradients. For a participant of the previous round $x^t = w_i$ and its term is
/// $g_i$ exactly, so with $p = 1$ the run is Newton-3PC's ([`Newton3pc`], fresh order) **bit for
/// bit** (tested); the paper's form agrees with it only to rounding.
///
/// **Order.** FedNL-PP learns, then uses: $H_i$ and $l_i$ already hold the update at $w_i$
/// (fresh order; FedNL itself steps with the previous H, see [`HessianOrder`]).
///
/// **UNCONFIRMED.** FedNL-PP is stated for option 2 (the shift, the default of `fednl_pp`);
/// with option 1 the projection $\lbrack H\rbrack_\mu$ is used for the step and the Taylor
/// terms use the unprojected $H_i$ (no $l_i$). Other mechanisms than EF21 (Newton-3PC-PP)
/// keep their own previous-Hessian state per worker, advanced only in participating rounds.
///
/// **Wire.** A participant sends Newton-3PC's message (dense gradient, $l_i$ with the shift,
/// the mechanism's message over $D = d(d+1)/2$); a silent worker `Skip`. The downlink is the
/// dense model, charged once per round as for Newton-3PC.
///
/// **Memory.** The server holds $w_i, g_i$ (d each), $l_i$ and a copy of $H_i$ ($D$ values,
/// $H_i^0$ plus the decoded messages) for every worker: $n(D + 2d + 1)$ values, as the authors'
/// simulation (it keeps every $H_i$).
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::ServerMethod;
/// use squeeze_methods::star::newton::pp::Newton3pcPp;
/// use squeeze_methods::star::newton::{HessianOrder, Newton3pc, RegularizationRule};
/// use squeeze_methods::three_point::Ef21Mech;
/// let inner = Newton3pc::<f64>::new(
///     "fednl_pp",
///     Box::new(Ef21Mech::new(parse("top_k:k=3").unwrap())),
///     RegularizationRule::Shift,
///     None,
///     HessianOrder::Fresh,
///     false,
/// )
/// .unwrap();
/// let m = Newton3pcPp::new(inner, 0.25).unwrap();
/// assert_eq!(m.describe(), "fednl_pp(3pc_ef21(top_k:k=3), shift, fresh, participation=0.25)");
/// assert!(Newton3pcPp::new(Newton3pc::<f64>::new("fednl_pp", Box::new(Ef21Mech::new(parse("identity").unwrap())), RegularizationRule::Shift, None, HessianOrder::Fresh, false).unwrap(), 0.0).is_err());
/// ```
#[derive(Debug)]
pub struct Newton3pcPp<S: Scalar> {
    inner: Newton3pc<S>,
    participation: f64,
}

/// A Newton-3PC-PP worker: Newton-3PC's state, plus the spare message buffers of silent rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct NewtonPpWorker<S: Scalar> {
    /// The Newton-3PC state ($H_i$, the mechanism's previous Hessian, stream, outcomes).
    pub newton: NewtonWorker<S>,
    /// The uplink's buffers, parked while the worker is silent (scratch, not serialised).
    #[serde(skip)]
    spare: Message<S>,
}

/// The Newton-3PC-PP server: Newton-3PC's, plus every worker's last state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct NewtonPpServer<S: Scalar> {
    /// Model, averaged gradient model, H, the pending update, l, μ.
    pub newton: NewtonServer<S>,
    /// $w_i$: where worker i last participated.
    pub points: Vec<Vec<S>>,
    /// $g_i = \nabla f_i(w_i)$.
    pub grads: Vec<Vec<S>>,
    /// The server's copy of $H_i$ (packed).
    pub hessians: Vec<Vec<S>>,
    /// $l_i$ (0 with the projection).
    pub shifts: Vec<f64>,
    /// Work vectors $x - w_i$ and the Taylor term (scratch, not serialised).
    #[serde(skip)]
    work: [Vec<S>; 2],
}

impl<S: Scalar> ServerState<S> for NewtonPpServer<S> {
    /// The method's absorb is [`Newton3pcPp`]'s; this one refuses.
    fn absorb(&mut self, _round: u64, _ups: &[Message<S>]) -> Result {
        absorbed_by_method("newton_pp", "an absorb by the method")
    }

    fn model(&self) -> &[S] {
        &self.newton.x
    }
}

impl<S: Scalar> Newton3pcPp<S> {
    /// Partial participation over `inner` with participating fraction `participation` ∈ (0, 1].
    ///
    /// # Errors
    /// `participation` outside (0, 1].
    pub fn new(inner: Newton3pc<S>, participation: f64) -> Result<Self> {
        check_prob(inner.name, "participation", participation)?;
        Ok(Self {
            inner,
            participation,
        })
    }
}

impl<S: Scalar> ServerMethod<S> for Newton3pcPp<S> {
    type Worker = NewtonPpWorker<S>;
    type Server = NewtonPpServer<S>;

    fn describe(&self) -> String {
        self.inner
            .describe_with(&format!("participation={}", self.participation))
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        let n = problem.n_workers();
        let mut grads = Vec::with_capacity(n);
        let init = self
            .inner
            .init_keeping(problem, x0, seed, |_, g| grads.push(g.to_vec()))?;
        let hessians = init.workers.iter().map(|w| w.h.clone()).collect();
        Ok(init.map(
            |newton| NewtonPpServer {
                hessians,
                points: vec![x0.to_vec(); n],
                grads,
                shifts: vec![0.0; n],
                newton,
                work: [vec![S::ZERO; x0.len()], vec![S::ZERO; x0.len()]],
            },
            |newton| NewtonPpWorker {
                newton,
                spare: Message::default(),
            },
        ))
    }

    /// Newton-3PC's step from the averaged Taylor models (formed in `absorb`).
    fn broadcast(&self, server: &mut Self::Server, round: u64, down: &mut Message<S>) -> Result {
        self.inner.broadcast(&mut server.newton, round, down)
    }

    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        let d = dense_down(ctx.down, self.inner.name)?.len();
        participation_round(
            self.participation,
            ctx,
            (&mut worker.spare, self.inner.head_len(d) + triangle_len(d)),
            |ctx| self.inner.worker_round(&mut worker.newton, ctx),
        )
    }

    /// In worker order: a participant's message is added as Newton-3PC adds it (and its
    /// $g_i, l_i, H_i, w_i$ stored); a silent worker adds $\tfrac1n(g_i + (H_i + l_iI)(x - w_i))$
    /// and $\tfrac1n l_i$.
    fn absorb(&self, server: &mut Self::Server, round: u64, ups: &[Message<S>]) -> Result {
        let inv_n = self.inner.start_absorb(&mut server.newton, ups.len());
        let nw = &mut server.newton;
        let d = nw.x.len();
        let head = self.inner.head_len(d);
        let shift = self.inner.rule == RegularizationRule::Shift;
        let acc = &mut nw.work.acc;
        let [diff, taylor] = &mut server.work;
        diff.resize(d, S::ZERO);
        taylor.resize(d, S::ZERO);
        for (i, up) in ups.iter().enumerate() {
            let (w, g, h, l) = match (
                server.points.get_mut(i),
                server.grads.get_mut(i),
                server.hessians.get_mut(i),
                server.shifts.get_mut(i),
            ) {
                (Some(w), Some(g), Some(h), Some(l)) => (w, g, h, l),
                _ => {
                    return Err(MethodError::Protocol {
                        method: self.inner.name,
                        expected: "one message per worker",
                    });
                }
            };
            if up.is_skip() {
                for ((t, &x), &wj) in diff.iter_mut().zip(&nw.x).zip(w.iter()) {
                    *t = x - wj;
                }
                taylor.copy_from_slice(g);
                packed_matvec_add(d, h, diff, taylor);
                let ls = S::from_f64(*l);
                if shift {
                    for (t, &v) in taylor.iter_mut().zip(diff.iter()) {
                        *t += ls * v;
                    }
                    acc[d] += inv_n * ls;
                }
                for (a, &t) in acc.iter_mut().zip(taylor.iter()) {
                    *a += inv_n * t;
                }
                continue;
            }
            up.add_to(acc, inv_n).map_err(message_err(i, round))?;
            let (values, hess) = match up {
                Message::Concat(parts) => match &**parts {
                    [Message::Dense { values }, hess] if values.len() == head => (values, hess),
                    _ => return Err(protocol(self.inner.name)),
                },
                _ => return Err(protocol(self.inner.name)),
            };
            g.copy_from_slice(&values[..d]);
            *l = if shift { values[d].to_f64() } else { 0.0 };
            hess.add_to(h, S::ONE).map_err(message_err(i, round))?;
            w.copy_from_slice(&nw.x);
        }
        self.inner.finish_absorb(nw, true);
        ensure_finite(&nw.g, "the averaged gradient model", round)
    }

    fn phase_dims(&self, d: usize, phase: usize) -> (usize, usize) {
        ServerMethod::<S>::phase_dims(&self.inner, d, phase)
    }

    fn uplink_levels(&self) -> Option<usize> {
        ServerMethod::<S>::uplink_levels(&self.inner)
    }
}

/// A participant's message is not Newton-3PC's `Concat([Dense, _])`.
fn protocol(method: &'static str) -> MethodError {
    MethodError::Protocol {
        method,
        expected: "Concat([dense gradient (+ l_i), Hessian message])",
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    FedNlPpSpec(FedNlPpParams {
        compressor,
        hessian_mechanism,
        newton_step,
        participation,
        count_init,
    }): Star "fednl_pp",
    summary = "FedNL-PP / Newton-3PC-PP: τ = ⌊p·n⌋ random workers per round learn their Hessians (compressor, mechanism, participation), the others' last state is used",
    example = "compressor = \"top_k:k=30\"\nparticipation = 0.5",
    hints = [UNIT_STEP],
    |p, ctx, sink| {
        let mech = p.hessian_mechanism::<S>(triangle_len(ctx.dim))?;
        let rule = p.regularization.unwrap_or(RegularizationRule::Shift);
        let part = s::participation(Self::NAME, p.participation)?;
        let inner = Newton3pc::new("fednl_pp", mech, rule, p.mu, HessianOrder::Fresh, p.count_init)
            .map_err(s::method_err)?;
        sink.star(Newton3pcPp::new(inner, part).map_err(s::method_err)?)
    }
}
