//! Why a graph, a mixing matrix or a topology configuration was refused.
//!
//! Every message names the offending value and says how to fix it. Nothing in this crate panics
//! on user input; all of it ends up here.

use thiserror::Error;

/// A topology that cannot be built.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum TopologyError {
    /// The shape needs more nodes than it was given.
    #[error("{shape}: n = {n} is too small, it needs n ≥ {min}: {hint}")]
    TooFewNodes {
        /// The generator (`ring`, `star`, …).
        shape: &'static str,
        /// The node count given.
        n: usize,
        /// The smallest valid node count.
        min: usize,
        /// What the smallest case looks like or what to use instead.
        hint: &'static str,
    },
    /// The graph would be too large for dense mixing matrices.
    #[error(
        "{shape}: n = {n} exceeds the limit of {max} nodes (mixing matrices are dense n×n); use fewer nodes"
    )]
    TooManyNodes {
        /// The generator.
        shape: &'static str,
        /// The node count requested (saturated on overflow).
        n: usize,
        /// [`crate::MAX_NODES`].
        max: usize,
    },
    /// A rows × cols shape does not have n nodes, or has a zero side.
    #[error("{shape} {rows}×{cols} has {product} nodes but n = {n}: {hint}")]
    ShapeMismatch {
        /// `torus` or `grid`.
        shape: &'static str,
        /// Rows requested.
        rows: usize,
        /// Columns requested.
        cols: usize,
        /// rows · cols (saturating).
        product: usize,
        /// The node count required.
        n: usize,
        /// Valid shapes for this n.
        hint: String,
    },
    /// `torus_square(n)` with n not a perfect square.
    #[error(
        "torus_square: n = {n} is not a perfect square; nearest valid sizes: {below} ({below_side}×{below_side}) and {above} ({above_side}×{above_side}), or give rows and cols with rows·cols = n"
    )]
    NotSquare {
        /// The node count given.
        n: usize,
        /// Largest square ≤ n.
        below: usize,
        /// Its side.
        below_side: usize,
        /// Smallest square ≥ n.
        above: usize,
        /// Its side.
        above_side: usize,
    },
    /// The graph is not connected: gossip could never reach consensus.
    #[error(
        "{shape}: the graph on {n} nodes is disconnected ({components} connected components; node {unreached} cannot be reached from node 0); add edges joining the components"
    )]
    Disconnected {
        /// The generator.
        shape: &'static str,
        /// Node count.
        n: usize,
        /// Number of connected components (≥ 2).
        components: usize,
        /// The smallest node not reachable from node 0.
        unreached: usize,
    },
    /// A user-supplied edge joins a node to itself.
    #[error(
        "edges[{index}] = [{node}, {node}] is a self-loop; list only edges between distinct nodes (self-weights come from the mixing matrix's diagonal)"
    )]
    SelfLoop {
        /// Position in the edge list.
        index: usize,
        /// The node.
        node: usize,
    },
    /// A user-supplied edge names a node ≥ n.
    #[error(
        "edges[{index}] = [{a}, {b}] names node {node}, but nodes are numbered 0..{n} (n = {n})"
    )]
    NodeOutOfRange {
        /// Position in the edge list.
        index: usize,
        /// First endpoint.
        a: usize,
        /// Second endpoint.
        b: usize,
        /// The offending endpoint.
        node: usize,
        /// Node count.
        n: usize,
    },
    /// A user-supplied edge is listed twice (in either orientation).
    #[error(
        "edges[{index}] = [{a}, {b}] repeats edges[{first}] (edges are undirected: [a, b] and [b, a] are the same edge); list each edge once"
    )]
    DuplicateEdge {
        /// Position of the repetition.
        index: usize,
        /// Position of the first occurrence.
        first: usize,
        /// First endpoint as written.
        a: usize,
        /// Second endpoint as written.
        b: usize,
    },
    /// The Erdős–Rényi probability is outside (0, 1].
    #[error("erdos_renyi: invalid p = {p}: the edge probability must lie in (0, 1]")]
    InvalidProbability {
        /// The value given.
        p: f64,
    },
    /// No connected Erdős–Rényi sample within the attempt budget.
    #[error(
        "erdos_renyi(n = {n}, p = {p}): no connected sample in {attempts} attempts; G(n, p) is connected with high probability only above p ≈ ln(n)/n = {threshold:.4}; raise p (e.g. to {suggested:.3})"
    )]
    NotConnectedAfterRetries {
        /// Node count.
        n: usize,
        /// Edge probability.
        p: f64,
        /// Samples drawn.
        attempts: u64,
        /// ln(n)/n.
        threshold: f64,
        /// A probability that connects with high probability (2·ln(n)/n, capped at 1).
        suggested: f64,
    },
    /// A mixing matrix has the wrong size for its graph.
    #[error(
        "mixing matrix has {got} entries but the graph has n = {n} nodes (expected n² = {expected}, row-major)"
    )]
    MatrixSize {
        /// Node count.
        n: usize,
        /// n².
        expected: usize,
        /// Entries given.
        got: usize,
    },
    /// A mixing weight is NaN or ±∞.
    #[error("mixing matrix entry W[{i}][{j}] = {value} is not finite")]
    NonFiniteWeight {
        /// Row.
        i: usize,
        /// Column.
        j: usize,
        /// The value.
        value: f64,
    },
    /// A mixing weight is negative.
    #[error(
        "mixing matrix entry W[{i}][{j}] = {value} is negative; mixing weights must be ≥ 0 (use metropolis_hastings or uniform weights)"
    )]
    NegativeWeight {
        /// Row.
        i: usize,
        /// Column.
        j: usize,
        /// The value.
        value: f64,
    },
    /// A non-zero weight between two nodes that are not neighbours.
    #[error(
        "mixing matrix entry W[{i}][{j}] = {value} is non-zero but nodes {i} and {j} are not neighbours; W may only be non-zero on edges and the diagonal"
    )]
    WeightOffEdge {
        /// Row.
        i: usize,
        /// Column.
        j: usize,
        /// The value.
        value: f64,
    },
    /// W ≠ Wᵀ beyond the tolerance.
    #[error(
        "mixing matrix is not symmetric: W[{i}][{j}] = {wij} but W[{j}][{i}] = {wji} (tolerance {tol:e}); gossip needs w_ij = w_ji"
    )]
    NotSymmetric {
        /// Row.
        i: usize,
        /// Column.
        j: usize,
        /// W_ij.
        wij: f64,
        /// W_ji.
        wji: f64,
        /// The tolerance used.
        tol: f64,
    },
    /// A row does not sum to 1 beyond the tolerance.
    #[error(
        "mixing matrix row {row} sums to {sum} (tolerance {tol:e}); W must be doubly stochastic — put the remainder 1 − Σ_j w_ij on the diagonal"
    )]
    NotStochastic {
        /// The row.
        row: usize,
        /// Its sum.
        sum: f64,
        /// The tolerance used.
        tol: f64,
    },
    /// `MixingMatrix::complete` on a graph that is not complete.
    #[error(
        "complete mixing (W = 11ᵀ/n) needs the complete graph, but nodes {i} and {j} are not neighbours; use Graph::complete(n) or uniform / metropolis_hastings weights"
    )]
    NotComplete {
        /// A node of a missing edge.
        i: usize,
        /// The other node.
        j: usize,
    },
    /// A `[topology]` configuration is inconsistent.
    #[error("topology config: {0}")]
    Config(String),
}
