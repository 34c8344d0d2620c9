//! The gossip engine: n nodes exchanging compressed messages with their graph neighbours.

use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use squeeze_core::{Message, Scalar, round_seed};
use squeeze_methods::{GossipMethod, MethodError, Neighbourhood, NodeCtx, WorkerBuffers};
use squeeze_problems::Problem;

use core::ops::Range;

use crate::engine::{
    Engine, EngineError, EngineParts, Metrics, Totals, WorkerCounts, describe_run, problem_shape,
    thread_pool,
};
use crate::snapshot::{self, SnapshotHeader};

#[derive(Serialize, Deserialize)]
struct GossipSnapshot<N> {
    #[serde(flatten)]
    header: SnapshotHeader,
    nodes: Vec<N>,
}

const SNAPSHOT_FORMAT: &str = "squeeze-gossip-v1";

/// A node's result slot: gradient samples used, or the error.
type Slot = Result<u64, MethodError>;
/// What a send step sees for one node.
type SendItem<'a, S, N> = (
    usize,
    (
        ((&'a mut N, &'a mut WorkerBuffers<S>), &'a mut Message<S>),
        &'a mut Slot,
    ),
);
/// What a receive step sees for one node.
type ReceiveItem<'a, S, N> = (usize, ((&'a mut N, &'a mut WorkerBuffers<S>), &'a mut Slot));

/// `f((k, (((a_k, b_k), c_k), …)))` for every k of the equally long slices `a, b, c, …`
/// (zipped in that order, mutably): on the calling thread when `threads` is 1 (no pool:
/// rayon's job scheduling allocates), else on `pool`'s threads.
macro_rules! for_each_zipped {
    ($threads:expr, $pool:expr, $f:expr; $first:expr $(, $rest:expr)*) => {
        if $threads == 1 {
            $first.iter_mut()$(.zip($rest.iter_mut()))*.enumerate().for_each($f);
        } else {
            let work = $first.par_iter_mut()$(.zip($rest.par_iter_mut()))*.enumerate();
            $pool.install(|| work.for_each($f));
        }
    };
}

/// The round-wide part of every node's [`NodeCtx`] in a half-phase.
struct PhaseShared<'a, S: Scalar> {
    round: u64,
    phase: usize,
    n_nodes: usize,
    round_seed: u64,
    problem: &'a Problem<S>,
    mixing: &'a [Neighbourhood],
}

impl<'a, S: Scalar> PhaseShared<'a, S> {
    /// Phase `phase` of round `round` under experiment `seed` on the graph `mixing` (one row
    /// per node).
    fn new(
        (round, phase): (u64, usize),
        seed: u64,
        problem: &'a Problem<S>,
        mixing: &'a [Neighbourhood],
    ) -> Self {
        Self {
            round,
            phase,
            n_nodes: mixing.len(),
            round_seed: round_seed(seed, round),
            problem,
            mixing,
        }
    }

    /// Node `i`'s context with its working memory `buffers` (no gradient work yet).
    fn node_ctx<'b>(&'b self, i: usize, buffers: &'b mut WorkerBuffers<S>) -> NodeCtx<'b, S> {
        NodeCtx {
            node: i,
            n_nodes: self.n_nodes,
            round: self.round,
            round_seed: self.round_seed,
            phase: self.phase,
            oracle: self.problem.oracles()[i].as_ref(),
            mixing: &self.mixing[i],
            buffers,
            grad_samples: 0,
        }
    }
}

/// The [`PhaseShared`] of phase `$phase` of `$engine`'s current round. A macro rather than a
/// method: it borrows only the fields it reads, so the per-node vectors stay free to be
/// borrowed mutably next to it.
macro_rules! phase_shared {
    ($engine:ident, $phase:expr) => {
        PhaseShared::new(
            ($engine.totals.rounds, $phase),
            $engine.seed,
            &$engine.problem,
            &$engine.mixing,
        )
    };
}

