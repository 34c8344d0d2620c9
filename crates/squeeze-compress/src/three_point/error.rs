//! Why a three-point mechanism could not be built or applied, and the compress step that
//! reports it.

use squeeze_core::{
    CompressCtx, CompressError, Compressor, Message, MessageError, ParamError, Scalar, Scratch,
    SqueezeRng,
};
use thiserror::Error;

/// Why a three-point mechanism could not be built or could not run.
///
/// The texts are those of the methods layer's `MethodError` variants of the same names (the
/// method converts variant to variant), so a message reads the same wherever it surfaces. A
/// compressor refusing a non-finite input is [`Self::Diverged`], not [`Self::Compress`] (see
/// [`compress_err`]). Not `#[non_exhaustive]`: the methods layer maps every variant, and a new
/// one must be mapped there too.
///
/// ```
/// use squeeze_compress::three_point::MechanismError;
/// let e = MechanismError::Diverged { what: "the correction", round: 3 };
/// assert!(e.to_string().starts_with("the correction became non-finite at round 3"));
/// ```
#[derive(Debug, Error)]
pub enum MechanismError {
    /// A hyperparameter is invalid.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The compressor refused its input (non-finite input is reported as [`Self::Diverged`]).
    #[error("worker {worker}, round {round}: {source}")]
    Compress {
        /// Worker index.
        worker: usize,
        /// Round.
        round: u64,
        /// The compressor's error.
        source: CompressError,
    },
    /// A message did not fit (dimension mismatch between mechanism parts).
    #[error("worker {worker}, round {round}: {source}")]
    Message {
        /// Worker index (`usize::MAX` for the server).
        worker: usize,
        /// Round.
        round: u64,
        /// The message error.
        source: MessageError,
    },
    /// A vector built from finite inputs became non-finite.
    #[error(
        "{what} became non-finite at round {round}: the stepsize is probably too large (try a smaller multiplier or gamma)"
    )]
    Diverged {
        /// What diverged.
        what: &'static str,
        /// Round.
        round: u64,
    },
    /// The configuration does not fit the compressor or problem.
    #[error("{0}")]
    Incompatible(String),
}

/// Map an error of worker `worker`'s compressor in `round`. A non-finite input means the vector
/// built from finite gradients and state (`what`) overflowed: the run diverged.
///
/// $$\mathrm{NonFinite} \mapsto \mathrm{Diverged}(what, round),\qquad
/// e \mapsto \mathrm{Compress}(worker, round, e)\ \text{otherwise.}$$
///
/// ```
/// use squeeze_compress::three_point::{MechanismError, compress_err};
/// use squeeze_core::CompressError;
/// let e = compress_err(1, 7, "x")(CompressError::NonFinite { index: 0, value: f64::NAN });
/// assert!(matches!(e, MechanismError::Diverged { what: "x", round: 7 }));
/// ```
pub fn compress_err(
    worker: usize,
    round: u64,
    what: &'static str,
) -> impl FnOnce(CompressError) -> MechanismError {
    move |source| match source {
        CompressError::NonFinite { .. } => MechanismError::Diverged { what, round },
        source => MechanismError::Compress {
            worker,
            round,
            source,
        },
    }
}

/// Map a message error of worker `worker` in `round` to [`MechanismError::Message`].
///
/// ```
/// use squeeze_compress::three_point::{MechanismError, message_err};
/// use squeeze_core::Message;
/// let e = Message::<f64>::Dense { values: vec![1.0] }.add_to(&mut [0.0; 2], 1.0).unwrap_err();
/// assert!(matches!(message_err(2, 5)(e), MechanismError::Message { worker: 2, round: 5, .. }));
/// ```
pub fn message_err(worker: usize, round: u64) -> impl FnOnce(MessageError) -> MechanismError {
    move |source| MechanismError::Message {
        worker,
        round,
        source,
    }
}

/// $up \leftarrow C(v)$: `v` compressed by `compressor` with a worker's stream `rng` and
/// `scratch`; `ids = (worker, n_workers, round, round_seed)`. Errors name `what` (see
/// [`compress_err`]).
///
/// ```
/// use squeeze_compress::{parse, three_point::compress_up};
/// use squeeze_core::{Message, Scratch, SqueezeRng};
/// let c = parse::<f64>("top_k:k=1").unwrap();
/// let (mut rng, mut scratch, mut up) =
///     (SqueezeRng::from_seed_u64(1), Scratch::default(), Message::default());
/// compress_up(c.as_ref(), &[1.0, -3.0], &mut rng, &mut scratch, (0, 1, 0, 0), "v", &mut up)
///     .unwrap();
/// assert_eq!(up.to_dense().unwrap(), vec![0.0, -3.0]);
/// ```
pub fn compress_up<S: Scalar>(
    compressor: &dyn Compressor<S>,
    v: &[S],
    rng: &mut SqueezeRng,
    scratch: &mut Scratch,
    ids: (usize, usize, u64, u64),
    what: &'static str,
    up: &mut Message<S>,
) -> Result<(), MechanismError> {
    let (worker, n, round, round_seed) = ids;
    let mut cctx = CompressCtx::new(rng, scratch)
        .with_worker(worker, n)
        .with_round_seed(round_seed)
        .with_round(round);
    compressor
        .compress_into(v, &mut cctx, up)
        .map_err(compress_err(worker, round, what))
}
