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
}

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
    /// Reading or writing a checkpoint failed.
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
    #[error(
        "the run diverged: f(x) = {loss}, ‖∇f(x)‖² = {grad_norm_sq} at round {round}; use a smaller stepsize (method.stepsize.multiplier or gamma)"
    )]
    Diverged {
        /// The round of the record.
        round: u64,
        /// f(x).
        loss: f64,
        /// ‖∇f(x)‖².
        grad_norm_sq: f64,
    },
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

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ExecutorState {
    last: RoundRecord,
    elapsed_s: f64,
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
                    "{name} = {v} must be finite and ≥ 0"
                )));
            }
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
        notify(observers, &first)?;
        self.run_loop(engine, observers, first, start, 0.0)
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
        self.validate()?;
        let state = load_checkpoint(engine, path)?;
        self.run_loop(
            engine,
            observers,
            state.last,
            Instant::now(),
            state.elapsed_s,
        )
    }

    fn run_loop(
        &self,
        engine: &mut dyn Engine,
        observers: &mut [&mut dyn Observer],
        mut last: RoundRecord,
        start: Instant,
        offset_s: f64,
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
                notify(observers, &last)?;
            }
            if let Some(c) = &self.checkpoint
                && round.is_multiple_of(c.every)
            {
                if last.round != round {
                    let metrics = engine.evaluate()?;
                    last = RoundRecord::new(engine.totals(), metrics, elapsed(&start));
                    notify(observers, &last)?;
                }
                write_checkpoint(engine, &c.path, &last, elapsed(&start))?;
                for o in observers.iter_mut() {
                    o.checkpoint(round, &c.path)?;
                }
            }
        };
        if last.round != engine.totals().rounds {
            let metrics = engine.evaluate()?;
            last = RoundRecord::new(engine.totals(), metrics, elapsed(&start));
            notify(observers, &last)?;
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
fn notify(observers: &mut [&mut dyn Observer], rec: &RoundRecord) -> Result<(), ExecError> {
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
    Ok(())
}

/// Write `engine`'s checkpoint to `path` atomically (temporary file, then rename).
pub fn write_checkpoint(
    engine: &dyn Engine,
    path: &Path,
    last: &RoundRecord,
    elapsed_s: f64,
) -> Result<(), ExecError> {
    let err = |detail: String| ExecError::Checkpoint {
        path: path.to_path_buf(),
        detail,
    };
    let file = CheckpointFile {
        format: CHECKPOINT_FORMAT.to_string(),
        describe: engine.describe(),
        executor: ExecutorState {
            last: last.clone(),
            elapsed_s,
        },
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
    let err = |detail: String| ExecError::Checkpoint {
        path: path.to_path_buf(),
        detail,
    };
    let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read it ({e})")))?;
    let file: CheckpointFile = serde_json::from_slice(&bytes)
        .map_err(|e| err(format!("not a squeeze checkpoint or truncated: {e}")))?;
    if file.format != CHECKPOINT_FORMAT {
        return Err(err(format!(
            "format '{}' is not {CHECKPOINT_FORMAT}",
            file.format
        )));
    }
    Ok(file.executor.last)
}

fn load_checkpoint(engine: &mut dyn Engine, path: &Path) -> Result<ExecutorState, ExecError> {
    let err = |detail: String| ExecError::Checkpoint {
        path: path.to_path_buf(),
        detail,
    };
    let bytes = std::fs::read(path).map_err(|e| {
        err(format!(
            "cannot read it ({e}); was the run started with checkpointing enabled?"
        ))
    })?;
    let file: CheckpointFile = serde_json::from_slice(&bytes)
        .map_err(|e| err(format!("not a squeeze checkpoint or truncated: {e}")))?;
    if file.format != CHECKPOINT_FORMAT {
        return Err(err(format!(
            "format '{}' is not {CHECKPOINT_FORMAT}",
            file.format
        )));
    }
    engine.restore(&file.engine)?;
    if engine.totals().rounds != file.executor.last.round {
        return Err(err(
            "the checkpoint's record and engine state disagree".into()
        ));
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
