//! Helpers shared by the driver's integration tests.
//!
//! Each test binary uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use squeeze_core::Scalar;
use squeeze_driver::config::{ExperimentConfig, METHODS, MethodConfig, Topology, build_engine};
use squeeze_driver::executor::{Collect, ExecError, Executor, Observer, RunSummary, StopRules};
use squeeze_driver::{Engine, RoundRecord};
use squeeze_methods::Stepsize;
use squeeze_problems::Regularizer;
use squeeze_problems::data::Csr;
use squeeze_problems::embedded;
use squeeze_problems::problem::{InitPoint, Problem};
use squeeze_problems::split::{Remainder, Split};

/// The EF21 experiments' problem ([`Problem::logreg_ef21`]: nonconvex logistic regression,
/// λ = 0.1) on the embedded data over `n` workers, with x⁰ ~ N(0, I) drawn from `seed`.
pub fn embedded_logreg<S: Scalar>(n: usize, seed: u64) -> (Arc<Problem<S>>, Vec<S>) {
    let p = Problem::logreg_ef21(&embedded::default_dataset::<S>(), n).unwrap();
    let x0 = p
        .initial_point(&InitPoint::Gaussian { seed, std: 1.0 })
        .unwrap();
    (Arc::new(p), x0)
}

/// A `[method]` section: `name`, its stepsize rule and, when given, its compressor.
pub fn method(name: &str, compressor: Option<&str>, stepsize: Stepsize) -> MethodConfig {
    let m = MethodConfig::new(name)
        .with_value("stepsize", &stepsize)
        .unwrap();
    match compressor {
        Some(c) => m.with("compressor", c),
        None => m,
    }
}

/// The star engine of `m` on `problem` from `x0` (seed 3, one thread), panicking with the error.
pub fn engine<S: Scalar>(m: &MethodConfig, problem: &Arc<Problem<S>>, x0: &[S]) -> Box<dyn Engine> {
    build_engine::<S>(m, problem.clone(), x0, 3, 1).unwrap_or_else(|e| panic!("{}: {e}", m.name))
}

/// The compressor the shared suites give a method that takes one.
pub const SUITE_COMPRESSOR: &str = "top_k:k=1";

/// The compressors each compressed method is exercised with in the shared suites: a
/// deterministic one and a randomised one (whose worker RNG streams must be scheduled and
/// checkpointed exactly).
pub const COMPRESSORS: &[&str] = &["top_k:k=1", "rand_k:k=3,scaled=false"];

/// Methods that need an unbiased compressor get unbiased ones (a randomised independent one
/// and a shared-seed one); the first entry is also what (a) uses.
pub fn suite_compressors(method: &str) -> &'static [&'static str] {
    match method {
        "marina" => &["rand_k:k=3", "perm_k:n=5"],
        _ => COMPRESSORS,
    }
}

/// Per-method settings for the suites. `stochastic`: (b) and (c), where the methods' random
/// streams (samplers, DP noise) should be exercised; (a) runs the deterministic versions.
///
/// Clip-GD gets a radius the strongly convex problem's local gradients stay inside after the
/// first rounds (it is GD there; its failure is tested in `econtrol_clip21_marina.rs`); the
/// Clip21 family a radius that clips in the first rounds; Local SGD two local steps.
pub fn method_extra(method: &str, stochastic: bool) -> &'static str {
    match (method, stochastic) {
        ("clip_gd", _) => "tau = 100.0",
        ("clip21_gd" | "press_clip21", _) => "tau = 0.5",
        ("dp_clip21", false) => "tau = 0.5\nsigma = 0.0",
        ("dp_clip21", true) => "tau = 0.5\nsigma = 0.001",
        ("local_sgd", false) => "local_steps = 2",
        ("local_sgd", true) => "local_steps = 2\ngradient = { kind = \"minibatch\", batch = 16 }",
        ("sgd", true) => "gradient = { kind = \"minibatch\", batch = 16 }",
        ("econtrol", true) => "eta = 0.1\ngradient = { kind = \"minibatch\", batch = 16 }",
        ("signsgd_mv" | "signum", true) => "gradient = { kind = \"minibatch\", batch = 16 }",
        _ => "",
    }
}

