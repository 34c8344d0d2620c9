//! Why a mechanism refused its input or could not take a step.

use squeeze_core::{CompressError, MessageError, ParamError};
use thiserror::Error;

/// Why a feedback mechanism could not be built or could not take a step.
///
/// Every variant says what to change; none of them leaves the state half-updated except
/// [`Self::Diverged`], which means the run itself has gone non-finite.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FeedbackError {
    /// A hyperparameter is invalid.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The compressor refused its input (non-finite input is reported as [`Self::Diverged`]
    /// or [`Self::NonFiniteInput`]).
    #[error("worker {worker}, round {round}: {source}")]
    Compress {
        /// Worker index.
        worker: usize,
        /// Round.
        round: u64,
        /// The compressor's error.
        source: CompressError,
    },
    /// A message did not fit the state it was applied to.
    #[error("worker {worker}, round {round}: {source}")]
    Message {
        /// Worker index (the sender).
        worker: usize,
        /// Round.
        round: u64,
        /// The message error.
        source: MessageError,
    },
    /// A vector the mechanism built from finite inputs and its state overflowed.
    #[error(
        "{what} became non-finite at round {round}: the stepsize is probably too large (try a smaller multiplier or gamma)"
    )]
    Diverged {
        /// What diverged.
        what: &'static str,
        /// Round.
        round: u64,
    },
    /// The caller's vector is not finite (checked before anything changes).
    #[error(
        "worker {worker}, round {round}: {what}[{index}] = {value} is not finite; nothing was changed (check the loss and the learning rate before compressing)"
    )]
    NonFiniteInput {
        /// Which input.
        what: &'static str,
        /// Position of the first non-finite entry.
        index: usize,
        /// Its value.
        value: f64,
        /// Worker index.
        worker: usize,
        /// Round.
        round: u64,
    },
    /// A vector has the wrong length.
    #[error(
        "{what} has {got} entries but the state was built for dimension {expected}; build the state with the model's parameter count"
    )]
    Dimension {
        /// Which vector.
        what: &'static str,
        /// The state's dimension.
        expected: usize,
        /// The vector's length.
        got: usize,
    },
    /// Messages and workers do not match (e.g. a count that differs from the worker count).
    #[error("{0}")]
    Incompatible(String),
}
