//! Engines run one round at a time; the star engine runs a [`ServerMethod`] over n workers.

use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use squeeze_core::{BitConvention, Message, Scalar, round_seed};
use squeeze_methods::method::level_of;
use squeeze_methods::{MethodError, ServerMethod, StepsizeReport, WorkerBuffers, WorkerCtx};
use squeeze_problems::Problem;
use thiserror::Error;

use crate::snapshot::{self, SnapshotHeader};

/// Why an engine could not be built, run, saved or restored.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The method failed.
    #[error(transparent)]
    Method(#[from] MethodError),
    /// The thread pool could not be built.
    #[error("could not start {threads} worker threads: {detail}")]
    Threads {
        /// Requested threads.
        threads: usize,
        /// The pool's error.
        detail: String,
    },
    /// A snapshot could not be written or read.
    #[error("checkpoint: {0}")]
    Snapshot(String),
    /// Evaluating the objective failed.
    #[error(transparent)]
    Problem(#[from] squeeze_problems::ProblemError),
    /// MPI: the transport failed (a malformed or oversized frame, ranks that disagree).
    #[error("MPI transport: {0}")]
    Transport(String),
    /// MPI: an error of one rank that every rank has learnt, so that all stop together (rank 0
    /// reports it).
    #[error("rank {rank}: {detail}")]
    Agreed {
        /// The rank where it happened.
        rank: usize,
        /// Its message.
        detail: String,
    },
}

/// Cumulative communication and computation counters (part of the snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Rounds completed.
    pub rounds: u64,
    /// Uplink bits sent by each worker (exact), including a counted init round.
    pub bits_up: Vec<u64>,
    /// Downlink bits received by each worker (the broadcast size, summed over rounds).
    pub bits_down_per_worker: u64,
    /// Coordinates sent uplink, summed over workers (including a counted init round).
    pub entries_up: u64,
    /// Gradient work in samples (a full local gradient of worker i counts m_i).
    pub grad_samples: u64,
    /// Uplink bits summed over workers under the 32-bits-per-value convention (EF21 papers),
    /// including a counted init round.
    pub bits_up_values32: u64,
    /// Uplink bits summed over workers under the 64-bits-per-entry convention (3PC, MoTEF),
    /// including a counted init round.
    pub bits_up_values64: u64,
    /// Uplink level histogram (methods with [`ServerMethod::uplink_levels`] `= Some(m)`, i.e.
    /// AdaCGD; empty otherwise): `levels[0]` counts skipped (worker, round) pairs, `levels[j]`
    /// those that sent ladder rung j. Sums to rounds × n.
    #[serde(default)]
    pub levels: Vec<u64>,
    /// Downlink level histogram ([`ServerMethod::downlink_levels`]; bidirectional AdaCGD),
    /// one count per round; empty otherwise.
    #[serde(default)]
    pub levels_down: Vec<u64>,
    /// Gossip engines: bits summed over all directed links (a message broadcast to k
    /// neighbours counts k times). 0 for the star engine.
    #[serde(default)]
    pub bits_links: u64,
    /// MPI runs: bytes of the uplink frames handed to MPI, headers included (0 in process; see
    /// `squeeze_driver::mpi`). Star: every worker's frame of every round (rank 0's own go
    /// through the gather too); gossip: each message once per other rank hosting a neighbour.
    /// The initialisation is computed on every rank and never travels, so the counted init
    /// round of `bits_up` has no wire bytes.
    #[serde(default)]
    pub wire_bytes_up: u64,
    /// MPI runs: bytes of each downlink broadcast, frame header included, summed over rounds
    /// (0 in process and for gossip).
    #[serde(default)]
    pub wire_bytes_down: u64,
}

impl Totals {
    /// Mean uplink bits per worker (the papers' "#bits/n").
    pub fn bits_up_per_worker(&self) -> f64 {
        if self.bits_up.is_empty() {
            0.0
        } else {
            self.bits_up.iter().sum::<u64>() as f64 / self.bits_up.len() as f64
        }
    }

    /// Largest uplink bit count of any worker.
    pub fn bits_up_max(&self) -> u64 {
        self.bits_up.iter().copied().max().unwrap_or(0)
    }
}

