//! Experiment configuration (TOML) and building an engine + executor from it.
//!
//! ```toml
//! name = "ef21-top1"
//! seed = 1
//! precision = "f64"                       # or "f32"
//!
//! [problem]
//! kind = "logreg"                         # logreg | least_squares | quadratic3pc |
//!                                         # quadratic_motef
//! data = "embedded"                       # "embedded" (breast cancer 569×30), a LIBSVM path,
//!                                         # or "synthetic_a9a" (a9a-shaped, seeded)
//! n_workers = 20
//! split = "contiguous"                    # contiguous | shuffled | sorted_by_label
//! regularizer = { kind = "nonconvex", lambda = 0.1 }
//! init = { kind = "gaussian", std = 1.0 } # zeros | gaussian | problem_default
//!
//! [method]
//! name = "ef21"                           # any of METHODS (`squeeze list`): gd | ef14 | ef21 |
//!                                         # ef21_plus | ef21_sgd | ef21_page | ef21_pp | ef21_bc |
//!                                         # ef21_hb | 3PC-GD: 3pc_ef21 | lag | clag | 3pc_v1 |
//!                                         # 3pc_v2 | 3pc_v4 | 3pc_v5 | bag | adacgd
//!                                         # | econtrol | clip_gd | clip21_gd | press_clip21 |
//!                                         # dp_clip21 | marina | sgd | local_sgd
//! compressor = "top_k:k=1"
//! stepsize = { rule = "theory", multiplier = 1.0 }  # 3PC-GD: 1/(L + L̃√(B/A)) × multiplier
//! # zeta = 4.0                            # lag | clag | adacgd (default 1)
//! # p = 0.1                               # 3pc_v5 (default α) | bag (default 0.5)
//! # compressor2 = "rand_k:k=10"           # 3pc_v2 (Q, required) | 3pc_v4 (C₂, default = compressor)
//! # ladder = ["top_k:k=1", "top_k:k=4"]   # adacgd (cheapest first)
//! # downlink_ladder = ["top_k:k=4", "identity"]  # adacgd: bidirectional (server ladder)
//! # downlink_zeta = 1.0                   # adacgd: downlink ζ (default zeta)
//!
//! [stop]
//! max_rounds = 1000
//!
//! [run]
//! threads = 1
//! log_every = 1
//! checkpoint_every = 100
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};
use squeeze_compress::CompressorSpec;
use thiserror::Error;

use crate::engine::{Engine, EngineError};
use crate::executor::{CheckpointPolicy, Executor, StopRules};

mod build;
pub mod keys;
mod output;
mod problem;

pub use build::{EngineTransport, InProcess, build_engine, build_gossip_engine};
pub use output::{OutputConfig, RecordFormat};
pub use problem::{
    InitConfig, ProblemConfig, ProblemKind, RegularizerConfig, RegularizerKind, RemainderKind,
    SplitKind,
};
/// The method registry (name, summary, topology, example, accepted keys), re-exported.
pub use squeeze_methods::registry::{METHODS, MethodEntry};
pub use squeeze_methods::spec::Topology;
pub use squeeze_problems::SmoothnessRule;

