//! The run loop: stop rules, observers, checkpoints and exact resume.
//!
//! ```text
//! record(round 0)
//! loop:
//!     if a stop rule holds: stop
//!     engine.round()
//!     if round % log_every == 0: record (loss, ‖∇f‖², bits, …) → observers
//!     if round % checkpoint.every == 0: write the checkpoint (atomically)
//! record the final round if it was not logged
//! ```
//!
//! A checkpoint holds the engine snapshot (all method state, RNG streams included, and the
//! counters) plus the executor's own state (the last record and the elapsed wall time). Resuming
//! from it and running to the same stop produces records identical, except wall time, to an
//! uninterrupted run: the rounds after the checkpoint are recomputed exactly.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::engine::{Engine, EngineError};
use crate::records::RoundRecord;

/// When to stop. At least one rule must be set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopRules {
    /// Stop after this many rounds.
    #[serde(default)]
    pub max_rounds: Option<u64>,
    /// Stop once ‖∇f(x)‖² ≤ this (checked on logged rounds).
    #[serde(default)]
    pub target_grad_norm_sq: Option<f64>,
    /// Stop once the mean uplink bits per worker reach this.
    #[serde(default)]
    pub bit_budget_per_worker: Option<f64>,
    /// Stop after this many seconds of wall time (makes the round count machine-dependent).
    #[serde(default)]
    pub wall_time_s: Option<f64>,
    /// Divergence that stays finite: stop with [`ExecError::Exploded`] once the largest of
    /// |f(x)|, ‖∇f(x)‖² and the consensus error exceeds this factor times the largest of them
    /// at round 0 (default [`DEFAULT_DIVERGE_FACTOR`]; `inf` turns the check off; must be > 1).
    /// Non-finite values always stop the run ([`ExecError::Diverged`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverge_factor: Option<f64>,
}

/// Default of [`StopRules::diverge_factor`]: a run whose scale grows a million-fold over its
/// start has diverged. Every example configuration stays below 1× its starting scale.
pub const DEFAULT_DIVERGE_FACTOR: f64 = 1e6;

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// `max_rounds` reached.
    MaxRounds,
    /// ‖∇f‖² reached the target.
    TargetReached,
    /// The bit budget is used up.
    BitBudget,
    /// The wall-time limit passed.
    WallTime,
}

/// Receives records as they are produced (CSV writers, progress bars, tests).
pub trait Observer {
    /// A new record.
    fn record(&mut self, rec: &RoundRecord) -> Result<(), ExecError>;
    /// A checkpoint was written after `round`.
    fn checkpoint(&mut self, _round: u64, _path: &Path) -> Result<(), ExecError> {
        Ok(())
    }
    /// The run ended.
    fn finish(&mut self, _summary: &RunSummary) -> Result<(), ExecError> {
        Ok(())
    }
}

/// Why a run failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// No stop rule was given or one is invalid.
    #[error("stop rules: {0}")]
    Stop(String),
    /// The run diverged without overflowing: the record's scale (largest of |f(x)|, ‖∇f(x)‖²,
    /// consensus error) exceeds `stop.diverge_factor` times the scale at round 0.
    #[error(
        "the run diverged at round {round}: {metric} = {value:.3e}, more than stop.diverge_factor = {factor:.1e} times the starting scale {start:.3e} (the largest of |f|, ‖∇f‖² and the consensus error at round 0); use a smaller stepsize (method.stepsize.multiplier, gamma or eta), or raise stop.diverge_factor"
    )]
    Exploded {
        /// The round of the record.
        round: u64,
        /// Which quantity is largest (`|f(x)|`, `‖∇f(x)‖²`, `consensus error`).
        metric: &'static str,
        /// Its value.
        value: f64,
        /// The scale at round 0.
        start: f64,
        /// The factor in force.
        factor: f64,
    },
    /// Writing a checkpoint failed (an I/O failure while running: disk full, permissions).
    #[error("cannot write the checkpoint {path}: {detail}")]
    CheckpointWrite {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// Reading or restoring a checkpoint failed.
    #[error("checkpoint {path}: {detail}")]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What went wrong and how to fix it.
        detail: String,
    },
    /// An observer failed (e.g. the records file could not be written).
    #[error("{0}")]
    Observer(String),
    /// The run diverged: a record's f(x) or ‖∇f(x)‖² is not finite (the methods catch
    /// non-finite gradients and models themselves; this catches what only the objective shows).
    /// At round 0 nothing has stepped yet: the data or x⁰ overflow.
    #[error("{}", diverged_message(*round, *loss, *grad_norm_sq))]
    Diverged {
        /// The round of the record.
        round: u64,
        /// f(x).
        loss: f64,
        /// ‖∇f(x)‖².
        grad_norm_sq: f64,
    },
}

