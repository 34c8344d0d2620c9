//! Clip21 (Khirirat, Gorbunov, Horváth, Islamov, Karray, Richtárik 2023; arXiv 2305.18929):
//! Clip21-GD, Press-Clip21-GD, DP-Clip21-GD and Clip21-Avg.

use squeeze_compress::Clip;
use squeeze_core::{Message, ParamError, Scalar, ops};
use squeeze_problems::Problem;

use crate::method::{
    Init, InitOf, InitUplink, MethodError, Result, ServerMethod, WorkerCtx, checked_dim,
    compress_err, dense_down, ensure_finite, grad_minus_estimate, message_err, round_of,
};
use crate::star::server::StepServer;
use crate::stepsize::Stepsize;

/// Which Clip21 method: the mechanism's own variants ([`squeeze_feedback::Clip21Variant`]:
/// Plain, Press with a compressor after the clip, DP with Gaussian noise on the wire).
pub use squeeze_feedback::Clip21Variant;

/// Clip21-GD: EF21's mechanism with clipping in place of compression.
///
/// $$x^{k+1} = x^k - \gamma v^k,\qquad u_i = \operatorname{clip}_\tau(\nabla f_i(x^{k+1}) - v_i),
/// \qquad v_i \leftarrow v_i + u_i,\qquad v^{k+1} = v^k + \tfrac1n\textstyle\sum_i u_i,$$
///
/// $\lVert u_i\rVert \le \tau$ every round. Once $\lVert\nabla f_i - v_i\rVert \le \tau$ for every
/// worker the clip is inactive and the method is GD (Clip21's $O(1/K)$ rate, algorithms.md §4.3).
///
/// Initialisation (UNCONFIRMED, the natural reading): $v_i^{-1} = 0$, so the first message is
/// $\operatorname{clip}_\tau(\nabla f_i(x^0))$ (sent during `init`, charged at round 0) and
/// $v_i^0$ is it. With $\tau = \infty$ Clip21-GD is EF21 with the identity and full init, i.e.
/// GD in exact arithmetic (bit for bit on dyadic data, tested).
///
/// Variants ([`Clip21Variant`]): Press-Clip21 (a compressor after the clip) and DP-Clip21
/// (Gaussian noise on the transmitted increment only, from the `Noise` stream of the worker).
/// Stepsize: the theory constants are UNCONFIRMED; the theory rule is GD's $1/L$ (times the
/// multiplier; Press: EF21's rule with the compressor's α).
///
/// Wire: uplink $u_i$ (dense; Press: the compressor's message), downlink the dense model.
///
/// ```
/// use squeeze_methods::{Clip21, Clip21Variant, Stepsize};
/// let m = Clip21::<f64>::new(1.0, Clip21Variant::Plain, Stepsize::default()).unwrap();
/// assert_eq!(m.name(), "clip21_gd");
/// assert!(Clip21::<f64>::new(1.0, Clip21Variant::Dp { sigma: -1.0 }, Stepsize::default()).is_err());
/// ```
#[derive(Debug)]
pub struct Clip21<S: Scalar> {
    mech: squeeze_feedback::Clip21<S>,
    stepsize: Stepsize,
}

/// Clip21 server state: a [`StepServer`] whose estimate `g` is Clip21's
/// $v = v^0 + \sum_k \tfrac1n\sum_i$ (received increments); the model steps
/// $x \leftarrow x - \gamma v$. Checkpoints written before this alias (field `v`) still load.
pub type Clip21Server<S> = StepServer<S>;

/// Clip21 worker state: the mechanism's own ([`squeeze_feedback::Clip21Worker`]: the shift
/// $v_i$, the compression stream for Press and the noise stream for DP).
pub use squeeze_feedback::Clip21Worker;

impl<S: Scalar> Clip21<S> {
    /// Clip21 with radius `tau > 0` (`f64::INFINITY`: no clipping).
    pub fn new(tau: f64, variant: Clip21Variant<S>, stepsize: Stepsize) -> Result<Self> {
        stepsize.validate()?;
        Ok(Self {
            mech: squeeze_feedback::Clip21::new(tau, variant)?,
            stepsize,
        })
    }

    /// Registry name of the variant.
    pub fn name(&self) -> &'static str {
        match self.mech.variant() {
            Clip21Variant::Plain => "clip21_gd",
            Clip21Variant::Press(_) => "press_clip21",
            Clip21Variant::Dp { .. } => "dp_clip21",
        }
    }
}

