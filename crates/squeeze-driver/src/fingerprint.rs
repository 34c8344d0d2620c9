//! The problem fingerprint of a run: what a resumed run must share with the run that wrote the
//! checkpoint, beyond the checkpoint itself.
//!
//! A checkpoint holds the method's state but not the objective: resuming it onto a data file
//! that changed at the same path, or onto another regulariser, would continue silently on a
//! different problem. The fingerprint records
//!
//! * the data: for a LIBSVM file its size and a 64-bit FNV-1a hash of its bytes (so a file
//!   changed at the same path is noticed, and a file moved elsewhere is not a change); for
//!   built-in data its name;
//! * the configuration that determines the trajectory: the problem (kind, split, regulariser,
//!   workers, rows, features, x⁰, …; the data path left out), the method, the topology, the seed
//!   and the precision — everything but `name`, `stop.*`, `run.*` and `output.*`, which may
//!   change on resume.
//!
//! [`Fingerprint::first_difference`] names the first key that differs, with both values.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use squeeze_problems::libsvm::MAX_INPUT_BYTES;
use thiserror::Error;

use crate::config::{ExperimentConfig, ProblemKind};

/// Format tag of [`Fingerprint`].
pub const FINGERPRINT_FORMAT: &str = "squeeze-fingerprint-v1";

/// Data sets that are built in rather than read from a file.
const BUILTIN_DATA: &[&str] = &["embedded", "breast_cancer", "synthetic_a9a"];

/// Why a fingerprint could not be computed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FingerprintError {
    /// The data file could not be read.
    #[error("cannot read the data file {} to fingerprint it: {source}; check problem.data", path.display())]
    Data {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The data file is larger than the reader accepts.
    #[error("the data file {} is larger than {} GiB, the reader's limit; use a smaller file", path.display(), MAX_INPUT_BYTES >> 30)]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The configuration does not serialise (a bug).
    #[error("internal: the configuration does not serialise: {0}")]
    Serialise(String),
}

/// What a run's problem is, for comparing a resumed run with the run that wrote the checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// [`FINGERPRINT_FORMAT`].
    pub format: String,
    /// The data: `{ "builtin": name }`, `{ "file": { "bytes": n, "fnv1a64": "…" } }` or
    /// `"none"` (problems without data).
    pub data: Value,
    /// The configuration without `name`, `stop`, `run`, `output` and the data path.
    pub config: Value,
}

/// A difference between two fingerprints: the dotted key and both values, shortened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The dotted key (`data`, `config.problem.regularizer.lambda`, …).
    pub key: String,
    /// The value in the stored fingerprint (`absent` if missing).
    pub then: String,
    /// The value now (`absent` if missing).
    pub now: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} then, {} now", self.key, self.then, self.now)
    }
}

impl Fingerprint {
    /// The fingerprint of `cfg` (relative data paths are resolved against `base_dir`). Reads
    /// the data file once (bounded by the LIBSVM reader's input limit).
    pub fn of(cfg: &ExperimentConfig, base_dir: &Path) -> Result<Self, FingerprintError> {
        let uses_data = matches!(
            cfg.problem.kind,
            ProblemKind::Logreg | ProblemKind::LeastSquares
        );
        let data = if !uses_data {
            Value::String("none".into())
        } else if BUILTIN_DATA.contains(&cfg.problem.data.as_str()) {
            serde_json::json!({ "builtin": cfg.problem.data })
        } else {
            let path = base_dir.join(&cfg.problem.data);
            let (bytes, hash) = hash_file(&path)?;
            serde_json::json!({ "file": { "bytes": bytes, "fnv1a64": format!("{hash:016x}") } })
        };
        let mut config =
            serde_json::to_value(cfg).map_err(|e| FingerprintError::Serialise(e.to_string()))?;
        if let Value::Object(top) = &mut config {
            for key in ["name", "stop", "run", "output"] {
                top.remove(key);
            }
            if let Some(Value::Object(problem)) = top.get_mut("problem") {
                problem.remove("data");
            }
        }
        Ok(Self {
            format: FINGERPRINT_FORMAT.into(),
            data,
            config,
        })
    }

