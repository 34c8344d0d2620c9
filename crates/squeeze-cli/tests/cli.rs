//! End-to-end tests of the `squeeze` binary: files of a run, errors and exit codes, `--set`,
//! plotting, and kill-and-resume reproducing an uninterrupted run.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use squeeze_driver::RoundRecord;

/// A fresh directory under the target's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    fresh_dir(&format!("cli-{name}"))
}

/// records.csv rows without the wall-time column (the only one that may differ).
fn csv_without_wall_time(path: &Path) -> Vec<String> {
    let body = fs::read_to_string(path).unwrap();
    body.lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

/// Equal line lists, reporting the first difference only (the files are long).
#[track_caller]
fn assert_same_rows(a: &[String], b: &[String], what: &str) {
    if let Some(i) = (0..a.len().min(b.len())).find(|&i| a[i] != b[i]) {
        panic!(
            "{what}: first difference at line {i}:\n  {}\n  {}",
            a[i], b[i]
        );
    }
    assert_eq!(a.len(), b.len(), "{what}: line counts");
}

/// The records of a records.csv, read with the csv crate.
fn csv_records(path: &Path) -> Vec<RoundRecord> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        RoundRecord::CSV_COLUMNS
    );
    reader
        .records()
        .map(|row| RoundRecord::from_csv_fields(row.unwrap().iter()).unwrap())
        .collect()
}

fn jsonl(path: &Path) -> Vec<RoundRecord> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn quickstart_writes_records_config_and_summary() {
    let dir = temp_dir("quickstart");
    let out = squeeze(&dir, &["run", quickstart().to_str().unwrap()]);
    assert_ok(&out);
    // Not a terminal: no progress bar, nothing on stderr; one summary line on stdout.
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("quickstart: 1000 rounds (max_rounds)"),
        "{stdout}"
    );

    let run = dir.join("runs/quickstart");
    let csv = fs::read_to_string(run.join("records.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], RoundRecord::CSV_HEADER);
    assert_eq!(lines.len(), 1 + 1001, "rounds 0..=1000 are logged");
    assert!(
        !run.join("records.jsonl").exists(),
        "CSV only unless output.formats asks for JSON lines"
    );
    let recs = csv_records(&run.join("records.csv"));
    assert_eq!(recs.len(), 1001);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.round, i as u64);
        assert_eq!(
            r.csv_row(),
            lines[i + 1],
            "csv rows read back exactly at row {i}"
        );
    }
    assert!(recs[1000].grad_norm_sq < 0.1 * recs[0].grad_norm_sq);
    assert_eq!(
        recs[1].entries_up, 10,
        "Top-1 on 10 workers sends 10 entries a round"
    );

    let summary = summary(&run);
    assert_eq!(summary["status"], "finished");
    assert_eq!(summary["stop_reason"], "max_rounds");
    assert_eq!(summary["name"], "quickstart");
    assert_eq!(summary["last"]["round"], 1000);
    assert!(
        summary["describe"].as_str().unwrap().contains("ef21"),
        "{summary}"
    );
    assert!(summary["wall_time_s"].as_f64().unwrap() > 0.0);
    assert!(run.join("checkpoint.json").is_file());
    assert_ef21_metadata(&summary, &run.join("checkpoint.json"));

    // The resolved configuration reproduces the run exactly (except wall time).
    let resolved = run.join("config.resolved.toml");
    let again = run_config(&dir, &resolved, &[], &["--out", "again", "--quiet"]);
    assert_ok(&again);
    assert!(again.stdout.is_empty(), "--quiet prints nothing");
    assert_same_rows(
        &csv_without_wall_time(&run.join("records.csv")),
        &csv_without_wall_time(&dir.join("again/records.csv")),
        "resolved config rerun",
    );

    // A resolved configuration of an older squeeze (keys of every method under [method]) is
    // refused with the key and a hint; the same key in a hand-written config gets no such hint.
    let resolved_text = fs::read_to_string(&resolved).unwrap();
    assert!(resolved_text.contains("[method]\n"), "{resolved_text}");
    let older = resolved_text.replacen("[method]\n", "[method]\nlambda = 0.5\n", 1);
    for (file, body, hinted) in [
        ("older.resolved.toml", older.clone(), true),
        (
            "hand.toml",
            older.lines().skip(1).collect::<Vec<_>>().join("\n"),
            false,
        ),
    ] {
        fs::write(dir.join(file), body).unwrap();
        let refused = squeeze(&dir, &["run", file, "--out", "older", "--quiet"]);
        assert_eq!(refused.status.code(), Some(2), "{}", text_of(&refused));
        let err = text(&refused.stderr);
        assert!(err.contains("ef21 does not take lambda"), "{err}");
        assert_eq!(err.contains("older squeeze"), hinted, "{file}: {err}");
    }
}