impl ExecError {
    /// Whether the run diverged (non-finite or exploding values, in the executor or a method).
    pub fn is_divergence(&self) -> bool {
        matches!(
            self,
            Self::Diverged { .. }
                | Self::Exploded { .. }
                | Self::Engine(EngineError::Method(
                    squeeze_methods::MethodError::Diverged { .. }
                ))
        )
    }
}

fn diverged_message(round: u64, loss: f64, grad_norm_sq: f64) -> String {
    if round == 0 {
        format!(
            "f(x⁰) = {loss:.3e}, ‖∇f(x⁰)‖² = {grad_norm_sq:.3e} at the starting point (round 0, \
             before any step): the data or x⁰ overflow; scale the data (problem.data) or choose \
             a smaller problem.init"
        )
    } else {
        format!(
            "the run diverged: f(x) = {loss:.3e}, ‖∇f(x)‖² = {grad_norm_sq:.3e} at round \
             {round}; use a smaller stepsize (method.stepsize.multiplier or gamma)"
        )
    }
}

/// The scale of a record that divergence is measured by: the largest of |f(x)|, ‖∇f(x)‖² and
/// the consensus error, with the name of the largest.
fn scale(rec: &RoundRecord) -> (&'static str, f64) {
    let mut best = ("|f(x)|", rec.loss.abs());
    for (name, v) in [
        ("‖∇f(x)‖²", rec.grad_norm_sq),
        ("consensus error", rec.consensus_error),
    ] {
        if v > best.1 {
            best = (name, v);
        }
    }
    best
}

/// Watches records for finite divergence against the scale at round 0.
#[derive(Debug, Clone, Copy)]
struct Watch {
    factor: f64,
    /// The scale at round 0 (`None`: no usable start, e.g. 0 — no check).
    start: Option<f64>,
}

impl Watch {
    fn new(stop: &StopRules, start: Option<f64>) -> Self {
        Self {
            factor: stop.diverge_factor.unwrap_or(DEFAULT_DIVERGE_FACTOR),
            start: start.filter(|s| s.is_finite() && *s > 0.0),
        }
    }

    fn check(&self, rec: &RoundRecord) -> Result<(), ExecError> {
        let Some(start) = self.start else {
            return Ok(());
        };
        let (metric, value) = scale(rec);
        if value > self.factor * start {
            return Err(ExecError::Exploded {
                round: rec.round,
                metric,
                value,
                start,
                factor: self.factor,
            });
        }
        Ok(())
    }
}

/// Write a checkpoint every `every` rounds to `path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointPolicy {
    /// Rounds between checkpoints (≥ 1).
    pub every: u64,
    /// File to write (replaced atomically).
    pub path: PathBuf,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Why it stopped.
    pub reason: StopReason,
    /// The final record.
    pub last: RoundRecord,
}

/// A run restored from a checkpoint, ready to continue ([`Executor::restore`],
/// [`Executor::continue_from`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutorState {
    last: RoundRecord,
    elapsed_s: f64,
    /// The divergence scale at round 0 (absent in checkpoints of older versions: the
    /// checkpoint's own record then serves as the start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start_scale: Option<f64>,
}

