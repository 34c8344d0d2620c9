//! `squeeze run`: load a TOML experiment, apply `--set` overrides, run it with progress,
//! records, checkpoints and exact resume.
//!
//! Files in the output directory (all written as the run goes, flushed after every record, so
//! a killed run leaves valid files up to its last record):
//!
//! * `records.csv`: header [`RoundRecord::CSV_HEADER`], one [`RoundRecord::csv_row`] per record;
//! * `records.jsonl`: one JSON [`RoundRecord`] per line;
//! * `config.resolved.toml`: the configuration after overrides, data paths absolute, name set
//!   (`squeeze run config.resolved.toml` reproduces the run);
//! * `summary.json`: name, engine description, status (`running`, `finished`, `failed`), stop
//!   reason, the last record and the wall time (replaced atomically);
//! * `checkpoint.json` when `run.checkpoint_every` is set (written by the executor).

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use squeeze_driver::config::ProblemKind;
use squeeze_driver::executor::{ExecError, Observer, RunSummary, StopReason};
use squeeze_driver::{Engine, Executor, ExperimentConfig, RoundRecord};
use toml::{Table, Value};

use crate::fail::{CliResult, Failure, runtime, usage};
use crate::overrides::Override;

/// Arguments of `squeeze run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The experiment (TOML; see examples/ and `squeeze list`).
    pub config: PathBuf,
    /// Override a key before the config is read, e.g. `--set problem.n_workers=10`,
    /// `--set method.compressor=top_k:k=2`, `--set stop.max_rounds=500` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Output directory (default: runs/<name> under the current directory).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Worker threads (overrides run.threads; results do not depend on it).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Continue from <out>/checkpoint.json (same configuration; stop rules may change).
    #[arg(long)]
    pub resume: bool,
    /// No progress bar and no summary line.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Data values that name a built-in data set rather than a file.
const BUILTIN_DATA: &[&str] = &["embedded", "breast_cancer", "synthetic_a9a"];

/// Read the TOML file, apply the overrides, deserialise. Errors name the file and the key.
pub fn load_config(path: &Path, sets: &[String]) -> CliResult<ExperimentConfig> {
    let overrides = sets
        .iter()
        .map(|s| Override::parse(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let text = fs::read_to_string(path).map_err(|e| {
        usage(format!(
            "cannot read config {}: {e}; check the path (see examples/ for configs)",
            path.display()
        ))
    })?;
    let mut table: Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e
            .span()
            .map(|s| {
                let (line, col) = line_col(&text, s.start);
                format!(":{line}:{col}")
            })
            .unwrap_or_default();
        usage(format!(
            "{}{at}: invalid TOML: {}",
            path.display(),
            e.message().trim()
        ))
    })?;
    for o in &overrides {
        o.apply(&mut table)?;
    }
    serde_path_to_error::deserialize::<_, ExperimentConfig>(Value::Table(table)).map_err(|e| {
        let key = e.path().to_string();
        let from_set = overrides
            .iter()
            .find(|o| key != "." && (o.key.starts_with(&key) || key.starts_with(&o.key)))
            .map(|o| format!(" (set by --set {}={})", o.key, o.value))
            .unwrap_or_default();
        let inner = e.into_inner().message().trim().to_string();
        let key = if key == "." {
            "top level".to_string()
        } else {
            key
        };
        usage(format!("{}: {key}: {inner}{from_set}", path.display()))
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The configuration as it will run: data path absolute (resolved against `base`), name set.
pub fn resolve(mut cfg: ExperimentConfig, base: &Path) -> ExperimentConfig {
    if !BUILTIN_DATA.contains(&cfg.problem.data.as_str()) {
        let p = Path::new(&cfg.problem.data);
        let joined = if p.is_relative() {
            base.join(p)
        } else {
            p.to_path_buf()
        };
        let abs = joined.canonicalize().unwrap_or(joined);
        cfg.problem.data = abs.to_string_lossy().into_owned();
    }
    cfg.name = Some(cfg.display_name());
    cfg
}

/// A missing data file is reported with where it was looked for (before anything is built).
fn check_data(cfg: &ExperimentConfig, config: &Path, base: &Path) -> CliResult {
    let uses_data = cfg.problem.kind != ProblemKind::Quadratic3pc;
    let data = Path::new(&cfg.problem.data);
    if uses_data && !BUILTIN_DATA.contains(&cfg.problem.data.as_str()) && !data.is_file() {
        return Err(usage(format!(
            "{}: problem.data: no file at {} (relative paths are resolved against the config \
             file's directory {}); fix the path, or use data = \"embedded\" or \"synthetic_a9a\"",
            config.display(),
            data.display(),
            base.display()
        )));
    }
    Ok(())
}

/// `runs/<name>` with the name reduced to `[A-Za-z0-9._-]`.
pub fn default_out_dir(name: &str) -> PathBuf {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            s.push(c);
        } else if !s.ends_with('_') {
            s.push('_');
        }
    }
    let s = s.trim_matches(|c| c == '_' || c == '.').to_string();
    PathBuf::from("runs").join(if s.is_empty() { "run".to_string() } else { s })
}

/// What `summary.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SummaryFile {
    /// Run name (plot legends).
    pub name: String,
    /// The engine's description.
    pub describe: String,
    /// `running`, `finished` or `failed`.
    pub status: String,
    /// Why the run stopped (when finished).
    pub stop_reason: Option<StopReason>,
    /// The error (when failed).
    pub error: Option<String>,
    /// The last record written.
    pub last: RoundRecord,
    /// Wall time of the run so far in seconds (resumed runs continue the clock).
    pub wall_time_s: f64,
}

