//! The stepsize a method reports (`Engine::stepsize`, written to `summary.json`) is the γ it
//! runs with and matches the papers' formula with the constants it names; `method.smoothness`
//! chooses the L in that formula.

use std::path::Path;

use squeeze_driver::{Engine, ExperimentConfig};
use squeeze_problems::smoothness::{SmoothnessRule, lambda_max_ata};
use squeeze_problems::split::split_indices;
use squeeze_problems::{Remainder, Split, embedded};

/// EF21 with Top-3 on the embedded data sorted by label over 5 workers (a heterogeneous
/// split: the L_i differ), 2× the theory stepsize.
fn config(extra_method: &str) -> ExperimentConfig {
    ExperimentConfig::from_toml(&format!(
        "seed = 1\n[problem]\nkind = \"logreg\"\ndata = \"embedded\"\nn_workers = 5\n\
         split = \"sorted_by_label\"\nregularizer = {{ kind = \"nonconvex\", lambda = 0.1 }}\n\
         [method]\nname = \"ef21\"\ncompressor = \"top_k:k=3\"\n\
         stepsize = {{ rule = \"theory\", multiplier = 2.0 }}\n{extra_method}\n\
         [stop]\nmax_rounds = 1\n"
    ))
    .unwrap()
}

fn engine(cfg: &ExperimentConfig) -> Box<dyn Engine> {
    cfg.build_engine(Path::new(".")).unwrap()
}

/// The γ in the server state (what the run steps with, as a checkpoint stores it).
fn gamma_in_state(e: &dyn Engine) -> f64 {
    let snap = e.snapshot().unwrap();
    snap["server"]["gamma"]
        .as_f64()
        .unwrap_or_else(|| panic!("no server.gamma in {snap}"))
}

/// L_i = λ_max(A_iᵀA_i)/(4 m_i) + 2λ of each worker's rows, and the pooled L, computed here
/// from the data and the split.
fn constants() -> (Vec<f64>, f64) {
    let data = embedded::default_dataset::<f64>();
    let parts = split_indices(&data.labels, 5, Split::SortedByLabel, Remainder::ToLast).unwrap();
    let l_of = |rows: &[usize]| {
        let a = data.features.select_rows(rows).unwrap();
        lambda_max_ata(&a) / (4.0 * rows.len() as f64) + 2.0 * 0.1
    };
    let l_i: Vec<f64> = parts.iter().map(|r| l_of(r)).collect();
    (l_i, l_of(&parts.concat()))
}

/// 2 / (L + L̃ √(β/θ)) with θ = 1 − √(1−α), β = (1−α)/θ, α = K/d = 3/30.
fn ef21_formula(l: f64, l_i: &[f64]) -> f64 {
    let alpha: f64 = 3.0 / 30.0;
    let theta = 1.0 - (1.0 - alpha).sqrt();
    let beta = (1.0 - alpha) / theta;
    let l_tilde = (l_i.iter().map(|v| v * v).sum::<f64>() / l_i.len() as f64).sqrt();
    2.0 / (l + l_tilde * (beta / theta).sqrt())
}

#[track_caller]
fn assert_close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() <= 1e-12 * b.abs(), "{what}: {a} vs {b}");
}