/// Whether registered method `method` takes `key`.
pub fn accepts(method: &str, key: &str) -> bool {
    METHODS
        .iter()
        .find(|m| m.name == method)
        .is_some_and(|m| m.accepts().contains(&key))
}

/// The `[problem]` lines a method needs on top of the suites' defaults: the Newton-type
/// methods (they take `mu`, the projection level) need positive-definite Hessians, so they run
/// on the L2-regularised problem instead of the nonconvex one (which they refuse).
pub fn convex_problem(method: &str) -> &'static str {
    if accepts(method, "mu") {
        "regularizer = { kind = \"l2\", lambda = 0.1 }"
    } else {
        ""
    }
}

/// A configuration: experiment `seed`, the `[problem]` lines `problem`, then `sections` (the
/// `[method]` section and any others) and a stop after `rounds` rounds.
pub fn config(seed: u64, problem: &str, sections: &str, rounds: u64) -> String {
    format!("seed = {seed}\n[problem]\n{problem}\n{sections}\n[stop]\nmax_rounds = {rounds}\n")
}

/// A configuration of `rounds` rounds on the embedded data (569 × 30, contiguous split) over
/// `n_workers` workers: objective `kind` (`logreg`, `least_squares`) plus `regularizer` (a
/// TOML value, e.g. [`l2`]), x⁰ ~ N(0, I), experiment `seed`; `sections` as in [`config`].
pub fn embedded_config(
    seed: u64,
    kind: &str,
    n_workers: usize,
    regularizer: &str,
    sections: &str,
    rounds: u64,
) -> String {
    let problem = format!(
        "kind = \"{kind}\"\ndata = \"embedded\"\nn_workers = {n_workers}\nregularizer = {regularizer}\n{GAUSSIAN_INIT}"
    );
    config(seed, &problem, sections, rounds)
}

/// The EF21 papers' experiment at CI size: nonconvex logistic regression (λ = 0.1) on
/// a9a-shaped data (`synthetic_a9a`, 2,000 rows × 123) split contiguously over n = 20
/// workers, experiment seed 1, the records of every `log_every`-th round; `init` is the
/// `[problem]` line of x⁰ (empty: the default), `sections` as in [`config`].
pub fn a9a_config(init: &str, sections: &str, rounds: u64, log_every: u64) -> String {
    let problem = format!(
        "kind = \"logreg\"\ndata = \"synthetic_a9a\"\nrows = 2000\nn_workers = 20\nsplit = \"contiguous\"\nregularizer = {{ kind = \"nonconvex\", lambda = 0.1 }}\n{init}"
    );
    let sections = format!("{sections}\n[run]\nlog_every = {log_every}");
    config(1, &problem, &sections, rounds)
}

/// The `[problem]` line of x⁰ ~ N(0, I).
pub const GAUSSIAN_INIT: &str = "init = { kind = \"gaussian\", std = 1.0 }";

/// The regulariser (λ/2)‖x‖² as a TOML value.
pub fn l2(lambda: f64) -> String {
    format!("{{ kind = \"l2\", lambda = {lambda:?} }}")
}

/// A `[method]` section: `name`, then the TOML lines `params`.
pub fn named_method(name: &str, params: &str) -> String {
    format!("[method]\nname = \"{name}\"\n{params}")
}

/// The error message of a configuration that must be refused, at parsing or at building;
/// panics if it builds.
pub fn refusal(text: &str) -> String {
    match ExperimentConfig::from_toml(text) {
        Err(e) => e.to_string(),
        Ok(c) => match c.build_engine(Path::new(".")) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("built, but must be refused:\n{text}"),
        },
    }
}

/// Parse a TOML configuration, panicking with the error (test input is trusted).
pub fn cfg(text: &str) -> ExperimentConfig {
    match ExperimentConfig::from_toml(text) {
        Ok(c) => c,
        Err(e) => panic!("test config does not parse: {e}\n{text}"),
    }
}

/// The registered methods of the star engine, in registry order.
pub fn star_methods() -> Vec<&'static str> {
    METHODS
        .iter()
        .filter(|m| m.topology == Topology::Star)
        .map(|m| m.name)
        .collect()
}

