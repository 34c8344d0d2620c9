//! The output directory of `squeeze run`. Files (all written as the run goes, flushed after
//! every record, so a killed run leaves valid files up to its last record):
//!
//! * `records.csv` (unless `output.formats` leaves it out): header
//!   [`RoundRecord::CSV_HEADER`], then [`RoundRecord::csv_fields`] per record, written by the
//!   `csv` crate;
//! * `records.jsonl` (when `output.formats` includes `"jsonl"`): one JSON [`RoundRecord`] per line;
//! * `config.resolved.toml`: the configuration after overrides, data paths absolute, name set
//!   (`squeeze run config.resolved.toml` reproduces the run);
//! * `summary.json`: name, engine description, the run's metadata (method, seed, stepsize and
//!   the constants behind it, threads, squeeze version), status (`running`, `finished`,
//!   `failed`, `diverged`), stop reason, the last record and the wall time (replaced
//!   atomically);
//! * `checkpoint.json` when `run.checkpoint_every` is set (written by the executor).

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use squeeze_driver::config::RecordFormat;
use squeeze_driver::executor::{ExecError, ExecutorState, Observer, RunSummary, StopReason};
use squeeze_driver::fingerprint::Fingerprint;
use squeeze_driver::{Engine, ExperimentConfig, RoundRecord, StepsizeReport};

use crate::fail::{CliResult, Failure, runtime, usage};
use crate::job::{Job, RunArgs, exec_error_code};
use crate::lock::DirLock;

/// What `summary.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SummaryFile {
    /// Run name (plot legends).
    pub name: String,
    /// The engine's description.
    pub describe: String,
    /// The method's registry name (`method.name`).
    #[serde(default)]
    pub method: String,
    /// The experiment seed.
    #[serde(default)]
    pub seed: u64,
    /// The stepsize γ the method runs with and, for a theory stepsize, the constants it was
    /// computed from (L and its rule, L̃, α or ω, A, B, …); null for methods without a
    /// stepsize rule (the gossip methods take theirs from the configuration).
    #[serde(default)]
    pub stepsize: Option<StepsizeReport>,
    /// Worker threads of the run (results do not depend on them).
    #[serde(default)]
    pub threads: usize,
    /// The squeeze version that wrote the file.
    #[serde(default)]
    pub version: String,
    /// `running`, `finished`, `failed` or `diverged` (exit code 1 for the last two).
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

/// What a run is, for `summary.json` (besides its progress).
#[derive(Debug, Clone)]
pub(crate) struct RunMeta {
    name: String,
    describe: String,
    method: String,
    seed: u64,
    stepsize: Option<StepsizeReport>,
    threads: usize,
}

impl RunMeta {
    /// The metadata of `job` running on `engine`.
    pub(crate) fn of(job: &Job, engine: &dyn Engine) -> Self {
        Self {
            name: job.name.clone(),
            describe: engine.describe(),
            method: job.cfg.method.name.clone(),
            seed: job.cfg.seed,
            stepsize: engine.stepsize(),
            threads: job.cfg.run.threads,
        }
    }
}

/// File names in the output directory.
pub const RECORDS_CSV: &str = "records.csv";
/// JSON-lines records.
pub const RECORDS_JSONL: &str = "records.jsonl";
/// Resolved configuration.
pub const CONFIG_RESOLVED: &str = "config.resolved.toml";
/// Summary.
pub const SUMMARY: &str = "summary.json";
/// The records file of `format`.
pub fn records_file(format: RecordFormat) -> &'static str {
    match format {
        RecordFormat::Csv => RECORDS_CSV,
        RecordFormat::Jsonl => RECORDS_JSONL,
    }
}

/// Checkpoint (written by the executor).
pub const CHECKPOINT: &str = "checkpoint.json";
/// The problem fingerprint (data hash and configuration; checked on resume).
pub const FINGERPRINT: &str = "fingerprint.json";

/// How the run starts: afresh, or from an engine already restored from the checkpoint
/// (restored before any file of the output directory changed).
pub(crate) enum Start {
    /// A fresh run from round 0.
    Fresh,
    /// The engine was restored from the checkpoint: continue from this state.
    Restored(ExecutorState),
}

/// The output directory, taken and checked but not yet changed: its lock, the problem
/// fingerprint and, for `--resume`, the checked resume plan.
pub(crate) struct Prepared {
    lock: DirLock,
    fingerprint: Fingerprint,
    plan: Option<crate::resume::Plan>,
}

