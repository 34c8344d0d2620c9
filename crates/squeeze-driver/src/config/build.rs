//! From a configuration to a running engine: problem, x⁰, mixing weights, then the method
//! registry (`squeeze_methods::build_method`) hands the typed method to an [`EngineSink`],
//! which wraps it in a [`StarEngine`] or [`GossipEngine`] and gives that to an
//! [`EngineTransport`] — in process here; other transports (MPI) implement the trait where
//! they live, so this module never names them.
//!
//! ```
//! use squeeze_driver::config::{ExperimentConfig, InProcess};
//! let cfg = ExperimentConfig::from_toml(
//!     "[problem]\nn_workers = 2\n[method]\nname = \"gd\"\n[stop]\nmax_rounds = 1\n",
//! ).unwrap();
//! let engine = cfg.build_engine_with(std::path::Path::new("."), 1, &InProcess).unwrap();
//! assert!(engine.describe().starts_with("gd"), "{}", engine.describe());
//! ```

use std::path::Path;
use std::sync::Arc;

use squeeze_core::Scalar;
use squeeze_methods::{
    BuildCtx, GossipMethod, MethodError, MethodSink, Neighbourhood, ServerMethod, Topology,
    build_method,
};
use squeeze_problems::{InitPoint, Problem};

use super::problem::build_problem;
use super::{ConfigError, ExperimentConfig, InitConfig, MethodConfig, invalid};
use crate::engine::{Engine, EngineError, StarEngine};
use crate::gossip::GossipEngine;

/// Where a built engine runs: it receives the typed engine and returns it boxed, possibly
/// wrapped (the MPI transport wraps it in its rank's part of the run).
pub trait EngineTransport {
    /// Take a star engine.
    fn star<S: Scalar, M: ServerMethod<S> + 'static>(
        &self,
        engine: StarEngine<S, M>,
    ) -> Result<Box<dyn Engine>, ConfigError>;
    /// Take a gossip engine.
    fn gossip<S: Scalar, M: GossipMethod<S> + 'static>(
        &self,
        engine: GossipEngine<S, M>,
    ) -> Result<Box<dyn Engine>, ConfigError>;
}

/// Everything in this process: the engine as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct InProcess;

impl EngineTransport for InProcess {
    fn star<S: Scalar, M: ServerMethod<S> + 'static>(
        &self,
        engine: StarEngine<S, M>,
    ) -> Result<Box<dyn Engine>, ConfigError> {
        Ok(Box::new(engine))
    }

    fn gossip<S: Scalar, M: GossipMethod<S> + 'static>(
        &self,
        engine: GossipEngine<S, M>,
    ) -> Result<Box<dyn Engine>, ConfigError> {
        Ok(Box::new(engine))
    }
}

/// The graph a gossip method runs on: each node's row of W and a label for `describe`.
struct Graph {
    mixing: Vec<Neighbourhood>,
    label: String,
}

/// Receives the method from the registry and builds its engine.
struct EngineSink<'a, S: Scalar, T> {
    problem: Arc<Problem<S>>,
    x0: &'a [S],
    seed: u64,
    threads: usize,
    graph: Option<Graph>,
    transport: &'a T,
}

impl<S: Scalar, T: EngineTransport> MethodSink<S> for EngineSink<'_, S, T> {
    type Output = Box<dyn Engine>;
    type Error = ConfigError;

    fn star<M: ServerMethod<S> + 'static>(self, m: M) -> Result<Box<dyn Engine>, ConfigError> {
        let engine = StarEngine::new(m, self.problem, self.x0, self.seed, self.threads)
            .map_err(engine_err)?;
        self.transport.star(engine)
    }

    fn gossip<M: GossipMethod<S> + 'static>(self, m: M) -> Result<Box<dyn Engine>, ConfigError> {
        let g = self.graph.ok_or_else(|| {
            invalid(
                "topology",
                "a gossip method needs a graph, e.g. [topology] kind = \"ring\"",
            )
        })?;
        let engine = GossipEngine::new(
            m,
            self.problem,
            g.mixing,
            g.label,
            self.x0,
            self.seed,
            self.threads,
        )?;
        self.transport.gossip(engine)
    }
}

/// A method's setup error that is a configuration mistake gets the key it comes from (the
/// theory stepsize needs a contractive compressor: `method.stepsize`).
fn engine_err(e: EngineError) -> ConfigError {
    match e {
        EngineError::Method(MethodError::Param(p)) if p.param == "stepsize" => {
            invalid("method.stepsize", p.to_string())
        }
        EngineError::Method(MethodError::Param(p))
            if squeeze_methods::spec::OWN_KEYS.contains(&p.param) =>
        {
            invalid(&format!("method.{}", p.param), p.to_string())
        }
        e => ConfigError::Engine(e),
    }
}