fn text_of(out: &Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    )
}

#[test]
fn set_overrides_any_key() {
    let dir = temp_dir("set");
    let out = run_quickstart(
        &dir,
        &[
            "problem.n_workers=5",
            "method.compressor=top_k:k=2",
            "method.stepsize.multiplier=4",
            "stop.max_rounds=50",
            "name=\"overridden run\"",
        ],
        &["--threads", "2"],
    );
    assert_ok(&out);
    let run = dir.join("runs/overridden_run");
    let cfg: toml::Table = fs::read_to_string(run.join("config.resolved.toml"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(cfg["problem"]["n_workers"].as_integer(), Some(5));
    assert_eq!(cfg["method"]["compressor"].as_str(), Some("top_k:k=2"));
    assert_eq!(
        cfg["method"]["stepsize"]["multiplier"].as_float(),
        Some(4.0)
    );
    assert_eq!(cfg["stop"]["max_rounds"].as_integer(), Some(50));
    assert_eq!(cfg["run"]["threads"].as_integer(), Some(2));
    let recs = csv_records(&run.join("records.csv"));
    assert_eq!(recs.len(), 51);
    assert_eq!(recs[1].entries_up, 5 * 2, "5 workers × Top-2");

    // Same run with one thread and the multiplier written as a float: identical records.
    let one = run_quickstart(
        &dir,
        &[
            "problem.n_workers=5",
            "method.compressor=\"top_k:k=2\"",
            "method.stepsize={ rule = \"theory\", multiplier = 4.0 }",
            "stop.max_rounds=50",
        ],
        &["--out", "one", "--threads", "1"],
    );
    assert_ok(&one);
    assert_same_rows(
        &csv_without_wall_time(&run.join("records.csv")),
        &csv_without_wall_time(&dir.join("one/records.csv")),
        "threads 2 vs 1",
    );
}

#[test]
fn user_errors_are_one_line_with_exit_code_2() {
    let dir = temp_dir("errors");
    fs::write(
        dir.join("syntax.toml"),
        "name = \"x\"\n[problem\nn_workers = 2\n",
    )
    .unwrap();
    let q = quickstart();
    let q = q.to_str().unwrap();
    // `squeeze run <quickstart> --set <set>`: (set, part of the message)
    let sets = [
        (
            "problem.n_worker=3",
            "problem.n_worker: unknown field `n_worker`",
        ),
        (
            "method.name=ef22",
            "unknown method 'ef22'; did you mean ef21? known: gd, ef14, ef21",
        ),
        ("method.compressor=tpo_k:k=1", "did you mean top_k"),
        ("problem.data=nothere.svm", "problem.data: no file at"),
        ("method.name=gd", "remove the compressor"),
        (
            "method.compressor=top_k:k=100",
            "k = 100 does not fit dimension d = 30",
        ),
        (
            "stop.max_rounds=many",
            "stop.max_rounds: invalid type: string \"many\", expected u64 (set by --set",
        ),
        ("stop.max_rounds", "expected key=value"),
        (
            "method.compressor.k=2",
            "'method.compressor' is a string, not a table",
        ),
    ];
    let mut cases: Vec<(Vec<&str>, &str)> = sets
        .iter()
        .map(|&(set, expect)| (vec!["run", q, "--set", set], expect))
        .collect();
    cases.extend([
        (
            vec!["run", "missing.toml"],
            "cannot read config missing.toml",
        ),
        (vec!["run", "syntax.toml"], "syntax.toml:2:"),
        (
            vec!["run", q, "--resume", "--out", "fresh"],
            "no checkpoint",
        ),
        (vec!["run", q, "--threads", "0"], "--threads 0"),
        (vec!["run", q, "--bogus"], "unexpected argument '--bogus'"),
        (vec!["plot", "no-such-run"], "no records.csv"),
        (vec!["list", "--dim", "0"], "--dim 0"),
    ]);
    for (args, expect) in &cases {
        let out = squeeze(&dir, args);
        assert_error(&out, 2, &[expect]);
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn divergence_is_a_runtime_failure_with_exit_code_1() {
    let dir = temp_dir("diverge");
    let out = run_quickstart(
        &dir,
        &["method.stepsize={rule=\"constant\",gamma=1e308}"],
        &["--out", "d"],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // The engine stops at the first non-finite gradient or model (MethodError::Diverged).
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains("non-finite") && err.contains("stepsize"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(summary(&dir.join("d"))["status"], "diverged");
}

#[test]
fn plot_writes_svg_and_png() {
    let dir = temp_dir("plot");
    for (m, out) in [("1", "a"), ("4", "b")] {
        let r = run_quickstart(
            &dir,
            &[
                &format!("method.stepsize.multiplier={m}"),
                &format!("name=\"EF21 {m}x\""),
                "stop.max_rounds=200",
            ],
            &["--out", out, "--quiet"],
        );
        assert_ok(&r);
    }
    for x in ["bits", "rounds", "grad_samples", "bits32"] {
        let stem = format!("img/cmp_{x}");
        let p = squeeze(&dir, &["plot", "a", "b", "--x", x, "--out", &stem]);
        assert_ok(&p);
        let svg = fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{x}");
        assert!(
            svg.contains("EF21 1x") && svg.contains("EF21 4x"),
            "legend: {x}"
        );
        assert!(svg.contains("‖∇f(x)‖²"), "y label: {x}");
        assert!(svg.matches("<polyline").count() >= 2, "two curves: {x}");
        let png = fs::read(dir.join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{x}");
        assert!(png.len() > 10_000, "{x}: {} bytes", png.len());
    }
    let p = squeeze(&dir, &["plot", "a", "--y", "loss"]);
    assert_ok(&p);
    assert!(dir.join("a/plot.svg").is_file() && dir.join("a/plot.png").is_file());
    let svg = fs::read_to_string(dir.join("a/plot.svg")).unwrap();
    assert!(svg.contains("f(x)"));
}

#[test]
fn list_shows_compressors_classes_and_methods() {
    let dir = temp_dir("list");
    let out = squeeze(&dir, &["list", "--dim", "100"]);
    assert_ok(&out);
    let s = text(&out.stdout);
    for needle in ["top_k", "qsgd", "compose", "ef21", "ef14", "gd", "d = 100"] {
        assert!(s.contains(needle), "missing {needle}");
    }
    // Top-1 at d = 100 is contractive with α = 1/100.
    let top1 = s
        .lines()
        .find(|l| l.contains("e.g. top_k:k=1 "))
        .expect("the top_k:k=1 example is listed");
    assert!(top1.contains("0.01"), "{top1}");
}

const KILL_RESUME: &str = r#"
name = "kill-resume"
seed = 7
[problem]
data = "synthetic_a9a"
rows = 6000
n_workers = 8
[method]
name = "ef21"
compressor = "top_k:k=2"
stepsize = { rule = "theory", multiplier = 4.0 }
[stop]
max_rounds = 8000
[run]
log_every = 1
checkpoint_every = 150
"#;

/// The round stored in a checkpoint, if the file is there and complete.
fn checkpoint_round(path: &Path) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
    v.pointer("/executor/last/round")?.as_u64()
}

/// The round of the last complete row of records.csv.
fn last_csv_round(path: &Path) -> Option<u64> {
    let s = fs::read_to_string(path).ok()?;
    let complete = &s[..s.rfind('\n')?];
    complete.lines().last()?.split(',').next()?.parse().ok()
}

#[test]
fn killed_run_resumes_to_the_uninterrupted_records() {
    let dir = temp_dir("kill-resume");
    fs::write(dir.join("kr.toml"), KILL_RESUME).unwrap();

    // Start, wait for a checkpoint and for records past it, then SIGKILL.
    let mut child = command(
        &dir,
        &["run", "kr.toml", "--out", "killed", "--threads", "2"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let ckpt = dir.join("killed/checkpoint.json");
    let csv = dir.join("killed/records.csv");
    let deadline = Instant::now() + Duration::from_secs(120);
    let killed_at = loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed; make KILL_RESUME longer"
        );
        if let (Some(c), Some(r)) = (checkpoint_round(&ckpt), last_csv_round(&csv))
            && r > c
        {
            child.kill().unwrap();
            child.wait().unwrap();
            break (c, r);
        }
        assert!(Instant::now() < deadline, "no checkpoint after 120 s");
        std::thread::sleep(Duration::from_millis(5));
    };
    let (ckpt_round, _) = killed_at;
    let rows_at_kill = last_csv_round(&csv).unwrap();
    assert!(
        rows_at_kill > ckpt_round && rows_at_kill < 8000,
        "{killed_at:?}"
    );
    assert_eq!(
        summary(&dir.join("killed"))["status"],
        "running",
        "killed mid-run"
    );

    // Changing the problem is refused; then resume with the same configuration.
    let kr = Path::new("kr.toml");
    let refused = run_config(
        &dir,
        kr,
        &["problem.n_workers=4"],
        &["--out", "killed", "--resume"],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("problem.n_workers differs"),
        "{}",
        text(&refused.stderr)
    );
    let resumed = run_config(
        &dir,
        kr,
        &[],
        &["--out", "killed", "--resume", "--threads", "1"],
    );
    assert_ok(&resumed);

    // The uninterrupted reference.
    let reference = squeeze(&dir, &["run", "kr.toml", "--out", "reference"]);
    assert_ok(&reference);

    let a = csv_without_wall_time(&dir.join("killed/records.csv"));
    let b = csv_without_wall_time(&dir.join("reference/records.csv"));
    assert_eq!(a.len(), 8002, "header + rounds 0..=8000, no duplicates");
    assert_same_rows(&a, &b, "resumed vs uninterrupted");
    // Only CSV was written (the default), and the resume read and cut it alone.
    assert!(!dir.join("killed/records.jsonl").exists());
    let ja = csv_records(&dir.join("killed/records.csv"));
    let jb = csv_records(&dir.join("reference/records.csv"));
    assert_eq!(ja.len(), jb.len());
    assert!(ja.iter().zip(&jb).all(|(x, y)| x.same_trajectory(y)));
    let done = summary(&dir.join("killed"));
    assert_eq!(done["status"], "finished");
    assert_eq!(done["last"]["round"], 8000);
}

#[test]
fn every_example_config_runs() {
    let dir = temp_dir("examples");
    let configs = example_configs();
    assert!(configs.len() >= 13, "{configs:?}");
    for (i, cfg) in configs.iter().enumerate() {
        let out_dir = format!("r{i}");
        let out = run_config(
            &dir,
            cfg,
            &["stop.max_rounds=2"],
            &["--out", &out_dir, "--quiet"],
        );
        let text_cfg = fs::read_to_string(cfg).unwrap();
        let needs_shared = text_cfg.contains("shared/data/libsvm");
        if needs_shared && out.status.code() == Some(2) {
            // The real data lives beside the repository and may be absent.
            let err = text(&out.stderr);
            assert!(err.contains("problem.data: no file at"), "{cfg:?}: {err}");
            eprintln!("skipped {} (data absent: {err})", cfg.display());
            continue;
        }
        assert_ok(&out);
        let recs = csv_records(&dir.join(&out_dir).join("records.csv"));
        assert_eq!(recs.last().unwrap().round, 2, "{cfg:?}");
    }
}

/// summary.json of the quickstart (EF21, Top-1 on d = 30, 16× the theory stepsize) names the
/// method, seed, threads and version, and the γ the run used (the checkpoint's server state),
/// which is 16/(L + L̃·√(β/θ)) with the reported L, L̃ and θ, β of α = 1/30.
#[track_caller]
fn assert_ef21_metadata(summary: &serde_json::Value, checkpoint: &Path) {
    assert_eq!(summary["method"], "ef21");
    assert_eq!(summary["seed"], 1);
    assert_eq!(summary["threads"], 1);
    assert_eq!(summary["version"], env!("CARGO_PKG_VERSION"));
    let step = &summary["stepsize"];
    assert_eq!(step["rule"]["rule"], "theory", "{step}");
    assert_eq!(step["rule"]["multiplier"], 16.0);
    let t = &step["theory"];
    assert_eq!(t["smoothness"], "pooled");
    let (l, l_tilde) = (t["l"].as_f64().unwrap(), t["l_tilde"].as_f64().unwrap());
    assert!(l > 0.0 && l_tilde >= l * (1.0 - 1e-12), "{t}");
    let alpha = 1.0f64 / 30.0;
    assert_eq!(t["alpha"].as_f64(), Some(alpha));
    let theta = 1.0 - (1.0 - alpha).sqrt();
    let beta = (1.0 - alpha) / theta;
    assert!((t["a"].as_f64().unwrap() - theta).abs() < 1e-15);
    assert!((t["b"].as_f64().unwrap() - beta).abs() < 1e-12 * beta);
    let gamma = step["gamma"].as_f64().unwrap();
    let want = 16.0 / (l + l_tilde * (beta / theta).sqrt());
    assert!((gamma - want).abs() <= 1e-12 * want, "{gamma} vs {want}");
    let ckpt: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(checkpoint).unwrap()).unwrap();
    let used = find_key(&ckpt, "gamma").expect("the checkpoint holds the server's γ");
    assert_eq!(used.as_f64(), Some(gamma), "reported γ = γ used");
}

/// The first value under `key` anywhere in `v` (depth first).
fn find_key<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m
            .get(key)
            .or_else(|| m.values().find_map(|x| find_key(x, key))),
        serde_json::Value::Array(a) => a.iter().find_map(|x| find_key(x, key)),
        _ => None,
    }
}

/// `output.formats` picks the record files; a run resumed with JSON lines added gets them
/// from the start (written from the CSV records up to the checkpoint), identical to a run
/// that wrote both from round 0; a format dropped on resume ends at the checkpoint.
#[test]
fn output_formats_choose_the_files_and_may_change_on_resume() {
    let dir = temp_dir("formats");
    let q = quickstart();
    let q = q.to_str().unwrap();
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            q,
            "--out",
            out,
            "--quiet",
            "--set",
            "run.checkpoint_every=10",
        ];
        args.extend_from_slice(extra);
        squeeze(&dir, &args)
    };
    let both = "output.formats=[\"csv\", \"jsonl\"]";
    assert_ok(&run(
        "both",
        &["--set", "stop.max_rounds=40", "--set", both],
    ));
    assert_ok(&run(
        "jsonl",
        &[
            "--set",
            "stop.max_rounds=40",
            "--set",
            "output.formats=[\"jsonl\"]",
        ],
    ));
    assert!(!dir.join("jsonl/records.csv").exists());
    let reference = jsonl(&dir.join("both/records.jsonl"));
    assert_eq!(reference.len(), 41);
    let only_jsonl = jsonl(&dir.join("jsonl/records.jsonl"));
    assert!(
        reference
            .iter()
            .zip(&only_jsonl)
            .all(|(a, b)| a.same_trajectory(b))
    );
    assert_eq!(csv_records(&dir.join("both/records.csv")).len(), 41);

    // CSV only for 20 rounds, then resumed to 40 with JSON lines added.
    assert_ok(&run("grown", &["--set", "stop.max_rounds=20"]));
    assert!(!dir.join("grown/records.jsonl").exists());
    let resumed = run(
        "grown",
        &["--set", "stop.max_rounds=40", "--set", both, "--resume"],
    );
    assert_ok(&resumed);
    let grown = jsonl(&dir.join("grown/records.jsonl"));
    assert_eq!(grown.len(), 41, "rounds 0..=40, the first 21 from the CSV");
    assert!(
        grown
            .iter()
            .zip(&reference)
            .all(|(a, b)| a.same_trajectory(b))
    );
    let grown_csv = csv_records(&dir.join("grown/records.csv"));
    assert!(
        grown_csv
            .iter()
            .zip(&grown)
            .all(|(a, b)| a.same_trajectory(b) && a.wall_time_s == b.wall_time_s)
    );

    // Dropping JSON lines on resume: that file ends at the checkpoint, with a note.
    let dropped = run("both", &["--set", "stop.max_rounds=60", "--resume"]);
    assert_ok(&dropped);
    assert!(
        text(&dropped.stderr).contains("records.jsonl of the interrupted run ends at round 40"),
        "{}",
        text(&dropped.stderr)
    );
    assert_eq!(jsonl(&dir.join("both/records.jsonl")).len(), 41);
    assert_eq!(csv_records(&dir.join("both/records.csv")).len(), 61);

    // Unknown formats are refused before anything runs, naming the accepted ones.
    let bad = run("bad", &["--set", "output.formats=[\"parquet\"]"]);
    assert_error(&bad, 2, &["expected `csv` or `jsonl`"]);
    let empty = run("bad", &["--set", "output.formats=[]"]);
    assert_error(&empty, 2, &["output.formats: is empty"]);
}
