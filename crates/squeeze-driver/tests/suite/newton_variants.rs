//! FedNL-PP / Newton-3PC-PP and FedNL-BC / Newton-3PC-BC: their reductions to the full
//! methods (PP with everybody participating is Newton-3PC bit for bit; BC with an identity
//! downlink and gradients every round is FedNL to rounding), exact bit and work accounting,
//! convergence on a small logistic problem, and the refusals.

use crate::common::*;

/// L2 logistic regression (λ = 0.1) on the embedded data (569 × 30), 4 workers, x⁰ ~ N(0, I).
fn l2_logreg(method: &str, rounds: u64, params: &str) -> String {
    embedded_config(
        5,
        "logreg",
        4,
        &l2(0.1),
        &named_method(method, params),
        rounds,
    )
}

/// Per-round increments of a cumulative record column.
fn increments(
    rec: &[squeeze_driver::records::RoundRecord],
    f: impl Fn(&squeeze_driver::records::RoundRecord) -> f64,
) -> Vec<f64> {
    rec.windows(2).map(|w| f(&w[1]) - f(&w[0])).collect()
}

/// τ = n: every worker participates every round, and FedNL-PP is Newton-3PC (EF21 mechanism,
/// fresh order) record for record, bit for bit, with both regularisations and a lazy mechanism.
#[test]
fn pp_with_everybody_is_newton_3pc_bit_for_bit() {
    for params in [
        "compressor = \"top_k:k=30\"\nregularization = \"shift\"",
        "compressor = \"top_k:k=30\"\nregularization = \"project\"",
        "compressor = \"top_k:k=30\"\nmechanism = \"clag\"\nzeta = 2.0\nregularization = \"shift\"",
    ] {
        let (_, full) = run(&cfg(&l2_logreg("newton_3pc", 30, params)), None);
        let pp = format!("{params}\nparticipation = 1.0");
        let (_, part) = run(&cfg(&l2_logreg("fednl_pp", 30, &pp)), None);
        assert_same_records(&full, &part, params);
        let ratio = full[30].grad_norm_sq / full[0].grad_norm_sq;
        assert!(ratio < 1e-12, "{params}: ‖∇f‖² only fell by {ratio:.3e}");
    }
}

/// τ = 2 of 4: exactly half the uplink bits and two workers' gradient/Hessian work of every round
/// of the full method (Top-K messages have a fixed size), and the method still converges
/// superlinearly from the stale workers' Taylor models.
#[test]
fn pp_charges_only_participants_and_converges() {
    let params = "compressor = \"top_k:k=30\"";
    let (_, full) = run(
        &cfg(&l2_logreg(
            "newton_3pc",
            60,
            &format!("{params}\nregularization = \"shift\""),
        )),
        None,
    );
    let (_, pp) = run(
        &cfg(&l2_logreg(
            "fednl_pp",
            60,
            &format!("{params}\nparticipation = 0.5"),
        )),
        None,
    );
    let per_round = full[1].bits_up_per_worker - full[0].bits_up_per_worker;
    for d in increments(&pp, |r| r.bits_up_per_worker) {
        assert_eq!(d, per_round / 2.0);
    }
    // Two of the four workers (142, 142, 142 and 143 samples), each a gradient and a Hessian.
    for w in increments(&pp, |r| r.grad_samples as f64) {
        assert!(w == 2.0 * 284.0 || w == 2.0 * 285.0, "{w} samples");
    }
    let ratio = pp[60].grad_norm_sq / pp[0].grad_norm_sq;
    assert!(
        ratio < 1e-20,
        "FedNL-PP τ = 2: ‖∇f‖² only fell by {ratio:.3e}"
    );
    // Partial participation is not free: more rounds than the full method to the same point.
    let first = |rec: &[squeeze_driver::records::RoundRecord]| {
        rec.iter()
            .position(|r| r.grad_norm_sq < 1e-16)
            .unwrap_or(usize::MAX)
    };
    assert!(
        first(&pp) > first(&full),
        "{} vs {}",
        first(&pp),
        first(&full)
    );
    // A single participant (τ = max(1, ⌊0.1·4⌋) = 1) still converges.
    let (_, one) = run(
        &cfg(&l2_logreg(
            "fednl_pp",
            120,
            &format!("{params}\nparticipation = 0.1"),
        )),
        None,
    );
    let ratio = one[120].grad_norm_sq / one[0].grad_norm_sq;
    assert!(
        ratio < 1e-12,
        "FedNL-PP τ = 1: ‖∇f‖² only fell by {ratio:.3e}"
    );
}

