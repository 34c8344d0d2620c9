//! Mixing (gossip) matrices on a graph and their spectral quantities.
//!
//! A mixing matrix $W \in \mathbb{R}^{n\times n}$ on a connected graph $G = (V, E)$ is
//!
//! * symmetric, $W = W^\top$;
//! * doubly stochastic, $W\mathbf{1} = \mathbf{1}$ (and so $\mathbf{1}^\top W = \mathbf{1}^\top$);
//! * non-negative, with $W_{ij} = 0$ unless $i = j$ or $\lbrace i, j\rbrace \in E$.
//!
//! Each property is checked to the absolute tolerance [`WEIGHT_TOL`]. The gossip step is
//! $$x_i \leftarrow \sum_j W_{ij} x_j = W_{ii} x_i + \sum_{j \in N(i)} W_{ij} x_j,$$
//! summed in neighbour order ([`MixingMatrix::apply`]).
//!
//! Weightings ([`Weighting`]):
//!
//! * **uniform** (max-degree): $W_{ij} = 1/(\Delta + 1)$ on every edge, $\Delta = \max_i
//!   \deg(i)$, and $W_{ii} = 1 - \deg(i)/(\Delta + 1)$. On the ring ($\Delta = 2$) this is $1/3$
//!   for the node itself and each neighbour, on the torus with sides $\ge 3$ ($\Delta = 4$)
//!   $1/5$, on $K_n$ $1/n$: exactly the constants of the MoTEF and ChocoSGD code (spec §5.1).
//! * **Metropolis–Hastings**: $W_{ij} = 1/(1 + \max(\deg(i), \deg(j)))$ on edges and
//!   $W_{ii} = 1 - \sum_{j \in N(i)} W_{ij}$. On a regular graph (ring, torus, $K_n$) it equals
//!   uniform; on the star $S_n$ both give hub–leaf weight $1/n$, leaf self-weight $1 - 1/n$ and
//!   hub self-weight $1/n$.
//! * **complete**: $W = \mathbf{1}\mathbf{1}^\top/n$ on $K_n$ (exact averaging; equals both of
//!   the above there).
//!
//! Both constructions put $W_{ii} \ge 1/(\Delta + 1) > 0$ on the diagonal, so every eigenvalue
//! is $> -1$ and the spectral gap of a connected graph is positive.
//!
//! Spectral quantities ([`Spectrum`]), with eigenvalues $1 = \lambda_1 \ge \lambda_2 \ge \dots
//! \ge \lambda_n$ of $W$:
//!
//! * mixing rate (NDA/BEER code's "alpha") $\lVert W - \mathbf{1}\mathbf{1}^\top/n\rVert_2 =
//!   \max(\lvert\lambda_2\rvert, \lvert\lambda_n\rvert)$;
//! * spectral gap $\rho = 1 - \max(\lvert\lambda_2\rvert, \lvert\lambda_n\rvert) = 1 - \lVert W -
//!   \mathbf{1}\mathbf{1}^\top/n\rVert_2 \in (0, 1]$ — ChocoSGD's $\rho = 1 -
//!   \lvert\lambda_2(W)\rvert$ with eigenvalues ordered by modulus, as its ring code computes it.
//!   $K_n$ with $W = \mathbf{1}\mathbf{1}^\top/n$ has $\rho = 1$ (not the 0 that ChocoSGD's
//!   `CompleteGraph.rho` returns);
//! * $\beta = \lVert I - W\rVert_2 = \max_i \lvert 1 - \lambda_i\rvert \in [0, 2)$
//!   (CHOCO-Gossip's consensus stepsize).
//!
//! ```
//! use squeeze_topology::{Graph, MixingMatrix};
//! let g = Graph::ring(20)?;
//! let w = MixingMatrix::uniform(&g);
//! assert_eq!(w.neighbor_weights(0), &[1.0 / 3.0, 1.0 / 3.0]);
//! let rho = 1.0 - (1.0 / 3.0 + 2.0 / 3.0 * (std::f64::consts::TAU / 20.0).cos());
//! assert!((w.spectral_gap() - rho).abs() < 1e-12);
//! # Ok::<(), squeeze_topology::TopologyError>(())
//! ```

