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

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use squeeze_compress::CompressorSpec;
use squeeze_core::Scalar;
use squeeze_methods::{
    Beer, Choco, Clip21, Clip21Variant, ClipGd, Dsgd, Econtrol, Ef14, Ef21, Ef21Bc, Ef21Hb,
    Ef21Page, Ef21Plus, Ef21Pp, Ef21Sgd, Gd, GradInit, LocalSgd, Marina, Motef, MotefParams,
    Neighbourhood, Sgd, Stepsize, ThreePc, ThreePcBc, ThreePoint,
};
use squeeze_problems::{
    Dataset, InitPoint, Problem, ReadOptions, Regularizer, Remainder, Split, embedded,
    read_libsvm_path,
};
use thiserror::Error;

use crate::engine::{Engine, EngineError, StarEngine};
use crate::executor::{CheckpointPolicy, Executor, StopRules};
use crate::gossip::GossipEngine;

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

/// Where an engine runs: how many threads, and over which transport.
#[derive(Debug, Clone)]
pub struct Placement {
    /// Worker threads of this process (results do not depend on it).
    pub threads: usize,
    /// In process, or as one rank of an MPI run.
    pub transport: Transport,
}

impl Placement {
    /// Everything in this process, on `threads` threads.
    pub fn in_process(threads: usize) -> Self {
        Self {
            threads,
            transport: Transport::InProcess,
        }
    }
}

/// How workers (nodes) exchange their messages.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Transport {
    /// All workers in this process; messages are handed over in memory.
    InProcess,
    /// This process is one MPI rank; it hosts a block of workers and the encoded messages
    /// travel as bytes (feature `mpi`; see [`crate::mpi`]).
    #[cfg(feature = "mpi")]
    Mpi(crate::mpi::Comm),
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
}

/// Problem section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemConfig {
    /// Objective.
    #[serde(default)]
    pub kind: ProblemKind,
    /// `"embedded"`, `"synthetic_a9a"`, or a LIBSVM file path (relative to the config file).
    #[serde(default = "default_data")]
    pub data: String,
    /// Rows for `synthetic_a9a` (default 32,560).
    #[serde(default)]
    pub rows: Option<usize>,
    /// Feature count for LIBSVM files whose largest index is below the true width.
    #[serde(default)]
    pub n_features: Option<usize>,
    /// Number of workers.
    pub n_workers: usize,
    /// How rows are split across workers.
    #[serde(default)]
    pub split: SplitKind,
    /// Drop the remainder rows instead of giving them to the last worker.
    #[serde(default)]
    pub drop_remainder: bool,
    /// Regulariser.
    #[serde(default)]
    pub regularizer: RegularizerConfig,
    /// Initial point.
    #[serde(default)]
    pub init: InitConfig,
    /// Dimension for synthetic quadratics.
    #[serde(default)]
    pub dim: Option<usize>,
    /// Heterogeneity: scale s of the 3PC quadratics (default 0.1); ζ of the MoTEF quadratics
    /// (default 1).
    #[serde(default)]
    pub heterogeneity: Option<f64>,
}

fn default_data() -> String {
    "embedded".to_string()
}

/// Objective kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Logistic regression (labels ±1).
    #[default]
    Logreg,
    /// Least squares with the labels as targets.
    LeastSquares,
    /// The 3PC synthetic quadratics (`dim`, `heterogeneity`; no data).
    Quadratic3pc,
    /// The MoTEF synthetic quadratics $f_i = \tfrac12\|a_i x - b_i\|^2$,
    /// $a_i = (i+1)/\sqrt n$, $b_i \sim N(0, \zeta/(i+1)^2 I)$ (`dim`, default 20;
    /// `heterogeneity` = ζ, default 1; no data); default x⁰ = x* + 1/d.
    QuadraticMotef,
}

/// Split kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitKind {
    /// File order, contiguous blocks (the EF21 papers' heterogeneous default).
    #[default]
    Contiguous,
    /// Seeded shuffle (iid).
    Shuffled,
    /// Sorted by label, then contiguous (MoTEF's "unshuffled").
    SortedByLabel,
}

/// Regulariser section.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegularizerConfig {
    /// `none`, `l2` (λ/2‖x‖²) or `nonconvex` (λΣx²/(1+x²)).
    pub kind: RegularizerKind,
    /// λ ≥ 0.
    #[serde(default)]
    pub lambda: f64,
}

impl Default for RegularizerConfig {
    fn default() -> Self {
        Self {
            kind: RegularizerKind::Nonconvex,
            lambda: 0.1,
        }
    }
}

/// Regulariser kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegularizerKind {
    /// None.
    None,
    /// λ/2‖x‖².
    L2,
    /// λΣx²/(1+x²) (EF21 papers, λ = 0.1).
    Nonconvex,
}

/// Initial point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum InitConfig {
    /// x⁰ = 0.
    Zeros,
    /// x⁰ ~ N(0, std²I) from the experiment seed (EF21 code: std = 1).
    Gaussian {
        /// Standard deviation.
        #[serde(default = "one")]
        std: f64,
    },
    /// The problem's own default (3PC: √d e₁), else zeros.
    ProblemDefault,
}

fn one() -> f64 {
    1.0
}

impl Default for InitConfig {
    fn default() -> Self {
        InitConfig::Gaussian { std: 1.0 }
    }
}

