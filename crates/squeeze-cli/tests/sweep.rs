//! End-to-end tests of `squeeze sweep`: the runs it starts, its tables, the tuned choice, failed
//! runs as data and configuration mistakes caught before anything runs.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

fn temp_dir(name: &str) -> PathBuf {
    fresh_dir(&format!("sweep-{name}"))
}

/// `squeeze <args>` in `dir` as on a CI machine (`CI` set: no progress display).
fn squeeze(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).env("CI", "true").output().unwrap()
}

/// `squeeze sweep <file> <extra…>` in `dir` (as [`squeeze`]).
fn run_sweep(dir: &Path, file: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["sweep", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    squeeze(dir, &args)
}

/// A sweep file in `dir` over the embedded-data CLAG example.
fn write_sweep(dir: &Path, body: &str) -> PathBuf {
    let clag = repo().join("examples/three_pc/clag.toml");
    let p = dir.join("s.sweep.toml");
    fs::write(&p, format!("config = {:?}\n{body}", clag.to_string_lossy())).unwrap();
    p
}

const SMALL: &str = r#"
seeds = [1, 2, 3]
tune = ["method.stepsize.multiplier"]
target = { grad_norm_sq = 1e-6, x = "bits", max_rounds = 3000 }
[set]
"problem.init" = { kind = "gaussian", std = 1.0 }
[grid]
"method.compressor" = ["top_k:k=1", "top_k:k=3"]
"method.stepsize.multiplier" = [1.0, 64.0]
"#;

/// `sweep.csv` as rows of (column → value).
fn csv_rows(path: &Path) -> Vec<Vec<(String, String)>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

fn get<'a>(row: &'a [(String, String)], key: &str) -> &'a str {
    &row.iter().find(|(k, _)| k == key).unwrap().1
}