/// Create the output directory, take its lock and check a resume (checkpoint, configuration
/// and problem fingerprint) without changing any file.
pub(crate) fn prepare_outputs(job: &Job, args: &RunArgs) -> CliResult<Prepared> {
    let out = &job.out;
    fs::create_dir_all(out).map_err(|e| {
        usage(format!(
            "cannot create the output directory {}: {e}; choose another with --out",
            out.display()
        ))
    })?;
    let acquired = crate::lock::acquire(out)?;
    if let Some(holder) = &acquired.took_over {
        crate::console::err_line(&format!(
            "note: took over the stale lock of {} ({holder}: that run is no longer running)",
            out.display()
        ));
    }
    let fingerprint = Fingerprint::of(&job.cfg, &job.base).map_err(|e| job.cfg_error(&e))?;
    let plan = if args.resume {
        Some(crate::resume::check(out, &job.cfg, &fingerprint)?)
    } else {
        None
    };
    Ok(Prepared {
        lock: acquired.lock,
        fingerprint,
        plan,
    })
}

/// Restore `engine` from the output directory's checkpoint (every rank under MPI); nothing is
/// written.
pub(crate) fn restore(job: &Job, engine: &mut dyn Engine) -> CliResult<ExecutorState> {
    job.executor
        .restore(engine, &job.out.join(CHECKPOINT))
        .map_err(|e| {
            usage(format!(
                "--resume: {e}; nothing in {} was changed",
                job.out.display()
            ))
        })
}

/// Change the prepared directory for the run: for a resume (with the engine already restored
/// to `restored`) trim the records to the checkpoint; for a fresh run remove the previous run's
/// files; then write the resolved configuration and open the records.
pub(crate) fn commit_outputs(
    job: &Job,
    args: &RunArgs,
    meta: RunMeta,
    prepared: Prepared,
    restored: Option<&ExecutorState>,
) -> CliResult<RunOutput> {
    let out = &job.out;
    let resumed_from = match (&prepared.plan, restored) {
        (Some(plan), Some(state)) => {
            if state.last().round != plan.last.round {
                return Err(usage(format!(
                    "--resume: the checkpoint's record (round {}) and its engine state (round {}) \
                     disagree; delete {} and run without --resume",
                    plan.last.round,
                    state.last().round,
                    out.join(CHECKPOINT).display()
                )));
            }
            if let Some(note) = &plan.note {
                crate::console::err_line(note);
            }
            crate::resume::commit(out, plan, &prepared.fingerprint)?;
            Some(plan.last.clone())
        }
        (None, None) => {
            prepare_fresh(out)?;
            crate::resume::write_fingerprint(out, &prepared.fingerprint)?;
            None
        }
        _ => {
            return Err(runtime(
                "internal: a resume plan without a restored engine (or the reverse)",
            ));
        }
    };
    write_resolved(out, &job.cfg, args)?;
    let show = !args.quiet && std::io::stderr().is_terminal() && !ci();
    let formats = job.cfg.record_formats().map_err(|e| job.cfg_error(&e))?;
    let progress = crate::console::progress_bar(show, job.cfg.stop.max_rounds).map_err(runtime)?;
    RunOutput::open(
        out,
        meta,
        &formats,
        resumed_from.as_ref(),
        progress,
        prepared.lock,
    )
    .map_err(runtime)
}

