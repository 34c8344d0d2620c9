//! Compressor schedules: a different compressor from given rounds on (an uncompressed warm-up,
//! a coarser compressor later), switched on [`CompressCtx::round`].

use squeeze_core::message::MAX_DEPTH;
use squeeze_core::{Class, CompressCtx, CompressError, Compressor, Message, ParamError, Scalar};

use crate::Identity;

/// $\mathcal{C}\_t = \mathcal{C}^{(j)}$ for $r\_j \le t < r\_{j+1}$: stage $j$'s compressor from
/// round $r\_j$ on ($r\_0 = 0 < r\_1 < \dots$), chosen by the round in the context
/// ([`CompressCtx::round`]). A stage's message is exactly the message of its compressor (same
/// wire format, same bits, same draws from the stream), so a schedule adds no bits and no
/// state: a resumed run is in the same stage at the same round.
///
/// **Warm-up** ([`Schedule::warmup`]): the identity for the first $K$ rounds, then
/// $\mathcal{C}$ — PyTorch's recommendation (and 1-bit Adam's and DGC's practice) to start
/// compressing after the first iterations. With error feedback the warm-up rounds are exact
/// gradient steps (EF21 with the identity is GD).
///
/// Class: the weakest guarantee over the stages at dimension $d$ — contractive with
/// $\alpha = \min\_j \alpha\_j$ if every stage is contractive, unbiased with
/// $\omega = \max\_j \omega\_j$ if every stage is unbiased, both if both hold, else none. (The
/// identity is both, $\alpha = 1$, $\omega = 0$.) Theory stepsizes are therefore those of the
/// weakest stage, valid in every round.
///
/// ```
/// use squeeze_compress::{Schedule, parse};
/// use squeeze_core::{CompressCtx, Compressor, Scratch, SqueezeRng};
/// let warm = Schedule::<f32>::warmup(10, parse("top_k:k=1").unwrap()).unwrap();
/// let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
/// let x = [3.0, -1.0, 0.5];
/// let early = warm.compress(&x, &mut CompressCtx::new(&mut rng, &mut scratch).with_round(9)).unwrap();
/// assert_eq!(early.to_dense().unwrap(), x.to_vec()); // dense: round 9 < 10
/// let late = warm.compress(&x, &mut CompressCtx::new(&mut rng, &mut scratch).with_round(10)).unwrap();
/// assert_eq!(late.to_dense().unwrap(), vec![3.0, 0.0, 0.0]); // Top-1 from round 10 on
/// assert_eq!(warm.class(3).alpha(), Some(1.0 / 3.0)); // the weaker stage's α
/// ```
#[derive(Debug)]
pub struct Schedule<S: Scalar> {
    /// `(first round, compressor)`, the first at round 0, strictly increasing.
    stages: Vec<(u64, Box<dyn Compressor<S>>)>,
}

impl<S: Scalar> Schedule<S> {
    /// `first` from round 0, then each `(round, compressor)` of `later` from its round on.
    /// The rounds must be > 0 and strictly increasing.
    pub fn new(
        first: Box<dyn Compressor<S>>,
        later: Vec<(u64, Box<dyn Compressor<S>>)>,
    ) -> Result<Self, ParamError> {
        let mut prev = 0;
        for (r, c) in &later {
            if *r <= prev {
                return Err(ParamError::new(
                    "schedule",
                    "from",
                    *r as f64,
                    "stage rounds must be > 0 and strictly increasing (the first compressor \
                     runs from round 0)",
                ));
            }
            prev = *r;
            if c.nesting() > MAX_DEPTH {
                return Err(ParamError::new(
                    "schedule",
                    "compressor",
                    f64::from(c.nesting()),
                    "a stage's compressor nests deeper than the wire format allows",
                ));
            }
        }
        let mut stages = Vec::with_capacity(later.len() + 1);
        stages.push((0, first));
        stages.extend(later);
        Ok(Self { stages })
    }

    /// The identity for rounds `0..rounds`, then `c` (just `c`'s behaviour for `rounds = 0`).
    pub fn warmup(rounds: u64, c: Box<dyn Compressor<S>>) -> Result<Self, ParamError> {
        if rounds == 0 {
            return Self::new(c, Vec::new());
        }
        Self::new(Box::new(Identity), vec![(rounds, c)])
    }

    /// The compressor of round `round`.
    pub fn at(&self, round: u64) -> &dyn Compressor<S> {
        let j = self.stages.partition_point(|(r, _)| *r <= round);
        self.stages[j.saturating_sub(1)].1.as_ref()
    }

    /// The stages: `(first round, compressor)`.
    pub fn stages(&self) -> impl Iterator<Item = (u64, &dyn Compressor<S>)> {
        self.stages.iter().map(|(r, c)| (*r, c.as_ref()))
    }
}

/// The weakest of two guarantees (see [`Schedule`]).
fn weakest(a: Class, b: Class) -> Class {
    let alpha = a.alpha().zip(b.alpha()).map(|(x, y)| x.min(y));
    let omega = a.omega().zip(b.omega()).map(|(x, y)| x.max(y));
    match (alpha, omega) {
        (Some(alpha), Some(omega)) => Class::Both { alpha, omega },
        (Some(alpha), None) => Class::Contractive { alpha },
        (None, Some(omega)) => Class::Unbiased { omega },
        (None, None) => Class::Neither,
    }
}

impl<S: Scalar> Compressor<S> for Schedule<S> {
    /// `schedule(C₀; from r₁: C₁; …)`, e.g. `schedule(identity; from 100: top_k:k=1)`.
    fn spec(&self) -> String {
        let stages: Vec<String> = self
            .stages
            .iter()
            .map(|(r, c)| {
                if *r == 0 {
                    c.spec()
                } else {
                    format!("from {r}: {}", c.spec())
                }
            })
            .collect();
        format!("schedule({})", stages.join("; "))
    }