/// The decentralized engine.
///
/// Each round runs the method's phases; in a phase every node computes its message (in
/// parallel), then every node absorbs its own and its neighbours' messages in the fixed
/// neighbour order (in parallel; node i writes only its own state). Bits are counted per node
/// ("sent once": `bits_up`, the papers' per-node count) and per link (`bits_links`: a message
/// to k neighbours counts k times). Metrics are taken at the node average x̄, with the
/// consensus error (1/n) Σ‖x_i − x̄‖². Results are bit-identical for every thread count.
pub struct GossipEngine<S: Scalar, M: GossipMethod<S>> {
    method: M,
    problem: Arc<Problem<S>>,
    mixing: Vec<Neighbourhood>,
    seed: u64,
    nodes: Vec<M::Node>,
    buffers: Vec<WorkerBuffers<S>>,
    outs: Vec<Message<S>>,
    results: Vec<Result<u64, MethodError>>,
    totals: Totals,
    pool: rayon::ThreadPool,
    threads: usize,
    metric_buf: Vec<Vec<S>>,
    metric_loss: Vec<f64>,
    xbar: Vec<S>,
    describe_graph: String,
}

impl<S: Scalar, M: GossipMethod<S>> core::fmt::Debug for GossipEngine<S, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GossipEngine")
            .field("method", &self.method)
            .field("problem", &self.problem.name())
            .field("graph", &self.describe_graph)
            .field("threads", &self.threads)
            .finish()
    }
}

fn validate_mixing(mixing: &[Neighbourhood], n: usize) -> Result<(), EngineError> {
    let bad = |m: String| EngineError::Method(MethodError::Incompatible(m));
    if mixing.len() != n {
        return Err(bad(format!(
            "the topology has {} nodes but the problem has {n} workers; set topology and problem.n_workers to the same n",
            mixing.len()
        )));
    }
    for (i, row) in mixing.iter().enumerate() {
        let total: f64 = row.self_weight + row.neighbours.iter().map(|&(_, w)| w).sum::<f64>();
        if (total - 1.0).abs() > 1e-9 || row.self_weight < 0.0 {
            return Err(bad(format!(
                "row {i} of the mixing matrix sums to {total} (must be 1 with non-negative weights)"
            )));
        }
        if let Some(&(j, _)) = row.neighbours.iter().find(|&&(j, _)| j >= n || j == i) {
            return Err(bad(format!("node {i} lists an invalid neighbour {j}")));
        }
    }
    Ok(())
}

impl<S: Scalar, M: GossipMethod<S>> GossipEngine<S, M> {
    /// Initialise every node at `x0`. `mixing[i]` is node i's row of W.
    pub fn new(
        method: M,
        problem: Arc<Problem<S>>,
        mixing: Vec<Neighbourhood>,
        describe_graph: impl Into<String>,
        x0: &[S],
        seed: u64,
        threads: usize,
    ) -> Result<Self, EngineError> {
        let n = problem.n_workers();
        validate_mixing(&mixing, n)?;
        let threads = threads.max(1);
        let pool = thread_pool(threads)?;
        let init = method.init(&problem, x0, seed)?;
        let d = problem.dim();
        Ok(Self {
            method,
            mixing,
            seed,
            nodes: init.nodes,
            buffers: (0..n).map(|_| WorkerBuffers::new(d)).collect(),
            outs: (0..n).map(|_| Message::default()).collect(),
            results: (0..n).map(|_| Ok(0)).collect(),
            totals: Totals {
                bits_up: vec![0; n],
                grad_samples: init.grad_samples,
                ..Totals::default()
            },
            pool,
            threads,
            metric_buf: (0..n).map(|_| vec![S::ZERO; d]).collect(),
            metric_loss: vec![0.0; n],
            xbar: vec![S::ZERO; d],
            describe_graph: describe_graph.into(),
            problem,
        })
    }

    /// Node states.
    pub fn nodes(&self) -> &[M::Node] {
        &self.nodes
    }

    /// The method.
    pub fn method(&self) -> &M {
        &self.method
    }

