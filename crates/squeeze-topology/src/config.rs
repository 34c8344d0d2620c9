//! The `[topology]` section of an experiment config.
//!
//! ```toml
//! kind = "torus"                  # ring | torus | complete | star | path | grid | erdos_renyi | edges
//! rows = 4                        # torus / grid: rows and cols (both optional, see GraphSpec)
//! cols = 5
//! weights = "metropolis_hastings" # or "uniform" (default metropolis_hastings)
//! ```
//!
//! `{ kind = "erdos_renyi", p = 0.2, seed = 3 }`, `{ kind = "edges", edges = [[0, 1], [1, 2]] }`.
//! Unknown keys and keys that do not belong to the chosen kind are errors naming the key; the
//! node count n comes from the problem (number of workers) and is passed to
//! [`TopologyConfig::build`].
//!
//! ```
//! use squeeze_topology::TopologyConfig;
//! let c: TopologyConfig = toml::from_str(r#"kind = "torus"
//! rows = 4
//! cols = 5"#)?;
//! let (g, w) = c.build(20)?;
//! assert_eq!(g.label(), "torus(4x5)");
//! assert!(w.spectral_gap() > 0.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::{Graph, MixingMatrix, TopologyError, Weighting};

/// Which graph to build on n nodes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum GraphSpec {
    /// [`Graph::ring`].
    Ring,
    /// [`Graph::torus`]. Neither side given: √n × √n ([`Graph::torus_square`]); one side
    /// given: the other is n / side (must divide); both: rows·cols must equal n.
    Torus {
        /// Rows.
        rows: Option<usize>,
        /// Columns.
        cols: Option<usize>,
    },
    /// [`Graph::complete`].
    Complete,
    /// [`Graph::star`] (hub 0).
    Star,
    /// [`Graph::path`].
    Path,
    /// [`Graph::grid`]; sides resolved as for the torus.
    Grid {
        /// Rows.
        rows: Option<usize>,
        /// Columns.
        cols: Option<usize>,
    },
    /// [`Graph::erdos_renyi`]; without `seed` the experiment seed is used.
    ErdosRenyi {
        /// Edge probability in (0, 1].
        p: f64,
        /// Topology seed.
        seed: Option<u64>,
    },
    /// [`Graph::from_edges`].
    Edges {
        /// Undirected edges `[a, b]`.
        edges: Vec<[usize; 2]>,
    },
}

/// A graph and its weighting, as written in a config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawTopology", into = "RawTopology")]
pub struct TopologyConfig {
    /// The graph.
    pub graph: GraphSpec,
    /// The weighting of its mixing matrix.
    pub weights: Weighting,
}

impl TopologyConfig {
    /// Build the graph on `n` nodes and its mixing matrix. An Erdős–Rényi graph without a
    /// `seed` uses seed 0; prefer [`TopologyConfig::build_seeded`] with the experiment seed.
    pub fn build(&self, n: usize) -> Result<(Graph, MixingMatrix), TopologyError> {
        self.build_seeded(n, 0)
    }

    /// As [`TopologyConfig::build`], with `default_seed` for a random graph without `seed`.
    pub fn build_seeded(
        &self,
        n: usize,
        default_seed: u64,
    ) -> Result<(Graph, MixingMatrix), TopologyError> {
        let g = self.graph.build(n, default_seed)?;
        let w = MixingMatrix::new(&g, self.weights);
        Ok((g, w))
    }
}

