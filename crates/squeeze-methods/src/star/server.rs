//! The shared server states of star methods, each with its round ([`ServerState`]).
//!
//! * [`StepServer`] $(x, g, \gamma)$: broadcast $x \leftarrow x - \gamma g$ (dense), absorb
//!   $g \leftarrow g + \tfrac1n\sum_i m_i$ — EF21 and its variants, GD, 3PC-GD.
//! * [`ModelServer`] $(x, \gamma)$: broadcast the dense $x$, absorb
//!   $x \leftarrow x - \tfrac{\gamma}{n}\sum_i m_i$ — Clip-GD, SGD; EF14 and Local SGD keep
//!   the state with their own absorb.
//!
//! And the worker side they share (crate-internal `local_grad_at`, `sampled_grad_at`): the
//! dense model of the downlink and the local gradient or a stochastic one there.
//!
//! ```
//! use squeeze_core::Message;
//! use squeeze_methods::method::ServerState;
//! use squeeze_methods::star::server::StepServer;
//! let mut s = StepServer { x: vec![1.0f64, 1.0], g: vec![0.5, 0.0], gamma: 2.0 };
//! let mut down = Message::default();
//! s.broadcast(0, &mut down).unwrap();
//! assert_eq!(s.model(), &[0.0, 1.0]);
//! s.absorb(0, &[Message::Dense { values: vec![2.0, 4.0] }]).unwrap();
//! assert_eq!(s.g, vec![2.5, 4.0]);
//! ```

use serde::{Deserialize, Serialize};
use squeeze_core::{Message, Scalar};

use crate::gossip::GradState;
use crate::method::{
    MethodError, Result, ServerState, WorkerCtx, add_all, add_mean, broadcast_model, dense_down,
    ensure_finite, local_grad, step_and_broadcast,
};

/// Server state $(x, g, \gamma)$ of the methods that step along an averaged estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct StepServer<S: Scalar> {
    /// Model x.
    pub x: Vec<S>,
    /// The estimate g = (1/n) Σ g_i the model steps along (read as `v` too: the field's name
    /// in Clip21 checkpoints before [`crate::Clip21Server`] was this type).
    #[serde(alias = "v")]
    pub g: Vec<S>,
    /// The resolved stepsize γ.
    pub gamma: f64,
}

impl<S: Scalar> StepServer<S> {
    /// The model `x0` with the estimate `g` and stepsize `gamma`.
    pub fn at(x0: &[S], g: Vec<S>, gamma: f64) -> Self {
        Self {
            x: x0.to_vec(),
            g,
            gamma,
        }
    }
}

impl<S: Scalar> ServerState<S> for StepServer<S> {
    /// `x ← x − γ g`, then the dense model.
    fn broadcast(&mut self, round: u64, down: &mut Message<S>) -> Result {
        step_and_broadcast(&mut self.x, &self.g, self.gamma, round, down)
    }

    /// `g ← g + (1/n) Σ_i m_i`.
    fn absorb(&mut self, round: u64, ups: &[Message<S>]) -> Result {
        add_mean(&mut self.g, round, ups)
    }

    fn model(&self) -> &[S] {
        &self.x
    }
}

/// The absorb of a state whose method absorbs the uplink itself (it needs the method's
/// parts: the regularisation, the message layout, the phases): a protocol error naming
/// `method` and what it expects instead.
pub(crate) fn absorbed_by_method(method: &'static str, expected: &'static str) -> Result {
    Err(MethodError::Protocol { method, expected })
}

/// Server state $(x, \gamma)$ of the methods whose uplink moves the model itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct ModelServer<S: Scalar> {
    /// Model x.
    pub x: Vec<S>,
    /// Resolved stepsize.
    pub gamma: f64,
}

impl<S: Scalar> ModelServer<S> {
    /// The model `x0` with stepsize `gamma`.
    pub fn at(x0: &[S], gamma: f64) -> Self {
        Self {
            x: x0.to_vec(),
            gamma,
        }
    }
}

impl<S: Scalar> ServerState<S> for ModelServer<S> {
    /// The dense model (an error if it is not finite).
    fn broadcast(&mut self, round: u64, down: &mut Message<S>) -> Result {
        broadcast_model(&self.x, round, down)
    }

    /// `x ← x − (γ/n) Σ_i m_i` (the workers send gradients).
    fn absorb(&mut self, round: u64, ups: &[Message<S>]) -> Result {
        let scale = S::from_f64(-self.gamma / ups.len() as f64);
        add_all(&mut self.x, scale, round, ups)?;
        ensure_finite(&self.x, "the model x", round)
    }

    fn model(&self) -> &[S] {
        &self.x
    }
}

/// A worker's start of a round on a dense downlink: $x$ = the model in `ctx.down` (a protocol
/// error naming `method` otherwise) and $\nabla f_i(x)$ into `ctx.buffers.grad`
/// ([`local_grad`]).
pub(crate) fn local_grad_at<'a, S: Scalar>(
    method: &'static str,
    ctx: &mut WorkerCtx<'a, S>,
) -> Result<&'a [S]> {
    let x = dense_down(ctx.down, method)?;
    local_grad(ctx, x)?;
    Ok(x)
}

/// As [`local_grad_at`] with the stochastic gradient of `grad` (its sampler and stream) at $x$,
/// counting the samples it used.
pub(crate) fn sampled_grad_at<'a, S: Scalar>(
    method: &'static str,
    grad: &mut GradState,
    ctx: &mut WorkerCtx<'a, S>,
) -> Result<&'a [S]> {
    let x = dense_down(ctx.down, method)?;
    ctx.grad_samples += grad.grad(ctx.oracle, x, &mut ctx.buffers.grad, ctx.round)?;
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::StepServer;

    /// A Clip21 checkpoint written while its server state was a type of its own (the estimate
    /// in field `v`) loads into the `StepServer` it is now; a new checkpoint writes `g`.
    #[test]
    fn clip21_checkpoints_with_v_still_load() {
        let old = r#"{"x":[1.0,2.0],"v":[0.5,-0.25],"gamma":0.1}"#;
        let s: StepServer<f64> = serde_json::from_str(old).unwrap();
        assert_eq!(s, StepServer::at(&[1.0, 2.0], vec![0.5, -0.25], 0.1));
        let new = serde_json::to_string(&s).unwrap();
        assert!(new.contains(r#""g":[0.5,-0.25]"#), "{new}");
        assert!(!new.contains(r#""v""#), "{new}");
    }
}