    /// The first difference between `self` (stored) and `now`, if any.
    pub fn first_difference(&self, now: &Self) -> Option<Difference> {
        let a = serde_json::to_value(self).unwrap_or(Value::Null);
        let b = serde_json::to_value(now).unwrap_or(Value::Null);
        first_difference(Some(&a), Some(&b), "")
    }
}

fn show(v: Option<&Value>) -> String {
    let Some(v) = v else {
        return "absent".into();
    };
    let s = match v {
        Value::Number(n) => match n.as_f64() {
            // Long decimals (1e300 has 301 digits) in scientific notation.
            Some(x) if n.is_f64() && (x.abs() >= 1e6 || (x != 0.0 && x.abs() < 1e-4)) => {
                format!("{x:.6e}")
            }
            _ => n.to_string(),
        },
        other => other.to_string(),
    };
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

/// The dotted key of `key` under `path` (`key` itself at the top level, where `path` is empty).
pub fn dotted_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn first_difference(a: Option<&Value>, b: Option<&Value>, path: &str) -> Option<Difference> {
    let join = |k: &str| dotted_key(path, k);
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .find_map(|k| first_difference(x.get(k), y.get(k), &join(k)))
        }
        _ if a == b => None,
        _ => Some(Difference {
            key: if path.is_empty() {
                ".".into()
            } else {
                path.into()
            },
            then: show(a),
            now: show(b),
        }),
    }
}

/// Size and FNV-1a (64-bit) hash of a file's bytes, refusing files beyond the reader's limit.
fn hash_file(path: &Path) -> Result<(u64, u64), FingerprintError> {
    let err = |source| FingerprintError::Data {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(err)?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(err(e)),
        };
        total += n as u64;
        if total > MAX_INPUT_BYTES {
            return Err(FingerprintError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        for &b in &buf[..n] {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    Ok((total, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> ExperimentConfig {
        ExperimentConfig::from_toml(&format!(
            "seed = 1\n[problem]\nn_workers = 2\n{extra}\n[method]\nname = \"gd\"\n[stop]\nmax_rounds = 3\n"
        ))
        .unwrap()
    }

    #[test]
    fn stop_run_and_name_do_not_count_but_the_problem_does() {
        let base = Path::new(".");
        let a = Fingerprint::of(&cfg(""), base).unwrap();
        let mut other = cfg("");
        other.stop.max_rounds = Some(99);
        other.run.threads = 2;
        other.name = Some("renamed".into());
        assert_eq!(
            a.first_difference(&Fingerprint::of(&other, base).unwrap()),
            None
        );
        let b = Fingerprint::of(
            &cfg("regularizer = { kind = \"nonconvex\", lambda = 1e300 }"),
            base,
        )
        .unwrap();
        let d = a.first_difference(&b).unwrap();
        assert!(d.key.starts_with("config.problem.regularizer"), "{d}");
        assert!(d.to_string().len() < 200, "{d}");
    }

    #[test]
    fn data_files_are_compared_by_content() {
        let dir = std::env::temp_dir().join(format!("squeeze-fp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("d.svm");
        std::fs::write(&file, "+1 1:1\n-1 2:1\n").unwrap();
        let c = cfg(&format!("data = {:?}", file.to_str().unwrap()));
        let a = Fingerprint::of(&c, &dir).unwrap();
        assert_eq!(
            a.first_difference(&Fingerprint::of(&c, &dir).unwrap()),
            None
        );
        std::fs::write(&file, "+1 1:1\n-1 2:2\n").unwrap();
        let d = a
            .first_difference(&Fingerprint::of(&c, &dir).unwrap())
            .unwrap();
        assert_eq!(d.key, "data.file.fnv1a64", "{d}");
        std::fs::remove_file(&file).unwrap();
        assert!(matches!(
            Fingerprint::of(&c, &dir),
            Err(FingerprintError::Data { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