/// C_M = identity and p = 1: FedNL with the model sent dense through z ← z + (x − z), which
/// equals x only to rounding, so the runs agree to 1e-9 relative, not bit for bit; the uplink
/// bits are FedNL's exactly and the downlink is a dense message every round.
#[test]
fn bc_with_identity_downlink_is_fednl_to_rounding() {
    for rule in ["project", "shift"] {
        let params = format!("compressor = \"top_k:k=30\"\nregularization = \"{rule}\"");
        let (_, fednl) = run(&cfg(&l2_logreg("fednl", 30, &params)), None);
        let bc = format!("{params}\ndownlink_compressor = \"identity\"");
        let (_, rec) = run(&cfg(&l2_logreg("fednl_bc", 30, &bc)), None);
        for (a, b) in fednl.iter().zip(&rec) {
            assert_eq!(a.bits_up_per_worker, b.bits_up_per_worker);
            assert_eq!(a.grad_samples, b.grad_samples);
            if a.grad_norm_sq > 1e-24 {
                assert!(
                    rel_diff(a.loss, b.loss) < 1e-9,
                    "{rule} round {}: {} vs {}",
                    a.round,
                    a.loss,
                    b.loss
                );
                assert!(
                    rel_diff(a.grad_norm_sq, b.grad_norm_sq) < 1e-6,
                    "{rule} round {}",
                    a.round
                );
            }
        }
        assert!(rec[30].grad_norm_sq < 1e-20 * rec[0].grad_norm_sq, "{rule}");
        // Dense model down, every round: tag + 30 f64 values.
        for d in increments(&rec, |r| r.bits_down_per_worker as f64) {
            assert_eq!(d, 4.0 + 64.0 * 30.0);
        }
    }
}

/// A compressed downlink (Top-5 of the model difference) and gradients in about half the
/// rounds: the downlink bits are the real Top-5 messages' (EF21-BC's with the same
/// compressor), rounds without gradients send 30 fewer values up (and no gradient work), and
/// the method converges.
#[test]
fn bc_compressed_downlink_and_lazy_gradients_converge() {
    let params = "compressor = \"top_k:k=30\"\nregularization = \"shift\"\ndownlink_compressor = \"top_k:k=5\"\ngradient_prob = 0.5";
    let (_, rec) = run(&cfg(&l2_logreg("fednl_bc", 150, params)), None);
    let ratio = rec[150].grad_norm_sq / rec[0].grad_norm_sq;
    assert!(ratio < 1e-16, "FedNL-BC: ‖∇f‖² only fell by {ratio:.3e}");
    let ef21_bc = l2_logreg(
        "ef21_bc",
        3,
        "compressor = \"top_k:k=1\"\ndownlink_compressor = \"top_k:k=5\"",
    );
    let (_, e) = run(&cfg(&ef21_bc), None);
    let top5 = (e[3].bits_down_per_worker - e[2].bits_down_per_worker) as f64;
    for d in increments(&rec, |r| r.bits_down_per_worker as f64) {
        assert_eq!(d, top5);
    }
    let up = increments(&rec, |r| r.bits_up_per_worker);
    let work = increments(&rec, |r| r.grad_samples as f64);
    let (hi, lo) = (
        up.iter().cloned().fold(0.0, f64::max),
        up.iter().cloned().fold(f64::MAX, f64::min),
    );
    let with_grad = up.iter().filter(|&&b| b == hi).count();
    assert!(
        (40..=110).contains(&with_grad),
        "{with_grad} gradient rounds of 150"
    );
    // Hessian-only rounds: half the samples (no gradient), the Sparse l_i head instead of the
    // dense gradient.
    let full_work = work.iter().cloned().fold(0.0, f64::max);
    for (b, w) in up.iter().zip(&work) {
        assert!(
            (*b == hi && *w == full_work) || (*b == lo && 2.0 * w == full_work),
            "{b} bits, {w} samples"
        );
    }
    assert!(
        hi - lo > 64.0 * 29.0 && hi - lo < 64.0 * 31.0,
        "{hi} − {lo}"
    );
}

/// Both variants pass the exact-resume and thread-count checks with their lazy parts active
/// (the method suite runs them with the registry examples).
#[test]
fn variants_resume_exactly_with_lazy_parts() {
    for (name, params) in [
        (
            "fednl_pp",
            "compressor = \"rand_k:k=30,scaled=false\"\nparticipation = 0.5",
        ),
        (
            "fednl_bc",
            "compressor = \"top_k:k=30\"\ndownlink_compressor = \"rand_k:k=5,scaled=false\"\ngradient_prob = 0.5\nregularization = \"shift\"",
        ),
    ] {
        let text = l2_logreg(name, 12, params);
        let ckpt = format!("{text}[run]\ncheckpoint_every = 4\nlog_every = 1\n");
        assert_resume_reproduces(name, &ckpt, 12, 4, &format!("newton_variants_{name}"));
        let one = run(&cfg(&format!("{text}[run]\nthreads = 1\n")), None).1;
        let four = run(&cfg(&format!("{text}[run]\nthreads = 4\n")), None).1;
        assert_same_records(&one, &four, name);
    }
}

#[test]
fn refusals_name_the_key() {
    for (method, extra, needle) in [
        ("fednl_pp", "", "participation"),
        ("fednl_pp", "participation = 1.5", "participation"),
        ("fednl_bc", "", "downlink_compressor"),
        (
            "fednl_bc",
            "downlink_compressor = \"identity\"\ngradient_prob = 0.0",
            "gradient_prob",
        ),
    ] {
        let params = format!("compressor = \"top_k:k=30\"\n{extra}");
        let msg = refusal(&l2_logreg(method, 3, &params));
        assert!(msg.contains(needle), "{method} {extra:?}: {msg}");
    }
}
