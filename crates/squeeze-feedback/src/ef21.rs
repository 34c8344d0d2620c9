//! EF21's mechanism (Richtárik, Sokolov, Fatkhullin, NeurIPS 2021): a shift $g_i$ per worker
//! and compressed corrections towards the vector the worker has.

use squeeze_core::{Compressor, Message, Scalar, Scratch, SqueezeRng};

use crate::FeedbackError;
use crate::round::{Round, add_message, compress, push_step, sub_into, worker_state};

/// The EF21 mechanism: worker $i$ keeps an estimate $g_i$ of the vector $v_i$ it wants to
/// communicate (a gradient, a momentum, a model delta) and sends only a compressed correction
///
/// $$c_i = \mathcal{C}(v_i - g_i),\qquad g_i \leftarrow g_i + c_i,\qquad
/// g \leftarrow g + \tfrac1n\textstyle\sum_i c_i$$
///
/// (the server side is [`crate::Aggregator`]). For a contractive $\mathcal{C}$ with parameter
/// $\alpha$ ($\lVert\mathcal{C}(x) - x\rVert^2 \le (1-\alpha)\lVert x\rVert^2$) the estimate error
/// contracts: $\mathbb{E}\lVert g_i^+ - v_i\rVert^2 \le (1-\alpha)\lVert g_i - v_i\rVert^2$, which
/// is what makes EF21 converge at large stepsizes where classic error feedback stalls.
///
/// Wire: $c_i$ is the compressor's message; its `bits()` is the exact encoded length.
/// No stepsize, no model step: the caller steps with [`crate::Aggregator::estimate`].
///
/// ```
/// use squeeze_core::Message;
/// use squeeze_feedback::{Aggregator, Ef21, Ef21Worker, Round, Workspace};
/// let ef21 = Ef21::<f32>::new(squeeze_compress::parse("top_k:k=1").unwrap());
/// let (d, n) = (3, 2);
/// let mut workers: Vec<_> = (0..n).map(|i| Ef21Worker::new(d, 42, i)).collect();
/// let mut server = Aggregator::new(d, n);
/// let mut ws = Workspace::new(d);
/// let mut msgs = vec![Message::default(); n];
/// let grads = [[1.0f32, -3.0, 0.5], [0.0, 1.0, 2.0]];
/// for round in 0..3 {
///     for i in 0..n {
///         let r = Round::new(i, n, round);
///         ef21.step(&mut workers[i], &grads[i], &r, &mut ws, &mut msgs[i]).unwrap();
///         assert_eq!(msgs[i].entries(), 1); // one coordinate per message
///     }
///     server.absorb(round, &msgs).unwrap();
/// }
/// // Top-1 corrections reach the exact mean after d rounds (here 3).
/// assert_eq!(server.estimate(), &[0.5, -1.0, 1.25]);
/// ```
#[derive(Debug)]
pub struct Ef21<S: Scalar> {
    compressor: Box<dyn Compressor<S>>,
}

worker_state! {
    /// EF21's worker state: the estimate $g_i$ and the worker's compression stream.
    Ef21Worker {
        /// Gradient estimate $g_i$.
        g,
    }
    /// $g_i = 0$ of dimension `dim`; the stream is worker `worker`'s compression stream of the
    /// experiment seed `seed` (the same stream the in-process engines use).
    fn new;
}

impl<S: Scalar> Ef21Worker<S> {
    /// Start from a known estimate (e.g. the first full gradient, sent uncompressed).
    pub fn with_estimate(g: Vec<S>, rng: SqueezeRng) -> Self {
        Self { g, rng }
    }

    /// The estimate $g_i$.
    pub fn estimate(&self) -> &[S] {
        &self.g
    }
}

impl<S: Scalar> Ef21<S> {
    /// The mechanism with compressor `compressor` (any compressor; the theory needs a
    /// contractive one).
    pub fn new(compressor: Box<dyn Compressor<S>>) -> Self {
        Self { compressor }
    }

    /// The compressor.
    pub fn compressor(&self) -> &dyn Compressor<S> {
        self.compressor.as_ref()
    }

    push_step! {
        /// One push step: `out` ← $c_i = \mathcal{C}(v - g_i)$ and $g_i \leftarrow g_i + c_i$.
        ///
        /// `v` must have the state's dimension and be finite; otherwise nothing changes and the
        /// error says which entry. Allocation-free once `ws` has the dimension.
        fn step(&self, w: Ef21Worker<S>) checks g;
        |v, r, ws, out| {
            sub_into(v, &w.g, &mut ws.work);
            self.correct(w, &ws.work, r, &mut ws.scratch, out)
        }
    }

    /// The step from a difference the caller already formed: `out` ← $\mathcal{C}(\Delta)$ and
    /// $g_i \leftarrow g_i + \mathtt{out}$, with $\Delta = v - g_i$ (methods that compute
    /// $\nabla f_i(x) - g_i$ in one pass use this). Non-finite $\Delta$ is
    /// `MechanismError::Diverged`.
    pub fn correct(
        &self,
        w: &mut Ef21Worker<S>,
        diff: &[S],
        r: &Round,
        scratch: &mut Scratch,
        out: &mut Message<S>,
    ) -> Result<(), FeedbackError> {
        correct_with(
            self.compressor.as_ref(),
            diff,
            &mut w.g,
            &mut w.rng,
            scratch,
            r,
            "the correction ∇f_i − g_i",
            out,
        )
    }
}

/// `out ← C(diff)` and `g ← g + out`: the EF21 step of any estimate `g` with compressor `c`
/// and stream `rng` (errors name `what`). The one copy of the EF21 update that every method
/// with an EF21-style shift uses.
#[allow(clippy::too_many_arguments)]
pub fn correct_with<S: Scalar>(
    c: &dyn Compressor<S>,
    diff: &[S],
    g: &mut [S],
    rng: &mut SqueezeRng,
    scratch: &mut Scratch,
    r: &Round,
    what: &'static str,
    out: &mut Message<S>,
) -> Result<(), FeedbackError> {
    compress(c, diff, rng, scratch, r, what, out)?;
    add_message(out, g, S::ONE, r)
}