/// The registry's example parameters of `name` (empty for an unregistered name).
pub fn example_params(name: &str) -> toml::Table {
    match METHODS.iter().find(|m| m.name == name) {
        Some(m) => match m.example_table() {
            Ok(t) => t,
            Err(e) => panic!("{name}: EXAMPLE does not parse: {e}"),
        },
        None => toml::Table::new(),
    }
}

/// A `[method]` section for `name`: the registry's example parameters, with the compressor
/// replaced by `compressor` (`None`: no compressor), then the keys of `extra` (TOML lines)
/// set over them.
pub fn method_section(name: &str, compressor: Option<&str>, extra: &str) -> String {
    let mut t = example_params(name);
    t.remove("compressor");
    if let Some(c) = compressor {
        t.insert("compressor".into(), c.into());
    }
    let extra: toml::Table = match extra.parse() {
        Ok(e) => e,
        Err(e) => panic!("extra lines do not parse: {e}\n{extra}"),
    };
    t.extend(extra);
    let mut out = format!("[method]\nname = \"{name}\"\n");
    for (k, v) in &t {
        out.push_str(&format!("{k} = {v}\n"));
    }
    out
}

/// A `[method]` section with only `name`, the compressor (if any) and `extra` (no example
/// parameters: for tests of what a missing key does).
pub fn bare_method_section(name: &str, compressor: Option<&str>, extra: &str) -> String {
    let comp = compressor
        .map(|c| format!("compressor = \"{c}\"\n"))
        .unwrap_or_default();
    format!("[method]\nname = \"{name}\"\n{comp}{extra}\n")
}

/// The compressor a registered method gets in the shared suites: `preferred` if its registry
/// example has one, `None` if not (e.g. `gd`, and `sgd`, whose compressed variant without
/// error feedback is meant to fail: X3, `econtrol_clip21_marina.rs`). Methods added to the
/// registry later enrol without editing the tests.
pub fn compressor_for(method: &str, preferred: &str) -> Option<String> {
    example_params(method)
        .contains_key("compressor")
        .then(|| preferred.to_string())
}

/// Build the engine and run the configured executor, collecting every record.
pub fn run(cfg: &ExperimentConfig, out_dir: Option<&Path>) -> (RunSummary, Vec<RoundRecord>) {
    let mut engine = build(cfg);
    run_engine(cfg, engine.as_mut(), out_dir)
}

/// Build the engine, panicking with the error.
pub fn build(cfg: &ExperimentConfig) -> Box<dyn Engine> {
    match cfg.build_engine(Path::new(".")) {
        Ok(e) => e,
        Err(e) => panic!("build_engine: {e}"),
    }
}

/// Run `engine` with the configured executor, collecting every record.
pub fn run_engine(
    cfg: &ExperimentConfig,
    engine: &mut dyn Engine,
    out_dir: Option<&Path>,
) -> (RunSummary, Vec<RoundRecord>) {
    let mut rec = Collect::default();
    let ex = cfg.executor(out_dir).expect("executor");
    let summary = ex
        .run(engine, &mut [&mut rec])
        .unwrap_or_else(|e| panic!("run failed: {e}"));
    (summary, rec.records)
}

/// The records of `rounds` rounds of `engine` (every round logged, no output files).
pub fn run_rounds(engine: &mut dyn Engine, rounds: u64) -> Vec<RoundRecord> {
    let mut rec = Collect::default();
    Executor::new(StopRules {
        max_rounds: Some(rounds),
        ..StopRules::default()
    })
    .run(engine, &mut [&mut rec])
    .unwrap();
    rec.records
}

