//! AdaCGD: adaptive compression level.

use squeeze_core::bits::bits_for_range;
use squeeze_core::message::MAX_INDEX_WIDTH;
use squeeze_core::{Compressor, Message, ParamError, Scalar};

use super::{
    MechCtx, ThreePoint, alpha_of, check_compressor_dim, check_zeta, dist2, ef21_ab, sub_into,
    within,
};
use crate::method::{MethodError, message_err};

/// AdaCGD (Makarenko, Gasanov, Islamov, Sadiev, Richtárik; TMLR 2023): a ladder of contractive
/// compressors $C^{(1)}, \dots, C^{(m)}$ ordered from the cheapest (smallest $\alpha$) to the
/// finest, a threshold $\zeta \ge 0$, and with $\tau = \zeta\|x - y\|^2$:
///
/// * if $\|x - h\|^2 \le \tau$: $\mathcal{C}_{h,y}(x) = h$ (lazy skip, outcome 0);
/// * else the first $j < m$ whose candidate $c_j = h + C^{(j)}(x - h)$ has
///   $\|x - c_j\|^2 \le \tau$ (outcome $j$);
/// * else $h + C^{(m)}(x - h)$ (outcome $m$).
///
/// Every branch satisfies the 3PC inequality with the finest level's constants and
/// $B = \max(\beta_m, \zeta)$: the two "good enough" branches have error $\le \zeta\|x-y\|^2$,
/// the fall-back is EF21 with $C^{(m)}$ (whose randomness is independent of the rejected
/// candidates'). So $A = 1 - \sqrt{1-\alpha_m}$, $B = \max(\beta_m, \zeta)$ — UNCONFIRMED as
/// the paper's constants (spec §7: full text not available); they are valid, possibly loose.
/// With a one-rung ladder AdaCGD is [`super::Clag`] bit for bit.
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
/// use squeeze_methods::three_point::{AdaCgd, ThreePoint};
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