use std::sync::OnceLock;

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};
use squeeze_core::LengthMismatch;

use crate::{Graph, TopologyError};

/// Absolute tolerance of the symmetry ($\lvert W_{ij} - W_{ji}\rvert$) and row-sum
/// ($\lvert\sum_j W_{ij} - 1\rvert$) checks.
///
/// Generated weights are exact up to a few ulps per row (≤ n·ε ≈ 4·10⁻¹² at
/// [`crate::MAX_NODES`]); user matrices must be given to about ten significant digits.
pub const WEIGHT_TOL: f64 = 1e-10;

/// How edge weights are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// Max-degree weights $1/(\Delta + 1)$ on edges; the spec's ring $1/3$ and torus $1/5$.
    Uniform,
    /// $W_{ij} = 1/(1 + \max(\deg i, \deg j))$; equals `uniform` on regular graphs (default).
    #[default]
    MetropolisHastings,
}

impl Weighting {
    /// The config spelling (`uniform`, `metropolis_hastings`).
    pub fn name(self) -> &'static str {
        match self {
            Weighting::Uniform => "uniform",
            Weighting::MetropolisHastings => "metropolis_hastings",
        }
    }
}

/// Eigenvalues of $W$ and the quantities derived from them (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    /// $\lambda_1 \ge \lambda_2 \ge \dots \ge \lambda_n$ ($\lambda_1 = 1$ up to rounding).
    pub eigenvalues: Vec<f64>,
    /// $\lVert W - \mathbf{1}\mathbf{1}^\top/n\rVert_2 = \max(\lvert\lambda_2\rvert,
    /// \lvert\lambda_n\rvert)$ (0 when $n = 1$).
    pub mixing_rate: f64,
    /// $\rho = 1 - {}$ `mixing_rate`.
    pub spectral_gap: f64,
    /// $\beta = \lVert I - W\rVert_2 = \max_i \lvert 1 - \lambda_i\rvert$.
    pub beta: f64,
}

impl Spectrum {
    /// Spectral quantities of a symmetric doubly stochastic matrix (nalgebra's symmetric
    /// eigensolver, eigenvalues only).
    fn of(w: DMatrix<f64>) -> Self {
        let mut eigenvalues: Vec<f64> = if w.is_empty() {
            Vec::new()
        } else {
            w.symmetric_eigenvalues().iter().copied().collect()
        };
        eigenvalues.sort_by(|a, b| b.total_cmp(a));
        let mixing_rate = eigenvalues
            .iter()
            .skip(1)
            .map(|l| l.abs())
            .fold(0.0, f64::max);
        let beta = eigenvalues
            .iter()
            .map(|l| (1.0 - l).abs())
            .fold(0.0, f64::max);
        Self {
            eigenvalues,
            mixing_rate,
            spectral_gap: 1.0 - mixing_rate,
            beta,
        }
    }
}

/// A validated mixing matrix: dense n×n (row-major `f64`) plus, per node, the self-weight
/// and the neighbour weights in the graph's neighbour order (what the gossip engine reads).
#[derive(Debug, Clone)]
pub struct MixingMatrix {
    n: usize,
    dense: Vec<f64>,
    self_weights: Vec<f64>,
    offsets: Vec<usize>,
    neighbors: Vec<usize>,
    weights: Vec<f64>,
    label: &'static str,
    spectrum: OnceLock<Spectrum>,
}

impl PartialEq for MixingMatrix {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n && self.dense == other.dense && self.neighbors == other.neighbors
    }
}