#[test]
fn a_sweep_runs_every_cell_and_seed_and_tabulates_the_cost_with_its_spread() {
    let dir = temp_dir("small");
    let sweep = write_sweep(&dir, SMALL);
    let out = run_sweep(&dir, &sweep, &["--out", "sw", "--jobs", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = csv_rows(&dir.join("sw/sweep.csv"));
    assert_eq!(rows.len(), 2 * 2 * 3, "every grid point × seed is a run");
    for row in &rows {
        // Each run is an ordinary run whose summary holds the cost.
        let run_dir = dir.join("sw").join(get(row, "dir"));
        let summary: serde_json::Value =
            serde_json::from_slice(&fs::read(run_dir.join("summary.json")).unwrap()).unwrap();
        let reached = summary["stop_reason"] == "target_reached";
        assert_eq!(get(row, "outcome") == "reached", reached, "{row:?}");
        if reached {
            let bits: f64 = get(row, "bits").parse().unwrap();
            assert_eq!(
                bits,
                summary["last"]["bits_up_per_worker"].as_f64().unwrap()
            );
            assert!(summary["last"]["grad_norm_sq"].as_f64().unwrap() <= 1e-6);
        }
        let resolved = fs::read_to_string(run_dir.join("config.resolved.toml")).unwrap();
        assert!(
            resolved.contains(&format!("seed = {}", get(row, "seed"))),
            "{resolved}"
        );
        assert!(
            resolved.contains("gaussian"),
            "the fixed override applies: {resolved}"
        );
    }
    // The seed changes the start, so the costs over seeds are not all equal.
    let k1_64: Vec<f64> = rows
        .iter()
        .filter(|r| get(r, "method.compressor") == "top_k:k=1")
        .filter(|r| get(r, "method.stepsize.multiplier") == "64.0")
        .map(|r| get(r, "bits").parse().unwrap())
        .collect();
    assert_eq!(k1_64.len(), 3);
    assert!(k1_64.iter().any(|&b| b != k1_64[0]), "{k1_64:?}");
    // The tuned choice per cell is the multiplier with the lower median (recomputed here).
    let md = fs::read_to_string(dir.join("sw/sweep.md")).unwrap();
    for k in ["top_k:k=1", "top_k:k=3"] {
        let median = |m: &str| {
            let mut v: Vec<f64> = rows
                .iter()
                .filter(|r| get(r, "method.compressor") == k)
                .filter(|r| get(r, "method.stepsize.multiplier") == m)
                .map(|r| get(r, "bits").parse().unwrap_or(f64::INFINITY))
                .collect();
            v.sort_by(f64::total_cmp);
            v[1]
        };
        let best = if median("64.0") <= median("1.0") {
            "64.0"
        } else {
            "1.0"
        };
        assert!(
            md.contains(&format!("| {k} | {best} |")),
            "{k}: {best}\n{md}"
        );
    }
    assert!(md.contains("Best cell:"), "{md}");
    assert!(
        md.contains("Separated") || md.contains("Within the spread over seeds"),
        "{md}"
    );
    // One run at a time gives the same tables.
    let out = run_sweep(&dir, &sweep, &["--out", "sw1", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for f in ["sweep.md", "sweep.csv"] {
        assert_eq!(
            fs::read(dir.join("sw").join(f)).unwrap(),
            fs::read(dir.join("sw1").join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn a_diverging_run_is_a_result_and_the_sweep_goes_on() {
    let dir = temp_dir("diverge");
    let body = SMALL
        .replace("[1.0, 64.0]", "[1.0, 1e9]")
        .replace("seeds = [1, 2, 3]", "seeds = [1]");
    let sweep = write_sweep(&dir, &body);
    let out = run_sweep(&dir, &sweep, &["--out", "sw"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = csv_rows(&dir.join("sw/sweep.csv"));
    assert_eq!(rows.len(), 4);
    for row in &rows {
        let huge = get(row, "method.stepsize.multiplier") == "1000000000.0";
        assert_eq!(get(row, "outcome") == "failed", huge, "{row:?}");
    }
    let md = fs::read_to_string(dir.join("sw/sweep.md")).unwrap();
    assert!(md.contains("| 1.0 |"), "the finite multiplier wins: {md}");
}

#[test]
fn mistakes_are_reported_before_any_run_starts() {
    let dir = temp_dir("mistakes");
    for (body, needle) in [
        (
            SMALL.replace("\"method.compressor\"", "\"method.bogus\""),
            "bogus",
        ),
        (SMALL.replace("top_k:k=3", "top_k:k=999"), "top_k:k=999"),
        (SMALL.replace("seeds = [1, 2, 3]", "seeds = []"), "seeds"),
        (SMALL.replace("1e-6", "0.0"), "target.grad_norm_sq"),
    ] {
        let sweep = write_sweep(&dir, &body);
        let out = run_sweep(&dir, &sweep, &["--out", "sw"]);
        assert_eq!(out.status.code(), Some(2), "{body}");
        let err = text(&out.stderr);
        assert!(err.contains(needle), "{needle}: {err}");
        assert!(!dir.join("sw").exists(), "nothing ran: {err}");
    }
}

#[test]
fn dry_run_lists_the_runs_and_runs_nothing() {
    let dir = temp_dir("dry");
    let sweep = write_sweep(&dir, SMALL);
    let out = run_sweep(&dir, &sweep, &["--out", "sw", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("12 runs"), "{stdout}");
    assert!(!dir.join("sw").exists());
}

#[test]
fn the_example_sweeps_are_valid() {
    let dir = temp_dir("examples");
    let mut n = 0;
    for e in fs::read_dir(repo().join("examples/sweeps")).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with(".sweep.toml") {
            let out = run_sweep(&dir, &p, &["--dry-run"]);
            let err = text(&out.stderr);
            let needs_shared = fs::read_to_string(&p).unwrap().contains("shared/data")
                || err.contains("problem.data: no file at");
            assert!(
                out.status.success() || needs_shared,
                "{}: {err}",
                p.display()
            );
            n += 1;
        }
    }
    assert!(n >= 1);
}