/// Take, check and (for a resume) restore before any file changes, then open the outputs: a
/// refused resume changes nothing (in process; `mpi_run` does the same steps across ranks).
pub(crate) fn open_outputs(
    job: &Job,
    args: &RunArgs,
    engine: &mut dyn Engine,
) -> CliResult<(RunOutput, Start)> {
    let prepared = prepare_outputs(job, args)?;
    let restored = match prepared.plan {
        Some(_) => Some(restore(job, engine)?),
        None => None,
    };
    let meta = RunMeta::of(job, engine);
    let output = commit_outputs(job, args, meta, prepared, restored.as_ref())?;
    let start = restored.map_or(Start::Fresh, Start::Restored);
    Ok((output, start))
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
                let line = summary_line(&job.name, &summary, &job.out, &job.cwd);
                crate::console::out(&format!("{line}\n"))?;
            }
            Ok(())
        }
        Err(e) => {
            let status = if e.is_divergence() {
                "diverged"
            } else {
                "failed"
            };
            let _ = output.write_summary(status, None, Some(e.to_string()));
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
        "{name}: {} rounds ({reason}), ‖∇f‖² = {:.4e}, f = {}, bits/n = {:.4e}, {:.2} s → {}",
        s.last.round,
        s.last.grad_norm_sq,
        // Fixed notation for ordinary values; a huge f (a run with stop.diverge_factor = inf)
        // in scientific notation rather than hundreds of digits.
        if s.last.loss.abs() < 1e6 {
            format!("{:.6}", s.last.loss)
        } else {
            format!("{:.6e}", s.last.loss)
        },
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
        FINGERPRINT,
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

fn write_resolved(out: &Path, cfg: &ExperimentConfig, args: &RunArgs) -> CliResult {
    let body = toml::to_string(cfg).context("internal: the configuration does not serialise")?;
    let mut text = format!(
        "{} {}`{}: the configuration as run.\n",
        crate::job::RESOLVED_HEADER,
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

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.flush()?;
    }
    fs::rename(&tmp, path)
}

/// The record files of a run, each opened for appending.
pub(crate) struct RecordWriters {
    csv: Option<csv::Writer<File>>,
    jsonl: Option<BufWriter<File>>,
}

impl RecordWriters {
    /// Open the files of `formats` in `dir` for appending; a fresh CSV file gets its header.
    pub(crate) fn open(dir: &Path, formats: &[RecordFormat], fresh: bool) -> anyhow::Result<Self> {
        let open = |f: RecordFormat| -> anyhow::Result<File> {
            let p = dir.join(records_file(f));
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .with_context(|| format!("cannot open {}", p.display()))
        };
        let mut out = Self {
            csv: None,
            jsonl: None,
        };
        for &f in formats {
            match f {
                RecordFormat::Csv => {
                    let mut w = csv::WriterBuilder::new().from_writer(open(f)?);
                    if fresh {
                        w.write_record(RoundRecord::CSV_COLUMNS)?;
                        w.flush()?;
                    }
                    out.csv = Some(w);
                }
                RecordFormat::Jsonl => out.jsonl = Some(BufWriter::new(open(f)?)),
            }
        }
        Ok(out)
    }

    /// Append `rec` to every file and flush (a killed run leaves complete rows).
    pub(crate) fn write(&mut self, rec: &RoundRecord) -> anyhow::Result<()> {
        if let Some(w) = &mut self.csv {
            w.write_record(rec.csv_fields())?;
            w.flush()?;
        }
        if let Some(w) = &mut self.jsonl {
            serde_json::to_writer(&mut *w, rec)?;
            w.write_all(b"\n")?;
            w.flush()?;
        }
        Ok(())
    }
}

/// The observer that writes the records, the summary and the progress bar.
pub(crate) struct RunOutput {
    dir: PathBuf,
    records: RecordWriters,
    meta: RunMeta,
    pub(crate) last: Option<RoundRecord>,
    last_summary: Instant,
    progress: ProgressBar,
    // Held while the run writes here; released (file removed) when the output is dropped.
    _lock: DirLock,
}

impl RunOutput {
    fn open(
        dir: &Path,
        meta: RunMeta,
        formats: &[RecordFormat],
        resumed_from: Option<&RoundRecord>,
        progress: ProgressBar,
        lock: DirLock,
    ) -> anyhow::Result<Self> {
        let records = RecordWriters::open(dir, formats, resumed_from.is_none())?;
        if let Some(r) = resumed_from {
            progress.set_position(r.round);
            // The rate (and ETA) of this process, not one inflated by the restored rounds.
            progress.reset_eta();
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            records,
            meta,
            last: resumed_from.cloned(),
            last_summary: Instant::now(),
            progress,
            _lock: lock,
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
        let m = &self.meta;
        let s = SummaryFile {
            name: m.name.clone(),
            describe: m.describe.clone(),
            method: m.method.clone(),
            seed: m.seed,
            stepsize: m.stepsize.clone(),
            threads: m.threads,
            version: env!("CARGO_PKG_VERSION").to_string(),
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
}

impl Observer for RunOutput {
    fn record(&mut self, rec: &RoundRecord) -> Result<(), ExecError> {
        let first = self.last.is_none();
        self.records.write(rec).map_err(|e| {
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

    /// The csv crate writes exactly the text the hand-made lines had (header, integers,
    /// shortest floats with `0` for zero and no exponent, `;`-joined levels, empty fields
    /// unquoted, `\n` line ends), for a fresh file and for an appending resume.
    #[test]
    fn csv_writer_keeps_the_established_text() {
        let dir = std::env::temp_dir().join(format!("squeeze-output-csv-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let line = "7,78.5,80,1924,32,64,10,1138,3.9654126964714003,0.00000015,0,0,3;0;11,,0,0,0.000139678";
        // The record behind the line (see `RoundRecord::from_csv_fields`).
        let rec = RoundRecord::from_csv_fields(line.split(',')).unwrap();
        assert_eq!(
            (rec.levels.as_slice(), rec.grad_norm_sq),
            ([3, 0, 11].as_slice(), 1.5e-7)
        );
        {
            let mut w = RecordWriters::open(&dir, &[RecordFormat::Csv], true).unwrap();
            w.write(&rec).unwrap();
        }
        {
            let mut w = RecordWriters::open(&dir, &[RecordFormat::Csv], false).unwrap();
            w.write(&rec).unwrap();
        }
        let text = fs::read_to_string(dir.join(RECORDS_CSV)).unwrap();
        assert_eq!(
            text,
            format!("{}\n{line}\n{line}\n", RoundRecord::CSV_HEADER)
        );
        assert_eq!(rec.csv_row(), line, "the same text as csv_row");
        assert!(
            !dir.join(RECORDS_JSONL).exists(),
            "only the formats asked for"
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