/// Why a configuration could not be turned into a run. Each message names the key and the fix.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// TOML syntax or schema error.
    #[error("config: {0}")]
    Parse(String),
    /// A value is invalid or choices are incompatible.
    #[error("config: {key}: {detail}")]
    Invalid {
        /// The key, e.g. `method.compressor`.
        key: String,
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// The data could not be loaded.
    #[error("config: problem.data: {0}")]
    Data(#[from] squeeze_problems::DataError),
    /// Building the problem failed.
    #[error("config: problem: {0}")]
    Problem(#[from] squeeze_problems::ProblemError),
    /// Building the engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

fn invalid(key: &str, detail: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        detail: detail.into(),
    }
}

/// Floating-point type of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// `f32`.
    F32,
    /// `f64` (default; the papers' NumPy code runs in float64).
    #[default]
    F64,
}

/// The whole experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Run name (records directory and plot legend); defaults to the method description.
    #[serde(default)]
    pub name: Option<String>,
    /// Experiment seed: every random stream derives from it.
    #[serde(default)]
    pub seed: u64,
    /// Scalar type.
    #[serde(default)]
    pub precision: Precision,
    /// The problem.
    pub problem: ProblemConfig,
    /// The method.
    pub method: MethodConfig,
    /// Stop rules.
    pub stop: StopRules,
    /// Threads, logging, checkpoints.
    #[serde(default)]
    pub run: RunConfig,
    /// Graph and mixing weights (gossip methods only), e.g. `{ kind = "ring" }` or
    /// `{ kind = "erdos_renyi", p = 0.2, weights = "metropolis_hastings" }`.
    #[serde(default)]
    pub topology: Option<squeeze_topology::TopologyConfig>,
    /// Which record files to write (`[output] formats = ["csv", "jsonl"]`; absent: CSV only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputConfig>,
}

/// Method section: a registered name and its parameters (the method's own typed `Params`,
/// checked by the registry `squeeze_methods::registry`; `squeeze list` shows what each takes).
///
/// ```
/// use squeeze_driver::config::MethodConfig;
/// let m = MethodConfig::new("clag").with("compressor", "top_k:k=1").with("zeta", 4.0);
/// assert_eq!(m.params["zeta"].as_float(), Some(4.0));
/// assert!(m.check().is_ok()); // (building checks too; `from_toml` does not)
/// assert_eq!(
///     MethodConfig::new("ef21").with("zeta", 4.0).check().unwrap_err().to_string(),
///     "config: method.zeta: ef21 does not take zeta; it accepts compressor, warmup_rounds, \
///      compressor_schedule, stepsize, init, count_init",
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct MethodConfig {
    /// A name from [`squeeze_methods::METHODS`] (star or gossip engine).
    pub name: String,
    /// Which L the theory stepsizes use (`smoothness = "pooled"`, the default: L of the
    /// pooled objective; `"mean_of_workers"`: the mean of the L_i, as the EF21 authors' code).
    /// Only methods with a `stepsize` key take it; unset, it is not written to
    /// `config.resolved.toml`. See [`SmoothnessRule`].
    #[serde(default)]
    pub smoothness: Option<SmoothnessRule>,
    /// Every other key of the section, as written.
    #[serde(flatten)]
    pub params: toml::Table,
}

impl MethodConfig {
    /// The method `name` with no parameters.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            smoothness: None,
            params: toml::Table::new(),
        }
    }

    /// Set `key` to `value`.
    pub fn with(mut self, key: &str, value: impl Into<toml::Value>) -> Self {
        self.params.insert(key.to_string(), value.into());
        self
    }

    /// Set `key` to any serialisable value (a [`squeeze_methods::Stepsize`], a
    /// [`CompressorSpec`], …).
    pub fn with_value<T: Serialize>(mut self, key: &str, value: &T) -> Result<Self, ConfigError> {
        let v = toml::Value::try_from(value)
            .map_err(|e| invalid(&format!("method.{key}"), e.to_string()))?;
        self.params.insert(key.to_string(), v);
        Ok(self)
    }

    /// Check the keys and value types against the method's parameters (an unknown name
    /// passes: building reports it with the known names).
    pub fn check(&self) -> Result<(), ConfigError> {
        squeeze_methods::registry::check_params(&self.name, &self.params)?;
        self.smoothness_rule().map(|_| ())
    }

    /// The L rule of the theory stepsizes ([`Self::smoothness`], default pooled); an error if
    /// it is set for a method without a `stepsize` key.
    pub fn smoothness_rule(&self) -> Result<SmoothnessRule, ConfigError> {
        let Some(rule) = self.smoothness else {
            return Ok(SmoothnessRule::default());
        };
        match squeeze_methods::registry::entry(&self.name) {
            Some(e) if !e.accepts().contains(&"stepsize") => Err(invalid(
                "method.smoothness",
                format!(
                    "{} has no theory stepsize (it takes no stepsize key), so the choice of L \
                     does not apply; remove smoothness",
                    self.name
                ),
            )),
            _ => Ok(rule),
        }
    }

    /// The compressor spec, if the section has a valid one.
    pub fn compressor(&self) -> Option<CompressorSpec> {
        self.params.get("compressor")?.clone().try_into().ok()
    }
}