/// File names in the output directory.
pub const RECORDS_CSV: &str = "records.csv";
/// JSON-lines records.
pub const RECORDS_JSONL: &str = "records.jsonl";
/// Resolved configuration.
pub const CONFIG_RESOLVED: &str = "config.resolved.toml";
/// Summary.
pub const SUMMARY: &str = "summary.json";
/// Checkpoint (written by the executor).
pub const CHECKPOINT: &str = "checkpoint.json";

/// Run `squeeze run`: in this process, or as one rank of an MPI job when started by `mpirun`.
pub fn run(args: RunArgs) -> CliResult {
    #[cfg(feature = "mpi")]
    if squeeze_driver::mpi::launched_by_mpirun() {
        return crate::mpi_run::run(args);
    }
    #[cfg(not(feature = "mpi"))]
    if let Some(size) = mpirun_world_size()
        && size > 1
    {
        return Err(usage(format!(
            "started by mpirun as one of {size} ranks, but this squeeze was built without MPI \
             support (every rank would run the whole experiment alone): rebuild with \
             `cargo build --release -p squeeze-cli --features mpi`, or run without mpirun"
        )));
    }
    let job = prepare(&args)?;
    let mut engine = job
        .cfg
        .build_engine(&job.base)
        .map_err(|e| job.cfg_error(&e))?;
    let (mut output, resumed_from) = open_outputs(&job, &args, engine.describe())?;
    let result = execute(
        &job,
        engine.as_mut(),
        &mut [&mut output],
        resumed_from.is_some(),
    );
    finish(&job, &args, &mut output, result)
}

/// The world size announced by mpirun (OpenMPI or MPICH variables), if any.
#[cfg(not(feature = "mpi"))]
fn mpirun_world_size() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .and_then(|v| v.trim().parse().ok())
}

/// A run, prepared: configuration resolved and checked, nothing written yet.
pub(crate) struct Job {
    pub(crate) cwd: PathBuf,
    pub(crate) base: PathBuf,
    pub(crate) cfg: ExperimentConfig,
    pub(crate) name: String,
    pub(crate) out: PathBuf,
    pub(crate) executor: Executor,
    config_arg: PathBuf,
}

impl Job {
    /// A configuration error, prefixed with the config file.
    pub(crate) fn cfg_error(&self, e: &dyn std::fmt::Display) -> Failure {
        usage(format!("{}: {e}", self.config_arg.display()))
    }
}

/// Read, override, resolve and check the configuration (no file is written).
pub(crate) fn prepare(args: &RunArgs) -> CliResult<Job> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let config_path = cwd.join(&args.config);
    let base = config_path
        .parent()
        .map_or_else(|| cwd.clone(), Path::to_path_buf);
    let mut cfg = load_config(&args.config, &args.set)?;
    if let Some(t) = args.threads {
        if t == 0 {
            return Err(usage("--threads 0: use at least 1 thread"));
        }
        cfg.run.threads = t;
    }
    let cfg = resolve(cfg, &base);
    check_data(&cfg, &args.config, &base)?;
    let name = cfg.display_name();
    let out = match &args.out {
        Some(o) => cwd.join(o),
        None => cwd.join(default_out_dir(&name)),
    };
    let cfg_err = |e: &dyn std::fmt::Display| usage(format!("{}: {e}", args.config.display()));
    let executor = cfg.executor(Some(&out)).map_err(|e| cfg_err(&e))?;
    Ok(Job {
        cwd,
        base,
        cfg,
        name,
        out,
        executor,
        config_arg: args.config.clone(),
    })
}