/// Method section. One line per method in [`build_engine`]'s registry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodConfig {
    /// A name from [`METHODS`] (star engine) or [`GOSSIP_METHODS`] (gossip engine).
    pub name: String,
    /// Compressor spec (not used by `gd`).
    #[serde(default)]
    pub compressor: Option<CompressorSpec>,
    /// Stepsize rule.
    #[serde(default)]
    pub stepsize: Stepsize,
    /// EF21, EF21-PP, EF21-HB: initial estimates (the other EF21 variants start from the full
    /// gradients, `init = "full"`, and reject anything else).
    #[serde(default)]
    pub init: GradInit,
    /// Count the bits of an uncompressed initial round.
    #[serde(default)]
    pub count_init: bool,
    /// Gossip methods: consensus stepsize γ ∈ (0, 1].
    #[serde(default)]
    pub gamma: Option<f64>,
    /// Gossip methods: stepsize η > 0. EControl: the error-feedback damping η ≥ 0 (default
    /// α/400).
    #[serde(default)]
    pub eta: Option<f64>,
    /// Clip21 family and Clip-GD: clipping radius τ > 0 (`inf` disables clipping).
    #[serde(default)]
    pub tau: Option<f64>,
    /// DP-Clip21: noise standard deviation σ ≥ 0 per coordinate of each sent increment.
    #[serde(default)]
    pub sigma: Option<f64>,
    /// Local SGD: local steps K ≥ 1 per round.
    #[serde(default)]
    pub local_steps: Option<u32>,
    /// MoTEF: momentum λ ∈ (0, 1] (λ = 1 is BEER).
    #[serde(default)]
    pub lambda: Option<f64>,
    /// Gossip methods, EControl, SGD, Local SGD: local gradients, `{ kind = "full" }` (default),
    /// `{ kind = "minibatch", batch = 5 }` or `{ kind = "noisy", sigma = 10 }`.
    #[serde(default)]
    pub gradient: Option<squeeze_methods::GradSource>,
    /// D-SGD: adapt-then-combine order instead of combine-then-adapt.
    #[serde(default)]
    pub adapt_then_combine: bool,
    /// EF21-SGD, EF21-PAGE (required): minibatch size per worker, a count (`batch = 5`) or a
    /// fraction of the local samples (`batch = 0.25`; τ_i = max(1, ⌊fraction·m_i⌋)).
    #[serde(default)]
    pub batch: Option<squeeze_methods::Batch>,
    /// EF21-PP (required): participating fraction p ∈ (0, 1]; ⌊p·n⌋ (≥ 1) clients per round.
    #[serde(default)]
    pub participation: Option<f64>,
    /// EF21-HB (required): heavy-ball momentum η ∈ [0, 1).
    #[serde(default)]
    pub momentum: Option<f64>,
    /// EF21-BC (required): the server's downlink compressor C_M.
    #[serde(default)]
    pub downlink_compressor: Option<CompressorSpec>,
    /// LAG, CLAG, AdaCGD: trigger threshold ζ ≥ 0 (default 1; ζ = 0 makes CLAG EF21).
    #[serde(default)]
    pub zeta: Option<f64>,
    /// EF21-PAGE: refresh probability p ∈ (0, 1] (default: mean_i τ_i/(τ_i + m_i)); 3PCv5:
    /// full-round probability (default: the compressor's α, K/d for Top-K, as in the 3PC code);
    /// BAG: send probability (default 0.5); MARINA: probability of a full-gradient round
    /// (default 1/(1+ω) = K/d).
    #[serde(default)]
    pub p: Option<f64>,
    /// 3PCv2: the unbiased Q (required, e.g. "rand_k:k=10"); 3PCv4: the inner C₂ (default: the
    /// same as `compressor`).
    #[serde(default)]
    pub compressor2: Option<CompressorSpec>,
    /// AdaCGD: contractive compressors from cheapest to finest (sorted by α ascending), e.g.
    /// ["top_k:k=1", "top_k:k=4", "top_k:k=16"].
    #[serde(default)]
    pub ladder: Option<Vec<CompressorSpec>>,
    /// AdaCGD, bidirectional: the server compresses its broadcast with an AdaCGD ladder too
    /// (cheapest first; `["identity"]` with `downlink_zeta = 0` is the uncompressed downlink).
    #[serde(default)]
    pub downlink_ladder: Option<Vec<CompressorSpec>>,
    /// Bidirectional AdaCGD: the downlink threshold ζ ≥ 0 (default: `zeta`).
    #[serde(default)]
    pub downlink_zeta: Option<f64>,
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

/// The decentralized methods (they need a `[topology]`), with a one-line description.
pub const GOSSIP_METHODS: &[(&str, &str)] = &[
    (
        "motef",
        "MoTEF: momentum tracking + error feedback, 2 compressed messages/round (gamma, eta, lambda)",
    ),
    (
        "beer",
        "BEER: compressed gradient tracking, 2 messages/round (gamma, eta)",
    ),
    (
        "choco",
        "CHOCO-SGD: SGD step + gossip on compressed public copies, 1 message/round (gamma, eta)",
    ),
    (
        "dsgd",
        "D-SGD: uncompressed decentralized SGD, dense models to neighbours (eta)",
    ),
];