/// The (rows, cols) of an n-node grid-shaped graph, or `None` for "square".
fn resolve_sides(
    shape: &'static str,
    n: usize,
    rows: Option<usize>,
    cols: Option<usize>,
) -> Result<Option<(usize, usize)>, TopologyError> {
    let mismatch = |rows: usize, cols: usize| TopologyError::ShapeMismatch {
        shape,
        rows,
        cols,
        product: rows.saturating_mul(cols),
        n,
        hint: divisor_hint(n),
    };
    match (rows, cols) {
        (None, None) => Ok(None),
        (Some(r), Some(c)) => {
            if r.checked_mul(c) == Some(n) {
                Ok(Some((r, c)))
            } else {
                Err(mismatch(r, c))
            }
        }
        (Some(side), None) | (None, Some(side)) => {
            if side == 0 || !n.is_multiple_of(side) {
                let (r, c) = if rows.is_some() {
                    (side, n.checked_div(side).unwrap_or(0))
                } else {
                    (n.checked_div(side).unwrap_or(0), side)
                };
                return Err(mismatch(r, c));
            }
            Ok(Some(if rows.is_some() {
                (side, n / side)
            } else {
                (n / side, side)
            }))
        }
    }
}

/// "valid shapes for n = 20: 1×20, 2×10, 4×5, 5×4, 10×2, 20×1".
fn divisor_hint(n: usize) -> String {
    if n == 0 {
        return "n must be ≥ 2".to_string();
    }
    let shapes: Vec<String> = (1..=n)
        .filter(|&d| n.is_multiple_of(d))
        .take(24)
        .map(|d| format!("{d}×{}", n / d))
        .collect();
    format!("choose rows·cols = n, e.g. {}", shapes.join(", "))
}

impl GraphSpec {
    /// Build the graph on `n` nodes; `default_seed` seeds an Erdős–Rényi graph without `seed`.
    pub fn build(&self, n: usize, default_seed: u64) -> Result<Graph, TopologyError> {
        match self {
            GraphSpec::Ring => Graph::ring(n),
            GraphSpec::Complete => Graph::complete(n),
            GraphSpec::Star => Graph::star(n),
            GraphSpec::Path => Graph::path(n),
            GraphSpec::Torus { rows, cols } => match resolve_sides("torus", n, *rows, *cols)? {
                None => Graph::torus_square(n),
                Some((r, c)) => Graph::torus(r, c),
            },
            GraphSpec::Grid { rows, cols } => match resolve_sides("grid", n, *rows, *cols)? {
                None => {
                    let s = n.isqrt();
                    if s * s != n {
                        return Err(TopologyError::Config(format!(
                            "kind = \"grid\" without rows/cols needs a perfect square n, got n = {n}; give rows (and cols) with rows·cols = n"
                        )));
                    }
                    Graph::grid(s, s)
                }
                Some((r, c)) => Graph::grid(r, c),
            },
            GraphSpec::ErdosRenyi { p, seed } => {
                Graph::erdos_renyi(n, *p, seed.unwrap_or(default_seed))
            }
            GraphSpec::Edges { edges } => Graph::from_edges(n, edges),
        }
    }

    /// The config spelling of the kind.
    pub fn kind(&self) -> &'static str {
        match self {
            GraphSpec::Ring => "ring",
            GraphSpec::Torus { .. } => "torus",
            GraphSpec::Complete => "complete",
            GraphSpec::Star => "star",
            GraphSpec::Path => "path",
            GraphSpec::Grid { .. } => "grid",
            GraphSpec::ErdosRenyi { .. } => "erdos_renyi",
            GraphSpec::Edges { .. } => "edges",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Ring,
    Torus,
    Complete,
    Star,
    Path,
    Grid,
    ErdosRenyi,
    Edges,
}

/// The on-disk form: every key optional except `kind`; [`TryFrom`] checks which belong.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopology {
    kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rows: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cols: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    /// Read as lists (a fixed-size array would silently drop a third entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    edges: Option<Vec<Vec<usize>>>,
    #[serde(default)]
    weights: Weighting,
}

impl TryFrom<RawTopology> for TopologyConfig {
    type Error = TopologyError;

