//! The `[problem]` section: objective, data, split, regulariser, initial point — and
//! building the [`Problem`] from it.
//!
//! ```
//! use squeeze_driver::config::{ProblemConfig, ProblemKind};
//! let p: ProblemConfig = toml::from_str("n_workers = 4").unwrap();
//! assert_eq!((p.kind, p.n_workers, p.data.as_str()), (ProblemKind::Logreg, 4, "embedded"));
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use squeeze_core::Scalar;
use squeeze_problems::{
    Dataset, Problem, ReadOptions, Regularizer, Remainder, Split, embedded, read_libsvm_path,
};

use super::{ConfigError, ExperimentConfig, invalid};

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
    /// Drop the remainder rows instead of giving them to the last worker (the same as
    /// `remainder = "drop"`).
    #[serde(default)]
    pub drop_remainder: bool,
    /// Where the N mod n rows that do not fill a whole block go: `"to_last"` (the default,
    /// the EF21 code), `"drop"` (the CLAG and MoTEF codes) or `"balanced"` (one each to the
    /// first workers, the blocks of `numpy.array_split`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remainder: Option<RemainderKind>,
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
    /// The MoTEF synthetic quadratics $f_i = \tfrac12\lVert a_i x - b_i\rVert^2$,
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

/// Remainder rules ([`Remainder`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemainderKind {
    /// To the last worker.
    ToLast,
    /// Dropped.
    Drop,
    /// One each to the first workers (`numpy.array_split`).
    Balanced,
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

pub(crate) fn load_data<S: Scalar>(
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

pub(crate) fn build_problem<S: Scalar>(
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
    let rem = match (p.remainder, p.drop_remainder) {
        (None, false) | (Some(RemainderKind::ToLast), false) => Remainder::ToLast,
        (None, true) | (Some(RemainderKind::Drop), _) => Remainder::Drop,
        (Some(RemainderKind::Balanced), false) => Remainder::Balanced,
        (Some(_), true) => {
            return Err(invalid(
                "problem.remainder",
                "contradicts drop_remainder = true: keep one of them (drop_remainder = true is \
                 remainder = \"drop\")",
            ));
        }
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn worker_rows(extra: &str) -> Result<Vec<usize>, ConfigError> {
        let cfg = ExperimentConfig::from_toml(&format!(
            "[problem]\nn_workers = 4\n{extra}\n[method]\nname = \"gd\"\n[stop]\nmax_rounds = 1\n"
        ))?;
        let p = build_problem::<f64>(&cfg, Path::new("."))?;
        Ok(p.oracles().iter().map(|o| o.n_samples()).collect())
    }

    /// The embedded data has 569 rows: 142 per worker and 1 left over.
    #[test]
    fn remainder_rules_place_the_leftover_rows() {
        assert_eq!(worker_rows("").unwrap(), [142, 142, 142, 143]);
        assert_eq!(
            worker_rows("remainder = \"to_last\"").unwrap(),
            [142, 142, 142, 143]
        );
        assert_eq!(worker_rows("drop_remainder = true").unwrap(), [142; 4]);
        assert_eq!(worker_rows("remainder = \"drop\"").unwrap(), [142; 4]);
        assert_eq!(
            worker_rows("remainder = \"balanced\"").unwrap(),
            [143, 142, 142, 142]
        );
        let e = worker_rows("remainder = \"balanced\"\ndrop_remainder = true").unwrap_err();
        assert!(
            e.to_string().contains("problem.remainder: contradicts"),
            "{e}"
        );
        let e = worker_rows("remainder = \"spread\"").unwrap_err();
        assert!(e.to_string().contains("balanced"), "{e}");
    }

    /// A configuration that does not set `remainder` serialises as before (resolved
    /// configurations and fingerprints of earlier runs stay valid).
    #[test]
    fn an_unset_remainder_is_not_written() {
        let p: ProblemConfig = toml::from_str("n_workers = 4").unwrap();
        let text = toml::to_string(&p).unwrap();
        assert!(!text.lines().any(|l| l.starts_with("remainder")), "{text}");
        let p: ProblemConfig = toml::from_str("n_workers = 4\nremainder = \"balanced\"").unwrap();
        assert!(
            toml::to_string(&p)
                .unwrap()
                .contains("remainder = \"balanced\"")
        );
    }
}