#[test]
fn mean_of_workers_uses_the_mean_of_the_l_i_and_the_default_is_pooled() {
    let (l_i, l_pooled) = constants();
    let l_mean = l_i.iter().sum::<f64>() / l_i.len() as f64;
    assert!(
        (l_mean - l_pooled).abs() > 1e-3 * l_pooled,
        "the split must make the two rules differ: {l_mean} vs {l_pooled}"
    );

    for (extra, rule, l) in [
        ("", SmoothnessRule::Pooled, l_pooled),
        ("smoothness = \"pooled\"", SmoothnessRule::Pooled, l_pooled),
        (
            "smoothness = \"mean_of_workers\"",
            SmoothnessRule::MeanOfWorkers,
            l_mean,
        ),
    ] {
        let e = engine(&config(extra));
        let report = e.stepsize().expect("ef21 reports its stepsize");
        let want = ef21_formula(l, &l_i);
        assert_close(report.gamma, want, extra);
        assert_eq!(
            gamma_in_state(e.as_ref()),
            report.gamma,
            "{extra}: reported = used"
        );
        let t = report
            .theory
            .expect("a theory stepsize names its constants");
        assert_eq!(t.smoothness, rule, "{extra}");
        assert_close(t.l, l, extra);
        assert_eq!(t.alpha, Some(0.1));
        let theta = 1.0 - 0.9f64.sqrt();
        assert_close(t.a.unwrap(), theta, "A = θ");
        assert_close(t.b.unwrap(), 0.9 / theta, "B = β");
    }
}

#[test]
fn the_default_rule_keeps_the_trajectory_and_mean_of_workers_changes_it() {
    let run = |extra: &str| {
        let mut e = engine(&config(extra));
        for _ in 0..5 {
            e.round().unwrap();
        }
        e.iterate_f64()
    };
    let default = run("");
    assert_eq!(default, run("smoothness = \"pooled\""));
    assert_ne!(default, run("smoothness = \"mean_of_workers\""));
}

#[test]
fn smoothness_is_refused_where_it_does_not_apply_and_unset_is_not_written() {
    let bad = ExperimentConfig::from_toml(
        "[problem]\nn_workers = 4\n[method]\nname = \"ef21\"\nsmoothness = \"median\"\n\
         [stop]\nmax_rounds = 1\n",
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("`pooled` or `mean_of_workers`"), "{bad}");

    let gossip = ExperimentConfig::from_toml(
        "[problem]\nn_workers = 4\n[method]\nname = \"choco\"\ncompressor = \"top_k:k=1\"\n\
         gamma = 0.5\neta = 0.05\nsmoothness = \"mean_of_workers\"\n[topology]\nkind = \"ring\"\n\
         [stop]\nmax_rounds = 1\n",
    )
    .unwrap();
    let e = gossip.method.check().unwrap_err().to_string();
    assert!(
        e.contains("method.smoothness: choco has no theory stepsize"),
        "{e}"
    );
    let e = match gossip.build_engine(Path::new(".")) {
        Ok(_) => panic!("building must refuse method.smoothness for choco"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("method.smoothness"), "{e}");

    let text = toml::to_string(&config("")).unwrap();
    assert!(!text.contains("smoothness"), "{text}");
    let set = config("smoothness = \"mean_of_workers\"");
    let text = toml::to_string(&set).unwrap();
    assert!(text.contains("smoothness = \"mean_of_workers\""), "{text}");
    let back = ExperimentConfig::from_toml(&text).unwrap();
    assert_eq!(back.method.smoothness, Some(SmoothnessRule::MeanOfWorkers));
}

#[test]
fn three_pc_and_constant_stepsizes_report_what_they_use() {
    let lag = ExperimentConfig::from_toml(
        "[problem]\nn_workers = 4\n[method]\nname = \"lag\"\nzeta = 4.0\n[stop]\nmax_rounds = 1\n",
    )
    .unwrap();
    let e = engine(&lag);
    let r = e.stepsize().unwrap();
    let t = r.theory.clone().unwrap();
    let (a, b) = (t.a.unwrap(), t.b.unwrap());
    assert_close(r.gamma, 1.0 / (t.l + t.l_tilde * (b / a).sqrt()), "lag");
    assert_eq!(gamma_in_state(e.as_ref()), r.gamma);

    let constant = ExperimentConfig::from_toml(
        "[problem]\nn_workers = 4\n[method]\nname = \"gd\"\n\
         stepsize = { rule = \"constant\", gamma = 0.25 }\n[stop]\nmax_rounds = 1\n",
    )
    .unwrap();
    let r = engine(&constant).stepsize().unwrap();
    assert_eq!((r.gamma, r.theory), (0.25, None));
}