impl MixingMatrix {
    /// Off-diagonal weights from `edge_weight(i, j)` on edges, diagonal 1 − Σ of the row.
    fn from_edge_weights(
        graph: &Graph,
        label: &'static str,
        edge_weight: impl Fn(usize, usize) -> f64,
    ) -> Self {
        let n = graph.n();
        let mut dense = vec![0.0; n * n];
        for i in 0..n {
            let mut off = 0.0;
            for &j in graph.neighbors(i) {
                let w = edge_weight(i, j);
                dense[i * n + j] = w;
                off += w;
            }
            dense[i * n + i] = 1.0 - off;
        }
        Self::assemble(graph, label, dense)
    }

    /// Build the neighbour lists from a dense matrix already known to fit `graph`.
    fn assemble(graph: &Graph, label: &'static str, dense: Vec<f64>) -> Self {
        let n = graph.n();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        let mut neighbors = Vec::with_capacity(2 * graph.num_edges());
        let mut weights = Vec::with_capacity(2 * graph.num_edges());
        let mut self_weights = Vec::with_capacity(n);
        for i in 0..n {
            self_weights.push(dense[i * n + i]);
            for &j in graph.neighbors(i) {
                neighbors.push(j);
                weights.push(dense[i * n + j]);
            }
            offsets.push(neighbors.len());
        }
        let m = Self {
            n,
            dense,
            self_weights,
            offsets,
            neighbors,
            weights,
            label,
            spectrum: OnceLock::new(),
        };
        debug_assert_eq!(m.validate(graph), Ok(()));
        m
    }

    /// The matrix for `weighting` on `graph`.
    pub fn new(graph: &Graph, weighting: Weighting) -> Self {
        match weighting {
            Weighting::Uniform => Self::uniform(graph),
            Weighting::MetropolisHastings => Self::metropolis_hastings(graph),
        }
    }

    /// Max-degree weights: $W_{ij} = 1/(\Delta + 1)$ on edges, $W_{ii} = 1 - \deg(i)/(\Delta + 1)$.
    ///
    /// ```
    /// use squeeze_topology::{Graph, MixingMatrix};
    /// let w = MixingMatrix::uniform(&Graph::torus(4, 5)?);
    /// assert!(w.neighbor_weights(7).iter().all(|&x| x == 0.2));
    /// assert!((w.self_weight(7) - 0.2).abs() < 1e-15);
    /// # Ok::<(), squeeze_topology::TopologyError>(())
    /// ```
    pub fn uniform(graph: &Graph) -> Self {
        let w = 1.0 / (graph.max_degree() + 1) as f64;
        Self::from_edge_weights(graph, "uniform", |_, _| w)
    }

    /// Metropolis–Hastings weights: $W_{ij} = 1/(1 + \max(\deg i, \deg j))$ on edges,
    /// $W_{ii} = 1 - \sum_{j \in N(i)} W_{ij}$.
    ///
    /// ```
    /// use squeeze_topology::{Graph, MixingMatrix};
    /// let n = 10;
    /// let w = MixingMatrix::metropolis_hastings(&Graph::star(n)?);
    /// assert_eq!(w.get(0, 3), 1.0 / n as f64); // hub–leaf
    /// assert!((w.self_weight(3) - (1.0 - 1.0 / n as f64)).abs() < 1e-15); // leaf
    /// assert!((w.self_weight(0) - 1.0 / n as f64).abs() < 1e-15); // hub
    /// # Ok::<(), squeeze_topology::TopologyError>(())
    /// ```
    pub fn metropolis_hastings(graph: &Graph) -> Self {
        Self::from_edge_weights(graph, "metropolis_hastings", |i, j| {
            1.0 / (1 + graph.degree(i).max(graph.degree(j))) as f64
        })
    }