impl<S: Scalar> ServerMethod<S> for Clip21<S> {
    type Worker = Clip21Worker<S>;
    type Server = Clip21Server<S>;

    fn describe(&self) -> String {
        let extra = match self.mech.variant() {
            Clip21Variant::Plain => String::new(),
            Clip21Variant::Press(c) => format!(", {}", c.spec()),
            Clip21Variant::Dp { sigma } => format!(", σ={sigma}"),
        };
        format!(
            "{}(τ={}{extra}, {:?})",
            self.name(),
            self.mech.tau(),
            self.stepsize
        )
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        let d = checked_dim(problem, x0)?;
        let n = problem.n_workers();
        let alpha = match self.mech.variant() {
            Clip21Variant::Press(c) => {
                c.check_dim(d)
                    .map_err(|e| MethodError::Incompatible(format!("press_clip21: {e}")))?;
                c.class(d).alpha()
            }
            _ => Some(1.0),
        };
        let step = self
            .stepsize
            .report(self.name(), alpha, problem.smoothness())?;
        let gamma = step.gamma;
        let mut v = vec![S::ZERO; d];
        let mut workers = Vec::with_capacity(n);
        let mut init_up = InitUplink::new(n);
        let mut grad_samples = 0u64;
        let mut scratch = squeeze_core::Scratch::default();
        let mut msg = Message::default();
        let inv_n = S::from_f64(1.0 / n as f64);
        for (i, o) in problem.oracles().iter().enumerate() {
            let mut w = Clip21Worker::new(d, seed, i);
            let mut buf = vec![S::ZERO; d];
            o.grad(x0, &mut buf);
            grad_samples += o.n_samples() as u64;
            ensure_finite(&buf, "the initial gradient", 0)?;
            // The init message has no round seed (as EF21's compressed init).
            self.mech.emit(
                &mut buf,
                &mut w,
                &round_of((i, n, 0, 0)),
                &mut scratch,
                &mut msg,
            )?;
            msg.add_to(&mut v, inv_n).map_err(message_err(i, 0))?;
            init_up.charge(i, &msg);
            workers.push(w);
        }
        let server = Clip21Server::at(x0, v, gamma);
        Ok(Init::charged(server, workers, init_up, grad_samples).with_stepsize(step))
    }

    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        let x = dense_down(ctx.down, "clip21")?;
        grad_minus_estimate(
            ctx,
            x,
            &worker.v,
            "the local gradient or the correction ∇f_i − v_i",
        )?;
        let ids = ctx.ids();
        let b = &mut *ctx.buffers;
        Ok(self
            .mech
            .emit(&mut b.grad, worker, &round_of(ids), &mut b.scratch, ctx.up)?)
    }
}

/// Clip21-Avg: exact mean estimation with messages of norm ≤ τ (algorithms.md §4.2).
///
/// Worker $i$ holds $a_i$ and $v_i$ ($v_i = 0$ initially); each round it sends $u_i =
/// \operatorname{clip}_\tau(a_i - v_i)$ and sets $v_i \leftarrow v_i + u_i$; the server keeps $v
/// \leftarrow v + \tfrac1n\sum_i u_i$. Every clipped step moves $v_i$ by (almost) τ towards $a_i$,
/// so after about $\max_i\lVert a_i\rVert/\tau$ rounds every clip is inactive and the next message
/// is $a_i - v_i$ itself: $v_i = a_i$ (exactly in exact arithmetic; in floating point up to the
/// rounding of $v_i + (a_i - v_i)$, which the following rounds remove).
///
/// ```
/// use squeeze_methods::star::clip21::Clip21Avg;
/// let a = vec![vec![10.0f64, 0.0], vec![0.0, -4.0]];
/// let mut avg = Clip21Avg::new(1.0, 2, 2).unwrap();
/// let mut rounds = 0;
/// while avg.round(&a).unwrap() > 0 { rounds += 1; }
/// assert!(rounds <= 11);
/// assert_eq!(avg.worker_estimate(0), &a[0][..]);
/// assert!((avg.mean()[0] - 5.0).abs() < 1e-12 && (avg.mean()[1] + 2.0).abs() < 1e-12);
/// ```
#[derive(Debug, Clone)]
pub struct Clip21Avg<S: Scalar> {
    clip: Clip,
    v_i: Vec<Vec<S>>,
    v: Vec<S>,
    work: Vec<S>,
}

