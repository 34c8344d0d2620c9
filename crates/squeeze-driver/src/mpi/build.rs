//! Building this rank's engine from a configuration: same-configuration and same-data
//! checks, then the config's builder with [`Comm`] as the transport.

use squeeze_core::Scalar;
use squeeze_methods::{GossipMethod, ServerMethod};

use super::comm::*;
use super::frames::*;
use super::gossip::MpiGossipEngine;
use super::star::MpiStarEngine;
use crate::config::{ConfigError, EngineTransport, ExperimentConfig};
use crate::engine::{Engine, StarEngine};
use crate::gossip::GossipEngine;

/// A fingerprint of the data file's contents (0 for built-in data or a file that cannot be
/// read: building the problem reports that).
pub(super) fn data_fingerprint(cfg: &ExperimentConfig, base_dir: &std::path::Path) -> u64 {
    use crate::config::ProblemKind;
    let data = &cfg.problem.data;
    if ["embedded", "breast_cancer", "synthetic_a9a"].contains(&data.as_str())
        || !matches!(
            cfg.problem.kind,
            ProblemKind::Logreg | ProblemKind::LeastSquares
        )
    {
        return 0;
    }
    std::fs::read(base_dir.join(data)).map_or(0, |bytes| fnv1a(&bytes))
}

/// Build this rank's part of an MPI run of `cfg`: check that every rank runs the same
/// configuration, build the engine, and check that every rank could (a rank that cannot open
/// the data makes every rank fail with its message).
pub fn build_mpi_engine(
    cfg: &ExperimentConfig,
    base_dir: &std::path::Path,
    comm: &Comm,
) -> Result<Box<dyn Engine>, ConfigError> {
    // The data path may differ between machines; the data's contents are compared below.
    let mut without_path = cfg.clone();
    without_path.problem.data.clear();
    let resolved = toml::to_string(&without_path).map_err(|e| ConfigError::Parse(e.to_string()))?;
    comm.agree_on("configuration", fnv1a(resolved.as_bytes()))?;
    // The same path may hold different files on different machines.
    comm.agree_on("data file", data_fingerprint(cfg, base_dir))?;
    let built = cfg.build_engine_with(base_dir, cfg.run.threads, comm);
    match comm.any_failed(built.as_ref().err().map(|e| e.to_string())) {
        Ok(()) => built,
        // This rank's own error reads better than its agreed copy.
        Err(agreed) => Err(built.err().unwrap_or(ConfigError::Engine(agreed))),
    }
}

/// The MPI transport: a built engine becomes this rank's part of the run.
impl EngineTransport for Comm {
    fn star<S: Scalar, M: ServerMethod<S> + 'static>(
        &self,
        engine: StarEngine<S, M>,
    ) -> Result<Box<dyn Engine>, ConfigError> {
        Ok(Box::new(MpiStarEngine::new(engine, self.clone())?))
    }

    fn gossip<S: Scalar, M: GossipMethod<S> + 'static>(
        &self,
        engine: GossipEngine<S, M>,
    ) -> Result<Box<dyn Engine>, ConfigError> {
        Ok(Box::new(MpiGossipEngine::new(engine, self.clone())?))
    }
}