/// Names of the registered methods of `topology`, comma-separated.
fn names_of(topology: Topology) -> String {
    squeeze_methods::METHODS
        .iter()
        .filter(|m| m.topology == topology)
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn build_typed<S: Scalar, T: EngineTransport>(
    cfg: &ExperimentConfig,
    base: &Path,
    threads: usize,
    transport: &T,
) -> Result<Box<dyn Engine>, ConfigError> {
    let mut problem = build_problem::<S>(cfg, base)?;
    problem.set_smoothness_rule(cfg.method.smoothness_rule()?);
    let problem = Arc::new(problem);
    let init = match cfg.problem.init {
        InitConfig::Zeros => InitPoint::Zeros,
        InitConfig::Gaussian { std } => InitPoint::Gaussian {
            seed: cfg.seed,
            std,
        },
        InitConfig::ProblemDefault => InitPoint::ProblemDefault,
    };
    let x0 = problem.initial_point(&init)?;
    let name = &cfg.method.name;
    let topology = squeeze_methods::registry::entry(name).map(|e| e.topology);
    let graph = match (topology, &cfg.topology) {
        (Some(Topology::Gossip), None) => {
            return Err(invalid(
                "topology",
                format!(
                    "{name} is a gossip method and needs a graph, e.g. [topology] kind = \"ring\""
                ),
            ));
        }
        (Some(Topology::Gossip), Some(topo)) => {
            let (graph, w) = topo
                .build_seeded(cfg.problem.n_workers, cfg.seed)
                .map_err(|e| invalid("topology", e.to_string()))?;
            let mixing = (0..w.n())
                .map(|i| Neighbourhood {
                    self_weight: w.self_weight(i),
                    neighbours: w
                        .neighbors(i)
                        .iter()
                        .copied()
                        .zip(w.neighbor_weights(i).iter().copied())
                        .collect(),
                })
                .collect();
            let label = format!(
                "{} ({}, spectral gap {:.4})",
                graph.label(),
                w.label(),
                w.spectral_gap()
            );
            Some(Graph { mixing, label })
        }
        (_, Some(_)) => {
            return Err(invalid(
                "topology",
                format!(
                    "{name} runs on the server (star) engine; [topology] applies to gossip methods ({})",
                    names_of(Topology::Gossip)
                ),
            ));
        }
        (_, None) => None,
    };
    let sink = EngineSink {
        problem,
        x0: &x0,
        seed: cfg.seed,
        threads,
        graph,
        transport,
    };
    dispatch(&cfg.method, sink)
}

fn dispatch<S: Scalar, T: EngineTransport>(
    method: &MethodConfig,
    sink: EngineSink<'_, S, T>,
) -> Result<Box<dyn Engine>, ConfigError> {
    let ctx = BuildCtx {
        dim: sink.problem.dim(),
    };
    build_method(&method.name, &method.params, &ctx, sink)
}

/// Build an in-process star engine for `method` on `problem` on `threads` threads.
pub fn build_engine<S: Scalar>(
    method: &MethodConfig,
    problem: Arc<Problem<S>>,
    x0: &[S],
    seed: u64,
    threads: usize,
) -> Result<Box<dyn Engine>, ConfigError> {
    in_process(method, problem, x0, seed, threads, None)
}

/// Build an in-process gossip engine for `method` on `threads` threads.
pub fn build_gossip_engine<S: Scalar>(
    method: &MethodConfig,
    problem: Arc<Problem<S>>,
    mixing: Vec<Neighbourhood>,
    graph_label: String,
    x0: &[S],
    seed: u64,
    threads: usize,
) -> Result<Box<dyn Engine>, ConfigError> {
    let graph = Graph {
        mixing,
        label: graph_label,
    };
    in_process(method, problem, x0, seed, threads, Some(graph))
}

/// An in-process engine for `method`: on `graph` (gossip) when given, else a star engine.
fn in_process<S: Scalar>(
    method: &MethodConfig,
    problem: Arc<Problem<S>>,
    x0: &[S],
    seed: u64,
    threads: usize,
    graph: Option<Graph>,
) -> Result<Box<dyn Engine>, ConfigError> {
    let sink = EngineSink {
        problem,
        x0,
        seed,
        threads,
        graph,
        transport: &InProcess,
    };
    dispatch(method, sink)
}
