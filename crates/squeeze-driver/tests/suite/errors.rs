//! Errors: a diverging run stops with a typed error naming the round (and never records NaN);
//! every configuration mistake names its key and the fix; resuming from a missing, corrupt or
//! mismatched checkpoint says so.

use std::path::Path;

use crate::common::*;
use squeeze_driver::EngineError;
use squeeze_driver::config::{ConfigError, METHODS};
use squeeze_driver::executor::{Collect, ExecError};
use squeeze_methods::MethodError;

/// Assert `text` contains each of `parts`.
fn assert_mentions(text: &str, parts: &[&str]) {
    for p in parts {
        assert!(text.contains(p), "message lacks '{p}':\n{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Divergence

/// ℓ2-regularised logistic regression with γ = 10¹²: x is multiplied by ≈ −γλ each round and
/// overflows within a few dozen rounds. The clipping methods run with τ = ∞: any finite τ
/// bounds every step (‖x^t − x⁰‖ ≤ γτ·t(t+1)/2 for Clip21), so with τ = 10³⁰ the f64 run stays
/// finite for 1000 rounds — clipping is a divergence guard, by design.
fn diverging(method: &str, compressor: Option<&str>, precision: &str) -> String {
    let extra = match method {
        "clip_gd" | "clip21_gd" | "press_clip21" => "tau = inf",
        "dp_clip21" => "tau = inf\nsigma = 0.0",
        m => method_extra(m, false),
    };
    format!(
        r#"
seed = 1
precision = "{precision}"
[problem]
n_workers = 4
regularizer = {{ kind = "l2", lambda = 0.1 }}
{}
[stop]
max_rounds = 1000
"#,
        method_section(
            method,
            compressor,
            &format!("stepsize = {{ rule = \"constant\", gamma = 1e12 }}\n{extra}")
        )
    )
}

#[test]
fn a_diverging_run_stops_with_diverged_naming_the_round() {
    // The Newton-type methods take the unit step (no stepsize to make them diverge).
    for method in star_methods()
        .into_iter()
        .filter(|m| accepts(m, "stepsize"))
    {
        for precision in ["f32", "f64"] {
            let comp = compressor_for(method, suite_compressors(method)[0]);
            let c = cfg(&diverging(method, comp.as_deref(), precision));
            let mut engine = build(&c);
            let mut rec = Collect::default();
            let err = c
                .executor(None)
                .unwrap()
                .run(engine.as_mut(), &mut [&mut rec])
                .expect_err("γ = 1e12 must diverge");
            let what = format!("{method} {precision}");
            let round = match &err {
                ExecError::Engine(EngineError::Method(MethodError::Diverged { round, .. })) => {
                    *round
                }
                // f or ‖∇f‖² overflowed in a record before a gradient or the model did.
                ExecError::Diverged { round, .. } => *round,
                // f, ‖∇f‖² or the consensus error grew past stop.diverge_factor × the start.
                ExecError::Exploded { round, .. } => *round,
                other => panic!("{what}: expected Diverged, got {other:?}"),
            };
            assert!(round > 0 && round < 1000, "{what}: round {round}");
            let msg = err.to_string();
            assert_mentions(&msg, &[&format!("round {round}"), "stepsize"]);
            // Every record before the failure is a number (no NaN reaches observers).
            assert!(!rec.records.is_empty());
            for r in &rec.records {
                assert!(
                    !r.loss.is_nan() && !r.grad_norm_sq.is_nan(),
                    "{what}: NaN recorded at round {}: {r:?}",
                    r.round
                );
                assert!(r.round <= round, "{what}: record after the failing round");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration errors

fn base(method: &str) -> String {
    format!("seed = 1\n[problem]\nn_workers = 4\n{method}[stop]\nmax_rounds = 5\n")
}

/// The build error of a configuration that parses.
fn build_err(text: &str) -> ConfigError {
    match cfg(text).build_engine(Path::new(".")) {
        Ok(_) => panic!("expected a build error for\n{text}"),
        Err(e) => e,
    }
}

fn key_of(e: &ConfigError) -> &str {
    match e {
        ConfigError::Invalid { key, .. } => key,
        other => panic!("expected ConfigError::Invalid, got {other:?}"),
    }
}

#[test]
fn unknown_method_lists_the_known_ones() {
    let e = build_err(&base(&method_section("ef99", Some("top_k:k=1"), "")));
    assert_eq!(key_of(&e), "method.name");
    let msg = e.to_string();
    assert_mentions(&msg, &["method.name", "ef99"]);
    for m in METHODS {
        assert_mentions(&msg, &[m.name]);
    }
}

#[test]
fn compressor_presence_is_checked_per_method() {
    // EF21 and EF14 need one; the message shows how to write it.
    for m in ["ef21", "ef14"] {
        let e = build_err(&base(&method_section(m, None, "")));
        assert_eq!(key_of(&e), "method.compressor");
        assert_mentions(&e.to_string(), &[m, "compressor = \"top_k:k=1\""]);
    }
    // GD takes none; the message says to remove it or use EF21 with the identity.
    let e = build_err(&base(&method_section("gd", Some("top_k:k=1"), "")));
    assert_eq!(key_of(&e), "method.compressor");
    assert_mentions(&e.to_string(), &["remove the compressor", "identity"]);
    // A misspelt compressor name gets a suggestion.
    let e = build_err(&base(&method_section("ef21", Some("top_kk:k=1"), "")));
    assert_eq!(key_of(&e), "method.compressor");
    assert_mentions(&e.to_string(), &["top_kk", "top_k"]);
}

#[test]
fn a_newton_mechanism_key_the_mechanism_does_not_read_is_refused() {
    // LAG and BAG send dense Hessians: a compressor left over from a CLAG config is an error,
    // and so are ζ for BAG/EF21 and p for the others — in every Newton-type method.
    let cases = [
        (
            "newton_3pc",
            "mechanism = \"lag\"\n",
            Some("top_k:k=3"),
            "compressor",
            "lag",
        ),
        (
            "newton_3pc",
            "mechanism = \"bag\"\nzeta = 2.0\n",
            None,
            "zeta",
            "bag",
        ),
        ("fednl_pp", "p = 0.5\n", Some("top_k:k=3"), "p", "ef21"),
        (
            "bl1",
            "mechanism = \"clag\"\np = 0.5\n",
            Some("top_k:k=3"),
            "p",
            "clag",
        ),
    ];
    for (method, extra, comp, key, mech) in cases {
        let e = build_err(&base(&method_section(method, comp, extra)));
        assert_eq!(key_of(&e), format!("method.{key}"), "{method} {extra}");
        assert_mentions(
            &e.to_string(),
            &[&format!("\"{mech}\" does not read {key}"), "remove"],
        );
    }
}

#[test]
fn theory_stepsize_with_an_unbiased_compressor_hints_at_scaled() {
    for m in ["ef21", "ef14"] {
        let e = build_err(&base(&method_section(m, Some("qsgd:s=4"), "")));
        assert_eq!(key_of(&e), "method.stepsize", "{e}");
        assert_mentions(
            &e.to_string(),
            &[
                "method.stepsize",
                "contractive",
                "scaled(",
                "rule = \"constant\"",
            ],
        );
        // …and the hint works.
        build(&cfg(&base(&method_section(
            m,
            Some("scaled(qsgd:s=4)"),
            "",
        ))));
    }
}

#[test]
fn k_larger_than_d_fails_at_build_time() {
    for m in ["ef21", "ef14"] {
        let e = build_err(&base(&method_section(m, Some("top_k:k=1000"), "")));
        assert_eq!(key_of(&e), "method.compressor", "{e}");
        assert_mentions(&e.to_string(), &["k = 1000", "d = 30", "ratio="]);
    }
}

#[test]
fn zero_workers_is_rejected() {
    let text = base(&method_section("ef21", Some("top_k:k=1"), ""))
        .replace("n_workers = 4", "n_workers = 0");
    let e = build_err(&text);
    assert_eq!(key_of(&e), "problem.n_workers");
    assert_mentions(&e.to_string(), &["problem.n_workers", "≥ 1"]);
}

#[test]
fn a_missing_stop_rule_is_rejected() {
    // An empty [stop] table parses, but the executor refuses to run forever.
    let text = base(&method_section("gd", None, "")).replace("max_rounds = 5\n", "");
    let e = cfg(&text).executor(None).expect_err("no stop rule");
    assert_eq!(key_of(&e), "stop");
    assert_mentions(
        &e.to_string(),
        &[
            "no stop rule",
            "max_rounds",
            "target_grad_norm_sq",
            "bit_budget_per_worker",
        ],
    );
    // No [stop] table at all is a parse error naming it.
    let text = format!(
        "seed = 1\n[problem]\nn_workers = 4\n{}",
        method_section("gd", None, "")
    );
    let msg = squeeze_driver::ExperimentConfig::from_toml(&text)
        .expect_err("stop is required")
        .to_string();
    assert_mentions(&msg, &["stop"]);
}

#[test]
fn unknown_keys_are_rejected_with_the_known_ones() {
    let good = base(&method_section("ef21", Some("top_k:k=1"), ""));
    assert!(squeeze_driver::ExperimentConfig::from_toml(&good).is_ok());
    // (typo, the key it should have been) per section.
    let cases = [
        (good.replace("seed = 1", "sed = 1"), "sed", "seed"),
        (
            good.replace("n_workers = 4", "n_workers = 4\nn_worker = 4"),
            "n_worker",
            "n_workers",
        ),
        (
            good.replace("max_rounds", "max_round"),
            "max_round",
            "max_rounds",
        ),
        (good.clone() + "[run]\nthread = 2\n", "thread", "threads"),
    ];
    for (text, typo, fix) in cases {
        let e = squeeze_driver::ExperimentConfig::from_toml(&text).expect_err(typo);
        assert!(matches!(e, ConfigError::Parse(_)), "{e:?}");
        assert_mentions(&e.to_string(), &[&format!("`{typo}`"), &format!("`{fix}`")]);
    }
    // In `[method]`, the method's own parameters decide (at build): the key and what it takes.
    let e = build_err(&good.replace("compressor =", "compresor ="));
    assert_eq!(key_of(&e), "method.compresor");
    assert_mentions(
        &e.to_string(),
        &[
            "ef21 does not take compresor",
            "it accepts compressor, warmup_rounds, compressor_schedule, stepsize",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Resume errors

fn resumable(seed: u64, n: usize, method: &str, comp: Option<&str>, data: &str) -> String {
    format!(
        r#"
seed = {seed}
[problem]
data = "{data}"
rows = 200
n_workers = {n}
{}
[stop]
max_rounds = 6
[run]
checkpoint_every = 3
"#,
        method_section(method, comp, "")
    )
}

/// Write a real checkpoint (round 6) of `text` into `dir`; returns its path.
fn checkpoint_of(text: &str, dir: &Path) -> std::path::PathBuf {
    let c = cfg(text);
    run(&c, Some(dir));
    let path = dir.join("checkpoint.json");
    assert!(path.exists());
    path
}

fn resume_err(text: &str, path: &Path) -> ExecError {
    let c = cfg(text);
    let mut engine = build(&c);
    // The resumed run would write its own checkpoints elsewhere.
    let out = path.parent().unwrap().join("resume-out");
    std::fs::create_dir_all(&out).unwrap();
    match c
        .executor(Some(&out))
        .unwrap()
        .resume(engine.as_mut(), path, &mut [])
    {
        Ok(s) => panic!("resume should fail, ran to {:?}", s.last.round),
        Err(e) => e,
    }
}

#[test]
fn resume_from_a_missing_or_corrupt_checkpoint_says_so() {
    let dir = tmp_dir("errors-corrupt");
    let text = resumable(1, 4, "ef21", Some("top_k:k=1"), "embedded");
    // Missing.
    let e = resume_err(&text, &dir.join("nope.json"));
    assert!(matches!(e, ExecError::Checkpoint { .. }), "{e:?}");
    assert_mentions(
        &e.to_string(),
        &["nope.json", "cannot read", "checkpointing enabled"],
    );
    // Truncated.
    let path = checkpoint_of(&text, &dir);
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.join("truncated.json");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = resume_err(&text, &cut);
    assert_mentions(
        &e.to_string(),
        &["truncated.json", "not a squeeze checkpoint or truncated"],
    );
    // Not JSON at all.
    let junk = dir.join("junk.json");
    std::fs::write(&junk, b"\x00\x01 garbage").unwrap();
    assert_mentions(
        &resume_err(&text, &junk).to_string(),
        &["not a squeeze checkpoint"],
    );
    // Valid JSON, tampered state (a model of the wrong type).
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["engine"]["server"]["x"] = serde_json::json!("zero");
    let bad = dir.join("tampered.json");
    std::fs::write(&bad, serde_json::to_vec(&v).unwrap()).unwrap();
    assert_mentions(&resume_err(&text, &bad).to_string(), &["does not match"]);
    // The intact checkpoint resumes (the errors above are about the files, not the setup).
    let c = cfg(&text);
    let mut engine = build(&c);
    let s = c
        .executor(Some(&dir))
        .unwrap()
        .resume(engine.as_mut(), &path, &mut [])
        .unwrap();
    assert_eq!(s.last.round, 6);
}

#[test]
fn resume_with_a_different_configuration_says_what_differs() {
    let dir = tmp_dir("errors-mismatch");
    let path = checkpoint_of(
        &resumable(1, 4, "ef21", Some("top_k:k=1"), "embedded"),
        &dir,
    );
    let cases = [
        // (configuration, what the message must mention)
        (
            resumable(2, 4, "ef21", Some("top_k:k=1"), "embedded"),
            vec!["seed", "1", "2"],
        ),
        (
            resumable(1, 5, "ef21", Some("top_k:k=1"), "embedded"),
            vec!["4 workers", "5"],
        ),
        (
            resumable(1, 4, "gd", None, "embedded"),
            vec!["does not match"],
        ),
        (
            resumable(1, 4, "ef21", Some("top_k:k=2"), "embedded"),
            vec!["top_k:k=1", "top_k:k=2"],
        ),
        (
            resumable(1, 4, "ef21", Some("top_k:k=1"), "synthetic_a9a"),
            vec!["dimension", "30", "123"],
        ),
    ];
    for (text, parts) in cases {
        let e = resume_err(&text, &path);
        assert!(
            matches!(
                e,
                ExecError::Engine(EngineError::Snapshot(_)) | ExecError::Checkpoint { .. }
            ),
            "{e:?}"
        );
        assert_mentions(&e.to_string(), &parts);
    }
}
