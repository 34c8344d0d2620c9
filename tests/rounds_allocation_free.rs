//! Steady-state engine rounds allocate nothing: after a warm-up (message and scratch buffers
//! reach their final size), a round of EF21 (and its variants, and its fused gradient + Top-K pass on the 3PC quadratic), EF14 and GD on the star engine performs zero heap
//! allocations with 1 thread (everything on the calling thread; checked strictly). The same
//! holds for every 3PC mechanism, EControl, Clip-GD, Clip21 (GD, Press, DP), Clip21-Avg,
//! MARINA (Rand-K and Perm-K), bidirectional AdaCGD, minibatch and compressed SGD, Local SGD,
//! Newton-3PC, FedNL (and FedNL-PP/BC) and BL1, DGC, PowerSGD (two phases per round), Adam and 1-bit Adam, and the gossip
//! methods.
//!
//! With 2 threads the workers run on a rayon pool, and rayon's scheduling itself allocates now
//! and then (handing a job to the pool from outside goes through a queue that allocates a new
//! block every 63 jobs; we measured 0–4 allocations per 20 rounds). The 2-thread check is
//! therefore "fewer than one allocation per four rounds", which still fails for anything our
//! code would allocate per round or per worker.
//!
//! The counting allocator is global (pool threads allocate on their own threads), so
//! everything runs inside one `#[test]` to keep the test harness's other threads quiet while
//! counting.

use std::sync::Arc;

use squeeze::compress::parse;
use squeeze::core::alloc_count::{CountingAllocator, total_allocations as allocations};
use squeeze::driver::{Engine, GossipEngine, StarEngine};
use squeeze::methods::star::newton::bc::Newton3pcBc;
use squeeze::methods::star::newton::bl1::Bl1;
use squeeze::methods::star::newton::pp::Newton3pcPp;
use squeeze::methods::star::newton::{HessianOrder, Newton3pc, RegularizationRule};
use squeeze::methods::{
    Adam, AdamBetas, Batch, Beer, Choco, Clip21, Clip21Avg, Clip21Variant, ClipGd, Dgc, DgcOptions,
    Dsgd, Econtrol, Ef14, Ef21, Ef21Bc, Ef21Hb, Ef21Page, Ef21Plus, Ef21Pp, Ef21Sgd, Gd,
    GossipMethod, GradInit, GradSource, LocalSgd, Marina, Motef, MotefParams, Neighbourhood,
    PowerSgd, PowerSgdShape, ServerMethod, Sgd, SignSgd, Stepsize, ThreePc, ThreePcBc, ThreePoint,
    three_point as tp,
};
use squeeze::problems::problem::{InitPoint, Problem};
use squeeze::problems::{Regularizer, Remainder, Split, embedded, quadratic};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const WARMUP: usize = 30;
const COUNTED: usize = 40;

/// Allocations during `COUNTED` rounds after `WARMUP` rounds. The engine is pushed to `keep`
/// rather than dropped: a dropped engine's pool threads exit in the background, and thread
/// teardown may allocate while the next engine is being counted.
fn steady_state<M: ServerMethod<f64> + 'static>(
    method: M,
    problem: &Arc<Problem<f64>>,
    threads: usize,
    keep: &mut Vec<Box<dyn Engine>>,
) -> u64 {
    let x0 = problem
        .initial_point(&InitPoint::Gaussian { seed: 0, std: 1.0 })
        .unwrap();
    let mut e = StarEngine::new(method, problem.clone(), &x0, 5, threads).unwrap();
    let n = counted_rounds(&mut e);
    assert_eq!(e.totals().rounds, (WARMUP + COUNTED) as u64);
    keep.push(Box::new(e));
    n
}

/// Allocations during `COUNTED` rounds of `e` after `WARMUP` rounds.
fn counted_rounds(e: &mut dyn Engine) -> u64 {
    for _ in 0..WARMUP {
        e.round().unwrap();
    }
    let before = allocations();
    for _ in 0..COUNTED {
        e.round().unwrap();
    }
    allocations() - before
}