/// Create the output directory, prepare a fresh run or a resume, write the resolved
/// configuration and open the records. Returns the writer and the checkpoint's record when
/// resuming.
pub(crate) fn open_outputs(
    job: &Job,
    args: &RunArgs,
    describe: String,
) -> CliResult<(RunOutput, Option<RoundRecord>)> {
    let out = &job.out;
    fs::create_dir_all(out).map_err(|e| {
        usage(format!(
            "cannot create the output directory {}: {e}; choose another with --out",
            out.display()
        ))
    })?;
    let resumed_from = if args.resume {
        Some(prepare_resume(out, &job.cfg)?)
    } else {
        prepare_fresh(out)?;
        None
    };
    write_resolved(out, &job.cfg, args)?;
    let show = !args.quiet && std::io::stderr().is_terminal() && !ci();
    let output = RunOutput::open(out, job.name.clone(), describe, resumed_from.as_ref(), show)
        .map_err(runtime)?;
    if let Some(max) = job.cfg.stop.max_rounds {
        output.progress.set_length(max);
    }
    Ok((output, resumed_from))
}

/// Run (or resume) the executor with `observers`.
pub(crate) fn execute(
    job: &Job,
    engine: &mut dyn Engine,
    observers: &mut [&mut dyn Observer],
    resume: bool,
) -> Result<RunSummary, ExecError> {
    if resume {
        job.executor
            .resume(engine, &job.out.join(CHECKPOINT), observers)
    } else {
        job.executor.run(engine, observers)
    }
}

/// Exit code of a failed run: a checkpoint that cannot be restored or bad stop rules are the
/// user's to fix.
pub(crate) fn exec_error_code(e: &ExecError) -> u8 {
    match e {
        ExecError::Checkpoint { .. } | ExecError::Stop(_) => crate::fail::USAGE,
        _ => crate::fail::RUNTIME,
    }
}

/// Write the summary and print the summary line (or turn the error into a failure).
pub(crate) fn finish(
    job: &Job,
    args: &RunArgs,
    output: &mut RunOutput,
    result: Result<RunSummary, ExecError>,
) -> CliResult {
    output.progress.finish_and_clear();
    match result {
        Ok(summary) => {
            output
                .write_summary("finished", Some(summary.reason), None)
                .map_err(runtime)?;
            if !args.quiet {
                println!("{}", summary_line(&job.name, &summary, &job.out, &job.cwd));
            }
            Ok(())
        }
        Err(e) => {
            let _ = output.write_summary("failed", None, Some(e.to_string()));
            Err(Failure {
                code: exec_error_code(&e),
                error: anyhow::anyhow!(
                    "{e} (records up to round {} are in {})",
                    output.last.as_ref().map_or(0, |r| r.round),
                    job.out.display()
                ),
            })
        }
    }
}

fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn summary_line(name: &str, s: &RunSummary, out: &Path, cwd: &Path) -> String {
    let reason = match s.reason {
        StopReason::MaxRounds => "max_rounds",
        StopReason::TargetReached => "target reached",
        StopReason::BitBudget => "bit budget",
        StopReason::WallTime => "wall time",
    };
    let shown = out.strip_prefix(cwd).unwrap_or(out);
    format!(
        "{name}: {} rounds ({reason}), ‖∇f‖² = {:.4e}, f = {:.6}, bits/n = {:.4e}, {:.2} s → {}",
        s.last.round,
        s.last.grad_norm_sq,
        s.last.loss,
        s.last.bits_up_per_worker,
        s.last.wall_time_s,
        shown.display()
    )
}

/// A fresh run: remove what a previous run in the same directory left.
fn prepare_fresh(out: &Path) -> CliResult {
    for f in [
        CHECKPOINT,
        "checkpoint.tmp",
        SUMMARY,
        RECORDS_CSV,
        RECORDS_JSONL,
    ] {
        let p = out.join(f);
        if p.exists() {
            fs::remove_file(&p).map_err(|e| {
                usage(format!(
                    "cannot remove the previous run's {}: {e}",
                    p.display()
                ))
            })?;
        }
    }
    Ok(())
}