/// The methods the star engine can run, with a one-line description.
pub const METHODS: &[(&str, &str)] = &[
    ("gd", "gradient descent, dense gradients up (no compressor)"),
    (
        "ef14",
        "classic error feedback: compress e_i + γ∇f_i, keep the residual",
    ),
    ("ef21", "EF21: g_i ← g_i + C(∇f_i − g_i), x ← x − γ g"),
    (
        "ef21_plus",
        "EF21+: send the closer of g_i + C(∇f_i − g_i) and C(∇f_i), with a choice flag",
    ),
    (
        "ef21_sgd",
        "EF21-SGD: EF21 on a τ-nice minibatch gradient (batch)",
    ),
    (
        "ef21_page",
        "EF21-PAGE: EF21 on the PAGE estimator, one shared refresh coin per round (batch, p)",
    ),
    (
        "ef21_pp",
        "EF21-PP: ⌊p·n⌋ random clients per round, the others send nothing (participation)",
    ),
    (
        "ef21_bc",
        "EF21-BC: EF21 uplink and a compressed EF21 downlink (downlink_compressor)",
    ),
    (
        "ef21_hb",
        "EF21-HB: EF21 with heavy-ball momentum on the server, v ← ηv + g (momentum)",
    ),
    (
        "3pc_ef21",
        "3PC-GD with the EF21 mechanism h + C(x − h) (same trajectory as ef21)",
    ),
    (
        "lag",
        "3PC-GD, LAG: send ∇f_i dense iff ‖∇f_i − g_i‖² > ζ‖∇f_i − y_i‖², else nothing (zeta; no compressor)",
    ),
    (
        "clag",
        "3PC-GD, CLAG: EF21 step iff ‖∇f_i − g_i‖² > ζ‖∇f_i − y_i‖², else nothing (compressor, zeta)",
    ),
    (
        "3pc_v1",
        "3PC-GD, 3PCv1: y + C(x − y), sent dense (server lacks y) (compressor)",
    ),
    (
        "3pc_v2",
        "3PC-GD, 3PCv2: b + C(x − b), b = h + Q(x − y); two messages (compressor = C, compressor2 = Q unbiased)",
    ),
    (
        "3pc_v4",
        "3PC-GD, 3PCv4: b + C₁(x − b), b = h + C₂(x − h) (compressor = C₁, compressor2 = C₂)",
    ),
    (
        "3pc_v5",
        "3PC-GD, 3PCv5: shared coin p: dense x, else h + C(x − y) (compressor, p = α by default)",
    ),
    (
        "bag",
        "3PC-GD, Bernoulli aggregation: per-worker coin p: dense x, else nothing (p; no compressor)",
    ),
    (
        "adacgd",
        "3PC-GD, AdaCGD: lazy skip or the cheapest ladder rung within ζ‖x − y‖² (ladder, zeta; bidirectional: downlink_ladder, downlink_zeta)",
    ),
    (
        "econtrol",
        "EControl: Δ_i = C(η e_i + g_i − h_i), error e_i and shift h_i (eta, init, gradient)",
    ),
    (
        "clip_gd",
        "naive clipped GD: x ← x − γ avg clip_τ(∇f_i) (tau; stalls on heterogeneous data)",
    ),
    (
        "clip21_gd",
        "Clip21-GD: v_i ← v_i + clip_τ(∇f_i − v_i), x ← x − γ v (tau)",
    ),
    (
        "press_clip21",
        "Press-Clip21-GD: send C(clip_τ(∇f_i − v_i)) (tau, compressor)",
    ),
    (
        "dp_clip21",
        "DP-Clip21-GD: Clip21 increments + N(0, σ²I) noise on the wire (tau, sigma)",
    ),
    (
        "marina",
        "MARINA: shared coin p: full gradients, else Q(∇f_i(x⁺) − ∇f_i(x)) (unbiased compressor, p)",
    ),
    (
        "sgd",
        "minibatch SGD, dense gradients up (gradient = { kind = \"minibatch\", batch = b }); with a compressor: compressed SGD, no error feedback",
    ),
    (
        "local_sgd",
        "Local SGD / FedAvg: local_steps SGD steps from the server model, average the models",
    ),
];

impl ExperimentConfig {
    /// Parse TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))
    }

    /// The run's display name.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| match &self.method.compressor {
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
        self.build_engine_at(base_dir, &Placement::in_process(self.run.threads))
    }

    /// Build the engine where `at` says (in process, or this rank's part of an MPI run).
    pub fn build_engine_at(
        &self,
        base_dir: &Path,
        at: &Placement,
    ) -> Result<Box<dyn Engine>, ConfigError> {
        match self.precision {
            Precision::F32 => build_typed::<f32>(self, base_dir, at),
            Precision::F64 => build_typed::<f64>(self, base_dir, at),
        }
    }
}

fn load_data<S: Scalar>(
    p: &ProblemConfig,
    seed: u64,
    base: &Path,
) -> Result<Dataset<S>, ConfigError> {
    match p.data.as_str() {
        "embedded" | "breast_cancer" => Ok(embedded::default_dataset()),
        "synthetic_a9a" => Ok(embedded::synthetic_binary(p.rows.unwrap_or(32_560), seed)),
        path => {
            let mut path = PathBuf::from(path);
            if path.is_relative() {
                path = base.join(path);
            }
            let opts = match p.n_features {
                Some(n) => ReadOptions::with_n_features(n),
                None => ReadOptions::default(),
            };
            Ok(read_libsvm_path(&path, &opts)?)
        }
    }
}