fn ef21(spec: &str) -> Ef21<f64> {
    Ef21::new(
        parse(spec).unwrap(),
        Stepsize::Theory { multiplier: 1.0 },
        GradInit::Full,
        false,
    )
    .unwrap()
}

/// A failure line for every (name, count) whose count of allocations is not zero.
fn note_allocations<'a>(
    failures: &mut Vec<String>,
    counts: impl IntoIterator<Item = (&'a str, u64)>,
) {
    for (name, n) in counts {
        if n > 0 {
            failures.push(format!("{name}: {n} allocations in {COUNTED} rounds"));
        }
    }
}

#[test]
fn steady_state_rounds_allocate_nothing() {
    // The counter works (and sees other threads' allocations).
    let before = allocations();
    let v = std::thread::spawn(|| std::hint::black_box(vec![1u8; 10]).len())
        .join()
        .unwrap();
    assert_eq!(v, 10);
    assert!(allocations() > before);

    let data = embedded::synthetic_binary::<f64>(4_000, 7);
    let logreg = Arc::new(Problem::logreg_ef21(&data, 20).unwrap());
    let dense = Arc::new(
        quadratic::motef::<f64>(20_000, 4, 1.0, 0.0, 3)
            .unwrap()
            .problem,
    );
    // EF21 + Top-K on the 3PC quadratic takes the fused gradient + Top-K pass from its second
    // round on (its kernel appends candidates into the message buffers).
    let tridiag = Arc::new(quadratic::three_pc::<f64>(20_000, 4, 0.1, 3).unwrap());
    let mut failures = Vec::new();
    let mut keep = Vec::new();
    for threads in [1, 2] {
        let cases: [(&str, u64); 7] = [
            (
                "ef21 top_k:ratio=0.01 3pc quadratic (fused)",
                steady_state(ef21("top_k:ratio=0.01"), &tridiag, threads, &mut keep),
            ),
            (
                "ef21 top_k:k=1 logreg",
                steady_state(ef21("top_k:k=1"), &logreg, threads, &mut keep),
            ),
            (
                "ef21 top_k:ratio=0.01 dense",
                steady_state(ef21("top_k:ratio=0.01"), &dense, threads, &mut keep),
            ),
            (
                "ef21 scaled(rand_k:k=5) logreg",
                steady_state(ef21("scaled(rand_k:k=5)"), &logreg, threads, &mut keep),
            ),
            (
                "ef14 top_k:k=1 logreg",
                steady_state(
                    Ef14::new(parse("top_k:k=1").unwrap(), Stepsize::default()).unwrap(),
                    &logreg,
                    threads,
                    &mut keep,
                ),
            ),
            (
                "gd dense",
                steady_state(
                    Gd::new(Stepsize::default()).unwrap(),
                    &dense,
                    threads,
                    &mut keep,
                ),
            ),
            (
                "gd logreg",
                steady_state(
                    Gd::new(Stepsize::default()).unwrap(),
                    &logreg,
                    threads,
                    &mut keep,
                ),
            ),
        ];
        for (name, n) in cases {
            let allowed = if threads == 1 {
                0
            } else {
                COUNTED as u64 / 4 - 1
            };
            if n > allowed {
                failures.push(format!(
                    "{name}, {threads} threads: {n} allocations in {COUNTED} rounds"
                ));
            }
        }
    }
    // The EF21 variants, one thread: PP parks the message buffers of silent rounds, EF21+ the
    // candidate not sent, BC's server reuses its downlink scratch.
    let top1 = || parse("top_k:k=1").unwrap();
    let th = Stepsize::default();
    let variants: [(&str, u64); 6] = [
        (
            "ef21_plus top_k:k=1 logreg",
            steady_state(
                Ef21Plus::new(top1(), th, false).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "ef21_sgd top_k:k=1 logreg",
            steady_state(
                Ef21Sgd::new(top1(), th, Batch::Fraction(0.1), false).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "ef21_page top_k:k=1 logreg",
            steady_state(
                Ef21Page::new(top1(), th, Batch::Count(5), Some(0.3), false).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "ef21_pp scaled(rand_k:k=5) logreg",
            steady_state(
                Ef21Pp::new(ef21("scaled(rand_k:k=5)"), 0.5).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "ef21_bc top_k:k=1 / top_k:k=3 logreg",
            steady_state(
                Ef21Bc::new(top1(), parse("top_k:k=3").unwrap(), th, false).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "ef21_hb top_k:k=1 logreg",
            steady_state(
                Ef21Hb::new(top1(), th, GradInit::Full, false, 0.9).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
    ];
    note_allocations(&mut failures, variants);
    // 3PC-GD, one thread: every mechanism, including the lazy ones that alternate between
    // `Skip` and a payload (buffers parked per worker) and 3PCv5's dense/compressed rounds.
    let three_pc = |mech: Box<dyn ThreePoint<f64>>| {
        ThreePc::new(mech, Stepsize::Theory { multiplier: 1.0 }, false).unwrap()
    };
    let c = |s: &str| parse::<f64>(s).unwrap();
    let mechs: Vec<(&str, Box<dyn ThreePoint<f64>>)> = vec![
        (
            "3pc ef21 top_k:k=1",
            Box::new(tp::Ef21Mech::new(c("top_k:k=1"))),
        ),
        ("3pc lag ζ=1", Box::new(tp::Lag::new(1.0).unwrap())),
        (
            "3pc clag top_k:k=2 ζ=1",
            Box::new(tp::Clag::new(c("top_k:k=2"), 1.0).unwrap()),
        ),
        ("3pc v1 top_k:k=1", Box::new(tp::V1::new(c("top_k:k=1")))),
        (
            "3pc v2 top_k:k=1 + rand_k:k=2",
            Box::new(tp::V2::new(c("top_k:k=1"), c("rand_k:k=2")).unwrap()),
        ),
        (
            "3pc v4 top_k:k=1 + top_k:k=2",
            Box::new(tp::V4::new(c("top_k:k=1"), c("top_k:k=2"))),
        ),
        (
            "3pc v5 top_k:k=1 p=0.3",
            Box::new(tp::V5::new(c("top_k:k=1"), 0.3).unwrap()),
        ),
        ("3pc bag p=0.5", Box::new(tp::Bag::new(0.5).unwrap())),
        (
            "3pc adacgd top_k 1/2/4 ζ=1",
            Box::new(
                tp::AdaCgd::new(vec![c("top_k:k=1"), c("top_k:k=2"), c("top_k:k=4")], 1.0).unwrap(),
            ),
        ),
        (
            "3pc adacgd top_k 1/4 + identity ζ=1 (mixed message kinds)",
            Box::new(
                tp::AdaCgd::new(vec![c("top_k:k=1"), c("top_k:k=4"), c("identity")], 1.0).unwrap(),
            ),
        ),
    ];
    let counts = mechs
        .into_iter()
        .map(|(name, mech)| (name, steady_state(three_pc(mech), &logreg, 1, &mut keep)));
    note_allocations(&mut failures, counts);
    // Newton-3PC and FedNL, one thread, on L2 logistic regression (d = 30, D = 465): the
    // Hessian, its packed triangle, the mechanism's buffers and the server's linear algebra
    // are sized once; lazy mechanisms alternate between a skipped and a sent Hessian part.
    let l2 = Arc::new(
        Problem::logreg(
            &embedded::default_dataset::<f64>(),
            4,
            Split::Contiguous,
            Remainder::ToLast,
            Regularizer::L2 { lambda: 0.1 },
        )
        .unwrap(),
    );
    let newton = |name, mech: Box<dyn ThreePoint<f64>>, rule, order| {
        Newton3pc::new(name, mech, rule, None, order, false).unwrap()
    };
    let (project, shift) = (RegularizationRule::Project, RegularizationRule::Shift);
    let (fresh, stale) = (HessianOrder::Fresh, HessianOrder::Stale);
    let second_order: Vec<(&str, Newton3pc<f64>)> = vec![
        (
            "fednl top_k:k=30 project",
            newton(
                "fednl",
                Box::new(tp::Ef21Mech::new(c("top_k:k=30"))),
                project,
                stale,
            ),
        ),
        (
            "fednl rand_k:k=30 shift",
            newton(
                "fednl",
                Box::new(tp::Ef21Mech::new(c("rand_k:k=30,scaled=false"))),
                shift,
                stale,
            ),
        ),
        (
            "newton_3pc clag top_k:k=30 ζ=1",
            newton(
                "newton_3pc",
                Box::new(tp::Clag::new(c("top_k:k=30"), 1.0).unwrap()),
                project,
                fresh,
            ),
        ),
        (
            "newton_3pc bag p=0.5 shift",
            newton(
                "newton_3pc",
                Box::new(tp::Bag::new(0.5).unwrap()),
                shift,
                fresh,
            ),
        ),
    ];
    let counts = second_order
        .into_iter()
        .map(|(name, m)| (name, steady_state(m, &l2, 1, &mut keep)));
    note_allocations(&mut failures, counts);
    // FedNL-PP with half the workers silent each round (they park their message buffers), and
    // FedNL-BC with a compressed downlink and gradients in about half the rounds (the head
    // alternates between the dense gradient and the sparse l_i, or Skip with the projection).
    let ef21_top30 =
        || -> Box<dyn ThreePoint<f64>> { Box::new(tp::Ef21Mech::new(c("top_k:k=30"))) };
    let variants: [(&str, u64); 3] = [
        (
            "fednl_pp top_k:k=30 participation=0.5",
            steady_state(
                Newton3pcPp::new(newton("fednl_pp", ef21_top30(), shift, fresh), 0.5).unwrap(),
                &l2,
                1,
                &mut keep,
            ),
        ),
        (
            "fednl_bc top_k:k=30 shift down=rand_k:k=5 p=0.5",
            steady_state(
                Newton3pcBc::new(
                    newton("fednl_bc", ef21_top30(), shift, stale),
                    c("rand_k:k=5,scaled=false"),
                    0.5,
                )
                .unwrap(),
                &l2,
                1,
                &mut keep,
            ),
        ),
        (
            "fednl_bc top_k:k=30 project down=power_rounding p=0.5",
            steady_state(
                Newton3pcBc::new(
                    newton("fednl_bc", ef21_top30(), project, stale),
                    c("power_rounding:base=2"),
                    0.5,
                )
                .unwrap(),
                &l2,
                1,
                &mut keep,
            ),
        ),
    ];
    note_allocations(&mut failures, variants);
    // BL1 on the same problem: the coefficient vectors (M = 143), the mechanism's buffers, the
    // server's Gram matrix and solver are sized once; CLAG alternates skipped and sent parts.
    let bl1 = |mech: Box<dyn ThreePoint<f64>>, rule| Bl1::new(mech, rule, None, false).unwrap();
    let basis_learn: Vec<(&str, Bl1<f64>)> = vec![
        (
            "bl1 top_k:k=30 project",
            bl1(Box::new(tp::Ef21Mech::new(c("top_k:k=30"))), project),
        ),
        (
            "bl1 clag rand_k:k=30 shift",
            bl1(
                Box::new(tp::Clag::new(c("rand_k:k=30,scaled=false"), 1.0).unwrap()),
                shift,
            ),
        ),
    ];
    let counts = basis_learn
        .into_iter()
        .map(|(name, m)| (name, steady_state(m, &l2, 1, &mut keep)));
    note_allocations(&mut failures, counts);
    // EControl, the clipping methods, MARINA and the textbook SGD baselines, one thread.
    // MARINA's coin rounds switch the uplink between a dense and a sparse message; the worker
    // keeps both buffers, so coin rounds allocate nothing either (p = 0.3 gives ~12 coin rounds
    // among the 40 counted).
    let mb = GradSource::Minibatch { batch: 10 };
    let psgd = |warm: bool| {
        let d = logreg.dim();
        let rows = (d as f64).sqrt().ceil() as usize;
        PowerSgd::new(d, 2, PowerSgdShape::Rows(rows), warm, th).unwrap()
    };
    let sign_gamma = Stepsize::Constant { gamma: 1e-3 };
    let lr = Stepsize::Constant { gamma: 1e-3 };
    let others: [(&str, u64); 18] = [
        (
            "econtrol top_k:k=1 η=0.1 logreg",
            steady_state(
                Econtrol::new(
                    top1(),
                    th,
                    Some(0.1),
                    GradInit::Full,
                    false,
                    GradSource::Full,
                )
                .unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "econtrol top_k:k=1 minibatch logreg",
            steady_state(
                Econtrol::new(top1(), th, None, GradInit::Zero, false, mb).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "clip_gd τ=0.1 logreg",
            steady_state(ClipGd::new(0.1, th).unwrap(), &logreg, 1, &mut keep),
        ),
        (
            "clip21_gd τ=0.01 logreg",
            steady_state(
                Clip21::new(0.01, Clip21Variant::Plain, th).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "press_clip21 top_k:k=2 τ=0.01 logreg",
            steady_state(
                Clip21::new(0.01, Clip21Variant::Press(c("top_k:k=2")), th).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "dp_clip21 σ=0.01 τ=0.01 logreg",
            steady_state(
                Clip21::new(0.01, Clip21Variant::Dp { sigma: 0.01 }, th).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "marina rand_k:k=5 p=0.3 logreg",
            steady_state(
                Marina::new(c("rand_k:k=5"), th, Some(0.3), false).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "marina perm_k:n=20 p=0.3 logreg",
            steady_state(
                Marina::new(c("perm_k:n=20"), th, Some(0.3), false).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "sgd minibatch 10 logreg",
            steady_state(Sgd::new(th, mb).unwrap(), &logreg, 1, &mut keep),
        ),
        (
            "compressed_sgd top_k:k=1 logreg",
            steady_state(
                Sgd::compressed(top1(), th, GradSource::Full).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "bidirectional adacgd top_k 1/4 ↑, top_k 2/identity ↓ logreg",
            steady_state(
                ThreePcBc::new(
                    Box::new(tp::AdaCgd::new(vec![c("top_k:k=1"), c("top_k:k=4")], 1.0).unwrap()),
                    Box::new(tp::AdaCgd::new(vec![c("top_k:k=2"), c("identity")], 1.0).unwrap()),
                    th,
                    false,
                )
                .unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "local_sgd K=4 minibatch 10 logreg",
            steady_state(LocalSgd::new(th, 4, mb).unwrap(), &logreg, 1, &mut keep),
        ),
        (
            "ef_signsgd (ef14 scaled_sign) logreg",
            steady_state(
                Ef14::new(c("scaled_sign"), th).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "onebit_sgd (ef14 one_bit:block=64) logreg",
            steady_state(
                Ef14::new(c("one_bit:block=64"), th).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "signsgd_mv minibatch 10 logreg",
            steady_state(
                SignSgd::new(0.0, sign_gamma, mb).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "signum β=0.9 logreg",
            steady_state(
                SignSgd::new(0.9, sign_gamma, GradSource::Full).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            "powersgd rank 2 warm start logreg",
            steady_state(psgd(true), &logreg, 1, &mut keep),
        ),
        (
            "powersgd rank 2 fresh Q logreg",
            steady_state(psgd(false), &logreg, 1, &mut keep),
        ),
    ];
    note_allocations(&mut failures, others);
    // Adam, and 1-bit Adam past its 10-round warm-up (the counted rounds compress).
    let adam: [(&str, u64); 2] = [
        (
            "adam minibatch 10 logreg",
            steady_state(
                Adam::new(lr, AdamBetas::default(), mb).unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
        (
            // Warm-up of 10 rounds: the counted rounds are the compression stage.
            "onebit_adam scaled_sign logreg",
            steady_state(
                Adam::onebit(
                    c("scaled_sign"),
                    10,
                    lr,
                    AdamBetas::default(),
                    GradSource::Full,
                )
                .unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
    ];
    note_allocations(&mut failures, adam);
    // DGC: the sampled threshold with warm-up and clipping (d = 20,000), and the exact one.
    let dgc: [(&str, u64); 2] = [
        (
            "dgc 99 % sampled threshold, warm-up, clipping, dense",
            steady_state(
                Dgc::new(
                    DgcOptions {
                        sparsity: 0.99,
                        warmup_stage_rounds: 8,
                        clip_norm: Some(1.0),
                        ..DgcOptions::default()
                    },
                    th,
                    GradSource::Full,
                )
                .unwrap(),
                &dense,
                1,
                &mut keep,
            ),
        ),
        (
            "dgc 90 % exact threshold minibatch 10 logreg",
            steady_state(
                Dgc::new(
                    DgcOptions {
                        sparsity: 0.9,
                        ..DgcOptions::default()
                    },
                    th,
                    mb,
                )
                .unwrap(),
                &logreg,
                1,
                &mut keep,
            ),
        ),
    ];
    note_allocations(&mut failures, dgc);
    // Clip21-Avg (not an engine method: its own round loop over n = 20 vectors of d = 300).
    let a: Vec<Vec<f64>> = (0..20)
        .map(|i| (0..300).map(|j| ((i * 7 + j) % 13) as f64 - 6.0).collect())
        .collect();
    let mut avg = Clip21Avg::<f64>::new(1.0, 20, 300).unwrap();
    for _ in 0..WARMUP {
        avg.round(&a).unwrap();
    }
    let before = allocations();
    let mut active = 0;
    for _ in 0..COUNTED {
        active += avg.round(&a).unwrap();
    }
    let n = allocations() - before;
    // Still clipping while counted (‖a_i‖ ≈ 65, τ = 1): the steady state of the clipped phase.
    assert!(active > 0);
    if n > 0 {
        failures.push(format!("clip21_avg: {n} allocations in {COUNTED} rounds"));
    }
    // Gossip engine, one thread (rayon's own scheduling is covered above): every method.
    let motef_problem = Arc::new(
        quadratic::motef::<f64>(2_000, 8, 1.0, 1.0, 3)
            .unwrap()
            .problem,
    );
    let noisy = GradSource::Noisy { sigma: 1.0 };
    let gossip: [(&str, u64); 4] = [
        (
            "motef top_k:k=20 ring",
            gossip_steady_state(
                Motef::new(
                    parse("top_k:k=20").unwrap(),
                    MotefParams {
                        gamma: 0.2,
                        eta: 1e-3,
                        lambda: 0.1,
                    },
                    noisy,
                )
                .unwrap(),
                &motef_problem,
                &mut keep,
            ),
        ),
        (
            "beer qsgd:s=16 ring",
            gossip_steady_state(
                Beer::new(parse("qsgd:s=16").unwrap(), 0.2, 1e-3, noisy).unwrap(),
                &motef_problem,
                &mut keep,
            ),
        ),
        (
            "choco top_k:ratio=0.01 ring",
            gossip_steady_state(
                Choco::new(parse("top_k:ratio=0.01").unwrap(), 0.2, 1e-3, noisy).unwrap(),
                &motef_problem,
                &mut keep,
            ),
        ),
        (
            "dsgd ring",
            gossip_steady_state(
                Dsgd::new(1e-3, noisy, false).unwrap(),
                &motef_problem,
                &mut keep,
            ),
        ),
    ];
    note_allocations(&mut failures, gossip);
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Allocations of a one-thread gossip engine on a ring during `COUNTED` rounds after warm-up.
fn gossip_steady_state<M: GossipMethod<f64> + 'static>(
    method: M,
    problem: &Arc<Problem<f64>>,
    keep: &mut Vec<Box<dyn Engine>>,
) -> u64 {
    let n = problem.n_workers();
    let rows = (0..n)
        .map(|i| {
            let mut nb = vec![((i + n - 1) % n, 1.0 / 3.0), ((i + 1) % n, 1.0 / 3.0)];
            nb.sort_by_key(|p| p.0);
            Neighbourhood {
                self_weight: 1.0 / 3.0,
                neighbours: nb,
            }
        })
        .collect();
    let x0 = problem.initial_point(&InitPoint::ProblemDefault).unwrap();
    let mut e = GossipEngine::new(method, problem.clone(), rows, "ring", &x0, 5, 1).unwrap();
    let count = counted_rounds(&mut e);
    keep.push(Box::new(e));
    count
}
