//! Real MPI runs of the `squeeze` binary under `mpirun` (feature `mpi`; without it this file
//! compiles to nothing). `cargo test --release -p squeeze-cli --features mpi --test mpi` runs
//! them; `.ci/run` installs OpenMPI and libclang first.
//!
//! What is checked, each against the same binary run in process:
//! * same seed ⇒ the records of `mpirun -np 2` and `-np 4` equal the in-process records bit for
//!   bit, except wall time and the measured wire bytes — for EF21, EControl (star) and MoTEF
//!   (gossip on a ring);
//! * the measured wire bytes agree with the reported bits: every message costs
//!   8 + ⌈bits/8⌉ bytes (frame header + payload), per round and per message;
//! * checkpoint and resume under MPI reproduce the uninterrupted in-process run;
//! * failures are loud and bounded: a rank that cannot open the data, a rank with a different
//!   configuration, and a rank that is killed all end the job with a non-zero exit and a clear
//!   message within seconds.
//!
//! MPI needs one process per rank; `mpirun` runs them (as root this needs OpenMPI's
//! `OMPI_ALLOW_RUN_AS_ROOT*` variables, set here; oversubscription lets 4 ranks share 2 cores).
#![cfg(feature = "mpi")]

mod common;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, example_configs, fresh_dir};
use squeeze_driver::RoundRecord;

/// Every mpirun in these tests must end within this time (a hang is a failure).
const DEADLINE: Duration = Duration::from_secs(120);

fn temp_dir(name: &str) -> PathBuf {
    fresh_dir(&format!("mpi-{name}"))
}

/// A fresh directory `mpi-<name>` holding `config` as `c.toml`.
fn dir_with(name: &str, config: &str) -> PathBuf {
    let dir = temp_dir(name);
    fs::write(dir.join("c.toml"), config).unwrap();
    dir
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Run `cmd` to completion or kill it at the deadline (and fail).
fn run_bounded(mut cmd: Command, what: &str) -> Run {
    // The temporary directory of an mpirun ([`mpirun_cmd`]), removed when it ends.
    let tmp = cmd
        .get_envs()
        .find(|(k, _)| *k == "TMPDIR")
        .and_then(|(_, v)| v.map(PathBuf::from));
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("CI")
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{what}: cannot start ({e}); is OpenMPI installed (apt-get install openmpi-bin libopenmpi-dev)?")
        });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("{what}: still running after {DEADLINE:?} (hung)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    if let Some(tmp) = tmp {
        let _ = fs::remove_dir_all(tmp);
    }
    Run {
        code: status.code(),
        stdout,
        stderr,
        elapsed: start.elapsed(),
    }
}

