//! AdaCGD: adaptive compression level.

use squeeze_core::bits::bits_for_range;
use squeeze_core::message::MAX_INDEX_WIDTH;
use squeeze_core::{Compressor, Message, ParamError, Scalar};

use super::params::{alpha_of, check_dims, check_zeta, ef21_theta_beta};
use super::steps::{CORRECTION, ef21_step, lazily, sub_into, within};
use super::{MechCtx, MechanismError, ThreePoint, message_err};

/// AdaCGD (Makarenko, Gasanov, Islamov, Sadiev, Richtárik; TMLR 2023): a ladder of contractive
/// compressors $C^{(1)}, \dots, C^{(m)}$ ordered from the cheapest (smallest $\alpha$) to the
/// finest, a threshold $\zeta \ge 0$, and with $\tau = \zeta\lVert x - y\rVert^2$:
///
/// * if $\lVert x - h\rVert^2 \le \tau$: $\mathcal{C}_{h,y}(x) = h$ (lazy skip, outcome 0);
/// * else the first $j < m$ whose candidate $c_j = h + C^{(j)}(x - h)$ has
///   $\lVert x - c_j\rVert^2 \le \tau$ (outcome $j$);
/// * else $h + C^{(m)}(x - h)$ (outcome $m$).
///
/// Every branch satisfies the 3PC inequality with the finest level's constants and $B =
/// \max(\beta_m, \zeta)$: the two "good enough" branches have error $\le \zeta\lVert x-y\rVert^2$,
/// the fall-back is EF21 with $C^{(m)}$ (whose randomness is independent of the rejected
/// candidates'). So $A = 1 - \sqrt{1-\alpha_m}$, $B = \max(\beta_m, \zeta)$ — UNCONFIRMED as the
/// paper's constants (spec §7: full text not available); they are valid, possibly loose. With a
/// one-rung ladder AdaCGD is [`super::Clag`] bit for bit.
///
/// Wire: a lazy round is `Skip` (0 bits). Otherwise the chosen level's message of $x - h$,
/// wrapped with its rung index $j - 1$ as [`Message::Indexed`] of width
/// $w = \lceil\log_2 m\rceil$: the message costs $4 + 4 + w$ bits more than the rung's own
/// message (tag, width field, index). A one-rung ladder needs no index ($w = 0$) and sends the
/// rung's message bare, so one-rung AdaCGD is [`super::Clag`] bit for bit, bits included. The
/// server only adds the message (the index does not change the decoded vector); the engine
/// reads the index to keep the level histogram of the records, and each worker also counts its
/// outcomes (`ThreePcWorker::outcomes`, a histogram of length $m + 1$).
///
/// Parameter errors: empty ladder (at construction), a ladder not sorted by $\alpha$ ascending at
/// the problem's dimension, or a rung without $\alpha$ (at `check_dim`), $\zeta < 0$.
///
/// ```
/// use squeeze_compress::parse;
/// use squeeze_compress::three_point::{AdaCgd, ThreePoint};
/// let ladder = ["top_k:k=1", "top_k:k=10", "top_k:k=100"].map(|s| parse::<f64>(s).unwrap());
/// let m = AdaCgd::new(ladder.into(), 1.0).unwrap();
/// assert_eq!(m.outcomes(), 4);
/// assert_eq!(m.index_width(), 2); // ⌈log₂ 3⌉
/// assert!(m.check_dim(100).is_ok());
/// let (a, b) = m.constants(100).unwrap(); // finest = identity at d = 100
/// assert_eq!((a, b), (1.0, 1.0));
/// assert!(AdaCgd::<f64>::new(vec![], 1.0).is_err());
/// let unsorted = ["top_k:k=10", "top_k:k=1"].map(|s| parse::<f64>(s).unwrap());
/// assert!(AdaCgd::new(unsorted.into(), 1.0).unwrap().check_dim(100).is_err());
/// ```
#[derive(Debug)]
pub struct AdaCgd<S: Scalar> {
    ladder: Vec<Box<dyn Compressor<S>>>,
    zeta: f64,
}

impl<S: Scalar> AdaCgd<S> {
    /// AdaCGD over `ladder` (cheapest first) with threshold ζ ≥ 0.
    pub fn new(ladder: Vec<Box<dyn Compressor<S>>>, zeta: f64) -> Result<Self, ParamError> {
        check_zeta("adacgd", zeta)?;
        if ladder.is_empty() {
            return Err(ParamError::new(
                "adacgd",
                "ladder",
                "[]",
                "give at least one contractive compressor, cheapest first, e.g. ladder = [\"top_k:k=1\", \"top_k:k=4\"]",
            ));
        }
        if bits_for_range(ladder.len() as u64) > MAX_INDEX_WIDTH as u32 {
            return Err(ParamError::new(
                "adacgd",
                "ladder",
                ladder.len(),
                format!(
                    "at most {} rungs (the rung index is at most {MAX_INDEX_WIDTH} bits)",
                    1u32 << MAX_INDEX_WIDTH
                ),
            ));
        }
        Ok(Self { ladder, zeta })
    }