/// Objective values at the current iterate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// f(x) (at the node average x̄ for gossip engines).
    pub loss: f64,
    /// ‖∇f(x)‖².
    pub grad_norm_sq: f64,
    /// Gossip engines: (1/n) Σ_i ‖x_i − x̄‖²; 0 for the star engine.
    pub consensus_error: f64,
}

/// One engine: a method, a problem and all state, advanced a round at a time.
///
/// Object-safe so that the CLI can choose the method at run time.
pub trait Engine: Send {
    /// What is running, e.g. `ef21(top_k:k=1, …) on a8a, n = 20`.
    fn describe(&self) -> String;
    /// Number of workers (or nodes).
    fn n_workers(&self) -> usize;
    /// Model dimension.
    fn dim(&self) -> usize;
    /// Run one round.
    fn round(&mut self) -> Result<(), EngineError>;
    /// Counters so far.
    fn totals(&self) -> &Totals;
    /// f and ‖∇f‖² at the current iterate (a full pass over all workers' data).
    fn evaluate(&mut self) -> Result<Metrics, EngineError>;
    /// The current iterate, widened to f64.
    fn iterate_f64(&self) -> Vec<f64>;
    /// All state (method states with their RNG streams, counters) as JSON.
    fn snapshot(&self) -> Result<serde_json::Value, EngineError>;
    /// Replace all state by a snapshot taken from an engine with the same configuration.
    fn restore(&mut self, snapshot: &serde_json::Value) -> Result<(), EngineError>;
    /// Rank 0's value of `flag`, so that every process takes the same decision (a collective
    /// under MPI; the identity in process). Used for decisions that depend on the wall clock.
    fn agree(&mut self, flag: bool) -> Result<bool, EngineError> {
        Ok(flag)
    }
    /// Whether this process writes the run's outputs (records, checkpoints): false on MPI
    /// ranks other than 0, which compute but do not write.
    fn writes_outputs(&self) -> bool {
        true
    }
    /// The stepsize the method resolved at initialisation and the constants behind it
    /// (`None` for methods without a stepsize rule, such as the gossip methods, whose
    /// stepsizes are configured directly).
    fn stepsize(&self) -> Option<StepsizeReport> {
        None
    }
}

#[derive(Serialize, Deserialize)]
struct StarSnapshot<Sv, W> {
    #[serde(flatten)]
    header: SnapshotHeader,
    server: Sv,
    workers: Vec<W>,
}

const SNAPSHOT_FORMAT: &str = "squeeze-star-v1";

/// The server–worker (star) engine.
///
/// Workers run in parallel on a rayon pool of `threads` threads (on the calling thread, with no
/// pool, when `threads` is 1); each writes only its own state, message and result slot, and the
/// server absorbs the messages in worker order, so results are bit-identical for every thread
/// count. Steady-state rounds allocate nothing beyond what the method and compressor do (both
/// are allocation-free; `tests/rounds_allocation_free.rs`).
pub struct StarEngine<S: Scalar, M: ServerMethod<S>> {
    method: M,
    problem: Arc<Problem<S>>,
    seed: u64,
    server: M::Server,
    workers: Vec<M::Worker>,
    /// One set of working memory per chunk of consecutive workers (at most `threads` chunks;
    /// see `run_workers`).
    buffers: Vec<WorkerBuffers<S>>,
    ups: Vec<Message<S>>,
    results: Vec<Result<u64, MethodError>>,
    down: Message<S>,
    totals: Totals,
    /// `None` for one thread.
    pool: Option<rayon::ThreadPool>,
    threads: usize,
    /// Gradient buffers of [`Engine::evaluate`]: one per worker of a batch (see
    /// `metric_rows`), not one per worker, so that metrics cost O(d) memory at scale.
    metric_buf: Vec<Vec<S>>,
    metric_loss: Vec<f64>,
    /// Σ_i ∇f_i(x), per coordinate in f64, accumulated in worker order.
    metric_sum: Vec<f64>,
    /// What the method reported at initialisation.
    stepsize: Option<StepsizeReport>,
}

impl<S: Scalar, M: ServerMethod<S>> core::fmt::Debug for StarEngine<S, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StarEngine")
            .field("method", &self.method)
            .field("problem", &self.problem.name())
            .field("threads", &self.threads)
            .field("totals", &self.totals)
            .finish()
    }
}