/// A Newton-type method with the identity compressor on the embedded data (d = 30, 569 rows
/// over 4 workers), whose uplink is the dense gradient and `m` more values, f64:
///
/// * quadratic convergence: ‖∇f‖² above 1e-8 at round 4, at the f64 floor (< 1e-30) at 7;
/// * exact bits per worker per round: the Concat header (tag + the dense part's length in
///   ⌈log₂(d + m + 1)⌉ bits), the tagged dense gradient (30 values), the tagged identity
///   message (Dense, m values); 32·(30 + m) under the 32-bit convention;
/// * second-order work counted with the gradient work: 2 m_i samples per worker per round.
#[track_caller]
pub fn assert_identity_newton_run(rec: &[RoundRecord], m: f64) {
    assert!(
        rec[4].grad_norm_sq > 1e-8 && rec[7].grad_norm_sq < 1e-30,
        "{rec:?}"
    );
    let per_round = rec[1].bits_up_per_worker - rec[0].bits_up_per_worker;
    let header = 4.0 + (30.0f64 + m + 1.0).log2().ceil();
    assert_eq!(per_round, header + (4.0 + 64.0 * 30.0) + (4.0 + 64.0 * m));
    assert_eq!(
        rec[1].bits_up_values32_per_worker - rec[0].bits_up_values32_per_worker,
        32.0 * (30.0 + m)
    );
    assert_eq!(rec[1].grad_samples - rec[0].grad_samples, 2 * 569);
}

/// A fresh, empty directory under Cargo's per-target temporary directory.
pub fn tmp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Assert two record sequences are equal in everything but wall time.
pub fn assert_same_records(a: &[RoundRecord], b: &[RoundRecord], what: &str) {
    assert_eq!(
        a.len(),
        b.len(),
        "{what}: {} vs {} records",
        a.len(),
        b.len()
    );
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            x.same_trajectory(y),
            "{what}: record {i} differs:\n{x:?}\n{y:?}"
        );
    }
}

/// Copies the checkpoint file aside each time one is written (`<file>.<round>`), so that a
/// test can resume from any checkpoint position of one run.
#[derive(Debug, Default)]
pub struct KeepCheckpoints {
    /// (round, copy) in order.
    pub kept: Vec<(u64, PathBuf)>,
}

impl Observer for KeepCheckpoints {
    fn record(&mut self, _rec: &RoundRecord) -> Result<(), ExecError> {
        Ok(())
    }

    fn checkpoint(&mut self, round: u64, path: &Path) -> Result<(), ExecError> {
        let copy = path.with_extension(format!("json.{round}"));
        std::fs::copy(path, &copy).map_err(|e| ExecError::Observer(e.to_string()))?;
        self.kept.push((round, copy));
        Ok(())
    }
}

