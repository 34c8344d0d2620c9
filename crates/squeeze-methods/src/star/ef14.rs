//! Classic error feedback (EF14 / Mem-SGD / EF-SGD), as the EF21 experiments run it.

use serde::{Deserialize, Serialize};
use squeeze_core::{Compressor, Message, Purpose, Scalar, SqueezeRng};
use squeeze_problems::Problem;

use crate::method::{
    Init, InitOf, Result, ServerMethod, WorkerCtx, add_all, compressed_dim, ef14_up, ensure_finite,
};
use crate::star::server::{ModelServer, local_grad_at};
use crate::stepsize::Stepsize;

/// EF14: compress the stepsize-scaled gradient plus the residual, keep what was not sent.
///
/// $$p_i = e_i + \gamma\nabla f_i(x^t),\qquad v_i = \mathcal{C}(p_i),\qquad e_i \leftarrow p_i - v_i,
/// \qquad x^{t+1} = x^t - \tfrac1n\textstyle\sum_i v_i.$$
///
/// (Seide et al. 2014; Stich et al. 2018; Karimireddy et al. 2019; distributed form of the EF21
/// paper's baseline code.) The stepsize sits *inside* the compressed vector. The EF21
/// experiments give EF14 the same theory stepsize as EF21 (times the multiplier); so does the
/// theory rule here. Its known weakness: in heterogeneous problems it stalls at a plateau.
///
/// Wire: uplink $v_i$; downlink the dense model.
///
/// With the identity compressor $e_i$ stays 0 and EF14 is GD; in floating point
/// $x - \tfrac1n\sum_i\gamma\nabla f_i$ rounds differently from $x - \gamma\tfrac1n\sum_i\nabla f_i$,
/// so the two agree bit for bit only when every operation is exact (tested like EF21's).
///
/// Presets: `ef_signsgd` is EF14 with `scaled_sign` (EF-signSGD, Karimireddy et al. 2019:
/// $p = \gamma g + e$, $\Delta = (\lVert p\rVert_1/d)\operatorname{sign}(p)$); `onebit_sgd` is
/// EF14 with `one_bit` (1-bit SGD with error carry, Seide et al. 2014). Both are this method
/// with their compressor fixed (bit for bit, tested in the driver's `sign_methods.rs`).
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_methods::{Ef14, Stepsize};
/// assert!(Ef14::<f64>::new(parse("top_k:k=1").unwrap(), Stepsize::Theory { multiplier: 0.0 }).is_err());
/// ```
#[derive(Debug)]
pub struct Ef14<S: Scalar> {
    compressor: Box<dyn Compressor<S>>,
    stepsize: Stepsize,
}

/// EF14 server state.
pub type Ef14Server<S> = ModelServer<S>;

/// EF14 worker state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Ef14Worker<S: Scalar> {
    /// Residual e_i (what was not sent yet).
    pub e: Vec<S>,
    /// Stepsize (copied from the server at init so the worker can scale locally).
    pub gamma: f64,
    /// Compression stream.
    pub rng: SqueezeRng,
}

impl<S: Scalar> Ef14<S> {
    /// EF14 with `compressor`.
    pub fn new(compressor: Box<dyn Compressor<S>>, stepsize: Stepsize) -> Result<Self> {
        stepsize.validate()?;
        Ok(Self {
            compressor,
            stepsize,
        })
    }
}

impl<S: Scalar> ServerMethod<S> for Ef14<S> {
    type Worker = Ef14Worker<S>;
    type Server = Ef14Server<S>;

    fn describe(&self) -> String {
        format!("ef14({}, {:?})", self.compressor.spec(), self.stepsize)
    }

    fn init(&self, problem: &Problem<S>, x0: &[S], seed: u64) -> Result<InitOf<Self, S>> {
        let d = compressed_dim(problem, x0, self.compressor.as_ref(), "ef14")?;
        let n = problem.n_workers();
        let alpha = self.compressor.class(d).alpha();
        let step = self.stepsize.report("ef14", alpha, problem.smoothness())?;
        let gamma = step.gamma;
        let workers = (0..n)
            .map(|i| Ef14Worker {
                e: vec![S::ZERO; d],
                gamma,
                rng: SqueezeRng::stream(seed, Purpose::Compression, i as u64),
            })
            .collect();
        Ok(Init::silent(Ef14Server::at(x0, gamma), workers, 0).with_stepsize(step))
    }

    fn worker_round(&self, worker: &mut Self::Worker, ctx: &mut WorkerCtx<'_, S>) -> Result {
        local_grad_at("ef14", ctx)?;
        // The EF14 mechanism with the stepsize as its scale: p = e + γ∇f_i, v = C(p), e = p − v.
        let c = self.compressor.as_ref();
        ef14_up(c, (&mut worker.e, &mut worker.rng), worker.gamma, ctx)
    }

    fn absorb(&self, server: &mut Self::Server, round: u64, ups: &[Message<S>]) -> Result {
        add_all(
            &mut server.x,
            S::from_f64(-1.0 / ups.len() as f64),
            round,
            ups,
        )?;
        ensure_finite(&server.x, "the model x", round)
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    Ef14Spec(Ef14Params { compressor, stepsize }): Star "ef14",
    summary = "classic error feedback: compress e_i + γ∇f_i, keep the residual",
    example = "compressor = \"top_k:k=1\"",
    |p, ctx, sink| {
        let c = p.main_compressor::<S>(ctx.dim)?;
        sink.star(Ef14::new(c, p.stepsize).map_err(s::method_err)?)
    }
}

crate::spec::method_entry! {
    EfSignSgdSpec(EfSignSgdParams { stepsize }): Star "ef_signsgd",
    summary = "EF-signSGD: p = γ∇f_i + e_i, Δ = (‖p‖₁/d)·sign(p), e_i ← p − Δ (EF14 with scaled_sign) [Karimireddy et al. 2019]; d + 36 bits up (f32)",
    example = "stepsize = { rule = \"theory\", multiplier = 1.0 }",
    hints = [("compressor", "ef_signsgd always sends the scaled sign; for another compressor use ef14")],
    |p, ctx, sink| {
        let c = s::build_compressor::<S>("stepsize", &ef14_preset("scaled_sign"), ctx.dim)?;
        sink.star(Ef14::new(c, p.stepsize).map_err(s::method_err)?)
    }
}

crate::spec::method_entry! {
    OneBitSgdSpec(OneBitSgdParams {
        stepsize,
        /// Coordinates per quantisation block of `one_bit` (default: the whole vector).
        block: Option<u64>,
    }): Star "onebit_sgd",
    summary = "1-bit SGD: EF14 error carry with the one_bit quantiser (per block: 1 bit per coordinate + the two side means) [Seide et al. 2014]",
    example = "stepsize = { rule = \"theory\", multiplier = 1.0 }",
    hints = [("compressor", "onebit_sgd always sends one_bit; set its block with block = b, or use ef14 for another compressor")],
    |p, ctx, sink| {
        let spec = match p.block {
            None => "one_bit".to_string(),
            Some(b) => format!("one_bit:block={b}"),
        };
        let c = s::build_compressor::<S>("block", &ef14_preset(&spec), ctx.dim)?;
        sink.star(Ef14::new(c, p.stepsize).map_err(s::method_err)?)
    }
}

/// The fixed compressor of an EF14 preset.
fn ef14_preset(spec: &str) -> squeeze_compress::CompressorSpec {
    squeeze_compress::CompressorSpec::Text(spec.to_string())
}