impl<S: Scalar, M: ServerMethod<S>> StarEngine<S, M> {
    /// Initialise `method` on `problem` at `x0`; `seed` derives every random stream.
    pub fn new(
        method: M,
        problem: Arc<Problem<S>>,
        x0: &[S],
        seed: u64,
        threads: usize,
    ) -> Result<Self, EngineError> {
        let threads = threads.max(1);
        let pool = if threads == 1 {
            None
        } else {
            Some(thread_pool(threads)?)
        };
        let init = method.init(&problem, x0, seed)?;
        let n = problem.n_workers();
        let d = problem.dim();
        // A counted initialisation is charged under every convention, like a round's uplink.
        let totals = Totals {
            rounds: 0,
            bits_up: init.init_up.bits.clone(),
            bits_down_per_worker: 0,
            entries_up: init.init_up.entries,
            grad_samples: init.grad_samples,
            bits_up_values32: init.init_up.bits_values32,
            bits_up_values64: init.init_up.bits_values64,
            levels: method
                .uplink_levels()
                .map_or(Vec::new(), |m| vec![0; m + 1]),
            levels_down: method
                .downlink_levels()
                .map_or(Vec::new(), |m| vec![0; m + 1]),
            bits_links: 0,
            wire_bytes_up: 0,
            wire_bytes_down: 0,
        };
        Ok(Self {
            method,
            seed,
            server: init.server,
            workers: init.workers,
            buffers: (0..threads.min(n).max(1))
                .map(|_| WorkerBuffers::new(d))
                .collect(),
            ups: (0..n).map(|_| Message::default()).collect(),
            results: (0..n).map(|_| Ok(0)).collect(),
            down: Message::default(),
            totals,
            pool,
            threads,
            metric_buf: (0..metric_rows(n, d, threads))
                .map(|_| vec![S::ZERO; d])
                .collect(),
            metric_loss: vec![0.0; n],
            metric_sum: vec![0.0; d],
            problem,
            stepsize: init.stepsize,
        })
    }

    /// The method.
    pub fn method(&self) -> &M {
        &self.method
    }

    /// Server state.
    pub fn server(&self) -> &M::Server {
        &self.server
    }

    /// Worker states.
    pub fn workers(&self) -> &[M::Worker] {
        &self.workers
    }

    /// The current iterate.
    pub fn iterate(&self) -> &[S] {
        self.method.iterate(&self.server)
    }

    /// The last uplink messages, in worker order.
    pub fn last_uplink(&self) -> &[Message<S>] {
        &self.ups
    }
}

impl<S: Scalar, M: ServerMethod<S>> StarEngine<S, M> {
    // The phases of a round, shared by `round` and the MPI engine (which runs them on the ranks
    // that own the state they touch and moves the messages in between).

    /// Step 1 of communication phase `phase`: the server's downlink into `self.down`.
    pub(crate) fn server_broadcast(&mut self, phase: usize) -> Result<(), EngineError> {
        let round = self.totals.rounds;
        self.method
            .broadcast_phase(&mut self.server, round, phase, &mut self.down)?;
        Ok(())
    }

