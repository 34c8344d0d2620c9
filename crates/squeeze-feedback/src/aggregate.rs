//! The server (or neighbour) side: messages absorbed in worker order.
//!
//! Aggregation happens in worker order so that results are bit-identical whatever the number
//! of threads that produced the messages.

use serde::{Deserialize, Serialize};
use squeeze_core::{Message, Scalar};

use squeeze_compress::three_point::MechanismError;

use crate::FeedbackError;
use crate::round::message_err;

/// `acc ← acc + scale · Σ_i msgs[i]`, in worker order (deterministic).
///
/// ```
/// use squeeze_core::Message;
/// let mut acc = vec![1.0f64, 1.0];
/// let msgs = [Message::Dense { values: vec![2.0, 0.0] }, Message::Dense { values: vec![0.0, 4.0] }];
/// squeeze_feedback::add_scaled(&mut acc, -0.5, 0, &msgs).unwrap();
/// assert_eq!(acc, vec![0.0, -1.0]);
/// ```
pub fn add_scaled<S: Scalar>(
    acc: &mut [S],
    scale: S,
    round: u64,
    msgs: &[Message<S>],
) -> Result<(), FeedbackError> {
    for (i, m) in msgs.iter().enumerate() {
        m.add_to(acc, scale).map_err(message_err(i, round))?;
    }
    Ok(())
}

/// `acc ← acc + (1/n) Σ_i msgs[i]` with `n = msgs.len()`: [`add_scaled`] with the scale
/// `S::from_f64(1.0 / n as f64)`.
pub fn add_mean<S: Scalar>(
    acc: &mut [S],
    round: u64,
    msgs: &[Message<S>],
) -> Result<(), FeedbackError> {
    add_scaled(acc, S::from_f64(1.0 / msgs.len() as f64), round, msgs)
}

/// The server side of the shift-based mechanisms (EF21, EControl, Clip21): the running mean
/// of the workers' estimates
///
/// $$g = \tfrac1n\textstyle\sum_i g_i,\qquad g \leftarrow g + \tfrac1n\sum_i c_i$$
///
/// where $c_i$ is worker $i$'s message (the change of its estimate $g_i$). Because every
/// worker adds exactly the decoded message to its own $g_i$, the server's $g$ stays the mean
/// of the workers' estimates without ever seeing them.
///
/// ```
/// use squeeze_core::Message;
/// use squeeze_feedback::Aggregator;
/// let mut server = Aggregator::<f32>::new(2, 2);
/// let msgs = [Message::Dense { values: vec![2.0, 0.0] }, Message::Skip { dim: 2 }];
/// server.absorb(0, &msgs).unwrap();
/// assert_eq!(server.estimate(), &[1.0, 0.0]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Aggregator<S: Scalar> {
    /// The mean estimate $g$.
    pub g: Vec<S>,
    /// Number of workers whose messages it expects.
    pub n_workers: usize,
}

impl<S: Scalar> Aggregator<S> {
    /// $g = 0$ of dimension `dim` for `n_workers` workers (workers built with zero estimates).
    pub fn new(dim: usize, n_workers: usize) -> Self {
        Self {
            g: vec![S::ZERO; dim],
            n_workers,
        }
    }

    /// Start from a known mean estimate `g` (e.g. the mean of the workers' first gradients).
    pub fn from_estimate(g: Vec<S>, n_workers: usize) -> Self {
        Self { g, n_workers }
    }

    /// Absorb one message per worker, in worker order. A wrong message count or a message of
    /// the wrong dimension is an error and leaves the estimate unchanged.
    pub fn absorb(&mut self, round: u64, msgs: &[Message<S>]) -> Result<(), FeedbackError> {
        if msgs.len() != self.n_workers {
            return Err(MechanismError::Incompatible(format!(
                "round {round}: {} messages for {} workers; pass exactly one message per worker, in worker order",
                msgs.len(),
                self.n_workers
            ))
            .into());
        }
        if let Some((i, m)) = msgs
            .iter()
            .enumerate()
            .find(|(_, m)| m.dim() != self.g.len())
        {
            return Err(FeedbackError::Dimension {
                what: if i == 0 {
                    "message 0"
                } else {
                    "a worker's message"
                },
                expected: self.g.len(),
                got: m.dim(),
            });
        }
        add_mean(&mut self.g, round, msgs)
    }

    /// The current mean estimate $g$ (use it as the gradient of your model step).
    pub fn estimate(&self) -> &[S] {
        &self.g
    }
}