/// Whether `a` and `b` are equal bit for bit.
pub fn bits_eq(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Assert the engines are at the same point: iterates, loss and ‖∇f‖² equal bit for bit.
#[track_caller]
pub fn assert_same_point(a: &mut dyn Engine, b: &mut dyn Engine, what: &str) {
    let (xa, xb) = (a.iterate_f64(), b.iterate_f64());
    assert!(bits_eq(&xa, &xb), "{what}: iterate {xa:?} vs {xb:?}");
    let (ma, mb) = (a.evaluate().unwrap(), b.evaluate().unwrap());
    assert_eq!(ma.loss.to_bits(), mb.loss.to_bits(), "{what}: loss");
    assert_eq!(
        ma.grad_norm_sq.to_bits(),
        mb.grad_norm_sq.to_bits(),
        "{what}: ‖∇f‖²"
    );
}

/// Run both engines `rounds` rounds and assert, at the start and after every round, the same
/// point ([`assert_same_point`]) and identical uplink counts (exact bits, entries, 64-bit
/// convention).
pub fn assert_bitwise(a: &mut dyn Engine, b: &mut dyn Engine, rounds: usize, what: &str) {
    for t in 0..=rounds {
        if t > 0 {
            a.round().unwrap();
            b.round().unwrap();
        }
        assert_same_point(a, b, &format!("{what}, round {t}"));
        let (ta, tb) = (a.totals(), b.totals());
        assert_eq!(
            (&ta.bits_up, ta.entries_up, ta.bits_up_values64),
            (&tb.bits_up, tb.entries_up, tb.bits_up_values64),
            "{what}, round {t}: bits"
        );
    }
}

/// Relative difference |a − b| / max(|a|, |b|, tiny).
pub fn rel_diff(a: f64, b: f64) -> f64 {
    let scale = a.abs().max(b.abs()).max(f64::MIN_POSITIVE);
    (a - b).abs() / scale
}

/// Run the configuration `text` to `rounds` with a checkpoint every `every` rounds, keeping
/// each checkpoint; then, for each checkpoint, build a fresh engine from the same
/// configuration, resume and continue to `rounds`: records before and at the checkpoint +
/// resumed records = the uninterrupted run, and the final iterates agree bit for bit.
pub fn assert_resume_reproduces(what: &str, text: &str, rounds: u64, every: u64, dir: &str) {
    let config = cfg(text);
    let dir = tmp_dir(dir);
    // Uninterrupted run, keeping every checkpoint.
    let mut engine = build(&config);
    let mut full = Collect::default();
    let mut keep = KeepCheckpoints::default();
    let summary = config
        .executor(Some(&dir))
        .unwrap()
        .run(engine.as_mut(), &mut [&mut full, &mut keep])
        .unwrap();
    let expected_ckpts: Vec<u64> = (1..=rounds / every).map(|j| j * every).collect();
    let got: Vec<u64> = keep.kept.iter().map(|k| k.0).collect();
    assert_eq!(got, expected_ckpts, "{what}: checkpoint rounds");
    assert!(
        expected_ckpts.len() >= 3,
        "{what}: test needs several positions"
    );

    // The uninterrupted run with checkpoints records the same trajectory as one without
    // (checkpoints add records at their rounds only when those are not logged anyway).
    for (round, path) in &keep.kept {
        let resume_dir = tmp_dir(&format!(
            "{}-from-{round}",
            dir.file_name().unwrap().to_str().unwrap()
        ));
        let mut fresh = build(&config);
        let mut tail = Collect::default();
        let resumed = config
            .executor(Some(&resume_dir))
            .unwrap()
            .resume(fresh.as_mut(), path, &mut [&mut tail])
            .unwrap_or_else(|e| panic!("{what}: resume from {round}: {e}"));
        let cut = full
            .records
            .iter()
            .position(|r| r.round == *round)
            .unwrap_or_else(|| panic!("{what}: no record at checkpoint round {round}"));
        let mut joined = full.records[..=cut].to_vec();
        joined.extend(tail.records);
        assert_same_records(
            &full.records,
            &joined,
            &format!("{what}, resumed at {round}"),
        );
        assert!(resumed.last.same_trajectory(&summary.last));
        assert_eq!(resumed.reason, summary.reason);
        // The resumed engine ends in the same state: compare the final iterates bit for bit.
        let (a, b) = (engine.iterate_f64(), fresh.iterate_f64());
        assert!(
            a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{what}: final iterates differ after resuming at {round}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Exact arithmetic: dyadic least squares

/// n = 4 workers × m = 2 rows, d = 4; A has entries in {−1, 0, 1}, targets and x⁰ are k/8.
pub const ROWS: [[i64; 4]; 8] = [
    [1, 1, 0, 0],
    [0, 1, -1, 0],
    [1, 0, 0, 1],
    [0, 0, 1, 1],
    [1, -1, 0, 0],
    [0, 1, 0, -1],
    [1, 0, 1, 0],
    [0, -1, 1, 1],
];
/// Targets ×8 (heterogeneous across workers).
pub const B8: [i64; 8] = [5, -3, 7, 1, -6, 2, 3, -4];
/// x⁰ ×8.
pub const X08: [i64; 4] = [3, -5, 1, 6];
/// Workers of the dyadic problem.
pub const N_WORKERS: usize = 4;
/// Rows per worker of the dyadic problem.
pub const M_ROWS: usize = 2;

/// The dyadic least-squares problem: every operation of GD on it is exact in f64
/// (`equivalences.rs` checks against an integer reference).
pub fn dyadic_problem() -> (Arc<Problem<f64>>, Vec<f64>) {
    let dense: Vec<f64> = ROWS.iter().flatten().map(|&v| v as f64).collect();
    let a = Csr::from_dense(4, &dense).unwrap();
    let b: Vec<f64> = B8.iter().map(|&v| v as f64 / 8.0).collect();
    let p = Problem::least_squares(
        &a,
        &b,
        N_WORKERS,
        Split::Contiguous,
        Remainder::ToLast,
        Regularizer::None,
    )
    .unwrap();
    let x0: Vec<f64> = X08.iter().map(|&v| v as f64 / 8.0).collect();
    (Arc::new(p), x0)
}