/// Check that the directory holds a resumable run of the same experiment, and cut its records
/// back to the checkpoint's round. Returns the checkpoint's record.
fn prepare_resume(out: &Path, cfg: &ExperimentConfig) -> CliResult<RoundRecord> {
    let ckpt = out.join(CHECKPOINT);
    if !ckpt.exists() {
        return Err(usage(format!(
            "--resume: no checkpoint at {}; set run.checkpoint_every (the run must have passed \
             one) or run without --resume",
            ckpt.display()
        )));
    }
    let prev_path = out.join(CONFIG_RESOLVED);
    if let Ok(text) = fs::read_to_string(&prev_path) {
        let prev: Value = text.parse::<Table>().map(Value::Table).map_err(|e| {
            usage(format!(
                "--resume: {} is not valid TOML ({}); run without --resume",
                prev_path.display(),
                e.message().trim()
            ))
        })?;
        let now = Value::try_from(cfg).context("internal: config does not serialise")?;
        if let Some(key) = first_difference(&prev, &now, "") {
            let top = key.split('.').next().unwrap_or("");
            if !["stop", "run", "name"].contains(&top) {
                return Err(usage(format!(
                    "--resume: {key} differs from the interrupted run's {}; resume with the same \
                     problem, method and seed (only stop.*, run.* and name may change)",
                    prev_path.display()
                )));
            }
        }
    }
    let last: RoundRecord = squeeze_driver::executor::checkpoint_record(&ckpt).map_err(|e| {
        usage(format!(
            "--resume: {e}; delete {} and run without --resume",
            ckpt.display()
        ))
    })?;
    truncate_records(&out.join(RECORDS_CSV), last.round, true)?;
    truncate_records(&out.join(RECORDS_JSONL), last.round, false)?;
    Ok(last)
}

/// The dotted path of the first difference between two TOML values, if any.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (a, b) {
        (Value::Table(x), Value::Table(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(u), Some(v)) => first_difference(u, v, &join(k)),
                _ => Some(join(k)),
            })
        }
        _ if a == b => None,
        _ => Some(if path.is_empty() {
            ".".into()
        } else {
            path.into()
        }),
    }
}

/// Keep the header and the complete rows with round ≤ `round` (later rows, or a half-written
/// last line, come from after the checkpoint and will be recomputed). The row for `round`
/// itself must be there.
fn truncate_records(path: &Path, round: u64, csv: bool) -> CliResult {
    let text = fs::read_to_string(path).map_err(|e| {
        usage(format!(
            "--resume: cannot read {}: {e}; run without --resume to start afresh",
            path.display()
        ))
    })?;
    let mut keep = 0usize;
    let mut found = false;
    let mut lines = text.split_inclusive('\n');
    if csv {
        let header = lines.next().unwrap_or("");
        if header.trim_end() != RoundRecord::CSV_HEADER {
            return Err(usage(format!(
                "--resume: {} does not start with the records header; run without --resume",
                path.display()
            )));
        }
        keep = header.len();
    }
    for line in lines {
        if !line.ends_with('\n') {
            break; // half-written by the killed run
        }
        let r = if csv {
            line.split(',')
                .next()
                .and_then(|f| f.trim().parse::<u64>().ok())
        } else {
            serde_json::from_str::<RoundRecord>(line)
                .ok()
                .map(|r| r.round)
        };
        let Some(r) = r else {
            return Err(usage(format!(
                "--resume: {} has a malformed row at byte {keep}; run without --resume",
                path.display()
            )));
        };
        if r > round {
            break;
        }
        found |= r == round;
        keep += line.len();
    }
    if !found {
        return Err(usage(format!(
            "--resume: {} has no row for the checkpoint's round {round}; the records do not \
             belong to this checkpoint: run without --resume",
            path.display()
        )));
    }
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(keep as u64).map(|_| f))
        .map_err(|e| runtime(format!("cannot truncate {}: {e}", path.display())))?;
    f.sync_all()
        .map_err(|e| runtime(format!("cannot sync {}: {e}", path.display())))?;
    Ok(())
}

fn write_resolved(out: &Path, cfg: &ExperimentConfig, args: &RunArgs) -> CliResult {
    let body = toml::to_string(cfg).context("internal: the configuration does not serialise")?;
    let mut text = format!(
        "# Written by `squeeze run {}`{}: the configuration as run.\n",
        args.config.display(),
        args.set
            .iter()
            .map(|s| format!(" --set {s}"))
            .collect::<String>()
    );
    text.push_str(&body);
    let path = out.join(CONFIG_RESOLVED);
    write_atomic(&path, text.as_bytes())
        .map_err(|e| runtime(format!("cannot write {}: {e}", path.display())))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.flush()?;
    }
    fs::rename(&tmp, path)
}