    /// Step 2 of communication phase `phase`: workers `range` run their round (in parallel
    /// chunks of consecutive workers), each writing its own state, message `ups[i]` and result
    /// slot.
    pub(crate) fn run_workers(&mut self, range: core::ops::Range<usize>, phase: usize) {
        let round = self.totals.rounds;
        let n = self.problem.n_workers();
        let rs = round_seed(self.seed, round);
        let method = &self.method;
        let down = &self.down;
        let oracles = self.problem.oracles();
        let start = range.start;
        let run = |i: usize,
                   w: &mut M::Worker,
                   b: &mut WorkerBuffers<S>,
                   up: &mut Message<S>,
                   slot: &mut Result<u64, MethodError>| {
            let mut ctx = WorkerCtx {
                worker: i,
                n_workers: n,
                round,
                round_seed: rs,
                phase,
                oracle: oracles[i].as_ref(),
                buffers: b,
                grad_samples: 0,
                down,
                up,
            };
            *slot = method.worker_round(w, &mut ctx).map(|()| ctx.grad_samples);
        };
        // Workers go in at most `threads` chunks of consecutive workers, one task per chunk,
        // and the workers of a chunk share one set of buffers (scratch, not state: methods
        // write them before reading, and compressors' outputs do not depend on their
        // scratch), so the shared vectors stay in cache from one worker to the next and the
        // pool sees `threads` tasks rather than n. Each worker writes only its own state,
        // message and result slot, so neither the chunking nor the schedule can change any
        // result.
        let len = range.len();
        let chunk = len.div_ceil(self.threads.min(len).max(1)).max(1);
        let run_chunk = |c: usize,
                         ws: &mut [M::Worker],
                         ups: &mut [Message<S>],
                         slots: &mut [Result<u64, MethodError>],
                         b: &mut WorkerBuffers<S>| {
            for (k, ((w, up), slot)) in ws.iter_mut().zip(ups).zip(slots).enumerate() {
                run(start + c * chunk + k, w, b, up, slot);
            }
        };
        let workers = &mut self.workers[range.clone()];
        let ups = &mut self.ups[range.clone()];
        let results = &mut self.results[range];
        let parallel = self.pool.as_ref().filter(|_| len > chunk);
        if let Some(pool) = parallel {
            let work = workers
                .par_chunks_mut(chunk)
                .zip(ups.par_chunks_mut(chunk))
                .zip(results.par_chunks_mut(chunk))
                .zip(self.buffers.par_iter_mut())
                .enumerate();
            pool.install(|| {
                work.for_each(|(c, (((ws, ups), slots), b))| run_chunk(c, ws, ups, slots, b));
            });
        } else {
            // One chunk: on the calling thread, without a hand-off to a pool and back (two
            // wake-ups per round, tens of µs on a VM).
            run_chunk(0, workers, ups, results, &mut self.buffers[0]);
        }
    }

    /// Worker `i`'s result of step 2: its gradient work in samples, or its error.
    pub(crate) fn take_result(&mut self, i: usize) -> Result<u64, MethodError> {
        std::mem::replace(&mut self.results[i], Ok(0))
    }

    /// Add worker `i`'s round to the counters.
    pub(crate) fn charge(&mut self, i: usize, c: &WorkerCounts) {
        self.totals.grad_samples += c.grad_samples;
        self.totals.bits_up[i] += c.bits;
        self.totals.entries_up += c.entries;
        self.totals.bits_up_values32 += c.bits_values32;
        self.totals.bits_up_values64 += c.bits_values64;
        if let Some(last) = self.totals.levels.len().checked_sub(1) {
            self.totals.levels[c.level.min(last)] += 1;
        }
    }

    /// Step 3 of communication phase `phase`: count the downlink and let the server absorb
    /// the uplink (when this process holds the server).
    pub(crate) fn finish_phase(&mut self, phase: usize, absorb: bool) -> Result<(), EngineError> {
        self.totals.bits_down_per_worker += self.down.bits();
        if let Some(last) = self.totals.levels_down.len().checked_sub(1) {
            self.totals.levels_down[level_of(&self.down, last)] += 1;
        }
        if absorb {
            let round = self.totals.rounds;
            self.method
                .absorb_phase(&mut self.server, round, phase, &self.ups)?;
        }
        Ok(())
    }

    /// Close the round (after its last phase).
    pub(crate) fn end_round(&mut self) {
        self.totals.rounds += 1;
    }

    /// The snapshot of this engine with `workers` as the worker states (the MPI engine
    /// gathers them from the ranks that advance them).
    pub(crate) fn snapshot_with_workers(
        &self,
        workers: Vec<M::Worker>,
    ) -> Result<serde_json::Value, EngineError> {
        let snap = StarSnapshot {
            header: SnapshotHeader::new(
                SNAPSHOT_FORMAT,
                self.seed,
                self.method.describe(),
                self.problem.dim(),
                self.totals.clone(),
            ),
            server: self.server.clone(),
            workers,
        };
        snapshot::to_value(&snap)
    }

    /// Mutable access to the pieces the MPI transport fills in (`outs`: the uplink).
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn parts_mut(&mut self) -> EngineParts<'_, S> {
        EngineParts {
            outs: &mut self.ups,
            results: &mut self.results,
            totals: &mut self.totals,
        }
    }

    /// The downlink message, which the MPI transport broadcasts from rank 0.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn down_mut(&mut self) -> &mut Message<S> {
        &mut self.down
    }
}

