//! Compressor schedules of any compressed method: `method.warmup_rounds` (uncompressed first
//! rounds) and `method.compressor_schedule` (other compressors from given rounds on) — the
//! trajectory in each stage, the bits, exact resume across a switch, and the errors.

use crate::common::*;
use squeeze_driver::RoundRecord;

/// EF21 on the EF21 papers' problem (embedded data, 5 workers), logging every round, at a
/// constant stepsize (a theory stepsize would follow the schedule's weakest stage, so the
/// warm-up would not run at the identity's γ).
fn ef21(compressor: &str, extra: &str, rounds: u64, run_extra: &str) -> String {
    format!(
        r#"
seed = 7
[problem]
n_workers = 5
[method]
name = "ef21"
compressor = "{compressor}"
stepsize = {{ rule = "constant", gamma = 0.5 }}
{extra}
[stop]
max_rounds = {rounds}
[run]
log_every = 1
{run_extra}
"#
    )
}

/// Uplink bits per worker sent in each round (differences of the cumulative count).
fn bits_per_round(records: &[RoundRecord]) -> Vec<f64> {
    records
        .windows(2)
        .map(|w| w[1].bits_up_per_worker - w[0].bits_up_per_worker)
        .collect()
}

#[test]
fn warmup_rounds_are_exact_gradient_steps_then_the_compressor_takes_over() {
    let warm_cfg = cfg(&ef21("top_k:k=1", "warmup_rounds = 15", 40, ""));
    let describe = build(&warm_cfg).describe();
    let (_, warm_recs) = run(&warm_cfg, None);
    let (_, identity) = run(&cfg(&ef21("identity", "", 40, "")), None);
    let (_, top1) = run(&cfg(&ef21("top_k:k=1", "", 40, "")), None);
    // Rounds 0..15 use the identity: EF21 with the identity, bit for bit (it is GD).
    assert_same_records(&warm_recs[..=15], &identity[..=15], "warm-up = identity");
    assert!(
        !warm_recs[16].same_trajectory(&identity[16]),
        "then it compresses"
    );
    // Bits: dense rounds, then Top-1 rounds.
    let (w, i, t) = (
        bits_per_round(&warm_recs),
        bits_per_round(&identity),
        bits_per_round(&top1),
    );
    assert_eq!(w[..15], i[..15]);
    assert_eq!(w[15..], t[15..]);
    assert!(
        t[20] < i[20] / 10.0,
        "Top-1 is much cheaper: {} vs {}",
        t[20],
        i[20]
    );
    // The warm-up makes progress the compressed start does not.
    assert!(warm_recs[15].grad_norm_sq < top1[15].grad_norm_sq);
    assert!(
        describe.contains("schedule(identity; from 15: top_k:k=1)"),
        "{describe}"
    );
}

#[test]
fn a_schedule_switches_the_compressor_at_its_rounds() {
    let extra = r#"compressor_schedule = [{ from = 10, compressor = "top_k:k=5" }, { from = 20, compressor = "top_k:k=2" }]"#;
    let (_, recs) = run(&cfg(&ef21("top_k:k=1", extra, 30, "")), None);
    let per = |spec: &str| bits_per_round(&run(&cfg(&ef21(spec, "", 30, "")), None).1)[12];
    let w = bits_per_round(&recs);
    let (b1, b5, b2) = (per("top_k:k=1"), per("top_k:k=5"), per("top_k:k=2"));
    assert!(b1 < b2 && b2 < b5, "{b1} {b2} {b5}");
    assert!(w[..10].iter().all(|&b| b == b1), "{w:?}");
    assert!(w[10..20].iter().all(|&b| b == b5), "{w:?}");
    assert!(w[20..].iter().all(|&b| b == b2), "{w:?}");
}

#[test]
fn resume_across_a_switch_reproduces_the_run() {
    for precision in ["f32", "f64"] {
        let text = format!(
            "precision = \"{precision}\"\n{}",
            ef21(
                "rand_k:k=3,scaled=false",
                "warmup_rounds = 9\ncompressor_schedule = [{ from = 16, compressor = \"top_k:k=2\" }]",
                30,
                "checkpoint_every = 5",
            )
        );
        assert_resume_reproduces(
            &format!("ef21 schedule {precision}"),
            &text,
            30,
            5,
            &format!("resume-schedule-{precision}"),
        );
    }
}

#[test]
fn schedule_mistakes_name_the_key() {
    for (text, key, needle) in [
        (
            ef21(
                "top_k:k=1",
                "warmup_rounds = 10\ncompressor_schedule = [{ from = 10, compressor = \"top_k:k=2\" }]",
                5,
                "",
            ),
            "method.compressor_schedule",
            "after the warm-up",
        ),
        (
            ef21(
                "top_k:k=1",
                "compressor_schedule = [{ from = 3, compressor = \"top_k:k=99\" }]",
                5,
                "",
            ),
            "method.compressor_schedule[0].compressor",
            "k = 99",
        ),
        (
            ef21("top_k:k=1", "compressor_schedule = [{ at = 3 }]", 5, ""),
            "method",
            "at",
        ),
        (
            ef21("top_k:k=1", "", 5, "")
                .replace("name = \"ef21\"", "name = \"gd\"\nwarmup_rounds = 3")
                .replace("compressor = \"top_k:k=1\"\n", ""),
            "method",
            "warmup_rounds",
        ),
        (
            ef21("top_k:k=1", "", 5, "")
                .replace("name = \"ef21\"", "name = \"sgd\"\nwarmup_rounds = 3")
                .replace("compressor = \"top_k:k=1\"\n", ""),
            "method.compressor",
            "warmup_rounds",
        ),
    ] {
        let e = refusal(&text);
        assert!(
            e.contains(key) && e.contains(needle),
            "{key} / {needle}: {e}"
        );
    }
}