impl ExecutorState {
    /// The record the run continues from (the checkpoint's round).
    pub fn last(&self) -> &RoundRecord {
        &self.last
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointFile {
    format: String,
    describe: String,
    executor: ExecutorState,
    engine: serde_json::Value,
}

const CHECKPOINT_FORMAT: &str = "squeeze-checkpoint-v1";

/// Runs an engine until a stop rule holds.
#[derive(Debug, Clone, Default)]
pub struct Executor {
    /// Stop rules.
    pub stop: StopRules,
    /// Record every this many rounds (≥ 1; the first and last rounds are always recorded).
    pub log_every: u64,
    /// Optional periodic checkpoint.
    pub checkpoint: Option<CheckpointPolicy>,
}

impl Executor {
    /// An executor with stop rules, logging every round and no checkpoint.
    pub fn new(stop: StopRules) -> Self {
        Self {
            stop,
            log_every: 1,
            checkpoint: None,
        }
    }

    /// Check the configuration.
    pub fn validate(&self) -> Result<(), ExecError> {
        let s = &self.stop;
        if s.max_rounds.is_none()
            && s.target_grad_norm_sq.is_none()
            && s.bit_budget_per_worker.is_none()
            && s.wall_time_s.is_none()
        {
            return Err(ExecError::Stop(
                "no stop rule: set max_rounds, target_grad_norm_sq, bit_budget_per_worker or wall_time_s".into(),
            ));
        }
        for (name, v) in [
            ("target_grad_norm_sq", s.target_grad_norm_sq),
            ("bit_budget_per_worker", s.bit_budget_per_worker),
            ("wall_time_s", s.wall_time_s),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && v >= 0.0)
            {
                return Err(ExecError::Stop(format!(
                    "{name} = {v:.3e} must be finite and ≥ 0"
                )));
            }
        }
        if let Some(f) = s.diverge_factor
            && (f.is_nan() || f <= 1.0)
        {
            return Err(ExecError::Stop(format!(
                "diverge_factor = {f:.3e} must be > 1 (default {DEFAULT_DIVERGE_FACTOR:.0e}; inf turns the check off)"
            )));
        }
        if self.log_every == 0 {
            return Err(ExecError::Stop("log_every must be ≥ 1".into()));
        }
        if let Some(c) = &self.checkpoint
            && c.every == 0
        {
            return Err(ExecError::Stop("checkpoint every must be ≥ 1".into()));
        }
        Ok(())
    }

    /// Run from the engine's current state (round 0 for a fresh engine).
    pub fn run(
        &self,
        engine: &mut dyn Engine,
        observers: &mut [&mut dyn Observer],
    ) -> Result<RunSummary, ExecError> {
        self.validate()?;
        let start = Instant::now();
        let metrics = engine.evaluate()?;
        let first = RoundRecord::new(engine.totals(), metrics, 0.0);
        let watch = Watch::new(&self.stop, Some(scale(&first).1));
        notify(observers, &first, &watch)?;
        self.run_loop(engine, observers, first, start, 0.0, &watch)
    }

    /// Restore `engine` from the checkpoint at `path` and continue. Records up to and including
    /// the checkpoint's round were already produced by the interrupted run; observers receive
    /// only the later ones.
    pub fn resume(
        &self,
        engine: &mut dyn Engine,
        path: &Path,
        observers: &mut [&mut dyn Observer],
    ) -> Result<RunSummary, ExecError> {
        let state = self.restore(engine, path)?;
        self.continue_from(engine, state, observers)
    }

    /// Check the rules and restore `engine` from the checkpoint at `path`, without running:
    /// a caller can check everything before it changes any file, then
    /// [`continue_from`](Self::continue_from). `resume` = `restore` + `continue_from`.
    pub fn restore(
        &self,
        engine: &mut dyn Engine,
        path: &Path,
    ) -> Result<ExecutorState, ExecError> {
        self.validate()?;
        load_checkpoint(engine, path)
    }

    /// Continue a run restored by [`restore`](Self::restore) (observers receive the records
    /// after the checkpoint's round).
    pub fn continue_from(
        &self,
        engine: &mut dyn Engine,
        state: ExecutorState,
        observers: &mut [&mut dyn Observer],
    ) -> Result<RunSummary, ExecError> {
        self.validate()?;
        let start = state.start_scale.unwrap_or_else(|| scale(&state.last).1);
        let watch = Watch::new(&self.stop, Some(start));
        self.run_loop(
            engine,
            observers,
            state.last,
            Instant::now(),
            state.elapsed_s,
            &watch,
        )
    }

    fn run_loop(
        &self,
        engine: &mut dyn Engine,
        observers: &mut [&mut dyn Observer],
        mut last: RoundRecord,
        start: Instant,
        offset_s: f64,
        watch: &Watch,
    ) -> Result<RunSummary, ExecError> {
        let elapsed = |start: &Instant| offset_s + start.elapsed().as_secs_f64();
        let reason = loop {
            let mut reason = self.stop_reason(&last, elapsed(&start));
            if self.stop.wall_time_s.is_some() {
                // The clock differs between MPI ranks: every rank follows rank 0.
                reason = match (engine.agree(reason.is_some())?, reason) {
                    (true, r) => Some(r.unwrap_or(StopReason::WallTime)),
                    (false, _) => None,
                };
            }
            if let Some(r) = reason {
                break r;
            }
            engine.round()?;
            let round = engine.totals().rounds;
            let at_cap = self.stop.max_rounds == Some(round);
            let over_budget = self
                .stop
                .bit_budget_per_worker
                .is_some_and(|b| engine.totals().bits_up_per_worker() >= b);
            if round.is_multiple_of(self.log_every) || at_cap || over_budget {
                let metrics = engine.evaluate()?;
                last = RoundRecord::new(engine.totals(), metrics, elapsed(&start));
                notify(observers, &last, watch)?;
            }
            if let Some(c) = &self.checkpoint
                && round.is_multiple_of(c.every)
            {
                if last.round != round {
                    let metrics = engine.evaluate()?;
                    last = RoundRecord::new(engine.totals(), metrics, elapsed(&start));
                    notify(observers, &last, watch)?;
                }
                let state = ExecutorState {
                    last: last.clone(),
                    elapsed_s: elapsed(&start),
                    start_scale: watch.start,
                };
                save_checkpoint(engine, &c.path, state)?;
                for o in observers.iter_mut() {
                    o.checkpoint(round, &c.path)?;
                }
            }
        };
        if last.round != engine.totals().rounds {
            let metrics = engine.evaluate()?;
            last = RoundRecord::new(engine.totals(), metrics, elapsed(&start));
            notify(observers, &last, watch)?;
        }
        let summary = RunSummary { reason, last };
        for o in observers.iter_mut() {
            o.finish(&summary)?;
        }
        Ok(summary)
    }

    fn stop_reason(&self, last: &RoundRecord, elapsed_s: f64) -> Option<StopReason> {
        let s = &self.stop;
        if s.target_grad_norm_sq
            .is_some_and(|t| last.grad_norm_sq <= t)
        {
            return Some(StopReason::TargetReached);
        }
        if s.max_rounds.is_some_and(|m| last.round >= m) {
            return Some(StopReason::MaxRounds);
        }
        if s.bit_budget_per_worker
            .is_some_and(|b| last.bits_up_per_worker >= b)
        {
            return Some(StopReason::BitBudget);
        }
        if s.wall_time_s.is_some_and(|w| elapsed_s >= w) {
            return Some(StopReason::WallTime);
        }
        None
    }
}

/// Hand `rec` to every observer, then stop if it shows divergence (after the observers, so
/// that the diverged record is written).
fn notify(
    observers: &mut [&mut dyn Observer],
    rec: &RoundRecord,
    watch: &Watch,
) -> Result<(), ExecError> {
    for o in observers.iter_mut() {
        o.record(rec)?;
    }
    if !(rec.loss.is_finite() && rec.grad_norm_sq.is_finite()) {
        return Err(ExecError::Diverged {
            round: rec.round,
            loss: rec.loss,
            grad_norm_sq: rec.grad_norm_sq,
        });
    }
    watch.check(rec)
}

/// Write `engine`'s checkpoint to `path` atomically (temporary file, then rename).
pub fn write_checkpoint(
    engine: &dyn Engine,
    path: &Path,
    last: &RoundRecord,
    elapsed_s: f64,
) -> Result<(), ExecError> {
    let state = ExecutorState {
        last: last.clone(),
        elapsed_s,
        start_scale: None,
    };
    save_checkpoint(engine, path, state)
}

fn save_checkpoint(
    engine: &dyn Engine,
    path: &Path,
    state: ExecutorState,
) -> Result<(), ExecError> {
    let err = |detail: String| ExecError::CheckpointWrite {
        path: path.to_path_buf(),
        detail,
    };
    let file = CheckpointFile {
        format: CHECKPOINT_FORMAT.to_string(),
        describe: engine.describe(),
        executor: state,
        engine: engine.snapshot()?,
    };
    if !engine.writes_outputs() {
        // An MPI rank other than 0: it took part in the snapshot (a collective), rank 0 writes.
        return Ok(());
    }
    let bytes = serde_json::to_vec(&file).map_err(|e| err(e.to_string()))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &bytes)
        .map_err(|e| err(format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| err(format!("cannot move into place: {e}")))?;
    Ok(())
}

/// The last record stored in the checkpoint at `path` (what a resumed run continues from),
/// without restoring anything.
pub fn checkpoint_record(path: &Path) -> Result<RoundRecord, ExecError> {
    read_checkpoint(path, "").map(|file| file.executor.last)
}

/// The checkpoint file at `path`, read and checked to be of this format; `unreadable_hint`
/// follows the error when it cannot be read at all.
fn read_checkpoint(path: &Path, unreadable_hint: &str) -> Result<CheckpointFile, ExecError> {
    let err = |detail: String| ExecError::Checkpoint {
        path: path.to_path_buf(),
        detail,
    };
    let bytes =
        std::fs::read(path).map_err(|e| err(format!("cannot read it ({e}){unreadable_hint}")))?;
    let file: CheckpointFile = serde_json::from_slice(&bytes)
        .map_err(|e| err(format!("not a squeeze checkpoint or truncated: {e}")))?;
    if file.format != CHECKPOINT_FORMAT {
        return Err(err(format!(
            "format '{}' is not {CHECKPOINT_FORMAT}",
            file.format
        )));
    }
    Ok(file)
}

fn load_checkpoint(engine: &mut dyn Engine, path: &Path) -> Result<ExecutorState, ExecError> {
    let file = read_checkpoint(path, "; was the run started with checkpointing enabled?")?;
    engine.restore(&file.engine)?;
    if engine.totals().rounds != file.executor.last.round {
        return Err(ExecError::Checkpoint {
            path: path.to_path_buf(),
            detail: "the checkpoint's record and engine state disagree".into(),
        });
    }
    Ok(file.executor)
}

/// An observer that keeps every record in memory (tests, small runs).
#[derive(Debug, Default, Clone)]
pub struct Collect {
    /// The records, in order.
    pub records: Vec<RoundRecord>,
}

impl Observer for Collect {
    fn record(&mut self, rec: &RoundRecord) -> Result<(), ExecError> {
        self.records.push(rec.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExperimentConfig;

    fn cfg(extra_stop: &str, gamma: f64) -> ExperimentConfig {
        ExperimentConfig::from_toml(&format!(
            "seed = 1\n[problem]\nn_workers = 2\n[method]\nname = \"gd\"\n\
             stepsize = {{ rule = \"constant\", gamma = {gamma:e} }}\n\
             [stop]\nmax_rounds = 5\n{extra_stop}\n"
        ))
        .unwrap()
    }

    fn run(c: &ExperimentConfig) -> (Result<RunSummary, ExecError>, Vec<RoundRecord>) {
        let mut engine = c.build_engine(Path::new(".")).unwrap();
        let mut rec = Collect::default();
        let r = c
            .executor(None)
            .unwrap()
            .run(engine.as_mut(), &mut [&mut rec]);
        (r, rec.records)
    }

    #[test]
    fn finite_blow_up_stops_with_exploded_after_writing_the_record() {
        let (r, recs) = run(&cfg("", 1e10));
        let e = r.unwrap_err();
        assert!(matches!(e, ExecError::Exploded { round: 1, .. }), "{e}");
        assert!(e.is_divergence());
        assert_eq!(
            recs.len(),
            2,
            "the diverged record is handed to the observers"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("stop.diverge_factor = 1.0e6") && msg.len() < 400,
            "{msg}"
        );
        // Turned off with inf; the same run then finishes with finite values.
        let (r, _) = run(&cfg("diverge_factor = inf", 1e10));
        assert_eq!(r.unwrap().reason, StopReason::MaxRounds);
        // A well-behaved run never trips it.
        let (r, _) = run(&cfg("", 1e-3));
        assert!(r.is_ok());
    }

    #[test]
    fn diverge_factor_must_exceed_one() {
        for bad in ["1.0", "0.5", "nan", "-inf"] {
            let c = cfg(&format!("diverge_factor = {bad}"), 1e-3);
            assert!(c.executor(None).is_err(), "{bad}");
        }
    }

    #[test]
    fn non_finite_messages_are_short_and_name_round_zero() {
        let e = ExecError::Diverged {
            round: 0,
            loss: 1e300,
            grad_norm_sq: f64::INFINITY,
        };
        let msg = e.to_string();
        assert!(
            msg.contains("starting point") && msg.contains("1.000e300"),
            "{msg}"
        );
        assert!(msg.len() < 300, "{msg}");
        let e = ExecError::Diverged {
            round: 3,
            loss: f64::NAN,
            grad_norm_sq: 1.0,
        };
        assert!(e.to_string().contains("smaller stepsize"));
    }
}