    /// Exact averaging $W = \mathbf{1}\mathbf{1}^\top/n$; `graph` must be complete.
    ///
    /// ```
    /// use squeeze_topology::{Graph, MixingMatrix};
    /// let w = MixingMatrix::complete(&Graph::complete(8)?)?;
    /// assert!((w.spectral_gap() - 1.0).abs() < 1e-12); // eigenvalues 1, 0, …, 0 up to rounding
    /// assert!(MixingMatrix::complete(&Graph::ring(8)?).is_err());
    /// # Ok::<(), squeeze_topology::TopologyError>(())
    /// ```
    pub fn complete(graph: &Graph) -> Result<Self, TopologyError> {
        let n = graph.n();
        if !graph.is_complete() {
            let (i, j) = (0..n)
                .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
                .find(|&(i, j)| !graph.has_edge(i, j))
                .unwrap_or((0, 0));
            return Err(TopologyError::NotComplete { i, j });
        }
        Ok(Self::assemble(
            graph,
            "complete",
            vec![1.0 / n as f64; n * n],
        ))
    }

    /// A user-supplied dense matrix (row-major, n² entries), validated against `graph`:
    /// finite, non-negative, zero off the edges and the diagonal, symmetric and with unit row
    /// sums to [`WEIGHT_TOL`]. This is how externally optimised weights (e.g. FDLA) enter.
    ///
    /// ```
    /// use squeeze_topology::{Graph, MixingMatrix};
    /// let g = Graph::path(2)?;
    /// let w = MixingMatrix::from_dense(&g, vec![0.5, 0.5, 0.5, 0.5])?;
    /// assert_eq!(w.spectral_gap(), 1.0);
    /// let e = MixingMatrix::from_dense(&g, vec![0.6, 0.5, 0.5, 0.5]).unwrap_err();
    /// assert!(e.to_string().contains("row 0 sums to 1.1"));
    /// # Ok::<(), squeeze_topology::TopologyError>(())
    /// ```
    pub fn from_dense(graph: &Graph, dense: Vec<f64>) -> Result<Self, TopologyError> {
        let n = graph.n();
        if dense.len() != n * n {
            return Err(TopologyError::MatrixSize {
                n,
                expected: n * n,
                got: dense.len(),
            });
        }
        check_dense(graph, &dense)?;
        Ok(Self::assemble(graph, "custom", dense))
    }

    /// Re-check every mixing-matrix property against `graph` (see the module docs).
    pub fn validate(&self, graph: &Graph) -> Result<(), TopologyError> {
        let n = graph.n();
        if self.dense.len() != n * n {
            return Err(TopologyError::MatrixSize {
                n,
                expected: n * n,
                got: self.dense.len(),
            });
        }
        check_dense(graph, &self.dense)
    }

    /// Number of nodes n.
    pub fn n(&self) -> usize {
        self.n
    }