/// The observer that writes the records, the summary and the progress bar.
pub(crate) struct RunOutput {
    dir: PathBuf,
    csv: BufWriter<File>,
    jsonl: BufWriter<File>,
    name: String,
    describe: String,
    pub(crate) last: Option<RoundRecord>,
    last_summary: Instant,
    progress: ProgressBar,
}

impl RunOutput {
    fn open(
        dir: &Path,
        name: String,
        describe: String,
        resumed_from: Option<&RoundRecord>,
        show: bool,
    ) -> anyhow::Result<Self> {
        let open = |f: &str| -> anyhow::Result<BufWriter<File>> {
            let p = dir.join(f);
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .with_context(|| format!("cannot open {}", p.display()))?;
            Ok(BufWriter::new(file))
        };
        let mut csv = open(RECORDS_CSV)?;
        let jsonl = open(RECORDS_JSONL)?;
        if resumed_from.is_none() {
            writeln!(csv, "{}", RoundRecord::CSV_HEADER)?;
            csv.flush()?;
        }
        let progress = if show {
            let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            pb.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} round {pos}/{len}  {msg}",
                )
                .context("internal: progress template")?,
            );
            pb.enable_steady_tick(Duration::from_millis(200));
            pb
        } else {
            ProgressBar::hidden()
        };
        if let Some(r) = resumed_from {
            progress.set_position(r.round);
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            csv,
            jsonl,
            name,
            describe,
            last: resumed_from.cloned(),
            last_summary: Instant::now(),
            progress,
        })
    }

    pub(crate) fn write_summary(
        &self,
        status: &str,
        reason: Option<StopReason>,
        error: Option<String>,
    ) -> anyhow::Result<()> {
        let Some(last) = &self.last else {
            return Ok(());
        };
        let s = SummaryFile {
            name: self.name.clone(),
            describe: self.describe.clone(),
            status: status.to_string(),
            stop_reason: reason,
            error,
            last: last.clone(),
            wall_time_s: last.wall_time_s,
        };
        let bytes = serde_json::to_vec_pretty(&s)?;
        let path = self.dir.join(SUMMARY);
        write_atomic(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))
    }

    fn write_record(&mut self, rec: &RoundRecord) -> anyhow::Result<()> {
        writeln!(self.csv, "{}", rec.csv_row())?;
        self.csv.flush()?;
        serde_json::to_writer(&mut self.jsonl, rec)?;
        self.jsonl.write_all(b"\n")?;
        self.jsonl.flush()?;
        Ok(())
    }
}

impl Observer for RunOutput {
    fn record(&mut self, rec: &RoundRecord) -> Result<(), ExecError> {
        let first = self.last.is_none();
        self.write_record(rec).map_err(|e| {
            ExecError::Observer(format!(
                "cannot write records in {}: {e}",
                self.dir.display()
            ))
        })?;
        self.last = Some(rec.clone());
        // A non-finite record stops the run in the executor (after this record is written).
        self.progress.set_position(rec.round);
        if !self.progress.is_hidden() {
            self.progress.set_message(format!(
                "‖∇f‖² {:.3e}  bits/n {:.3e}",
                rec.grad_norm_sq, rec.bits_up_per_worker
            ));
        }
        if first || self.last_summary.elapsed() >= Duration::from_millis(500) {
            self.last_summary = Instant::now();
            self.write_summary("running", None, None)
                .map_err(|e| ExecError::Observer(e.to_string()))?;
        }
        Ok(())
    }

    fn checkpoint(&mut self, _round: u64, _path: &Path) -> Result<(), ExecError> {
        self.write_summary("running", None, None)
            .map_err(|e| ExecError::Observer(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_out_dir_is_sanitised() {
        assert_eq!(
            default_out_dir("ef21 top_k:k=1"),
            PathBuf::from("runs/ef21_top_k_k_1")
        );
        assert_eq!(default_out_dir("../x"), PathBuf::from("runs/x"));
        assert_eq!(default_out_dir("///"), PathBuf::from("runs/run"));
        assert_eq!(default_out_dir("EF21 ×4"), PathBuf::from("runs/EF21_4"));
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn first_difference_names_the_key() {
        let a: Value = Value::Table("[p]\nx = 1\ny = 2\n".parse().unwrap());
        let b: Value = Value::Table("[p]\nx = 1\ny = 3\n".parse().unwrap());
        assert_eq!(first_difference(&a, &b, ""), Some("p.y".into()));
        assert_eq!(first_difference(&a, &a, ""), None);
        let c: Value = Value::Table("[p]\nx = 1\n".parse().unwrap());
        assert_eq!(first_difference(&a, &c, ""), Some("p.y".into()));
    }
}