    /// Node i's model.
    pub fn node_iterate(&self, i: usize) -> Option<&[S]> {
        self.nodes.get(i).map(|n| self.method.iterate(n))
    }

    /// Phase `phase`, first half: nodes `range` compute and write their outgoing message
    /// `outs[i]` (in parallel; each writes only its own state, message and result slot).
    pub(crate) fn send_phase(&mut self, phase: usize, range: Range<usize>) {
        let shared = phase_shared!(self, phase);
        let method = &self.method;
        let start = range.start;
        let send = |(k, (((node, b), out), slot)): SendItem<'_, S, M::Node>| {
            let mut ctx = shared.node_ctx(start + k, b);
            *slot = method.send(node, &mut ctx, out).map(|()| ctx.grad_samples);
        };
        let nodes = &mut self.nodes[range.clone()];
        let buffers = &mut self.buffers[range.clone()];
        let outs = &mut self.outs[range.clone()];
        let results = &mut self.results[range];
        for_each_zipped!(self.threads, self.pool, send; nodes, buffers, outs, results);
    }

    /// Phase `phase`, second half: nodes `range` read their own and their neighbours'
    /// messages from `outs` (only those are read) and update their state.
    pub(crate) fn receive_phase(&mut self, phase: usize, range: Range<usize>) {
        let shared = phase_shared!(self, phase);
        let method = &self.method;
        let outs = &self.outs;
        let start = range.start;
        let receive = |(k, ((node, b), slot)): ReceiveItem<'_, S, M::Node>| {
            let mut ctx = shared.node_ctx(start + k, b);
            *slot = method
                .receive(node, &mut ctx, outs)
                .map(|()| ctx.grad_samples);
        };
        let nodes = &mut self.nodes[range.clone()];
        let buffers = &mut self.buffers[range.clone()];
        let results = &mut self.results[range];
        for_each_zipped!(self.threads, self.pool, receive; nodes, buffers, results);
    }

    /// Node `i`'s result of the last half-phase: gradient work in samples, or its error.
    pub(crate) fn take_result(&mut self, i: usize) -> Result<u64, MethodError> {
        std::mem::replace(&mut self.results[i], Ok(0))
    }

    /// Add node `i`'s outgoing message of a phase to the counters (sent once, and over each of
    /// its links).
    pub(crate) fn charge_send(&mut self, i: usize, c: &WorkerCounts) {
        self.totals.grad_samples += c.grad_samples;
        self.totals.bits_up[i] += c.bits;
        self.totals.bits_links += c.bits * self.mixing[i].neighbours.len() as u64;
        self.totals.entries_up += c.entries;
        self.totals.bits_up_values32 += c.bits_values32;
        self.totals.bits_up_values64 += c.bits_values64;
    }

    /// The graph: node i's row of the mixing matrix.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn mixing(&self) -> &[Neighbourhood] {
        &self.mixing
    }

    /// Mutable access to the pieces the MPI transport fills in.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn parts_mut(&mut self) -> EngineParts<'_, S> {
        EngineParts {
            outs: &mut self.outs,
            results: &mut self.results,
            totals: &mut self.totals,
        }
    }

    /// Metrics at x̄ = (1/n) Σ_i x_i, where `models[i]` is node i's model (the MPI engine
    /// passes the models it gathered; in process they are the nodes' own).
    pub(crate) fn evaluate_with(&mut self, models: &[&[S]]) -> Result<Metrics, EngineError> {
        let n = models.len() as f64;
        for (j, xb) in self.xbar.iter_mut().enumerate() {
            let mut s = 0.0f64;
            for m in models {
                s += m[j].to_f64();
            }
            *xb = S::from_f64(s / n);
        }
        let x = &self.xbar;
        let oracles = self.problem.oracles();
        let bufs = &mut self.metric_buf;
        let losses = &mut self.metric_loss;
        self.pool.install(|| {
            bufs.par_iter_mut()
                .zip(losses.par_iter_mut())
                .enumerate()
                .for_each(|(i, (g, l))| *l = oracles[i].loss_grad(x, g));
        });
        let loss = self.metric_loss.iter().sum::<f64>() / n;
        let mut norm = 0.0f64;
        let mut consensus = 0.0f64;
        for j in 0..x.len() {
            let mut s = 0.0f64;
            for g in self.metric_buf.iter() {
                s += g[j].to_f64();
            }
            norm += (s / n) * (s / n);
        }
        for m in models {
            consensus += squeeze_core::ops::dist2_sq(m, x)
                .map_err(|e| EngineError::Snapshot(e.to_string()))?;
        }
        Ok(Metrics {
            loss,
            grad_norm_sq: norm,
            consensus_error: consensus / n,
        })
    }

    /// The snapshot of this engine with `nodes` as the node states (the MPI engine gathers
    /// them from the ranks that advance them).
    pub(crate) fn snapshot_with_nodes(
        &self,
        nodes: Vec<M::Node>,
    ) -> Result<serde_json::Value, EngineError> {
        let snap = GossipSnapshot {
            header: SnapshotHeader::new(
                SNAPSHOT_FORMAT,
                self.seed,
                self.method.describe(),
                self.problem.dim(),
                self.totals.clone(),
            ),
            nodes,
        };
        snapshot::to_value(&snap)
    }

    /// x̄ of the last evaluation.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn last_xbar(&self) -> &[S] {
        &self.xbar
    }
}

