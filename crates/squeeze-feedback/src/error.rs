//! Why a mechanism refused its input or could not take a step.

use squeeze_compress::three_point::MechanismError;
use squeeze_core::ParamError;
use thiserror::Error;

/// Why a feedback mechanism could not be built or could not take a step.
///
/// Every variant says what to change; none of them leaves the state half-updated except
/// `Step(MechanismError::Diverged)`, which means the run itself has gone non-finite.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FeedbackError {
    /// The step failed the way a three-point compressor's can (shared type): an invalid
    /// hyperparameter, a compressor or message error, or divergence
    /// ([`MechanismError::Diverged`]: a vector built from finite inputs overflowed).
    #[error(transparent)]
    Step(#[from] MechanismError),
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
}

impl From<ParamError> for FeedbackError {
    fn from(e: ParamError) -> Self {
        Self::Step(MechanismError::Param(e))
    }
}

impl From<FeedbackError> for MechanismError {
    /// The shared error of mechanisms and three-point compressors; input errors become
    /// `Incompatible` with their message.
    fn from(e: FeedbackError) -> Self {
        match e {
            FeedbackError::Step(m) => m,
            other => MechanismError::Incompatible(other.to_string()),
        }
    }
}