/// `mpirun -np <np>` in `cwd`, with a temporary directory of its own: Open MPI makes its
/// session directory under `TMPDIR`, and two mpiruns that start together in the same one can
/// both try to create it ("mkdir … File exists", `orte_init` fails). A short path under the
/// system's temporary directory keeps its socket paths within their length limit.
fn mpirun_cmd(np: usize, cwd: &Path) -> Command {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let tmp = std::env::temp_dir().join(format!(
        "sqmpi-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&tmp).unwrap();
    let mut cmd = Command::new("mpirun");
    cmd.arg("-np")
        .arg(np.to_string())
        .current_dir(cwd)
        .env("TMPDIR", &tmp)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1");
    cmd
}

/// `mpirun -np <np> squeeze <args>` in `cwd`.
fn mpirun(np: usize, cwd: &Path, args: &[&str]) -> Run {
    let mut cmd = mpirun_cmd(np, cwd);
    cmd.arg(BIN).args(args);
    run_bounded(cmd, &format!("mpirun -np {np} squeeze {}", args.join(" ")))
}

/// `mpirun -np <np> sh -c <script>` with `$SQUEEZE` set to the binary (per-rank behaviour).
fn mpirun_sh(np: usize, cwd: &Path, script: &str) -> Run {
    let mut cmd = mpirun_cmd(np, cwd);
    cmd.env("SQUEEZE", BIN).arg("sh").arg("-c").arg(script);
    run_bounded(cmd, &format!("mpirun -np {np} sh -c '{script}'"))
}

/// The same binary, in process.
fn local(cwd: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(cwd);
    run_bounded(cmd, &format!("squeeze {}", args.join(" ")))
}

#[track_caller]
fn assert_ok(r: &Run) {
    assert_eq!(
        r.code,
        Some(0),
        "stdout: {}\nstderr: {}",
        r.stdout,
        r.stderr
    );
}

/// The records of a run (records.csv, read with the csv crate; floats read back exactly).
fn records(dir: &Path) -> Vec<RoundRecord> {
    let mut reader = csv::Reader::from_path(dir.join("records.csv")).unwrap();
    reader
        .records()
        .map(|row| RoundRecord::from_csv_fields(row.unwrap().iter()).unwrap())
        .collect()
}

#[track_caller]
fn assert_same_trajectory(local: &[RoundRecord], mpi: &[RoundRecord], what: &str) {
    assert_eq!(local.len(), mpi.len(), "{what}: number of records");
    assert!(local.len() > 2, "{what}: too few records to compare");
    for (a, b) in local.iter().zip(mpi) {
        assert!(
            b.same_trajectory_as_in_process(a),
            "{what}: round {} differs:\nin process {a:?}\nMPI        {b:?}",
            a.round
        );
    }
    assert_eq!(local.last().unwrap().wire_bytes_up, 0);
    assert!(
        mpi.last().unwrap().wire_bytes_up > 0,
        "{what}: nothing measured"
    );
}

/// A run `name` of `rounds` rounds (records every `log_every`) on the embedded data's nonconvex
/// logistic regression (λ = 0.1) over `n_workers`; `init` is x⁰'s `[problem]` line (empty:
/// the default), `sections` the `[method]` section and any others.
fn embedded_run(
    name: &str,
    seed: u64,
    n_workers: usize,
    init: &str,
    sections: &str,
    rounds: u64,
    log_every: u64,
) -> String {
    format!(
        r#"
name = "{name}"
seed = {seed}
[problem]
kind = "logreg"
data = "embedded"
n_workers = {n_workers}
regularizer = {{ kind = "nonconvex", lambda = 0.1 }}
{init}
{sections}
[stop]
max_rounds = {rounds}
[run]
log_every = {log_every}
"#
    )
}

const GAUSSIAN: &str = "init = { kind = \"gaussian\", std = 1.0 }";

/// EF21, Top-1, 16 × the theory stepsize, 10 workers, 300 rounds.
fn ef21() -> String {
    let method = "[method]\nname = \"ef21\"\ncompressor = \"top_k:k=1\"\nstepsize = { rule = \"theory\", multiplier = 16.0 }";
    embedded_run("ef21-mpi", 7, 10, GAUSSIAN, method, 300, 1)
}

/// EControl, Top-2, 7 workers (uneven blocks over the ranks), 200 rounds.
fn econtrol() -> String {
    let method = "[method]\nname = \"econtrol\"\ncompressor = \"top_k:k=2\"\neta = 0.05\nstepsize = { rule = \"theory\", multiplier = 4.0 }";
    embedded_run("econtrol-mpi", 11, 7, "", method, 200, 5)
}

/// MoTEF, Top-3, on a ring of 8, 150 rounds.
fn motef() -> String {
    let sections = "[topology]\nkind = \"ring\"\n[method]\nname = \"motef\"\ncompressor = \"top_k:k=3\"\ngamma = 0.5\neta = 0.05\nlambda = 0.1";
    embedded_run("motef-mpi", 3, 8, "", sections, 150, 1)
}

/// PowerSGD, rank 2 on two layers, 7 workers, 100 rounds.
fn powersgd() -> String {
    let method = "[method]\nname = \"powersgd\"\nrank = 2\nlayers = [[5, 4], [2, 5]]\nwarm_start = false\nstepsize = { rule = \"theory\", multiplier = 1.0 }";
    embedded_run("powersgd-mpi", 5, 7, GAUSSIAN, method, 100, 1)
}

/// Write `config`, run it in process and under mpirun with each `np`; returns the records
/// (in process first).
fn compare(name: &str, config: &str, nps: &[usize]) -> Vec<Vec<RoundRecord>> {
    let dir = dir_with(name, config);
    let r = local(&dir, &["run", "c.toml", "--out", "local", "-q"]);
    assert_ok(&r);
    let mut all = vec![records(&dir.join("local"))];
    for &np in nps {
        let out = format!("np{np}");
        let r = mpirun(np, &dir, &["run", "c.toml", "--out", &out, "-q"]);
        assert_ok(&r);
        let recs = records(&dir.join(&out));
        assert_same_trajectory(&all[0], &recs, &format!("{name}, np = {np}"));
        all.push(recs);
    }
    all
}

#[test]
fn ef21_over_mpi_equals_in_process_and_wire_bytes_match_bits() {
    let all = compare("ef21", &ef21(), &[2, 4]);
    let n = 10u64;
    for recs in &all[1..] {
        for w in recs.windows(2) {
            // Top-1 messages have the same size for every worker: b bits each this round.
            let b = (w[1].bits_up_per_worker - w[0].bits_up_per_worker) as u64;
            assert!(b > 0);
            assert_eq!(
                w[1].wire_bytes_up - w[0].wire_bytes_up,
                n * (8 + b.div_ceil(8)),
                "round {}: uplink frames = n × (8-byte header + ⌈bits/8⌉)",
                w[1].round
            );
            let bd = w[1].bits_down_per_worker - w[0].bits_down_per_worker;
            assert_eq!(
                w[1].wire_bytes_down - w[0].wire_bytes_down,
                8 + bd.div_ceil(8),
                "round {}: one downlink broadcast = 8 + ⌈bits/8⌉",
                w[1].round
            );
        }
    }
}

/// Two communication phases per round (P then Q), each decoded at its own dimension.
#[test]
fn powersgd_over_mpi_equals_in_process_and_counts_both_phases() {
    let all = compare("powersgd", &powersgd(), &[2, 4]);
    for recs in &all[1..] {
        for w in recs.windows(2) {
            // r = 2 on 5 × 4 and 2 × 5: P_i has 14 values, Q_i 18 (f64), two frames per
            // worker and two broadcasts per round.
            let (p, q) = (4 + 64 * 14u64, 4 + 64 * 18u64);
            assert_eq!(
                w[1].bits_up_per_worker - w[0].bits_up_per_worker,
                (p + q) as f64
            );
            assert_eq!(
                w[1].wire_bytes_up - w[0].wire_bytes_up,
                7 * (8 + p.div_ceil(8) + 8 + q.div_ceil(8)),
                "round {}",
                w[1].round
            );
            assert_eq!(
                w[1].wire_bytes_down - w[0].wire_bytes_down,
                8 + q.div_ceil(8) + 8 + p.div_ceil(8),
                "round {}",
                w[1].round
            );
        }
    }
}

#[test]
fn econtrol_over_mpi_equals_in_process() {
    // n = 7 over 2 and 4 ranks: uneven blocks (4+3, 2+2+2+1).
    compare("econtrol", &econtrol(), &[2, 4]);
}

#[test]
fn motef_over_mpi_equals_in_process_and_only_border_messages_travel() {
    let all = compare("motef", &motef(), &[2, 4]);
    // Ring of 8. On 2 ranks ({0..3}, {4..7}) nodes 3, 4, 7 and 0 have a neighbour on the other
    // rank: 4 messages cross per phase. On 4 ranks (pairs) every node has exactly one: 8.
    // MoTEF sends 2 messages per node and round (two phases) of equal Top-3 size.
    for (recs, crossing) in all[1..].iter().zip([4u64, 8]) {
        for w in recs.windows(2) {
            let per_node = (w[1].bits_up_per_worker - w[0].bits_up_per_worker) as u64;
            assert_eq!(per_node % 2, 0);
            let b = per_node / 2;
            assert_eq!(
                w[1].wire_bytes_up - w[0].wire_bytes_up,
                crossing * 2 * (8 + b.div_ceil(8)),
                "round {}",
                w[1].round
            );
        }
    }
}

#[test]
fn checkpoint_and_resume_over_mpi_reproduce_the_uninterrupted_run() {
    for (name, config) in [("resume-ef21", ef21()), ("resume-motef", motef())] {
        let dir = dir_with(name, &config);
        assert_ok(&local(&dir, &["run", "c.toml", "--out", "local", "-q"]));
        let args = [
            "run",
            "c.toml",
            "--out",
            "mpi",
            "-q",
            "--set",
            "run.checkpoint_every=50",
        ];
        let first: Vec<&str> = args
            .iter()
            .copied()
            .chain(["--set", "stop.max_rounds=120"])
            .collect();
        assert_ok(&mpirun(3, &dir, &first));
        assert!(dir.join("mpi/checkpoint.json").is_file());
        // Resume from round 100 (the last checkpoint) and run to the configured end.
        let second: Vec<&str> = args.iter().copied().chain(["--resume"]).collect();
        assert_ok(&mpirun(3, &dir, &second));
        assert_same_trajectory(
            &records(&dir.join("local")),
            &records(&dir.join("mpi")),
            &format!("{name}: resumed MPI run"),
        );
    }
}

#[test]
fn a_rank_without_the_data_stops_every_rank_with_its_message() {
    let dir = dir_with("no-data", &ef21());
    fs::write(
        dir.join("missing.toml"),
        ef21().replace("data = \"embedded\"", "data = \"not-here.svm\""),
    )
    .unwrap();
    let r = mpirun_sh(
        2,
        &dir,
        r#"if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then c=missing.toml; else c=c.toml; fi; exec "$SQUEEZE" run "$c" --out o -q"#,
    );
    assert_ne!(r.code, Some(0), "stderr: {}", r.stderr);
    assert!(
        r.stderr.contains("rank 1") && r.stderr.contains("not-here.svm"),
        "stderr: {}",
        r.stderr
    );
    assert!(r.elapsed < Duration::from_secs(60));
}

#[test]
fn ranks_with_different_configurations_refuse_to_run() {
    let dir = dir_with("differs", &ef21());
    let r = mpirun_sh(
        2,
        &dir,
        r#"if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then extra="--set stop.max_rounds=11"; fi; exec "$SQUEEZE" run c.toml --out o -q $extra"#,
    );
    assert_ne!(r.code, Some(0));
    assert!(
        r.stderr.contains("configuration of rank(s) 1 differs"),
        "stderr: {}",
        r.stderr
    );
    assert!(!dir.join("o/records.csv").exists(), "nothing may run");
}

#[test]
fn a_killed_rank_ends_the_job_with_a_non_zero_exit() {
    let dir = dir_with("killed", &ef21());
    // Rank 1 is killed (SIGKILL) one second into a run that would take hours.
    let r = mpirun_sh(
        2,
        &dir,
        r#"if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then (sleep 1; kill -9 $$) & fi; exec "$SQUEEZE" run c.toml --out o -q --set stop.max_rounds=1000000000 --set run.log_every=100000"#,
    );
    assert_ne!(r.code, Some(0), "stderr: {}", r.stderr);
    assert!(r.elapsed < Duration::from_secs(60), "took {:?}", r.elapsed);
    assert!(
        r.stderr.contains("signal 9") || r.stderr.contains("Killed"),
        "mpirun names the dead rank: {}",
        r.stderr
    );
}

#[test]
fn more_ranks_than_workers_is_a_clear_error() {
    let dir = temp_dir("too-many");
    fs::write(
        dir.join("c.toml"),
        ef21().replace("n_workers = 10", "n_workers = 2"),
    )
    .unwrap();
    let r = mpirun(3, &dir, &["run", "c.toml", "--out", "o", "-q"]);
    assert_eq!(r.code, Some(2), "stderr: {}", r.stderr);
    assert!(r.stderr.contains("mpirun -np 2"), "stderr: {}", r.stderr);
}

/// Every example configuration (every method family the examples use: EF21 and its variants,
/// EF14, 3PC, AdaCGD, EControl, Clip21, MARINA, gossip methods, …), a few rounds under
/// `mpirun -np 2`, equals its in-process run.
#[test]
fn every_example_config_over_mpi_equals_in_process() {
    let dir = temp_dir("examples");
    let configs = example_configs();
    assert!(configs.len() >= 10, "{configs:?}");
    let mut compared = 0;
    for (i, cfg) in configs.iter().enumerate() {
        let cfg_s = cfg.to_str().unwrap();
        let args = |out: &str| -> Vec<String> {
            [
                "run",
                cfg_s,
                "--set",
                "stop.max_rounds=3",
                "--set",
                "run.log_every=1",
                "--set",
                "run.checkpoint_every=0",
                "--out",
                out,
                "-q",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        };
        let local_out = format!("l{i}");
        let a = args(&local_out);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let r = local(&dir, &a);
        if r.code == Some(2) && r.stderr.contains("problem.data: no file at") {
            // The real LIBSVM data lives beside the repository and may be absent.
            eprintln!("skipped {} (data absent)", cfg.display());
            continue;
        }
        assert_ok(&r);
        let mpi_out = format!("m{i}");
        let b = args(&mpi_out);
        let b: Vec<&str> = b.iter().map(String::as_str).collect();
        let r = mpirun(2, &dir, &b);
        assert_ok(&r);
        assert_same_trajectory(
            &records(&dir.join(&local_out)),
            &records(&dir.join(&mpi_out)),
            cfg_s,
        );
        compared += 1;
    }
    assert!(compared >= 10, "only {compared} configs compared");
}

/// The wall clock differs between ranks; the stop decision is rank 0's, taken by all.
#[test]
fn a_wall_time_stop_is_taken_by_every_rank_together() {
    let dir = dir_with("wall-time", &ef21());
    let r = mpirun(
        3,
        &dir,
        &[
            "run",
            "c.toml",
            "--out",
            "o",
            "-q",
            "--set",
            "stop.max_rounds=1000000000",
            "--set",
            "stop.wall_time_s=1.0",
            "--set",
            "run.log_every=1000",
        ],
    );
    assert_ok(&r);
    let summary = fs::read_to_string(dir.join("o/summary.json")).unwrap();
    assert!(summary.contains("\"wall_time\""), "{summary}");
    let last = records(&dir.join("o")).pop().unwrap();
    assert!(last.round > 0 && last.wall_time_s >= 1.0, "{last:?}");
}

/// Every file of an output directory with its contents (the lock file aside).
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with(".squeeze.lock"))
        .map(|p| (p.display().to_string(), fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

/// Without a shared file system ranks may read different checkpoint files, or one rank none:
/// refused before rank 0 changes anything (its records are not trimmed, its summary and
/// configuration are untouched).
#[test]
fn ranks_resuming_from_different_checkpoints_refuse_to_run_and_change_nothing() {
    for (case, rank1_rounds, expected) in [
        (
            "two-checkpoints",
            Some("60"),
            "checkpoint file of rank(s) 1 differs",
        ),
        ("one-checkpoint", None, "cannot read"),
    ] {
        let dir = dir_with(case, &ef21());
        for (sub, rounds) in [("r0", Some("120")), ("r1", rank1_rounds)] {
            fs::create_dir_all(dir.join(sub)).unwrap();
            let Some(rounds) = rounds else { continue };
            let r = local(
                &dir.join(sub),
                &[
                    "run",
                    "../c.toml",
                    "--out",
                    "o",
                    "-q",
                    "--set",
                    "run.checkpoint_every=50",
                    "--set",
                    &format!("stop.max_rounds={rounds}"),
                ],
            );
            assert_ok(&r);
        }
        let before = snapshot(&dir.join("r0/o"));
        let r = mpirun_sh(
            2,
            &dir,
            r#"cd "r$OMPI_COMM_WORLD_RANK" && exec "$SQUEEZE" run ../c.toml --out o -q --resume"#,
        );
        assert_ne!(r.code, Some(0), "{case}: stderr: {}", r.stderr);
        assert!(r.stderr.contains(expected), "{case}: stderr: {}", r.stderr);
        assert!(
            snapshot(&dir.join("r0/o")) == before,
            "{case}: rank 0's output directory changed"
        );
    }
}

/// A diverging run stops on every rank at the same round: rank 0 reports it, exit code 1, no
/// abort of the job.
#[test]
fn a_diverging_run_stops_every_rank_cleanly() {
    let dir = temp_dir("diverges");
    fs::write(
        dir.join("c.toml"),
        ef21()
            .replace(
                "stepsize = { rule = \"theory\", multiplier = 16.0 }",
                "stepsize = { rule = \"constant\", gamma = 1e12 }",
            )
            .replace("kind = \"logreg\"", "kind = \"least_squares\""),
    )
    .unwrap();
    let r = mpirun(3, &dir, &["run", "c.toml", "--out", "o", "-q"]);
    assert_eq!(r.code, Some(1), "stderr: {}", r.stderr);
    assert!(
        r.stderr.contains("non-finite") || r.stderr.contains("diverged"),
        "stderr: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("MPI_ABORT"), "stderr: {}", r.stderr);
    assert_eq!(
        r.stderr.matches("error:").count(),
        1,
        "one report: {}",
        r.stderr
    );
}
