//! Undirected simple communication graphs and their generators.
//!
//! A [`Graph`] G = (V, E) has nodes V = {0, …, n − 1} and undirected edges without self-loops
//! or repetitions. Node i's neighbour list N(i) is sorted increasingly; that order is the fixed
//! delivery order in which the gossip engine adds neighbours' messages, so runs are
//! reproducible bit for bit. Every constructor checks that G is connected (otherwise no
//! mixing matrix on G can reach consensus) and returns a [`TopologyError`] instead of
//! panicking.
//!
//! Grid-shaped graphs number node (row, col) as `row · cols + col` (row-major).
//!
//! ```
//! use squeeze_topology::Graph;
//! let g = Graph::ring(5)?;
//! assert_eq!(g.neighbors(0), &[1, 4]);
//! assert_eq!(g.num_edges(), 5);
//! let t = Graph::torus(3, 4)?;
//! assert_eq!(t.n(), 12);
//! assert!((0..12).all(|i| t.degree(i) == 4));
//! # Ok::<(), squeeze_topology::TopologyError>(())
//! ```

use std::collections::HashMap;

use squeeze_core::{Purpose, SqueezeRng};

use crate::TopologyError;

/// Largest node count any constructor accepts. Mixing matrices are stored densely (n² `f64`,
/// 2 GiB at this size), so larger graphs would exhaust memory rather than fail cleanly.
pub const MAX_NODES: usize = 1 << 14;

/// Samples [`Graph::erdos_renyi`] draws before giving up on connectivity.
pub const ER_MAX_ATTEMPTS: u64 = 100;

/// An undirected simple connected graph on nodes `0..n` with sorted adjacency lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    adj: Vec<Vec<usize>>,
    num_edges: usize,
    label: String,
}

fn check_size(
    shape: &'static str,
    n: usize,
    min: usize,
    hint: &'static str,
) -> Result<(), TopologyError> {
    if n < min {
        return Err(TopologyError::TooFewNodes {
            shape,
            n,
            min,
            hint,
        });
    }
    if n > MAX_NODES {
        return Err(TopologyError::TooManyNodes {
            shape,
            n,
            max: MAX_NODES,
        });
    }
    Ok(())
}

fn grid_size(shape: &'static str, rows: usize, cols: usize) -> Result<usize, TopologyError> {
    let n = rows.saturating_mul(cols);
    if rows == 0 || cols == 0 {
        return Err(TopologyError::TooFewNodes {
            shape,
            n: 0,
            min: 2,
            hint: "rows and cols must both be ≥ 1",
        });
    }
    check_size(
        shape,
        n,
        2,
        "a 1×1 shape is a single node; use rows·cols ≥ 2",
    )?;
    Ok(n)
}

impl Graph {
    /// Build from an edge list known to be in range; self-loops are dropped and repetitions
    /// merged (only the shape generators call this), then connectivity is checked.
    fn from_generated(
        shape: &'static str,
        label: String,
        n: usize,
        edges: impl IntoIterator<Item = (usize, usize)>,
    ) -> Result<Self, TopologyError> {
        let mut adj = vec![Vec::new(); n];
        for (a, b) in edges {
            if a != b {
                adj[a].push(b);
                adj[b].push(a);
            }
        }
        for list in &mut adj {
            list.sort_unstable();
            list.dedup();
        }
        let num_edges = adj.iter().map(Vec::len).sum::<usize>() / 2;
        let g = Self {
            adj,
            num_edges,
            label,
        };
        g.check_connected(shape)?;
        Ok(g)
    }

    /// `Ok` if every node is reachable from node 0; else the number of components.
    fn check_connected(&self, shape: &'static str) -> Result<(), TopologyError> {
        let n = self.n();
        let mut comp = vec![usize::MAX; n];
        let mut components = 0;
        let mut stack = Vec::new();
        for start in 0..n {
            if comp[start] != usize::MAX {
                continue;
            }
            comp[start] = components;
            stack.push(start);
            while let Some(v) = stack.pop() {
                for &w in &self.adj[v] {
                    if comp[w] == usize::MAX {
                        comp[w] = components;
                        stack.push(w);
                    }
                }
            }
            components += 1;
        }
        if components > 1 {
            let unreached = comp.iter().position(|&c| c != 0).unwrap_or(0);
            return Err(TopologyError::Disconnected {
                shape,
                n,
                components,
                unreached,
            });
        }
        Ok(())
    }