/// The pieces of an engine that the MPI transport fills in ([`StarEngine::parts_mut`],
/// [`GossipEngine::parts_mut`](crate::gossip::GossipEngine::parts_mut)).
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) struct EngineParts<'a, S: Scalar> {
    /// Every worker's (star: uplink) or node's outgoing message of the current phase.
    pub(crate) outs: &'a mut [Message<S>],
    /// Every worker's or node's result of its last step (what `take_result` takes).
    pub(crate) results: &'a mut [Result<u64, MethodError>],
    pub(crate) totals: &'a mut Totals,
}

/// A rayon pool of `threads` threads.
pub(crate) fn thread_pool(threads: usize) -> Result<rayon::ThreadPool, EngineError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| EngineError::Threads {
            threads,
            detail: e.to_string(),
        })
}

/// An engine's [`Engine::describe`]: `<method> on <problem>[ over <graph>] (n = …, d = …,
/// <threads> threads)`.
pub(crate) fn describe_run<S: Scalar>(
    method: &str,
    problem: &Problem<S>,
    graph: Option<&str>,
    threads: usize,
) -> String {
    let over = graph.map(|g| format!(" over {g}")).unwrap_or_default();
    format!(
        "{method} on {}{over} (n = {}, d = {}, {threads} threads)",
        problem.name(),
        problem.n_workers(),
        problem.dim()
    )
}

/// The [`Engine`] methods an engine answers from its `problem` field: `n_workers` and `dim`.
macro_rules! problem_shape {
    () => {
        fn n_workers(&self) -> usize {
            self.problem.n_workers()
        }

        fn dim(&self) -> usize {
            self.problem.dim()
        }
    };
}
pub(crate) use problem_shape;

/// Coordinates per task when [`Engine::evaluate`] adds a batch of gradients into its sum.
const METRIC_CHUNK: usize = 1 << 14;

/// Entries of the metric gradient buffers when they are not one per worker.
const METRIC_BUDGET: usize = 1 << 22;

/// Gradient buffers [`Engine::evaluate`] keeps: one per worker while n·d ≤ 2²² entries (a
/// single parallel batch), otherwise max(threads, 2²²/d) — metrics then cost
/// O(max(threads·d, 2²²)) memory rather than n·d.
fn metric_rows(n: usize, d: usize, threads: usize) -> usize {
    if n.saturating_mul(d) <= METRIC_BUDGET {
        n.max(1)
    } else {
        (METRIC_BUDGET / d.max(1)).max(threads).clamp(1, n.max(1))
    }
}

/// What one worker's (or node's) message of a round adds to the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct WorkerCounts {
    pub(crate) grad_samples: u64,
    pub(crate) bits: u64,
    pub(crate) entries: u64,
    pub(crate) bits_values32: u64,
    pub(crate) bits_values64: u64,
    /// The message's level: 0 for a skip, j + 1 for rung j of an indexed (AdaCGD) message, 1
    /// otherwise (the histogram clamps it to its length).
    pub(crate) level: usize,
}

impl WorkerCounts {
    /// The counts of `msg`, with `grad_samples` of gradient work.
    pub(crate) fn of<S: Scalar>(msg: &Message<S>, grad_samples: u64) -> Self {
        Self {
            grad_samples,
            bits: msg.bits(),
            entries: msg.entries(),
            bits_values32: msg.bits_under(BitConvention::Values32),
            bits_values64: msg.bits_under(BitConvention::Values64),
            level: level_of(msg, usize::MAX),
        }
    }
}