    fn try_from(raw: RawTopology) -> Result<Self, TopologyError> {
        let allowed: &[&str] = match raw.kind {
            Kind::Torus | Kind::Grid => &["rows", "cols"],
            Kind::ErdosRenyi => &["p", "seed"],
            Kind::Edges => &["edges"],
            Kind::Ring | Kind::Complete | Kind::Star | Kind::Path => &[],
        };
        let present = [
            ("rows", raw.rows.is_some()),
            ("cols", raw.cols.is_some()),
            ("p", raw.p.is_some()),
            ("seed", raw.seed.is_some()),
            ("edges", raw.edges.is_some()),
        ];
        let kind_name = serde_name(raw.kind);
        for (key, is_set) in present {
            if is_set && !allowed.contains(&key) {
                let takes = if allowed.is_empty() {
                    "no parameters besides weights".to_string()
                } else {
                    format!("only {} (and weights)", allowed.join(", "))
                };
                return Err(TopologyError::Config(format!(
                    "`{key}` is not a parameter of kind = \"{kind_name}\", which takes {takes}"
                )));
            }
        }
        let graph = match raw.kind {
            Kind::Ring => GraphSpec::Ring,
            Kind::Complete => GraphSpec::Complete,
            Kind::Star => GraphSpec::Star,
            Kind::Path => GraphSpec::Path,
            Kind::Torus => GraphSpec::Torus {
                rows: raw.rows,
                cols: raw.cols,
            },
            Kind::Grid => GraphSpec::Grid {
                rows: raw.rows,
                cols: raw.cols,
            },
            Kind::ErdosRenyi => {
                let p = raw.p.ok_or_else(|| {
                    TopologyError::Config(
                        "kind = \"erdos_renyi\" needs `p`, the edge probability in (0, 1] (e.g. p = 0.2)"
                            .to_string(),
                    )
                })?;
                if !(p > 0.0 && p <= 1.0) {
                    return Err(TopologyError::InvalidProbability { p });
                }
                GraphSpec::ErdosRenyi { p, seed: raw.seed }
            }
            Kind::Edges => {
                let lists = raw.edges.ok_or_else(|| {
                    TopologyError::Config(
                        "kind = \"edges\" needs `edges`, a list of node pairs (e.g. edges = [[0, 1], [1, 2]])"
                            .to_string(),
                    )
                })?;
                let mut edges = Vec::with_capacity(lists.len());
                for (index, e) in lists.iter().enumerate() {
                    match e.as_slice() {
                        &[a, b] => edges.push([a, b]),
                        _ => {
                            return Err(TopologyError::Config(format!(
                                "edges[{index}] = {e:?} has {} entries; each edge is a pair [a, b] of node numbers",
                                e.len()
                            )));
                        }
                    }
                }
                GraphSpec::Edges { edges }
            }
        };
        Ok(Self {
            graph,
            weights: raw.weights,
        })
    }
}

fn serde_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Ring => "ring",
        Kind::Torus => "torus",
        Kind::Complete => "complete",
        Kind::Star => "star",
        Kind::Path => "path",
        Kind::Grid => "grid",
        Kind::ErdosRenyi => "erdos_renyi",
        Kind::Edges => "edges",
    }
}

impl From<TopologyConfig> for RawTopology {
    fn from(c: TopologyConfig) -> Self {
        let mut raw = RawTopology {
            kind: Kind::Ring,
            rows: None,
            cols: None,
            p: None,
            seed: None,
            edges: None,
            weights: c.weights,
        };
        match c.graph {
            GraphSpec::Ring => {}
            GraphSpec::Complete => raw.kind = Kind::Complete,
            GraphSpec::Star => raw.kind = Kind::Star,
            GraphSpec::Path => raw.kind = Kind::Path,
            GraphSpec::Torus { rows, cols } => {
                (raw.kind, raw.rows, raw.cols) = (Kind::Torus, rows, cols);
            }
            GraphSpec::Grid { rows, cols } => {
                (raw.kind, raw.rows, raw.cols) = (Kind::Grid, rows, cols);
            }
            GraphSpec::ErdosRenyi { p, seed } => {
                (raw.kind, raw.p, raw.seed) = (Kind::ErdosRenyi, Some(p), seed);
            }
            GraphSpec::Edges { edges } => {
                let lists = edges.iter().map(|e| e.to_vec()).collect();
                (raw.kind, raw.edges) = (Kind::Edges, Some(lists));
            }
        }
        raw
    }
}