    /// `uniform`, `metropolis_hastings`, `complete` or `custom`.
    pub fn label(&self) -> &'static str {
        self.label
    }

    /// $W_{ij}$.
    ///
    /// # Panics
    /// If `i` or `j` is ≥ n.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        assert!(
            i < self.n && j < self.n,
            "W[{i}][{j}] out of range for n = {}",
            self.n
        );
        self.dense[i * self.n + j]
    }

    /// Row $i$ of $W$ (dense).
    ///
    /// # Panics
    /// If `i ≥ n`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.dense[i * self.n..(i + 1) * self.n]
    }

    /// All of $W$, row-major (= column-major, $W$ being symmetric).
    pub fn dense(&self) -> &[f64] {
        &self.dense
    }

    /// $W$ as an nalgebra matrix.
    pub fn to_nalgebra(&self) -> DMatrix<f64> {
        DMatrix::from_row_slice(self.n, self.n, &self.dense)
    }

    /// $W_{ii}$.
    ///
    /// # Panics
    /// If `i ≥ n`.
    pub fn self_weight(&self, i: usize) -> f64 {
        self.self_weights[i]
    }

    /// $N(i)$ in delivery order (the graph's sorted neighbour list).
    ///
    /// # Panics
    /// If `i ≥ n`.
    pub fn neighbors(&self, i: usize) -> &[usize] {
        &self.neighbors[self.offsets[i]..self.offsets[i + 1]]
    }

    /// $W_{ij}$ for $j \in N(i)$, aligned with [`MixingMatrix::neighbors`].
    ///
    /// # Panics
    /// If `i ≥ n`.
    pub fn neighbor_weights(&self, i: usize) -> &[f64] {
        &self.weights[self.offsets[i]..self.offsets[i + 1]]
    }

    /// One gossip step on scalars, summed in neighbour order:
    /// $$\mathrm{out}\_i = W_{ii} x_i + \sum_{j \in N(i)} W_{ij} x_j.$$
    ///
    /// ```
    /// use squeeze_topology::{Graph, MixingMatrix};
    /// let w = MixingMatrix::uniform(&Graph::ring(3)?);
    /// let mut out = [0.0; 3];
    /// w.apply(&[3.0, 0.0, 0.0], &mut out)?;
    /// assert_eq!(out, [1.0, 1.0, 1.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, x: &[f64], out: &mut [f64]) -> Result<(), LengthMismatch> {
        for len in [x.len(), out.len()] {
            if len != self.n {
                return Err(LengthMismatch {
                    expected: self.n,
                    got: len,
                });
            }
        }
        for (i, o) in out.iter_mut().enumerate() {
            let mut acc = self.self_weights[i] * x[i];
            for (&j, &w) in self.neighbors(i).iter().zip(self.neighbor_weights(i)) {
                acc += w * x[j];
            }
            *o = acc;
        }
        Ok(())
    }

    /// Eigenvalues, mixing rate, spectral gap and $\beta$ (computed once, $O(n^3)$, then cached).
    pub fn spectrum(&self) -> &Spectrum {
        self.spectrum
            .get_or_init(|| Spectrum::of(self.to_nalgebra()))
    }

    /// Eigenvalues of $W$, $\lambda_1 \ge \dots \ge \lambda_n$.
    pub fn eigenvalues(&self) -> &[f64] {
        &self.spectrum().eigenvalues
    }

    /// The spectral gap $\rho = 1 - \max(\lvert\lambda_2\rvert, \lvert\lambda_n\rvert) \in (0, 1]$.
    pub fn spectral_gap(&self) -> f64 {
        self.spectrum().spectral_gap
    }

    /// $\beta = \lVert I - W\rVert_2 = \max_i \lvert 1 - \lambda_i\rvert$.
    pub fn beta(&self) -> f64 {
        self.spectrum().beta
    }

    /// $\lVert W - \mathbf{1}\mathbf{1}^\top/n\rVert_2 = \max(\lvert\lambda_2\rvert,
    /// \lvert\lambda_n\rvert) = 1 - \rho$.
    pub fn mixing_rate(&self) -> f64 {
        self.spectrum().mixing_rate
    }
}

/// The mixing-matrix checks on a dense matrix of the right size.
fn check_dense(graph: &Graph, w: &[f64]) -> Result<(), TopologyError> {
    let n = graph.n();
    for i in 0..n {
        for j in 0..n {
            let v = w[i * n + j];
            if !v.is_finite() {
                return Err(TopologyError::NonFiniteWeight { i, j, value: v });
            }
            if v < 0.0 {
                return Err(TopologyError::NegativeWeight { i, j, value: v });
            }
            if i != j && v != 0.0 && !graph.has_edge(i, j) {
                return Err(TopologyError::WeightOffEdge { i, j, value: v });
            }
        }
    }
    for i in 0..n {
        for j in i + 1..n {
            let (wij, wji) = (w[i * n + j], w[j * n + i]);
            if (wij - wji).abs() > WEIGHT_TOL {
                return Err(TopologyError::NotSymmetric {
                    i,
                    j,
                    wij,
                    wji,
                    tol: WEIGHT_TOL,
                });
            }
        }
    }
    for row in 0..n {
        let sum: f64 = w[row * n..(row + 1) * n].iter().sum();
        if (sum - 1.0).abs() > WEIGHT_TOL {
            return Err(TopologyError::NotStochastic {
                row,
                sum,
                tol: WEIGHT_TOL,
            });
        }
    }
    Ok(())
}
