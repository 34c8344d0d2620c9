//! What a mechanism sees in one step besides its state and the vector: who, when, the shared
//! seed ([`Round`]), and reusable working memory ([`Workspace`]).

use squeeze_compress::three_point::{compress_up, message_err as mech_message_err};
use squeeze_core::{
    Compressor, Message, MessageError, Purpose, Scalar, Scratch, SqueezeRng, ops, round_seed,
};

use crate::FeedbackError;

/// Who sends and when: worker index, worker count, round and the per-round seed shared by all
/// workers (Perm-K's shared permutation, shared coins).
///
/// ```
/// use squeeze_feedback::Round;
/// let r = Round::new(2, 4, 10).with_shared_seed(7);
/// assert_eq!((r.worker, r.n_workers, r.round), (2, 4, 10));
/// assert_eq!(r.round_seed, squeeze_core::round_seed(7, 10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Worker index in `0..n_workers`.
    pub worker: usize,
    /// Number of workers.
    pub n_workers: usize,
    /// Round index (0-based).
    pub round: u64,
    /// Seed shared by every worker this round (0 unless set).
    pub round_seed: u64,
}

impl Round {
    /// Worker `worker` of `n_workers` in round `round`, no shared seed.
    pub fn new(worker: usize, n_workers: usize, round: u64) -> Self {
        Self {
            worker,
            n_workers,
            round,
            round_seed: 0,
        }
    }

    /// The shared seed `squeeze_core::round_seed(seed, round)` from the experiment seed: every
    /// worker that uses the same `seed` draws the same shared randomness this round.
    pub fn with_shared_seed(mut self, seed: u64) -> Self {
        self.round_seed = round_seed(seed, self.round);
        self
    }
}

/// Working memory of one worker (not state: nothing in it survives a step). Reuse one per
/// thread and steady-state steps allocate nothing.
#[derive(Debug, Clone, Default)]
pub struct Workspace<S: Scalar> {
    /// Compressor scratch.
    pub scratch: Scratch,
    /// A length-d work vector.
    pub work: Vec<S>,
    /// A second length-d work vector.
    pub aux: Vec<S>,
}

impl<S: Scalar> Workspace<S> {
    /// Working memory for dimension `d`.
    pub fn new(d: usize) -> Self {
        Self {
            scratch: Scratch::default(),
            work: vec![S::ZERO; d],
            aux: vec![S::ZERO; d],
        }
    }

    /// The push API's entry: check the vector `v` to send ([`check_input`]: length `expected`,
    /// finite), then make both vectors length `v.len()` (allocates only when it grows).
    pub(crate) fn accept(
        &mut self,
        v: &[S],
        expected: usize,
        r: &Round,
    ) -> Result<(), FeedbackError> {
        check_input("the vector to send", v, expected, r)?;
        self.work.resize(v.len(), S::ZERO);
        self.aux.resize(v.len(), S::ZERO);
        Ok(())
    }
}

/// `out ← C(v)` with the worker's stream and scratch. A non-finite input means the vector the
/// mechanism built overflowed (`MechanismError::Diverged` naming `what`); the one copy is
/// `squeeze_compress::three_point::compress_up`.
pub fn compress<S: Scalar>(
    c: &dyn Compressor<S>,
    v: &[S],
    rng: &mut SqueezeRng,
    scratch: &mut Scratch,
    r: &Round,
    what: &'static str,
    out: &mut Message<S>,
) -> Result<(), FeedbackError> {
    let ids = (r.worker, r.n_workers, r.round, r.round_seed);
    Ok(compress_up(c, v, rng, scratch, ids, what, out)?)
}

/// `g ← g + s·msg` for the worker and round of `r` (the decoded message added to an estimate,
/// shift or error).
pub(crate) fn add_message<S: Scalar>(
    msg: &Message<S>,
    g: &mut [S],
    s: S,
    r: &Round,
) -> Result<(), FeedbackError> {
    msg.add_to(g, s).map_err(message_err(r.worker, r.round))
}

/// The push API's `step` of a mechanism (an inherent method): the worker state `w` (whose
/// vector `$field` has the dimension), any extra parameters, the vector `v`, the round, the
/// workspace and the message. It checks `v` first ([`Workspace::accept`]: length and
/// finiteness; nothing changes on error), then runs `$body`.
macro_rules! push_step {
    (
        $(#[$doc:meta])*
        fn step(&$this:ident, $w:ident: $worker:ty $(, $p:ident: $pt:ty)*) checks $field:ident;
        |$v:ident, $r:ident, $ws:ident, $out:ident| $body:block
    ) => {
        $(#[$doc])*
        pub fn step(
            &$this,
            $w: &mut $worker,
            $($p: $pt,)*
            $v: &[S],
            $r: &$crate::round::Round,
            $ws: &mut $crate::round::Workspace<S>,
            $out: &mut Message<S>,
        ) -> Result<(), $crate::FeedbackError> {
            $ws.accept($v, $w.$field.len(), $r)?;
            $body
        }
    };
}
pub(crate) use push_step;

/// A worker state made of length-`dim` vectors, zero at the start, and the worker's
/// compression stream ([`compression_stream`]): the serde struct (checkpoints are its
/// serialisation) and its `new(dim, seed, worker)`.
macro_rules! worker_state {
    (
        $(#[$doc:meta])*
        $name:ident {
            $($(#[$fdoc:meta])* $field:ident,)+
        }
        $(#[$newdoc:meta])*
        fn new;
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(bound = "")]
        pub struct $name<S: Scalar> {
            $($(#[$fdoc])* pub $field: Vec<S>,)+
            /// Compression stream.
            pub rng: SqueezeRng,
        }

        impl<S: Scalar> $name<S> {
            $(#[$newdoc])*
            pub fn new(dim: usize, seed: u64, worker: usize) -> Self {
                Self {
                    $($field: vec![S::ZERO; dim],)+
                    rng: $crate::round::compression_stream(seed, worker),
                }
            }
        }
    };
}
pub(crate) use worker_state;

/// Worker `worker`'s compression stream of the experiment seed `seed` (the stream the
/// in-process engines use).
pub(crate) fn compression_stream(seed: u64, worker: usize) -> SqueezeRng {
    SqueezeRng::stream(seed, Purpose::Compression, worker as u64)
}

/// Map a message error of worker `worker` in `round`.
pub fn message_err(worker: usize, round: u64) -> impl FnOnce(MessageError) -> FeedbackError {
    move |source| mech_message_err(worker, round)(source).into()
}

/// The push API's input check, before any state changes: length `expected` and finite.
pub(crate) fn check_input<S: Scalar>(
    what: &'static str,
    v: &[S],
    expected: usize,
    r: &Round,
) -> Result<(), FeedbackError> {
    if v.len() != expected {
        return Err(FeedbackError::Dimension {
            what,
            expected,
            got: v.len(),
        });
    }
    match ops::first_non_finite(v) {
        Some((index, value)) => Err(FeedbackError::NonFiniteInput {
            what,
            index,
            value: value.to_f64(),
            worker: r.worker,
            round: r.round,
        }),
        None => Ok(()),
    }
}

/// `out ← a − b` elementwise.
#[inline]
pub(crate) fn sub_into<S: Scalar>(a: &[S], b: &[S], out: &mut [S]) {
    for ((o, &p), &q) in out.iter_mut().zip(a).zip(b) {
        *o = p - q;
    }
}