impl<S: Scalar, M: GossipMethod<S> + 'static> Engine for GossipEngine<S, M> {
    fn describe(&self) -> String {
        let graph = Some(self.describe_graph.as_str());
        describe_run(&self.method.describe(), &self.problem, graph, self.threads)
    }

    problem_shape!();

    fn round(&mut self) -> Result<(), EngineError> {
        let n = self.nodes.len();
        for phase in 0..self.method.phases() {
            self.send_phase(phase, 0..n);
            for i in 0..n {
                let samples = self.take_result(i)?;
                let counts = WorkerCounts::of(&self.outs[i], samples);
                self.charge_send(i, &counts);
            }
            self.receive_phase(phase, 0..n);
            for i in 0..n {
                self.totals.grad_samples += self.take_result(i)?;
            }
        }
        self.totals.rounds += 1;
        Ok(())
    }

    fn totals(&self) -> &Totals {
        &self.totals
    }

    fn evaluate(&mut self) -> Result<Metrics, EngineError> {
        // The nodes are moved out for the call (evaluate_with borrows the engine mutably).
        let nodes = std::mem::take(&mut self.nodes);
        let models: Vec<&[S]> = nodes.iter().map(|node| self.method.iterate(node)).collect();
        let result = self.evaluate_with(&models);
        drop(models);
        self.nodes = nodes;
        result
    }

    fn iterate_f64(&self) -> Vec<f64> {
        let n = self.nodes.len() as f64;
        let d = self.problem.dim();
        (0..d)
            .map(|j| {
                self.nodes
                    .iter()
                    .map(|node| self.method.iterate(node)[j].to_f64())
                    .sum::<f64>()
                    / n
            })
            .collect()
    }

    fn snapshot(&self) -> Result<serde_json::Value, EngineError> {
        self.snapshot_with_nodes(self.nodes.clone())
    }

    fn restore(&mut self, snapshot: &serde_json::Value) -> Result<(), EngineError> {
        let snap: GossipSnapshot<M::Node> =
            snapshot::from_value(snapshot, "gossip method/configuration")?;
        snap.header.check_origin(SNAPSHOT_FORMAT, self.seed)?;
        snap.header.check_method(&self.method.describe())?;
        let dim = snap.header.dim;
        if dim != self.problem.dim() || snap.nodes.len() != self.nodes.len() {
            return Err(EngineError::Snapshot(format!(
                "checkpoint has {} nodes × d = {dim}, the configuration {} × {}: resume with the configuration that wrote it",
                snap.nodes.len(),
                self.nodes.len(),
                self.problem.dim()
            )));
        }
        self.nodes = snap.nodes;
        self.totals = snap.header.totals;
        Ok(())
    }
}
