//! One run directory as the plot reads it: the two columns of `records.csv`, its name and
//! what `config.resolved.toml` and `summary.json` say about it (every item optional, so runs
//! of older versions, or without those files, still plot).

use std::path::{Path, PathBuf};

use super::{XAxis, YAxis};
use crate::fail::{CliResult, usage};
use crate::output::{CONFIG_RESOLVED, RECORDS_CSV, SUMMARY};

/// What the caption and the seed grouping read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta {
    /// `method.name`.
    pub method: Option<String>,
    /// `method.compressor`.
    pub compressor: Option<String>,
    /// `problem.n_workers`.
    pub n_workers: Option<i64>,
    /// The experiment seed.
    pub seed: Option<i64>,
    /// The stepsize γ the run used (`stepsize` in summary.json, a number or `{ gamma }`).
    pub stepsize: Option<f64>,
    /// f* (`f_star` in summary.json).
    pub f_star: Option<f64>,
    /// The squeeze version (`version` in summary.json).
    pub version: Option<String>,
    /// The resolved configuration without `seed`, `name` and `[run]`: runs with equal ones
    /// differ only in their seed.
    pub config_but_seed: Option<toml::Table>,
}

/// One run.
#[derive(Debug, Clone)]
pub struct Run {
    /// The directory as given.
    pub dir: PathBuf,
    /// The legend entry: `--label`, else the run's name.
    pub name: String,
    /// Whether `name` came from `--label`.
    pub labelled: bool,
    /// x and y of every complete record, in order.
    pub points: Vec<(f64, f64)>,
    /// The metadata.
    pub meta: Meta,
}

impl Run {
    /// Read `dir`'s records (columns of `x` and `y`) and metadata.
    pub fn read(dir: &Path, x: XAxis, y: YAxis, label: Option<String>) -> CliResult<Run> {
        let points = read_points(dir, x.column(), y.column())?;
        let summary = read_json(&dir.join(SUMMARY));
        let config = std::fs::read_to_string(dir.join(CONFIG_RESOLVED))
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok());
        let meta = meta(config.as_ref(), summary.as_ref());
        let (name, labelled) = match label {
            Some(l) => (l, true),
            None => (run_name(dir, config.as_ref(), summary.as_ref()), false),
        };
        Ok(Run {
            dir: dir.to_path_buf(),
            name,
            labelled,
            points,
            meta,
        })
    }
}

fn read_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn meta(config: Option<&toml::Table>, summary: Option<&serde_json::Value>) -> Meta {
    let cfg = |section: &str, key: &str| config?.get(section)?.get(key).cloned();
    let sum = |key: &str| summary?.get(key).cloned();
    let stepsize = sum("stepsize").and_then(|v| match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::Object(o) => o.get("gamma").and_then(serde_json::Value::as_f64),
        _ => None,
    });
    let config_but_seed = config.map(|c| {
        let mut c = c.clone();
        for k in ["seed", "name", "run"] {
            c.remove(k);
        }
        c
    });
    Meta {
        method: cfg("method", "name")
            .and_then(|v| v.as_str().map(str::to_string))
            .or_else(|| sum("method")?.as_str().map(str::to_string)),
        compressor: cfg("method", "compressor").and_then(|v| v.as_str().map(str::to_string)),
        n_workers: cfg("problem", "n_workers").and_then(|v| v.as_integer()),
        seed: config
            .and_then(|c| c.get("seed")?.as_integer())
            .or_else(|| sum("seed")?.as_i64()),
        stepsize,
        f_star: sum("f_star").and_then(|v| v.as_f64()),
        version: sum("version").and_then(|v| v.as_str().map(str::to_string)),
        config_but_seed,
    }
}

/// The run's display name: summary.json, else config.resolved.toml, else the directory name.
fn run_name(
    dir: &Path,
    config: Option<&toml::Table>,
    summary: Option<&serde_json::Value>,
) -> String {
    let from_summary = summary.and_then(|s| s.get("name")?.as_str().map(str::to_string));
    let from_config = config.and_then(|c| c.get("name")?.as_str().map(str::to_string));
    from_summary.or(from_config).unwrap_or_else(|| {
        dir.canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| dir.display().to_string())
    })
}

fn read_points(dir: &Path, x: &str, y: &str) -> CliResult<Vec<(f64, f64)>> {
    let path = dir.join(RECORDS_CSV);
    if !path.is_file() {
        return Err(usage(format!(
            "{}: no {RECORDS_CSV}; give directories written by `squeeze run`",
            dir.display()
        )));
    }
    let mut reader = csv::Reader::from_path(&path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    let headers = reader
        .headers()
        .map_err(|e| usage(format!("{}: {e}", path.display())))?
        .clone();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            usage(format!(
                "{}: no column '{name}'; is it a squeeze records file?",
                path.display()
            ))
        })
    };
    let (xi, yi) = (col(x)?, col(y)?);
    let mut points = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = match row {
            Ok(r) => r,
            // A killed run may leave a half-written last line: plot what is complete.
            Err(_) => break,
        };
        let get = |j: usize| row.get(j).and_then(|v| v.parse::<f64>().ok());
        match (get(xi), get(yi)) {
            (Some(a), Some(b)) => points.push((a, b)),
            _ => {
                return Err(usage(format!(
                    "{}: row {} is not numeric",
                    path.display(),
                    i + 2
                )));
            }
        }
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_read_from_either_file_and_optional() {
        let cfg: toml::Table = "name = \"a\"\nseed = 3\n[problem]\nn_workers = 10\n[method]\nname = \"ef21\"\ncompressor = \"top_k:k=1\"\n[run]\nthreads = 2\n"
            .parse()
            .unwrap();
        let sum =
            serde_json::json!({ "name": "a", "stepsize": { "gamma": 0.25 }, "version": "0.1.0" });
        let m = meta(Some(&cfg), Some(&sum));
        assert_eq!(m.method.as_deref(), Some("ef21"));
        assert_eq!(m.compressor.as_deref(), Some("top_k:k=1"));
        assert_eq!(
            (m.n_workers, m.seed, m.stepsize),
            (Some(10), Some(3), Some(0.25))
        );
        assert_eq!(m.version.as_deref(), Some("0.1.0"));
        let rest = m.config_but_seed.unwrap();
        assert!(
            !rest.contains_key("seed") && !rest.contains_key("run") && !rest.contains_key("name")
        );
        let bare = meta(
            None,
            Some(&serde_json::json!({ "method": "gd", "seed": 5, "stepsize": 0.5 })),
        );
        assert_eq!(
            (bare.method.as_deref(), bare.seed, bare.stepsize),
            (Some("gd"), Some(5), Some(0.5))
        );
        assert_eq!(meta(None, None), Meta::default());
    }
}