impl<S: Scalar, M: ServerMethod<S> + 'static> Engine for StarEngine<S, M> {
    fn describe(&self) -> String {
        describe_run(&self.method.describe(), &self.problem, None, self.threads)
    }

    fn stepsize(&self) -> Option<StepsizeReport> {
        self.stepsize.clone()
    }

    problem_shape!();

    fn round(&mut self) -> Result<(), EngineError> {
        let n = self.problem.n_workers();
        for phase in 0..self.method.phases() {
            self.server_broadcast(phase)?;
            self.run_workers(0..n, phase);
            // Errors and counters in worker order: deterministic whatever the scheduling.
            for i in 0..n {
                let samples = self.take_result(i)?;
                let counts = WorkerCounts::of(&self.ups[i], samples);
                self.charge(i, &counts);
            }
            self.finish_phase(phase, true)?;
        }
        self.end_round();
        Ok(())
    }

    fn totals(&self) -> &Totals {
        &self.totals
    }

    fn evaluate(&mut self) -> Result<Metrics, EngineError> {
        let x = self.method.iterate(&self.server);
        let oracles = self.problem.oracles();
        let sum = &mut self.metric_sum;
        sum.fill(0.0);
        // Workers in batches of `metric_buf.len()`: the batch's gradients (in parallel), then
        // added to `sum` in worker order, so every coordinate is summed in worker order from
        // 0.0 — the same f64 sum for any batch size and thread count.
        let rows = self.metric_buf.len().max(1);
        for (b, losses) in self.metric_loss.chunks_mut(rows).enumerate() {
            let bufs = &mut self.metric_buf[..losses.len()];
            let first = b * rows;
            let grads = |(i, (g, l)): (usize, (&mut Vec<S>, &mut f64))| {
                *l = oracles[first + i].loss_grad(x, g);
            };
            match &self.pool {
                Some(pool) => pool.install(|| {
                    bufs.par_iter_mut()
                        .zip(losses.par_iter_mut())
                        .enumerate()
                        .for_each(grads);
                }),
                None => bufs
                    .iter_mut()
                    .zip(losses.iter_mut())
                    .enumerate()
                    .for_each(grads),
            }
            let bufs_ro = &self.metric_buf[..losses.len()];
            let add = |(acc, c): (&mut [f64], usize)| {
                for g in bufs_ro {
                    let g = &g[c * METRIC_CHUNK..];
                    for (a, &v) in acc.iter_mut().zip(g) {
                        *a += v.to_f64();
                    }
                }
            };
            match &self.pool {
                Some(pool) if sum.len() > METRIC_CHUNK => pool.install(|| {
                    sum.par_chunks_mut(METRIC_CHUNK)
                        .enumerate()
                        .for_each(|(c, acc)| add((acc, c)));
                }),
                _ => sum
                    .chunks_mut(METRIC_CHUNK)
                    .enumerate()
                    .for_each(|(c, acc)| add((acc, c))),
            }
        }
        // Reduce in worker order, in f64.
        let n = oracles.len() as f64;
        let loss = self.metric_loss.iter().sum::<f64>() / n;
        let mut norm = 0.0f64;
        for &s in sum.iter() {
            let v = s / n;
            norm += v * v;
        }
        Ok(Metrics {
            loss,
            grad_norm_sq: norm,
            consensus_error: 0.0,
        })
    }

    fn iterate_f64(&self) -> Vec<f64> {
        self.iterate().iter().map(|v| v.to_f64()).collect()
    }

    fn snapshot(&self) -> Result<serde_json::Value, EngineError> {
        self.snapshot_with_workers(self.workers.clone())
    }

    fn restore(&mut self, snapshot: &serde_json::Value) -> Result<(), EngineError> {
        let snap: StarSnapshot<M::Server, M::Worker> =
            snapshot::from_value(snapshot, "method/configuration")?;
        snap.header.check_origin(SNAPSHOT_FORMAT, self.seed)?;
        if snap.workers.len() != self.workers.len()
            || snap.header.totals.bits_up.len() != self.workers.len()
        {
            return Err(EngineError::Snapshot(format!(
                "checkpoint has {} workers, the configuration {}",
                snap.workers.len(),
                self.workers.len()
            )));
        }
        // A different problem dimension would resume silently with the checkpoint's state.
        let dim = snap.header.dim;
        if dim != self.problem.dim() || self.method.iterate(&snap.server).len() != dim {
            return Err(EngineError::Snapshot(format!(
                "checkpoint has model dimension {}, this problem {}: resume with the configuration that wrote it",
                self.method.iterate(&snap.server).len(),
                self.problem.dim()
            )));
        }
        snap.header.check_method(&self.method.describe())?;
        self.server = snap.server;
        self.workers = snap.workers;
        self.totals = snap.header.totals;
        Ok(())
    }
}