impl<S: Scalar> Clip21Avg<S> {
    /// `n` workers with `d`-vectors, radius `tau > 0`.
    pub fn new(tau: f64, n: usize, d: usize) -> Result<Self, ParamError> {
        if n == 0 || d == 0 {
            return Err(ParamError::new(
                "clip21_avg",
                "n, d",
                format!("{n}, {d}"),
                "needs at least one worker and dimension ≥ 1",
            ));
        }
        Ok(Self {
            clip: Clip::new(tau)?,
            v_i: vec![vec![S::ZERO; d]; n],
            v: vec![S::ZERO; d],
            work: vec![S::ZERO; d],
        })
    }

    /// One round on the workers' vectors `a` (one per worker, length d each); returns how many
    /// workers' clips were active (norm of the message < the unclipped correction).
    pub fn round(&mut self, a: &[Vec<S>]) -> Result<usize> {
        if a.len() != self.v_i.len() || a.iter().any(|ai| ai.len() != self.v.len()) {
            return Err(MethodError::Incompatible(format!(
                "clip21_avg: expected {} vectors of length {}",
                self.v_i.len(),
                self.v.len()
            )));
        }
        let inv_n = S::from_f64(1.0 / a.len() as f64);
        let mut active = 0;
        for (ai, vi) in a.iter().zip(&mut self.v_i) {
            for ((w, &x), &y) in self.work.iter_mut().zip(ai).zip(vi.iter()) {
                *w = x - y;
            }
            let before = ops::norm2(&self.work);
            self.clip
                .clip_in_place(&mut self.work)
                .map_err(compress_err(0, 0, "a_i − v_i"))?;
            if before > self.clip.tau() {
                active += 1;
            }
            for ((vk, sk), &u) in vi.iter_mut().zip(&mut self.v).zip(&self.work) {
                *vk += u;
                *sk += inv_n * u;
            }
        }
        Ok(active)
    }

    /// The server's estimate v of the mean.
    pub fn mean(&self) -> &[S] {
        &self.v
    }

    /// Worker `i`'s v_i.
    pub fn worker_estimate(&self, i: usize) -> &[S] {
        &self.v_i[i]
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    Clip21GdSpec(Clip21GdParams { tau, stepsize }): Star "clip21_gd",
    summary = "Clip21-GD: v_i ← v_i + clip_τ(∇f_i − v_i), x ← x − γ v (tau)",
    example = "tau = 0.5",
    hints = [(
        "compressor",
        "Clip21-GD sends dense clipped increments; use press_clip21 to compress",
    )],
    |p, ctx, sink| {
        let t = s::tau(Self::NAME, p.tau)?;
        sink.star(Clip21::new(t, Clip21Variant::Plain, p.stepsize).map_err(s::method_err)?)
    }
}

crate::spec::method_entry! {
    PressClip21Spec(PressClip21Params { compressor, tau, stepsize }): Star "press_clip21",
    summary = "Press-Clip21-GD: send C(clip_τ(∇f_i − v_i)) (tau, compressor)",
    example = "compressor = \"top_k:k=1\"\ntau = 0.5",
    |p, ctx, sink| {
        let c = p.main_compressor::<S>(ctx.dim)?;
        let t = s::tau(Self::NAME, p.tau)?;
        sink.star(Clip21::new(t, Clip21Variant::Press(c), p.stepsize).map_err(s::method_err)?)
    }
}

crate::spec::method_entry! {
    DpClip21Spec(DpClip21Params {
        tau,
        /// Noise standard deviation σ ≥ 0 per coordinate (required).
        sigma: Option<f64>,
        stepsize,
    }): Star "dp_clip21",
    summary = "DP-Clip21-GD: Clip21 increments + N(0, σ²I) noise on the wire (tau, sigma)",
    example = "tau = 0.5\nsigma = 0.0",
    hints = [(
        "compressor",
        "Clip21-GD sends dense clipped increments; use press_clip21 to compress",
    )],
    |p, ctx, sink| {
        let sigma = s::required(
            Self::NAME,
            "sigma",
            p.sigma,
            "the noise level σ ≥ 0, e.g. sigma = 0.01",
        )?;
        let t = s::tau(Self::NAME, p.tau)?;
        let m = Clip21::new(t, Clip21Variant::Dp { sigma }, p.stepsize).map_err(s::method_err)?;
        sink.star(m)
    }
}