/// Written with the method's defaults explicit and its values in their canonical types
/// (`squeeze_methods::registry::normalize`), so `config.resolved.toml` says everything the
/// run used and reads back to the same run.
impl Serialize for MethodConfig {
    fn serialize<Ser: serde::Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut t = squeeze_methods::registry::normalize(&self.name, &self.params);
        t.insert("name".into(), toml::Value::String(self.name.clone()));
        if let Some(rule) = self.smoothness {
            let v = toml::Value::try_from(rule).map_err(serde::ser::Error::custom)?;
            t.insert("smoothness".into(), v);
        }
        t.serialize(s)
    }
}

impl From<squeeze_methods::MethodConfigError> for ConfigError {
    fn from(e: squeeze_methods::MethodConfigError) -> Self {
        ConfigError::Invalid {
            key: e.key,
            detail: e.detail,
        }
    }
}

impl ExperimentConfig {
    /// Parse TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))
    }

    /// The run's display name.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| match self.method.compressor() {
                Some(c) => format!("{} {}", self.method.name, c.to_spec_string()),
                None => self.method.name.clone(),
            })
    }

    /// The executor this configuration asks for (checkpoint file in `out_dir`).
    pub fn executor(&self, out_dir: Option<&Path>) -> Result<Executor, ConfigError> {
        let checkpoint = match (self.run.checkpoint_every, out_dir) {
            (Some(0) | None, _) => None,
            (Some(every), Some(dir)) => Some(CheckpointPolicy {
                every,
                path: dir.join("checkpoint.json"),
            }),
            (Some(_), None) => {
                return Err(invalid(
                    "run.checkpoint_every",
                    "checkpoints need an output directory",
                ));
            }
        };
        let ex = Executor {
            stop: self.stop.clone(),
            log_every: self.run.log_every,
            checkpoint,
        };
        ex.validate().map_err(|e| invalid("stop", e.to_string()))?;
        Ok(ex)
    }

    /// Build the in-process engine (data paths are resolved against `base_dir`).
    pub fn build_engine(&self, base_dir: &Path) -> Result<Box<dyn Engine>, ConfigError> {
        self.build_engine_with(base_dir, self.run.threads, &InProcess)
    }

    /// Build the engine on `threads` threads and hand it to `transport` (in process, or, for
    /// example, this rank's part of an MPI run).
    pub fn build_engine_with<T: EngineTransport>(
        &self,
        base_dir: &Path,
        threads: usize,
        transport: &T,
    ) -> Result<Box<dyn Engine>, ConfigError> {
        match self.precision {
            Precision::F32 => build::build_typed::<f32, T>(self, base_dir, threads, transport),
            Precision::F64 => build::build_typed::<f64, T>(self, base_dir, threads, transport),
        }
    }
}

/// Run section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Worker threads (results do not depend on it).
    #[serde(default = "one_usize")]
    pub threads: usize,
    /// Record every this many rounds.
    #[serde(default = "one_u64")]
    pub log_every: u64,
    /// Checkpoint every this many rounds (0 or absent: never).
    #[serde(default)]
    pub checkpoint_every: Option<u64>,
}

fn one_usize() -> usize {
    1
}
fn one_u64() -> u64 {
    1
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            threads: 1,
            log_every: 1,
            checkpoint_every: None,
        }
    }
}