    fn class(&self, dim: usize) -> Class {
        let mut it = self.stages.iter().map(|(_, c)| c.class(dim));
        let first = it.next().unwrap_or(Class::Neither);
        it.fold(first, weakest)
    }

    fn is_deterministic(&self) -> bool {
        self.stages.iter().all(|(_, c)| c.is_deterministic())
    }

    fn check_dim(&self, dim: usize) -> Result<(), CompressError> {
        self.stages.iter().try_for_each(|(_, c)| c.check_dim(dim))
    }

    fn compress_into(
        &self,
        x: &[S],
        ctx: &mut CompressCtx<'_>,
        out: &mut Message<S>,
    ) -> Result<(), CompressError> {
        self.at(ctx.round).compress_into(x, ctx, out)
    }

    fn nesting(&self) -> u32 {
        self.stages
            .iter()
            .map(|(_, c)| c.nesting())
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use proptest::prelude::*;
    use squeeze_core::{Scratch, SqueezeRng};

    fn sched(spec: &[(u64, &str)]) -> Schedule<f64> {
        let first = parse::<f64>(spec[0].1).unwrap();
        let later = spec[1..]
            .iter()
            .map(|(r, s)| (*r, parse::<f64>(s).unwrap()))
            .collect();
        Schedule::new(first, later).unwrap()
    }

    proptest! {
        /// A stage's message is its compressor's message, bit for bit, with the same draws.
        #[test]
        fn each_round_sends_exactly_its_stages_message(
            x in prop::collection::vec(-10.0f64..10.0, 1..40),
            round in 0u64..60,
            seed in any::<u64>(),
        ) {
            let specs = [(0, "rand_k:k=1"), (10, "qsgd:s=4"), (30, "top_k:k=1")];
            let s = sched(&specs);
            let stage = specs.iter().rev().find(|(r, _)| *r <= round).unwrap().1;
            let alone = parse::<f64>(stage).unwrap();
            let (mut r1, mut r2) = (SqueezeRng::from_seed_u64(seed), SqueezeRng::from_seed_u64(seed));
            let (mut s1, mut s2) = (Scratch::default(), Scratch::default());
            let a = s.compress(&x, &mut CompressCtx::new(&mut r1, &mut s1).with_round(round)).unwrap();
            let b = alone.compress(&x, &mut CompressCtx::new(&mut r2, &mut s2).with_round(round)).unwrap();
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(a.to_bytes(), b.to_bytes());
            prop_assert_eq!(a.bits(), b.bits());
            prop_assert_eq!(r1, r2, "the same draws from the stream");
        }
    }

    #[test]
    fn the_class_is_the_weakest_stage() {
        let d = 10;
        let c = sched(&[(0, "identity"), (5, "top_k:k=2")]).class(d);
        assert_eq!(c, Class::Contractive { alpha: 0.2 });
        let c = sched(&[(0, "identity"), (5, "qsgd:s=4")]).class(d);
        let w = parse::<f64>("qsgd:s=4").unwrap().class(d).omega().unwrap();
        assert_eq!(c, Class::Unbiased { omega: w });
        let c = sched(&[(0, "top_k:k=2"), (5, "rand_k:k=2")]).class(d);
        assert_eq!(c, Class::Neither);
        let c = sched(&[(0, "identity"), (5, "identity")]).class(d);
        assert_eq!(
            c,
            Class::Both {
                alpha: 1.0,
                omega: 0.0
            }
        );
    }

    #[test]
    fn stages_switch_at_their_rounds_and_bad_rounds_are_refused() {
        let s = sched(&[(0, "identity"), (3, "top_k:k=1"), (7, "scaled_sign")]);
        let names: Vec<String> = [0, 2, 3, 6, 7, 1000].map(|r| s.at(r).spec()).into();
        assert_eq!(
            names,
            [
                "identity",
                "identity",
                "top_k:k=1",
                "top_k:k=1",
                "scaled_sign",
                "scaled_sign"
            ]
        );
        assert_eq!(
            s.spec(),
            "schedule(identity; from 3: top_k:k=1; from 7: scaled_sign)"
        );
        assert!(s.is_deterministic());
        for later in [vec![0u64], vec![5, 5], vec![7, 3]] {
            let later = later
                .into_iter()
                .map(|r| (r, parse::<f64>("top_k:k=1").unwrap()))
                .collect();
            let e = Schedule::new(parse::<f64>("identity").unwrap(), later).unwrap_err();
            assert!(e.to_string().contains("strictly increasing"), "{e}");
        }
        let w = Schedule::<f64>::warmup(0, parse::<f64>("top_k:k=1").unwrap()).unwrap();
        assert_eq!(w.spec(), "schedule(top_k:k=1)");
    }

    #[test]
    fn a_stage_too_large_for_the_dimension_is_refused_before_any_round() {
        let s = sched(&[(0, "identity"), (3, "top_k:k=5")]);
        assert!(s.check_dim(4).is_err());
        assert!(s.check_dim(5).is_ok());
    }

    #[test]
    fn non_finite_input_is_an_error_in_every_stage() {
        let s = sched(&[(0, "identity"), (3, "top_k:k=1")]);
        let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
        for round in [0, 5] {
            let mut ctx = CompressCtx::new(&mut rng, &mut scratch).with_round(round);
            assert!(
                s.compress(&[1.0, f64::NAN], &mut ctx).is_err(),
                "round {round}"
            );
        }
    }
}
