//! # squeeze-topology
//!
//! The communication layer of decentralized methods (MoTEF, BEER, CHOCO-SGD): who talks to
//! whom, with which weights, and how fast gossip mixes.
//!
//! * [`Graph`] — an undirected simple connected graph $G = (V, E)$,
//!   $V = \lbrace 0, \dots, n - 1\rbrace$, with sorted neighbour lists (the fixed delivery
//!   order). Generators:
//!   [`Graph::ring`], [`Graph::torus`], [`Graph::torus_square`], [`Graph::complete`],
//!   [`Graph::star`], [`Graph::path`], [`Graph::grid`], [`Graph::erdos_renyi`] (seeded,
//!   resampled until connected) and [`Graph::from_edges`].
//! * [`MixingMatrix`] — $W$ symmetric, doubly stochastic, non-negative, $W_{ij} = 0$ off the
//!   edges; [`Weighting::Uniform`] ($1/(\Delta + 1)$ on edges: $1/3$ on rings, $1/5$ on tori),
//!   [`Weighting::MetropolisHastings`] ($1/(1 + \max(\deg i, \deg j))$),
//!   $\mathbf{1}\mathbf{1}^\top/n$ on $K_n$, or a validated user matrix.
//! * [`Spectrum`] — eigenvalues $1 = \lambda_1 \ge \dots \ge \lambda_n$, spectral gap
//!   $\rho = 1 - \max(\lvert\lambda_2\rvert, \lvert\lambda_n\rvert)$,
//!   $\beta = \lVert I - W\rVert_2$ and the mixing rate
//!   $\lVert W - \mathbf{1}\mathbf{1}^\top/n\rVert_2 = 1 - \rho$.
//! * [`TopologyConfig`] — the serde `[topology]` section with
//!   [`build`](TopologyConfig::build)`(n)`.
//!
//! Every user-facing mistake is a [`TopologyError`] whose message says how to fix it.
//!
//! ```
//! use squeeze_topology::{Graph, MixingMatrix};
//! let g = Graph::complete(10)?;
//! let w = MixingMatrix::metropolis_hastings(&g);
//! assert!((w.spectral_gap() - 1.0).abs() < 1e-12); // exact averaging in one step
//! let ring = MixingMatrix::uniform(&Graph::ring(10)?);
//! assert!(ring.spectral_gap() < 0.2);
//! # Ok::<(), squeeze_topology::TopologyError>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod config;
pub mod error;
pub mod graph;
pub mod mixing;

pub use config::{GraphSpec, TopologyConfig};
pub use error::TopologyError;
pub use graph::{ER_MAX_ATTEMPTS, Graph, MAX_NODES};
pub use mixing::{MixingMatrix, Spectrum, WEIGHT_TOL, Weighting};

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
