//! Helpers shared by the integration tests of the `squeeze` binary.
//!
//! Each test file uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_squeeze");

/// The repository root (the tests run from a checkout).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `examples/quickstart.toml` (EF21, Top-1, 10 workers on the embedded data).
pub fn quickstart() -> PathBuf {
    repo().join("examples/quickstart.toml")
}

/// A fresh, empty directory `name` under the target's temporary directory.
pub fn fresh_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// `squeeze <args>` in `cwd`, not yet started: stdin closed, without `CI` (which hides the
/// progress bar) or `RUST_BACKTRACE` (which would lengthen a panic's message) from the
/// environment of the tests.
pub fn command<A: AsRef<OsStr>>(cwd: &Path, args: &[A]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(cwd)
        .env_remove("CI")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null());
    c
}

/// Run `squeeze <args>` in `cwd` to completion.
pub fn squeeze(cwd: &Path, args: &[&str]) -> Output {
    command(cwd, args)
        .output()
        .expect("the squeeze binary runs")
}

/// Lossy UTF-8 of a captured stream.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Exit code 0, else fail with both streams.
#[track_caller]
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Exit `code`, exactly one stderr line `error: …` containing every `needles`, no panic, a
/// short message; returns the message.
#[track_caller]
pub fn assert_error(out: &Output, code: i32, needles: &[&str]) -> String {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected '{n}' in: {err}");
    }
    assert!(err.len() < 700, "short message: {err}");
    err
}

/// The `summary.json` of the run directory `dir`.
pub fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// Every configuration (`*.toml`, not the `*.sweep.toml` sweep files, which
/// `tests/sweep.rs` runs) under `dir`, recursively, into `out`.
pub fn tomls(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            tomls(&p, out);
        } else if p.extension().is_some_and(|x| x == "toml")
            && !p.to_string_lossy().ends_with(".sweep.toml")
        {
            out.push(p);
        }
    }
}

/// The example configurations of the repository, sorted.
pub fn example_configs() -> Vec<PathBuf> {
    let mut configs = Vec::new();
    tomls(&repo().join("examples"), &mut configs);
    configs.sort();
    configs
}

/// `squeeze run <config> --set <sets[0]> --set <sets[1]> … <extra…>` in `dir`.
pub fn run_config(dir: &Path, config: &Path, sets: &[&str], extra: &[&str]) -> Output {
    command(dir, &run_args(config, sets, extra))
        .output()
        .expect("the squeeze binary runs")
}

/// [`run_config`] of the quickstart.
pub fn run_quickstart(dir: &Path, sets: &[&str], extra: &[&str]) -> Output {
    run_config(dir, &quickstart(), sets, extra)
}

/// The arguments `run <quickstart> --set <sets[0]> … <extra…>`.
pub fn quickstart_args(sets: &[&str], extra: &[&str]) -> Vec<String> {
    run_args(&quickstart(), sets, extra)
}

/// The arguments `run <config> --set <sets[0]> … <extra…>`.
pub fn run_args(config: &Path, sets: &[&str], extra: &[&str]) -> Vec<String> {
    let mut args = vec!["run".to_string(), config.to_string_lossy().into_owned()];
    for s in sets {
        args.push("--set".into());
        args.push(s.to_string());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}