    /// Cycle C_n: edges {i, i + 1 mod n}. Every node has degree 2 for n ≥ 3.
    ///
    /// n = 2 is the single edge {0, 1} (the two "ring" neighbours coincide), which is what the
    /// MoTEF and ChocoSGD code use for a 2-node ring. Needs 2 ≤ n ≤ [`MAX_NODES`].
    ///
    /// ```
    /// use squeeze_topology::Graph;
    /// assert_eq!(Graph::ring(4)?.neighbors(0), &[1, 3]);
    /// assert_eq!(Graph::ring(2)?.num_edges(), 1);
    /// assert!(Graph::ring(1).is_err());
    /// # Ok::<(), squeeze_topology::TopologyError>(())
    /// ```
    pub fn ring(n: usize) -> Result<Self, TopologyError> {
        check_size("ring", n, 2, "n = 2 is a single edge, n ≥ 3 a proper cycle")?;
        Self::from_generated(
            "ring",
            format!("ring({n})"),
            n,
            (0..n).map(|i| (i, (i + 1) % n)),
        )
    }

    /// 2-D periodic grid (torus) with `rows × cols` nodes; node (r, c) = `r·cols + c` is joined
    /// to (r, c ± 1 mod cols) and (r ± 1 mod rows, c).
    ///
    /// With rows, cols ≥ 3 the four neighbours are distinct (degree 4). Smaller sides are
    /// allowed and handled by merging coinciding neighbours: a side of 2 gives one neighbour
    /// along that axis, a side of 1 none (so `torus(1, c)` is `ring(c)` and `torus(2, 2)` is a
    /// 4-cycle). Needs rows, cols ≥ 1 and 2 ≤ rows·cols ≤ [`MAX_NODES`].
    ///
    /// ```
    /// use squeeze_topology::Graph;
    /// let t = Graph::torus(4, 5)?;
    /// assert_eq!(t.neighbors(0), &[1, 4, 5, 15]);
    /// assert_eq!(Graph::torus(2, 2)?.degree(0), 2);
    /// # Ok::<(), squeeze_topology::TopologyError>(())
    /// ```
    pub fn torus(rows: usize, cols: usize) -> Result<Self, TopologyError> {
        let n = grid_size("torus", rows, cols)?;
        let edges = (0..rows).flat_map(move |r| {
            (0..cols).flat_map(move |c| {
                let v = r * cols + c;
                [
                    (v, r * cols + (c + 1) % cols),
                    (v, ((r + 1) % rows) * cols + c),
                ]
            })
        });
        Self::from_generated("torus", format!("torus({rows}x{cols})"), n, edges)
    }

    /// The √n × √n torus (MoTEF's synthetic code requires a perfect square n).
    ///
    /// Errors with the nearest valid sizes when n is not a perfect square.
    ///
    /// ```
    /// use squeeze_topology::Graph;
    /// assert_eq!(Graph::torus_square(16)?, Graph::torus(4, 4)?);
    /// let e = Graph::torus_square(20).unwrap_err().to_string();
    /// assert!(e.contains("16 (4×4) and 25 (5×5)"), "{e}");
    /// # Ok::<(), squeeze_topology::TopologyError>(())
    /// ```
    pub fn torus_square(n: usize) -> Result<Self, TopologyError> {
        let s = n.isqrt();
        if s * s != n {
            return Err(TopologyError::NotSquare {
                n,
                below: s * s,
                below_side: s,
                above: (s + 1) * (s + 1),
                above_side: s + 1,
            });
        }
        Self::torus(s, s)
    }

    /// Complete graph K_n: every pair of nodes is an edge. n = 1 (a lone node) is allowed.
    ///
    /// ```
    /// use squeeze_topology::Graph;
    /// let k = Graph::complete(5)?;
    /// assert_eq!(k.num_edges(), 10);
    /// assert!(k.is_complete());
    /// # Ok::<(), squeeze_topology::TopologyError>(())
    /// ```
    pub fn complete(n: usize) -> Result<Self, TopologyError> {
        check_size("complete", n, 1, "a complete graph needs at least one node")?;
        let edges = (0..n).flat_map(move |i| (i + 1..n).map(move |j| (i, j)));
        Self::from_generated("complete", format!("complete({n})"), n, edges)
    }