fn build_problem<S: Scalar>(
    cfg: &ExperimentConfig,
    base: &Path,
) -> Result<Problem<S>, ConfigError> {
    let p = &cfg.problem;
    if p.n_workers == 0 {
        return Err(invalid("problem.n_workers", "must be ≥ 1"));
    }
    let lambda = p.regularizer.lambda;
    if !(lambda.is_finite() && lambda >= 0.0) {
        return Err(invalid(
            "problem.regularizer.lambda",
            "must be finite and ≥ 0",
        ));
    }
    let reg = match p.regularizer.kind {
        RegularizerKind::None => Regularizer::None,
        RegularizerKind::L2 => Regularizer::L2 { lambda },
        RegularizerKind::Nonconvex => Regularizer::Nonconvex { lambda },
    };
    let split = match p.split {
        SplitKind::Contiguous => Split::Contiguous,
        SplitKind::Shuffled => Split::Shuffled { seed: cfg.seed },
        SplitKind::SortedByLabel => Split::SortedByLabel,
    };
    let rem = if p.drop_remainder {
        Remainder::Drop
    } else {
        Remainder::ToLast
    };
    Ok(match p.kind {
        ProblemKind::Logreg => {
            let data = load_data::<S>(p, cfg.seed, base)?;
            Problem::logreg(&data, p.n_workers, split, rem, reg)?
        }
        ProblemKind::LeastSquares => {
            let data = load_data::<S>(p, cfg.seed, base)?;
            Problem::least_squares(&data.features, &data.labels, p.n_workers, split, rem, reg)?
        }
        ProblemKind::Quadratic3pc => squeeze_problems::quadratic::three_pc(
            p.dim.unwrap_or(1000),
            p.n_workers,
            p.heterogeneity.unwrap_or(0.1),
            cfg.seed,
        )?,
        ProblemKind::QuadraticMotef => {
            squeeze_problems::quadratic::motef(
                p.dim.unwrap_or(20),
                p.n_workers,
                p.heterogeneity.unwrap_or(1.0),
                0.0,
                cfg.seed,
            )?
            .problem
        }
    })
}

