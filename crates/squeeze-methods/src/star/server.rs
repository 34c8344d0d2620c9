//! The shared server states of star methods, each with its round ([`ServerState`]).
//!
//! * [`StepServer`] $(x, g, \gamma)$: broadcast $x \leftarrow x - \gamma g$ (dense), absorb
//!   $g \leftarrow g + \tfrac1n\sum_i m_i$ — EF21 and its variants, GD, 3PC-GD.
//! * [`ModelServer`] $(x, \gamma)$: broadcast the dense $x$, absorb
//!   $x \leftarrow x - \tfrac{\gamma}{n}\sum_i m_i$ — Clip-GD, SGD; EF14 and Local SGD keep
//!   the state with their own absorb.
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

use crate::method::{
    MethodError, Result, ServerState, add_all, add_mean, broadcast_model, ensure_finite,
    step_and_broadcast,
};

/// Server state $(x, g, \gamma)$ of the methods that step along an averaged estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct StepServer<S: Scalar> {
    /// Model x.
    pub x: Vec<S>,
    /// The estimate g = (1/n) Σ g_i the model steps along.
    pub g: Vec<S>,
    /// The resolved stepsize γ.
    pub gamma: f64,
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