impl<S: Scalar> ThreePoint<S> for AdaCgd<S> {
    fn name(&self) -> &'static str {
        "adacgd"
    }
    fn describe(&self) -> String {
        let specs: Vec<String> = self.ladder.iter().map(|c| c.spec()).collect();
        format!("adacgd([{}], ζ={})", specs.join(", "), self.zeta)
    }
    fn check_dim(&self, d: usize) -> Result<(), MethodError> {
        let mut prev = 0.0;
        for c in &self.ladder {
            check_compressor_dim("adacgd", c.as_ref(), d)?;
            let a = alpha_of("adacgd", "ladder", c.as_ref(), d)?;
            if a < prev {
                return Err(MethodError::Param(ParamError::new(
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
    fn constants(&self, d: usize) -> Result<(f64, f64), MethodError> {
        let finest = self.ladder.last().expect("non-empty ladder");
        let (a, b) = ef21_ab(alpha_of("adacgd", "ladder", finest.as_ref(), d)?);
        Ok((a, b.max(self.zeta)))
    }
    fn outcomes(&self) -> usize {
        self.ladder.len() + 1
    }
    fn wire_levels(&self) -> Option<usize> {
        Some(self.ladder.len())
    }
    fn compress(
        &self,
        h: &[S],
        y: &[S],
        x: &[S],
        ctx: &mut MechCtx<'_, S>,
        up: &mut Message<S>,
    ) -> Result<usize, MethodError> {
        let rhs = dist2(x, y);
        if within(dist2(x, h), self.zeta, rhs) {
            super::skip(up, ctx.stash, x.len());
            return Ok(0);
        }
        super::unskip(up, ctx.stash, false);
        let meta = ctx.meta();
        sub_into(x, h, ctx.work);
        let m = self.ladder.len();
        let width = self.index_width();
        if width == 0 {
            // One rung: the bare message (no index needed) — CLAG.
            MechCtx::compress(
                ctx.rng,
                ctx.scratch,
                meta,
                self.ladder[0].as_ref(),
                ctx.work,
                up,
                "the correction ∇f_i − g_i",
            )?;
            return Ok(1);
        }
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
                "the correction ∇f_i − g_i",
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

// ---- registry entry (name, params, build): see `crate::registry` ----

/// The `[method]` parameters of `adacgd` (defaults as documented on the fields).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaCgdParams {
    /// Contractive compressors, cheapest first (required).
    #[serde(default)]
    pub ladder: Option<Vec<squeeze_compress::CompressorSpec>>,
    /// Trigger threshold ζ ≥ 0 (default 1).
    #[serde(default)]
    pub zeta: Option<f64>,
    /// Bidirectional: the server ladder, cheapest first.
    #[serde(default)]
    pub downlink_ladder: Option<Vec<squeeze_compress::CompressorSpec>>,
    /// Bidirectional: the downlink ζ ≥ 0 (default: zeta).
    #[serde(default)]
    pub downlink_zeta: Option<f64>,
    /// Stepsize rule.
    #[serde(default)]
    pub stepsize: crate::stepsize::Stepsize,
    /// Count the bits of an uncompressed initial round.
    #[serde(default)]
    pub count_init: bool,
}

/// Registry entry of `adacgd`: 3PC-GD, AdaCGD: lazy skip or the cheapest ladder rung within ζ‖x − y‖² (ladder, zeta; bidirectional: downlink_ladder, downlink_zeta)
#[derive(Debug, Clone, Copy, Default)]
pub struct AdaCgdSpec;

impl crate::spec::MethodSpec for AdaCgdSpec {
    const NAME: &'static str = "adacgd";
    const SUMMARY: &'static str = "3PC-GD, AdaCGD: lazy skip or the cheapest ladder rung within ζ‖x − y‖² (ladder, zeta; bidirectional: downlink_ladder, downlink_zeta)";
    const TOPOLOGY: crate::spec::Topology = crate::spec::Topology::Star;
    const EXAMPLE: &'static str =
        "ladder = [\"top_k:k=1\", \"top_k:k=3\", \"top_k:k=10\"]\nzeta = 1.0";
    const HINTS: &'static [(&'static str, &'static str)] = &[(
        "compressor",
        "adacgd takes a ladder of compressors: method.ladder = [\"top_k:k=1\", …]; remove the compressor",
    )];
    type Params = AdaCgdParams;

    fn build<S: squeeze_core::Scalar, B: crate::spec::MethodSink<S>>(
        p: AdaCgdParams,
        ctx: &crate::spec::BuildCtx,
        sink: B,
    ) -> Result<B::Output, B::Error> {
        use crate::spec as s;
        if p.downlink_zeta.is_some() && p.downlink_ladder.is_none() {
            return Err(s::MethodConfigError::at(
                "downlink_zeta",
                "adacgd has no downlink ladder; set downlink_ladder = [\"top_k:k=4\", \"identity\"] or remove downlink_zeta",
            )
            .into());
        }
        let zeta = p.zeta.unwrap_or(1.0);
        let specs = p.ladder.as_deref().ok_or_else(|| {
            s::MethodConfigError::at(
                "ladder",
                "adacgd needs a ladder, cheapest first, e.g. ladder = [\"top_k:k=1\", \"top_k:k=4\", \"top_k:k=16\"]",
            )
        })?;
        let up = adacgd_ladder::<S>(specs, zeta, "ladder", "zeta", ctx.dim)?;
        match p.downlink_ladder.as_deref() {
            None => s::three_pc(Box::new(up), p.stepsize, p.count_init, sink),
            Some(down) => {
                let dz = p.downlink_zeta.unwrap_or(zeta);
                let down =
                    adacgd_ladder::<S>(down, dz, "downlink_ladder", "downlink_zeta", ctx.dim)?;
                let m = crate::star::three_pc::bc::ThreePcBc::new(
                    Box::new(up),
                    Box::new(down),
                    p.stepsize,
                    p.count_init,
                )
                .map_err(s::method_err)?;
                sink.star(m)
            }
        }
    }
}

/// AdaCGD over the ladder `specs` (key `method.<key>`) with threshold ζ (key
/// `method.<zeta_key>`), checked at dimension d.
fn adacgd_ladder<S: squeeze_core::Scalar>(
    specs: &[squeeze_compress::CompressorSpec],
    zeta: f64,
    key: &str,
    zeta_key: &str,
    d: usize,
) -> Result<AdaCgd<S>, crate::spec::MethodConfigError> {
    use crate::spec::MethodConfigError as E;
    let mut ladder = Vec::with_capacity(specs.len());
    for s in specs {
        ladder.push(s.build::<S>().map_err(|e| E::at(key, e.to_string()))?);
    }
    let mech = AdaCgd::new(ladder, zeta).map_err(|e| {
        let k = if e.param == "zeta" { zeta_key } else { key };
        E::at(k, e.to_string())
    })?;
    mech.check_dim(d).map_err(|e| E::at(key, e.to_string()))?;
    Ok(mech)
}