    /// Number of rungs m.
    pub fn levels(&self) -> usize {
        self.ladder.len()
    }

    /// Bits of the rung index on the wire, $\lceil\log_2 m\rceil$ (0 for one rung).
    pub fn index_width(&self) -> u8 {
        bits_for_range(self.ladder.len() as u64) as u8
    }

    /// The ladder, cheapest first.
    pub fn ladder(&self) -> &[Box<dyn Compressor<S>>] {
        &self.ladder
    }

    /// The threshold ζ.
    pub fn zeta(&self) -> f64 {
        self.zeta
    }
}

three_point! {
    AdaCgd<S>, "adacgd", |self, d| {
        describe: {
            let specs: Vec<String> = self.ladder.iter().map(|c| c.spec()).collect();
            format!("adacgd([{}], ζ={})", specs.join(", "), self.zeta)
        },
        check_dim: self.check_ladder(d),
        constants: {
            let finest = self.ladder.last().expect("non-empty ladder");
            let (a, b) = ef21_theta_beta(alpha_of("adacgd", "ladder", finest.as_ref(), d)?);
            Ok((a, b.max(self.zeta)))
        },
        fn outcomes(&self) -> usize {
            self.ladder.len() + 1
        }
        fn wire_levels(&self) -> Option<usize> {
            Some(self.ladder.len())
        }
    }
    compress |h, y, x, ctx, up| lazily(self.zeta, (h, y, x), ctx, up, |rhs, ctx, up| {
        self.choose(rhs, h, x, ctx, up)
    })
}

impl<S: Scalar> AdaCgd<S> {
    /// Every rung fits `d` and has an α, and the α's ascend (cheapest first).
    fn check_ladder(&self, d: usize) -> Result<(), MechanismError> {
        let mut prev = 0.0;
        for c in &self.ladder {
            check_dims("adacgd", &[c.as_ref()], d)?;
            let a = alpha_of("adacgd", "ladder", c.as_ref(), d)?;
            if a < prev {
                return Err(MechanismError::Param(ParamError::new(
                    "adacgd",
                    "ladder",
                    c.spec(),
                    format!(
                        "the ladder must be sorted by α ascending (cheapest first); α = {a} after α = {prev} at d = {d}"
                    ),
                )));
            }
            prev = a;
        }
        Ok(())
    }

    /// The non-lazy branch, with `rhs` $= \lVert x - y\rVert^2$ and `up` holding its
    /// compressed-message buffers: the first rung whose candidate is good enough, else the finest;
    /// returns the outcome $j$ (1-based rung).
    fn choose(
        &self,
        rhs: f64,
        h: &[S],
        x: &[S],
        ctx: &mut MechCtx<'_, S>,
        up: &mut Message<S>,
    ) -> Result<usize, MechanismError> {
        let m = self.ladder.len();
        let width = self.index_width();
        if width == 0 {
            // One rung: the bare message (no index needed) — CLAG.
            return ef21_step(self.ladder[0].as_ref(), h, x, ctx, up);
        }
        let meta = ctx.meta();
        sub_into(x, h, ctx.work);
        // Every rung compresses into its own buffer `rungs[j]` (the same kind of message each
        // time: no allocation for mixed ladders); the chosen one is swapped into the uplink.
        // The uplink's previous inner message belongs to the rung it was sent by: give it back.
        if ctx.rungs.len() != m {
            ctx.rungs.resize_with(m, Message::default);
        }
        if let Message::Indexed { index, inner, .. } = up
            && let Some(slot) = ctx.rungs.get_mut(*index as usize)
        {
            core::mem::swap(&mut **inner, slot);
        }
        let mut chosen = m - 1;
        for (j, c) in self.ladder.iter().enumerate() {
            let out = &mut ctx.rungs[j];
            MechCtx::compress(
                ctx.rng,
                ctx.scratch,
                meta,
                c.as_ref(),
                ctx.work,
                out,
                CORRECTION,
            )?;
            if j + 1 == m {
                break;
            }
            // ‖x − (h + C(x − h))‖² = ‖r − C(r)‖², r = x − h.
            ctx.aux.copy_from_slice(ctx.work);
            out.add_to(ctx.aux, S::from_f64(-1.0))
                .map_err(message_err(ctx.worker, ctx.round))?;
            let err: f64 = ctx.aux.iter().map(|v| v.to_f64() * v.to_f64()).sum();
            if within(err, self.zeta, rhs) {
                chosen = j;
                break;
            }
        }
        let inner = up.indexed_parts(width, chosen as u16);
        core::mem::swap(inner, &mut ctx.rungs[chosen]);
        Ok(chosen + 1)
    }
}