    /// Star S_n: hub 0 joined to leaves 1, …, n − 1. Needs n ≥ 2 (n = 2 is a single edge).
    ///
    /// ```
    /// use squeeze_topology::Graph;
    /// let s = Graph::star(6)?;
    /// assert_eq!(s.degree(0), 5);
    /// assert_eq!(s.neighbors(3), &[0]);
    /// # Ok::<(), squeeze_topology::TopologyError>(())
    /// ```
    pub fn star(n: usize) -> Result<Self, TopologyError> {
        check_size("star", n, 2, "a star needs a hub and at least one leaf")?;
        Self::from_generated("star", format!("star({n})"), n, (1..n).map(|i| (0, i)))
    }

    /// Path P_n: edges {i, i + 1} for i < n − 1. Needs n ≥ 2.
    ///
    /// ```
    /// use squeeze_topology::Graph;
    /// let p = Graph::path(4)?;
    /// assert_eq!((p.degree(0), p.degree(1), p.num_edges()), (1, 2, 3));
    /// # Ok::<(), squeeze_topology::TopologyError>(())
    /// ```
    pub fn path(n: usize) -> Result<Self, TopologyError> {
        check_size("path", n, 2, "a path needs at least one edge")?;
        Self::from_generated("path", format!("path({n})"), n, (1..n).map(|i| (i - 1, i)))
    }

    /// Non-periodic 2-D grid with `rows × cols` nodes; node (r, c) = `r·cols + c` is joined to
    /// (r, c ± 1) and (r ± 1, c) when they exist. Needs rows, cols ≥ 1 and
    /// 2 ≤ rows·cols ≤ [`MAX_NODES`]; `grid(1, n)` is `path(n)`.
    ///
    /// ```
    /// use squeeze_topology::Graph;
    /// let g = Graph::grid(8, 5)?; // MoTEF's n = 40 topology study
    /// assert_eq!(g.num_edges(), 8 * 4 + 7 * 5);
    /// assert_eq!(g.neighbors(6), &[1, 5, 7, 11]);
    /// # Ok::<(), squeeze_topology::TopologyError>(())
    /// ```
    pub fn grid(rows: usize, cols: usize) -> Result<Self, TopologyError> {
        let n = grid_size("grid", rows, cols)?;
        let right =
            (0..rows).flat_map(move |r| (1..cols).map(move |c| (r * cols + c - 1, r * cols + c)));
        let down =
            (1..rows).flat_map(move |r| (0..cols).map(move |c| ((r - 1) * cols + c, r * cols + c)));
        Self::from_generated("grid", format!("grid({rows}x{cols})"), n, right.chain(down))
    }