fn build_typed<S: Scalar>(
    cfg: &ExperimentConfig,
    base: &Path,
    at: &Placement,
) -> Result<Box<dyn Engine>, ConfigError> {
    let problem = Arc::new(build_problem::<S>(cfg, base)?);
    let init = match cfg.problem.init {
        InitConfig::Zeros => InitPoint::Zeros,
        InitConfig::Gaussian { std } => InitPoint::Gaussian {
            seed: cfg.seed,
            std,
        },
        InitConfig::ProblemDefault => InitPoint::ProblemDefault,
    };
    let x0 = problem.initial_point(&init)?;
    if GOSSIP_METHODS.iter().any(|m| m.0 == cfg.method.name) {
        let topo = cfg.topology.as_ref().ok_or_else(|| {
            invalid(
                "topology",
                format!(
                    "{} is a gossip method and needs a graph, e.g. [topology] kind = \"ring\"",
                    cfg.method.name
                ),
            )
        })?;
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
        return gossip_registry::<S>(&cfg.method, problem, mixing, label, &x0, cfg.seed, at);
    }
    if cfg.topology.is_some() {
        return Err(invalid(
            "topology",
            format!(
                "{} runs on the server (star) engine; [topology] applies to gossip methods ({})",
                cfg.method.name,
                GOSSIP_METHODS
                    .iter()
                    .map(|m| m.0)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    star_registry::<S>(&cfg.method, problem, &x0, cfg.seed, at)
}

fn required(
    m: &MethodConfig,
    key: &'static str,
    v: Option<f64>,
    hint: &str,
) -> Result<f64, ConfigError> {
    v.ok_or_else(|| {
        invalid(
            &format!("method.{key}"),
            format!("{} needs {key}: {hint}", m.name),
        )
    })
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
    let at = Placement::in_process(threads);
    gossip_registry(method, problem, mixing, graph_label, x0, seed, &at)
}

/// The gossip method registry (one line per method).
fn gossip_registry<S: Scalar>(
    method: &MethodConfig,
    problem: Arc<Problem<S>>,
    mixing: Vec<Neighbourhood>,
    graph_label: String,
    x0: &[S],
    seed: u64,
    at: &Placement,
) -> Result<Box<dyn Engine>, ConfigError> {
    let m = method;
    let d = problem.dim();
    let grad = m.gradient.unwrap_or_default();
    let eta = || required(m, "eta", m.eta, "the stepsize, e.g. eta = 0.01");
    let gamma = || {
        required(
            m,
            "gamma",
            m.gamma,
            "the consensus stepsize in (0, 1], e.g. gamma = 0.5",
        )
    };
    let engine: Box<dyn Engine> = match m.name.as_str() {
        "motef" => {
            let params = MotefParams {
                gamma: gamma()?,
                eta: eta()?,
                lambda: required(
                    m,
                    "lambda",
                    m.lambda,
                    "the momentum in (0, 1], e.g. lambda = 0.01",
                )?,
            };
            let method = Motef::new(compressor(m, d)?, params, grad).map_err(method_err)?;
            boxed_gossip(method, problem, mixing, graph_label, x0, seed, at)?
        }
        "beer" => {
            let method =
                Beer::new(compressor(m, d)?, gamma()?, eta()?, grad).map_err(method_err)?;
            boxed_gossip(method, problem, mixing, graph_label, x0, seed, at)?
        }
        "choco" => {
            let method =
                Choco::new(compressor(m, d)?, gamma()?, eta()?, grad).map_err(method_err)?;
            boxed_gossip(method, problem, mixing, graph_label, x0, seed, at)?
        }
        "dsgd" => {
            if m.compressor.is_some() {
                return Err(invalid(
                    "method.compressor",
                    "dsgd sends dense models; remove the compressor or use choco",
                ));
            }
            let method = Dsgd::new(eta()?, grad, m.adapt_then_combine).map_err(method_err)?;
            boxed_gossip(method, problem, mixing, graph_label, x0, seed, at)?
        }
        other => {
            return Err(invalid(
                "method.name",
                format!(
                    "unknown gossip method '{other}'; known: {}",
                    GOSSIP_METHODS
                        .iter()
                        .map(|m| m.0)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    };
    Ok(engine)
}

/// Build the compressor and check it fits dimension `dim` (K > d is a configuration mistake,
/// reported here with its key rather than by the method's setup).
fn compressor<S: Scalar>(
    m: &MethodConfig,
    dim: usize,
) -> Result<Box<dyn squeeze_core::Compressor<S>>, ConfigError> {
    let spec = m.compressor.as_ref().ok_or_else(|| {
        invalid(
            "method.compressor",
            format!(
                "{} needs a compressor, e.g. compressor = \"top_k:k=1\"",
                m.name
            ),
        )
    })?;
    let c = spec
        .build::<S>()
        .map_err(|e| invalid("method.compressor", e.to_string()))?;
    c.check_dim(dim)
        .map_err(|e| invalid("method.compressor", e.to_string()))?;
    Ok(c)
}

/// A method's setup error that is a configuration mistake gets the key it comes from (the
/// theory stepsize needs a contractive compressor: `method.stepsize`).
fn engine_err(e: EngineError) -> ConfigError {
    match e {
        EngineError::Method(squeeze_methods::MethodError::Param(p)) if p.param == "stepsize" => {
            invalid("method.stepsize", p.to_string())
        }
        EngineError::Method(squeeze_methods::MethodError::Param(p))
            if METHOD_KEYS.contains(&p.param) =>
        {
            invalid(&format!("method.{}", p.param), p.to_string())
        }
        e => ConfigError::Engine(e),
    }
}

/// `[method]` keys whose parameter errors are reported under their own key (the method
/// constructors name the parameter as the key does).
const METHOD_KEYS: &[&str] = &["batch", "p", "participation", "momentum"];

/// Build an in-process star engine for `method` on `problem` on `threads` threads.
pub fn build_engine<S: Scalar>(
    method: &MethodConfig,
    problem: Arc<Problem<S>>,
    x0: &[S],
    seed: u64,
    threads: usize,
) -> Result<Box<dyn Engine>, ConfigError> {
    star_registry(method, problem, x0, seed, &Placement::in_process(threads))
}

/// The star method registry (one line per method).
fn star_registry<S: Scalar>(
    method: &MethodConfig,
    problem: Arc<Problem<S>>,
    x0: &[S],
    seed: u64,
    at: &Placement,
) -> Result<Box<dyn Engine>, ConfigError> {
    let m = method;
    let d = problem.dim();
    let engine: Box<dyn Engine> = match m.name.as_str() {
        "gd" => {
            if m.compressor.is_some() {
                return Err(invalid(
                    "method.compressor",
                    "gd sends dense gradients; remove the compressor or use ef21 with compressor = \"identity\"",
                ));
            }
            star(gd(m)?, problem, x0, seed, at)?
        }
        "ef14" => star(
            Ef14::new(compressor(m, d)?, m.stepsize).map_err(method_err)?,
            problem,
            x0,
            seed,
            at,
        )?,
        "ef21" => star(
            Ef21::new(compressor(m, d)?, m.stepsize, m.init, m.count_init).map_err(method_err)?,
            problem,
            x0,
            seed,
            at,
        )?,
        "ef21_plus" => star(
            {
                full_init_only(m)?;
                Ef21Plus::new(compressor(m, d)?, m.stepsize, m.count_init)
            }
            .map_err(method_err)?,
            problem,
            x0,
            seed,
            at,
        )?,
        "ef21_sgd" => star(
            {
                full_init_only(m)?;
                Ef21Sgd::new(compressor(m, d)?, m.stepsize, batch(m)?, m.count_init)
            }
            .map_err(method_err)?,
            problem,
            x0,
            seed,
            at,
        )?,
        "ef21_page" => star(
            {
                full_init_only(m)?;
                Ef21Page::new(compressor(m, d)?, m.stepsize, batch(m)?, m.p, m.count_init)
            }
            .map_err(method_err)?,
            problem,
            x0,
            seed,
            at,
        )?,
        "ef21_pp" => star(
            Ef21Pp::new(
                compressor(m, d)?,
                m.stepsize,
                m.init,
                m.count_init,
                required(
                    m,
                    "participation",
                    m.participation,
                    "the participating fraction in (0, 1], e.g. participation = 0.25",
                )?,
            )
            .map_err(method_err)?,
            problem,
            x0,
            seed,
            at,
        )?,
        "ef21_bc" => {
            let spec = m.downlink_compressor.as_ref().ok_or_else(|| {
                invalid(
                    "method.downlink_compressor",
                    "ef21_bc needs the server's compressor, e.g. downlink_compressor = \"top_k:k=2\"",
                )
            })?;
            let down = spec
                .build::<S>()
                .map_err(|e| invalid("method.downlink_compressor", e.to_string()))?;
            down.check_dim(d)
                .map_err(|e| invalid("method.downlink_compressor", e.to_string()))?;
            full_init_only(m)?;
            star(
                Ef21Bc::new(compressor(m, d)?, down, m.stepsize, m.count_init)
                    .map_err(method_err)?,
                problem,
                x0,
                seed,
                at,
            )?
        }
        "ef21_hb" => star(
            Ef21Hb::new(
                compressor(m, d)?,
                m.stepsize,
                m.init,
                m.count_init,
                required(
                    m,
                    "momentum",
                    m.momentum,
                    "the heavy-ball momentum in [0, 1), e.g. momentum = 0.9",
                )?,
            )
            .map_err(method_err)?,
            problem,
            x0,
            seed,
            at,
        )?,
        "adacgd" if m.downlink_ladder.is_some() => {
            let up = three_pc_mech::<S>(m, d)?;
            let specs = m.downlink_ladder.as_deref().unwrap_or_default();
            let zeta = m.downlink_zeta.or(m.zeta).unwrap_or(1.0);
            let down = adacgd_mech::<S>(specs, zeta, "method.downlink_ladder", d)?;
            star(
                ThreePcBc::new(up, down, m.stepsize, m.count_init).map_err(method_err)?,
                problem,
                x0,
                seed,
                at,
            )?
        }
        name if is_three_pc(name) => star(three_pc::<S>(m, d)?, problem, x0, seed, at)?,
        "econtrol" => star(
            Econtrol::new(
                compressor(m, d)?,
                m.stepsize,
                m.eta,
                m.init,
                m.count_init,
                m.gradient.unwrap_or_default(),
            )
            .map_err(method_err)?,
            problem,
            x0,
            seed,
            at,
        )?,
        "clip_gd" => {
            no_compressor(
                m,
                "clip_gd clips dense gradients; use press_clip21 to compress",
            )?;
            star(
                ClipGd::new(tau(m)?, m.stepsize).map_err(method_err)?,
                problem,
                x0,
                seed,
                at,
            )?
        }
        "clip21_gd" | "dp_clip21" => {
            no_compressor(
                m,
                "Clip21-GD sends dense clipped increments; use press_clip21 to compress",
            )?;
            let variant = if m.name == "dp_clip21" {
                Clip21Variant::Dp {
                    sigma: required(
                        m,
                        "sigma",
                        m.sigma,
                        "the noise level σ ≥ 0, e.g. sigma = 0.01",
                    )?,
                }
            } else {
                Clip21Variant::Plain
            };
            star(
                Clip21::new(tau(m)?, variant, m.stepsize).map_err(method_err)?,
                problem,
                x0,
                seed,
                at,
            )?
        }
        "press_clip21" => {
            let c = compressor(m, d)?;
            star(
                Clip21::new(tau(m)?, Clip21Variant::Press(c), m.stepsize).map_err(method_err)?,
                problem,
                x0,
                seed,
                at,
            )?
        }
        "marina" => {
            let c = compressor(m, d)?;
            if c.class(d).omega().is_none() {
                return Err(invalid(
                    "method.compressor",
                    format!(
                        "marina needs an unbiased compressor (ω), e.g. \"rand_k:k=1\" or \"perm_k\"; {} is not",
                        c.spec()
                    ),
                ));
            }
            star(
                Marina::new(c, m.stepsize, m.p, m.count_init).map_err(method_err)?,
                problem,
                x0,
                seed,
                at,
            )?
        }
        "sgd" => {
            let grad = m.gradient.unwrap_or_default();
            let sgd = match &m.compressor {
                // Compressed SGD without error feedback (the X3 baseline that fails).
                Some(_) => Sgd::<S>::compressed(compressor(m, d)?, m.stepsize, grad),
                None => Sgd::<S>::new(m.stepsize, grad),
            };
            star(sgd.map_err(method_err)?, problem, x0, seed, at)?
        }
        "local_sgd" => {
            no_compressor(m, "local_sgd sends dense models")?;
            let k = m.local_steps.ok_or_else(|| {
                invalid(
                    "method.local_steps",
                    "local_sgd needs local_steps: the local SGD steps per round, e.g. local_steps = 4",
                )
            })?;
            star(
                LocalSgd::new(m.stepsize, k, m.gradient.unwrap_or_default()).map_err(method_err)?,
                problem,
                x0,
                seed,
                at,
            )?
        }
        other => {
            let known: Vec<&str> = METHODS.iter().map(|m| m.0).collect();
            return Err(invalid(
                "method.name",
                format!("unknown method '{other}'; known: {}", known.join(", ")),
            ));
        }
    };
    Ok(engine)
}

/// Box a star engine (the common tail of the registry arms), in process or over MPI.
fn star<S: Scalar, M: squeeze_methods::ServerMethod<S> + 'static>(
    method: M,
    problem: Arc<Problem<S>>,
    x0: &[S],
    seed: u64,
    at: &Placement,
) -> Result<Box<dyn Engine>, ConfigError> {
    let engine = StarEngine::new(method, problem, x0, seed, at.threads).map_err(engine_err)?;
    match &at.transport {
        Transport::InProcess => Ok(Box::new(engine)),
        #[cfg(feature = "mpi")]
        Transport::Mpi(comm) => Ok(Box::new(crate::mpi::MpiStarEngine::new(
            engine,
            comm.clone(),
        )?)),
    }
}

/// The EF21 variants that start from g_i⁰ = ∇f_i(x⁰) only.
fn full_init_only(m: &MethodConfig) -> Result<(), ConfigError> {
    if m.init == GradInit::Full {
        Ok(())
    } else {
        Err(invalid(
            "method.init",
            format!(
                "{} starts from the full local gradients; remove init or set init = \"full\" (ef21, ef21_pp and ef21_hb take other inits)",
                m.name
            ),
        ))
    }
}

/// The required minibatch size of the stochastic EF21 variants.
fn batch(m: &MethodConfig) -> Result<squeeze_methods::Batch, ConfigError> {
    let b = m.batch.ok_or_else(|| {
        invalid(
            "method.batch",
            format!(
                "{} needs batch: a count (batch = 5) or a fraction of the local samples (batch = 0.25)",
                m.name
            ),
        )
    })?;
    b.validate()
        .map_err(|e| invalid("method.batch", e.to_string()))?;
    Ok(b)
}

/// The 3PC-GD mechanisms, registered by their own names (one `METHODS` line each).
const THREE_PC: &[&str] = &[
    "3pc_ef21", "lag", "clag", "3pc_v1", "3pc_v2", "3pc_v4", "3pc_v5", "bag", "adacgd",
];

fn is_three_pc(name: &str) -> bool {
    THREE_PC.contains(&name)
}

/// Build 3PC-GD with the mechanism `m.name`.
fn three_pc<S: Scalar>(m: &MethodConfig, d: usize) -> Result<ThreePc<S>, ConfigError> {
    ThreePc::new(three_pc_mech(m, d)?, m.stepsize, m.count_init).map_err(method_err)
}

/// AdaCGD over the ladder `specs` (config key `key`) with threshold ζ, checked at dimension d.
fn adacgd_mech<S: Scalar>(
    specs: &[CompressorSpec],
    zeta: f64,
    key: &'static str,
    d: usize,
) -> Result<Box<dyn ThreePoint<S>>, ConfigError> {
    use squeeze_methods::three_point as tp;
    let mut ladder = Vec::with_capacity(specs.len());
    for s in specs {
        ladder.push(s.build::<S>().map_err(|e| invalid(key, e.to_string()))?);
    }
    let mech = tp::AdaCgd::new(ladder, zeta).map_err(|e| {
        let k = if e.param == "zeta" {
            if key == "method.ladder" {
                "method.zeta"
            } else {
                "method.downlink_zeta"
            }
        } else {
            key
        };
        invalid(k, e.to_string())
    })?;
    mech.check_dim(d).map_err(|e| invalid(key, e.to_string()))?;
    Ok(Box::new(mech))
}

/// The 3PC mechanism `m.name` with its parameters.
fn three_pc_mech<S: Scalar>(
    m: &MethodConfig,
    d: usize,
) -> Result<Box<dyn ThreePoint<S>>, ConfigError> {
    use squeeze_methods::three_point as tp;
    let param = |e: squeeze_core::ParamError| invalid(param_key(e.param), e.to_string());
    let unused = |key: &'static str, present: bool| -> Result<(), ConfigError> {
        if present {
            Err(invalid(
                key,
                format!("{} does not take method.{}", m.name, &key[7..]),
            ))
        } else {
            Ok(())
        }
    };
    let no_compressor = |what: &str| -> Result<(), ConfigError> {
        if m.compressor.is_some() {
            Err(invalid(
                "method.compressor",
                format!("{} {what}; remove the compressor", m.name),
            ))
        } else {
            Ok(())
        }
    };
    let zeta = m.zeta.unwrap_or(1.0);
    let lazy = matches!(m.name.as_str(), "lag" | "clag" | "adacgd");
    unused("method.zeta", m.zeta.is_some() && !lazy)?;
    unused(
        "method.p",
        m.p.is_some() && !matches!(m.name.as_str(), "3pc_v5" | "bag"),
    )?;
    unused(
        "method.compressor2",
        m.compressor2.is_some() && !matches!(m.name.as_str(), "3pc_v2" | "3pc_v4"),
    )?;
    unused("method.ladder", m.ladder.is_some() && m.name != "adacgd")?;
    unused(
        "method.downlink_ladder",
        m.downlink_ladder.is_some() && m.name != "adacgd",
    )?;
    if m.downlink_zeta.is_some() && m.downlink_ladder.is_none() {
        return Err(invalid(
            "method.downlink_zeta",
            format!(
                "{} has no downlink ladder; set downlink_ladder = [\"top_k:k=4\", \"identity\"] or remove downlink_zeta",
                m.name
            ),
        ));
    }
    let mech: Box<dyn ThreePoint<S>> = match m.name.as_str() {
        "3pc_ef21" => Box::new(tp::Ef21Mech::new(compressor(m, d)?)),
        "lag" => {
            no_compressor("sends dense gradients (use clag for a compressed trigger)")?;
            Box::new(tp::Lag::new(zeta).map_err(param)?)
        }
        "clag" => Box::new(tp::Clag::new(compressor(m, d)?, zeta).map_err(param)?),
        "3pc_v1" => Box::new(tp::V1::new(compressor(m, d)?)),
        "3pc_v2" => {
            let q = second_compressor(m, d, None)?;
            Box::new(tp::V2::new(compressor(m, d)?, q).map_err(param)?)
        }
        "3pc_v4" => {
            let c2 = second_compressor(m, d, m.compressor.as_ref())?;
            Box::new(tp::V4::new(compressor(m, d)?, c2))
        }
        "3pc_v5" => {
            let c = compressor(m, d)?;
            let p = match m.p {
                Some(p) => p,
                None => c.class(d).alpha().ok_or_else(|| {
                    invalid(
                        "method.p",
                        "3pc_v5 defaults p to the compressor's α, but it has none; set p",
                    )
                })?,
            };
            Box::new(tp::V5::new(c, p).map_err(param)?)
        }
        "bag" => {
            no_compressor("sends dense gradients with probability p")?;
            Box::new(tp::Bag::new(m.p.unwrap_or(0.5)).map_err(param)?)
        }
        "adacgd" => {
            no_compressor("takes a ladder of compressors: method.ladder = [\"top_k:k=1\", …]")?;
            let specs = m.ladder.as_ref().ok_or_else(|| {
                invalid(
                    "method.ladder",
                    "adacgd needs a ladder, cheapest first, e.g. ladder = [\"top_k:k=1\", \"top_k:k=4\", \"top_k:k=16\"]",
                )
            })?;
            adacgd_mech(specs, zeta, "method.ladder", d)?
        }
        other => unreachable!("{other} is not a 3PC mechanism"),
    };
    Ok(mech)
}

/// The config key of a 3PC hyperparameter.
fn param_key(param: &str) -> &'static str {
    match param {
        "zeta" => "method.zeta",
        "p" => "method.p",
        "ladder" => "method.ladder",
        "compressor2" => "method.compressor2",
        _ => "method",
    }
}

/// `method.compressor2`, or `default` (3PCv4: the first compressor), or an error.
fn second_compressor<S: Scalar>(
    m: &MethodConfig,
    d: usize,
    default: Option<&CompressorSpec>,
) -> Result<Box<dyn squeeze_core::Compressor<S>>, ConfigError> {
    let spec = m.compressor2.as_ref().or(default).ok_or_else(|| {
        invalid(
            "method.compressor2",
            format!(
                "{} needs a second compressor, e.g. compressor2 = \"rand_k:k=10\"",
                m.name
            ),
        )
    })?;
    let c = spec
        .build::<S>()
        .map_err(|e| invalid("method.compressor2", e.to_string()))?;
    c.check_dim(d)
        .map_err(|e| invalid("method.compressor2", e.to_string()))?;
    Ok(c)
}

/// Methods that send dense vectors reject a compressor (key `method.compressor`).
fn no_compressor(m: &MethodConfig, hint: &str) -> Result<(), ConfigError> {
    match m.compressor {
        Some(_) => Err(invalid("method.compressor", hint)),
        None => Ok(()),
    }
}

/// The clipping radius of the Clip21 family.
fn tau(m: &MethodConfig) -> Result<f64, ConfigError> {
    let t = required(
        m,
        "tau",
        m.tau,
        "the clipping radius τ > 0, e.g. tau = 1 (tau = inf: no clipping)",
    )?;
    if t > 0.0 {
        Ok(t)
    } else {
        Err(invalid(
            "method.tau",
            format!("{t}: the clipping radius must be > 0 (inf disables clipping)"),
        ))
    }
}

fn gd(m: &MethodConfig) -> Result<Gd, ConfigError> {
    Gd::new(m.stepsize).map_err(method_err)
}

fn method_err(e: squeeze_methods::MethodError) -> ConfigError {
    match e {
        squeeze_methods::MethodError::Param(p) if p.component == "stepsize" => {
            invalid("method.stepsize", p.to_string())
        }
        squeeze_methods::MethodError::Param(p) if METHOD_KEYS.contains(&p.param) => {
            invalid(&format!("method.{}", p.param), p.to_string())
        }
        e => invalid("method", e.to_string()),
    }
}

/// Box a gossip engine (the common tail of every gossip registry arm).
fn boxed_gossip<S: Scalar, M: squeeze_methods::GossipMethod<S> + 'static>(
    method: M,
    problem: Arc<Problem<S>>,
    mixing: Vec<Neighbourhood>,
    graph_label: String,
    x0: &[S],
    seed: u64,
    at: &Placement,
) -> Result<Box<dyn Engine>, ConfigError> {
    let engine = GossipEngine::new(method, problem, mixing, graph_label, x0, seed, at.threads)?;
    match &at.transport {
        Transport::InProcess => Ok(Box::new(engine)),
        #[cfg(feature = "mpi")]
        Transport::Mpi(comm) => Ok(Box::new(crate::mpi::MpiGossipEngine::new(
            engine,
            comm.clone(),
        )?)),
    }
}
