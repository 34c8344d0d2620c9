//! Per-round records: what every run writes (CSV and JSON lines) and plots read.

use serde::{Deserialize, Serialize};

use crate::engine::{Metrics, Totals};

/// One row of a run's record. Counters are cumulative from the start of the run.
///
/// `bits_up_per_worker` is the papers' "#bits/n" (exact encoded bits, mean over workers);
/// `bits_up_values32_per_worker` and `bits_up_values64_per_worker` redraw the EF21-paper and
/// 3PC/MoTEF conventions. Everything but `wall_time_s` is bit-identical across thread counts
/// and across checkpoint/resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    /// Rounds completed (0 = the initial point).
    pub round: u64,
    /// Mean uplink bits per worker (exact).
    pub bits_up_per_worker: f64,
    /// Largest uplink bits of any worker (exact).
    pub bits_up_max: u64,
    /// Downlink bits each worker received (exact).
    pub bits_down_per_worker: u64,
    /// Mean uplink bits per worker at 32 bits per transmitted value.
    pub bits_up_values32_per_worker: f64,
    /// Mean uplink bits per worker at 64 bits per transmitted entry.
    pub bits_up_values64_per_worker: f64,
    /// Coordinates sent uplink, all workers.
    pub entries_up: u64,
    /// Gradient work in samples (epochs = grad_samples / N).
    pub grad_samples: u64,
    /// f(x).
    pub loss: f64,
    /// ‖∇f(x)‖².
    pub grad_norm_sq: f64,
    /// Gossip: mean over nodes of the bits summed over each node's outgoing links (0 for star).
    #[serde(default)]
    pub bits_links_per_node: f64,
    /// Gossip: consensus error (1/n) Σ‖x_i − x̄‖² (0 for star).
    #[serde(default)]
    pub consensus_error: f64,
    /// AdaCGD: cumulative uplink level histogram, (worker, round) pairs per level — skipped,
    /// rung 1, …, rung m (sums to round × n); empty for other methods. CSV: one column,
    /// counts separated by `;`.
    #[serde(default)]
    pub levels: Vec<u64>,
    /// Bidirectional AdaCGD: cumulative downlink level histogram (rounds per level); empty
    /// otherwise. CSV: like `levels`.
    #[serde(default)]
    pub levels_down: Vec<u64>,
    /// MPI runs: uplink (gossip: node-to-node) frame bytes handed to MPI, headers included,
    /// since the start (0 in process; see `Totals::wire_bytes_up`).
    #[serde(default)]
    pub wire_bytes_up: u64,
    /// MPI runs: downlink bytes measured on the wire, per broadcast, frame header included
    /// (0 in process).
    #[serde(default)]
    pub wire_bytes_down: u64,
    /// Seconds since the run started (resumed runs continue the clock).
    pub wall_time_s: f64,
}

impl RoundRecord {
    /// Build from counters and metrics.
    pub fn new(totals: &Totals, metrics: Metrics, wall_time_s: f64) -> Self {
        let n = totals.bits_up.len().max(1) as f64;
        Self {
            round: totals.rounds,
            bits_up_per_worker: totals.bits_up_per_worker(),
            bits_up_max: totals.bits_up_max(),
            bits_down_per_worker: totals.bits_down_per_worker,
            bits_up_values32_per_worker: totals.bits_up_values32 as f64 / n,
            bits_up_values64_per_worker: totals.bits_up_values64 as f64 / n,
            entries_up: totals.entries_up,
            grad_samples: totals.grad_samples,
            loss: metrics.loss,
            grad_norm_sq: metrics.grad_norm_sq,
            bits_links_per_node: totals.bits_links as f64 / n,
            consensus_error: metrics.consensus_error,
            levels: totals.levels.clone(),
            levels_down: totals.levels_down.clone(),
            wire_bytes_up: totals.wire_bytes_up,
            wire_bytes_down: totals.wire_bytes_down,
            wall_time_s,
        }
    }

    /// Equal in everything but wall time and the measured wire bytes: what an MPI run
    /// guarantees against the same run in process.
    pub fn same_trajectory_as_in_process(&self, other: &Self) -> bool {
        let mut a = self.clone();
        a.wire_bytes_up = other.wire_bytes_up;
        a.wire_bytes_down = other.wire_bytes_down;
        a.same_trajectory(other)
    }

    /// Equal in everything but wall time (what determinism and resume guarantee).
    pub fn same_trajectory(&self, other: &Self) -> bool {
        let mut a = self.clone();
        a.wall_time_s = other.wall_time_s;
        a.loss.to_bits() == other.loss.to_bits()
            && a.grad_norm_sq.to_bits() == other.grad_norm_sq.to_bits()
            && a.consensus_error.to_bits() == other.consensus_error.to_bits()
            && a == *other
    }

    /// CSV header matching [`RoundRecord::csv_row`].
    pub const CSV_HEADER: &'static str = "round,bits_up_per_worker,bits_up_max,bits_down_per_worker,bits_up_values32_per_worker,bits_up_values64_per_worker,entries_up,grad_samples,loss,grad_norm_sq,bits_links_per_node,consensus_error,levels,levels_down,wire_bytes_up,wire_bytes_down,wall_time_s";

    /// One CSV line (no newline). Floats use the shortest representation that round-trips.
    pub fn csv_row(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            self.round,
            self.bits_up_per_worker,
            self.bits_up_max,
            self.bits_down_per_worker,
            self.bits_up_values32_per_worker,
            self.bits_up_values64_per_worker,
            self.entries_up,
            self.grad_samples,
            self.loss,
            self.grad_norm_sq,
            self.bits_links_per_node,
            self.consensus_error,
            join_counts(&self.levels),
            join_counts(&self.levels_down),
            self.wire_bytes_up,
            self.wire_bytes_down,
            self.wall_time_s
        )
    }
}

/// `a;b;c` (empty for no counts).
fn join_counts(counts: &[u64]) -> String {
    let mut out = String::new();
    for (i, c) in counts.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(&c.to_string());
    }
    out
}