    /// Erdős–Rényi G(n, p), resampled until connected.
    ///
    /// Attempt k = 0, 1, … draws from `SqueezeRng::stream(seed, Purpose::Topology, k)` one
    /// uniform u per pair (i, j), i < j, in lexicographic order, and keeps {i, j} iff u < p.
    /// The first connected sample is returned (its attempt number is in [`Graph::label`]);
    /// after [`ER_MAX_ATTEMPTS`] disconnected samples the error suggests a larger p
    /// (G(n, p) is connected with high probability once p > ln(n)/n). Needs p ∈ (0, 1] and
    /// 2 ≤ n ≤ [`MAX_NODES`]; p = 1 gives K_n.
    ///
    /// ```
    /// use squeeze_topology::Graph;
    /// let a = Graph::erdos_renyi(40, 0.2, 7)?;
    /// assert_eq!(a, Graph::erdos_renyi(40, 0.2, 7)?); // same seed, same graph
    /// assert!(Graph::erdos_renyi(40, 0.01, 7).is_err()); // far below ln(40)/40 ≈ 0.09
    /// # Ok::<(), squeeze_topology::TopologyError>(())
    /// ```
    pub fn erdos_renyi(n: usize, p: f64, seed: u64) -> Result<Self, TopologyError> {
        if !(p > 0.0 && p <= 1.0) {
            return Err(TopologyError::InvalidProbability { p });
        }
        check_size(
            "erdos_renyi",
            n,
            2,
            "a random graph needs at least two nodes",
        )?;
        for attempt in 0..ER_MAX_ATTEMPTS {
            let mut rng = SqueezeRng::stream(seed, Purpose::Topology, attempt);
            let mut edges = Vec::new();
            for i in 0..n {
                for j in i + 1..n {
                    if rng.next_f64() < p {
                        edges.push((i, j));
                    }
                }
            }
            let label = format!("erdos_renyi(n={n}, p={p}, seed={seed}, attempt={attempt})");
            match Self::from_generated("erdos_renyi", label, n, edges) {
                Ok(g) => return Ok(g),
                Err(TopologyError::Disconnected { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        let threshold = (n as f64).ln() / n as f64;
        Err(TopologyError::NotConnectedAfterRetries {
            n,
            p,
            attempts: ER_MAX_ATTEMPTS,
            threshold,
            suggested: (2.0 * threshold).max(2.0 * p).min(1.0),
        })
    }

    /// A user-supplied graph on nodes `0..n` from undirected edges `[a, b]`.
    ///
    /// Rejects endpoints ≥ n, self-loops `[a, a]` and repeated edges (`[a, b]` and `[b, a]` are
    /// the same edge), each naming the offending position, then checks connectivity. Needs
    /// 1 ≤ n ≤ [`MAX_NODES`].
    ///
    /// ```
    /// use squeeze_topology::Graph;
    /// let g = Graph::from_edges(3, &[[0, 1], [2, 1]])?;
    /// assert_eq!(g.neighbors(1), &[0, 2]);
    /// let e = Graph::from_edges(3, &[[0, 1], [1, 0], [1, 2]]).unwrap_err();
    /// assert!(e.to_string().contains("edges[1] = [1, 0] repeats edges[0]"));
    /// # Ok::<(), squeeze_topology::TopologyError>(())
    /// ```
    pub fn from_edges(n: usize, edges: &[[usize; 2]]) -> Result<Self, TopologyError> {
        check_size("edges", n, 1, "a graph needs at least one node")?;
        let mut seen: HashMap<(usize, usize), usize> = HashMap::with_capacity(edges.len());
        for (index, &[a, b]) in edges.iter().enumerate() {
            if let Some(&node) = [a, b].iter().find(|&&v| v >= n) {
                return Err(TopologyError::NodeOutOfRange {
                    index,
                    a,
                    b,
                    node,
                    n,
                });
            }
            if a == b {
                return Err(TopologyError::SelfLoop { index, node: a });
            }
            if let Some(&first) = seen.get(&(a.min(b), a.max(b))) {
                return Err(TopologyError::DuplicateEdge { index, first, a, b });
            }
            seen.insert((a.min(b), a.max(b)), index);
        }
        Self::from_generated(
            "edges",
            format!("edges(n={n}, m={})", edges.len()),
            n,
            edges.iter().map(|&[a, b]| (a, b)),
        )
    }

    /// Number of nodes n.
    pub fn n(&self) -> usize {
        self.adj.len()
    }

    /// Number of undirected edges |E|.
    pub fn num_edges(&self) -> usize {
        self.num_edges
    }

    /// N(i), sorted increasingly: the delivery order of node i's incoming messages.
    ///
    /// # Panics
    /// If `i ≥ n` (a programming error, not user input).
    pub fn neighbors(&self, i: usize) -> &[usize] {
        &self.adj[i]
    }

    /// deg(i) = |N(i)|.
    ///
    /// # Panics
    /// If `i ≥ n`.
    pub fn degree(&self, i: usize) -> usize {
        self.adj[i].len()
    }

    /// max_i deg(i) (0 for a lone node).
    pub fn max_degree(&self) -> usize {
        self.adj.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// min_i deg(i) (0 for a lone node).
    pub fn min_degree(&self) -> usize {
        self.adj.iter().map(Vec::len).min().unwrap_or(0)
    }

    /// Whether {i, j} ∈ E (false for out-of-range nodes and for i = j).
    pub fn has_edge(&self, i: usize, j: usize) -> bool {
        self.adj.get(i).is_some_and(|l| l.binary_search(&j).is_ok())
    }

    /// Whether every pair of distinct nodes is an edge.
    pub fn is_complete(&self) -> bool {
        let n = self.n();
        self.num_edges == n * (n - 1) / 2
    }

    /// The edges {i, j} with i < j in lexicographic order.
    pub fn edges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.adj
            .iter()
            .enumerate()
            .flat_map(|(i, l)| l.iter().filter(move |&&j| j > i).map(move |&j| (i, j)))
    }

    /// How the graph was made, e.g. `ring(20)`, `torus(4x5)`,
    /// `erdos_renyi(n=40, p=0.2, seed=7, attempt=0)`; for logs and records.
    pub fn label(&self) -> &str {
        &self.label
    }
}
