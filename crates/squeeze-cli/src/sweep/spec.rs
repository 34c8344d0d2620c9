//! The sweep file: a base configuration, a grid of `--set` overrides, seeds, the keys tuned per
//! cell, and the tolerance whose cost is measured.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Value;

use crate::fail::{CliResult, usage};

/// What a sweep measures: the cost, read from the run's last record, at the round the run
/// first logged ‖∇f‖² ≤ the tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Exact uplink bits per worker (`bits_up_per_worker`).
    Bits,
    /// Uplink bits per worker at 32 bits per sent value (`bits_up_values32_per_worker`).
    Bits32,
    /// Values ("floats") sent per worker: `bits32 / 32`.
    Floats,
    /// Rounds.
    Rounds,
    /// Gradient work in samples (`grad_samples`).
    GradSamples,
}

impl Metric {
    /// The column name in `sweep.csv` and the tables.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Bits => "bits",
            Metric::Bits32 => "bits32",
            Metric::Floats => "floats",
            Metric::Rounds => "rounds",
            Metric::GradSamples => "grad_samples",
        }
    }

    /// The cost in a summary's `last` record.
    pub fn read(self, last: &serde_json::Value) -> Option<f64> {
        let field = |k: &str| last.get(k).and_then(serde_json::Value::as_f64);
        match self {
            Metric::Bits => field("bits_up_per_worker"),
            Metric::Bits32 => field("bits_up_values32_per_worker"),
            Metric::Floats => field("bits_up_values32_per_worker").map(|b| b / 32.0),
            Metric::Rounds => field("round"),
            Metric::GradSamples => field("grad_samples"),
        }
    }
}

/// The tolerance and what reaching it costs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Stop each run once ‖∇f‖² ≤ this (`stop.target_grad_norm_sq`).
    pub grad_norm_sq: f64,
    /// The cost measured at that round (default: exact uplink bits per worker).
    #[serde(default = "default_metric")]
    pub x: Metric,
    /// Round limit of every run (`stop.max_rounds`; default: the base configuration's).
    #[serde(default)]
    pub max_rounds: Option<u64>,
}

fn default_metric() -> Metric {
    Metric::Bits
}

/// Which two grid keys span the rows and columns of the 2-D table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// The key whose values are rows.
    pub rows: String,
    /// The key whose values are columns.
    pub columns: String,
}

/// A sweep file as written (see `docs/cli.md`, § sweep).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// The base configuration, relative to the sweep file.
    pub config: PathBuf,
    /// Name (default: the sweep file's stem).
    #[serde(default)]
    pub name: Option<String>,
    /// Overrides applied to every run (`--set` keys with one value each), e.g. a random
    /// initial point so that the seed changes something.
    #[serde(default)]
    pub set: toml::Table,
    /// Every combination of these `--set` keys and values is a run (per seed).
    pub grid: toml::Table,
    /// The seeds (`seed`) every combination runs with.
    pub seeds: Vec<u64>,
    /// Grid keys chosen per cell (e.g. the stepsize multiplier): a cell's cost is the one of
    /// its best value, by the median over the tuning seeds.
    #[serde(default)]
    pub tune: Vec<String>,
    /// Seeds the tuning looks at (default: all); the reported spread is over the others when
    /// this is given, so the tuned choice is judged on seeds it did not see.
    #[serde(default)]
    pub tune_seeds: Option<Vec<u64>>,
    /// The tolerance and the cost.
    pub target: Target,
    /// Rows × columns of the 2-D table (default: the two untuned keys, when there are two).
    #[serde(default)]
    pub table: Option<Layout>,
}

/// A checked sweep: the grid in key order with its values, ready to expand.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// Name.
    pub name: String,
    /// The base configuration (resolved against the sweep file's directory).
    pub config: PathBuf,
    /// Fixed overrides `key=value` of every run.
    pub fixed: Vec<String>,
    /// `(key, values)` in the file's key order (sorted).
    pub grid: Vec<(String, Vec<Value>)>,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Tuned keys (each a grid key).
    pub tune: Vec<String>,
    /// Seeds that choose the tuned values.
    pub tune_seeds: Vec<u64>,
    /// Seeds the reported statistics are over.
    pub judge_seeds: Vec<u64>,
    /// Tolerance and cost.
    pub target: Target,
    /// Table layout, if any.
    pub table: Option<Layout>,
}

/// Most runs a sweep may start (a typo such as a 1000-value list is caught before it runs).
pub const MAX_RUNS: usize = 10_000;

impl Sweep {
    /// Read and check a sweep file: every mistake names the key and the fix.
    pub fn load(path: &Path) -> CliResult<Sweep> {
        let text = fs::read_to_string(path).map_err(|e| {
            usage(format!(
                "cannot read sweep file {}: {e}; check the path (see examples/sweeps/)",
                path.display()
            ))
        })?;
        let file: SweepFile = toml::from_str(&text)
            .map_err(|e| usage(format!("{}: {}", path.display(), e.message().trim())))?;
        let name = file.name.clone().unwrap_or_else(|| {
            let stem = path
                .file_stem()
                .map_or("sweep".into(), |s| s.to_string_lossy());
            stem.trim_end_matches(".sweep").to_string()
        });
        let base = path.parent().unwrap_or(Path::new("."));
        Sweep::check(file, name, base).map_err(|e| usage(format!("{}: {e}", path.display())))
    }

    fn check(file: SweepFile, name: String, base: &Path) -> Result<Sweep, String> {
        for (section, key, v) in file
            .set
            .iter()
            .map(|(k, v)| ("set", k, v))
            .chain(file.grid.iter().map(|(k, v)| ("grid", k, v)))
        {
            if !key.contains('.') && v.is_table() {
                return Err(format!(
                    "{section}.{key}: a table; write each key as one quoted dotted key, e.g. \
                     \"{key}.{}\" = …",
                    v.as_table()
                        .and_then(|t| t.keys().next())
                        .map_or("key", String::as_str)
                ));
            }
        }
        let mut fixed = Vec::new();
        for (key, v) in &file.set {
            let text = format!("{key}={v}");
            crate::overrides::Override::parse(&text).map_err(|e| format!("set: {e}"))?;
            if file.grid.contains_key(key) || key == "seed" {
                return Err(format!(
                    "set.\"{key}\": also swept (or the seed); give it in one place"
                ));
            }
            fixed.push(text);
        }
        let mut grid = Vec::new();
        for (key, v) in &file.grid {
            crate::overrides::Override::parse(&format!("{key}=0"))
                .map_err(|e| format!("grid: {e}"))?;
            if key == "seed" {
                return Err("grid: seed: list the seeds in `seeds = [...]`, not in [grid]".into());
            }
            let values = match v {
                Value::Array(a) if !a.is_empty() => a.clone(),
                _ => {
                    return Err(format!(
                        "grid.\"{key}\": expected a non-empty list of values, e.g. \
                         \"{key}\" = [1, 2, 4]"
                    ));
                }
            };
            grid.push((key.clone(), values));
        }
        if grid.is_empty() {
            return Err(
                "grid: empty; add at least one key with a list of values, e.g. \
                 \"method.stepsize.multiplier\" = [1, 2, 4]"
                    .into(),
            );
        }
        if file.seeds.is_empty() {
            return Err("seeds: empty; give at least one seed, e.g. seeds = [1, 2, 3]".into());
        }
        let distinct: BTreeSet<u64> = file.seeds.iter().copied().collect();
        if distinct.len() != file.seeds.len() {
            return Err("seeds: a seed is listed twice".into());
        }
        for t in &file.tune {
            if !file.grid.contains_key(t) {
                return Err(format!(
                    "tune: \"{t}\" is not a grid key; tune one of: {}",
                    keys(&grid)
                ));
            }
        }
        let tune_seeds = file
            .tune_seeds
            .clone()
            .unwrap_or_else(|| file.seeds.clone());
        if tune_seeds.is_empty() || tune_seeds.iter().any(|s| !distinct.contains(s)) {
            return Err("tune_seeds: must be a non-empty subset of seeds".into());
        }
        let judge_seeds: Vec<u64> = if file.tune_seeds.is_some() {
            file.seeds
                .iter()
                .copied()
                .filter(|s| !tune_seeds.contains(s))
                .collect()
        } else {
            file.seeds.clone()
        };
        if judge_seeds.is_empty() {
            return Err(
                "tune_seeds: leaves no seed to judge on; keep at least one seed \
                        out of tune_seeds"
                    .into(),
            );
        }
        let t = &file.target;
        if !(t.grad_norm_sq.is_finite() && t.grad_norm_sq > 0.0) {
            return Err(format!(
                "target.grad_norm_sq: {} is not a tolerance; give a finite value > 0, e.g. 1e-8",
                t.grad_norm_sq
            ));
        }
        if let Some(l) = &file.table {
            for k in [&l.rows, &l.columns] {
                if !file.grid.contains_key(k) || file.tune.contains(k) {
                    return Err(format!(
                        "table: \"{k}\" is not an untuned grid key; use two of: {}",
                        keys(&grid)
                    ));
                }
            }
            if l.rows == l.columns {
                return Err("table: rows and columns are the same key".into());
            }
        }
        let runs = grid.iter().map(|(_, v)| v.len()).product::<usize>() * file.seeds.len();
        if runs > MAX_RUNS {
            return Err(format!(
                "{runs} runs (grid × seeds) is more than {MAX_RUNS}; split the sweep"
            ));
        }
        Ok(Sweep {
            name,
            config: base.join(&file.config),
            fixed,
            grid,
            seeds: file.seeds,
            tune: file.tune,
            tune_seeds,
            judge_seeds,
            target: file.target,
            table: file.table,
        })
    }

    /// Every grid point (one value index per key), in row-major order of the keys.
    pub fn points(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new()];
        for (_, values) in &self.grid {
            out = out
                .into_iter()
                .flat_map(|p| {
                    (0..values.len()).map(move |i| {
                        let mut q = p.clone();
                        q.push(i);
                        q
                    })
                })
                .collect();
        }
        out
    }

    /// The `--set` overrides of a grid point and seed (the tolerance and round limit too).
    pub fn sets(&self, point: &[usize], seed: u64) -> Vec<String> {
        let mut sets = self.fixed.clone();
        sets.extend(
            self.grid
                .iter()
                .zip(point)
                .map(|((k, values), &i)| format!("{k}={}", values[i])),
        );
        sets.push(format!("seed={seed}"));
        sets.push(format!(
            "stop.target_grad_norm_sq={:e}",
            self.target.grad_norm_sq
        ));
        if let Some(m) = self.target.max_rounds {
            sets.push(format!("stop.max_rounds={m}"));
        }
        sets
    }

    /// A directory name for a grid point: `key-value` of each key's last segment.
    pub fn slug(&self, point: &[usize]) -> String {
        let parts: Vec<String> = self
            .grid
            .iter()
            .zip(point)
            .map(|((k, values), &i)| {
                let short = k.rsplit('.').next().unwrap_or(k);
                format!("{short}-{}", value_text(&values[i]))
            })
            .collect();
        sanitize(&parts.join("__"))
    }
}

/// A grid value as written in tables (strings without quotes).
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn keys(grid: &[(String, Vec<Value>)]) -> String {
    grid.iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `[A-Za-z0-9._-]` only; anything else becomes `_`.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(text: &str) -> Result<Sweep, String> {
        let file: SweepFile = toml::from_str(text).map_err(|e| e.to_string())?;
        Sweep::check(file, "t".into(), Path::new("/base"))
    }

    const OK: &str = r#"
config = "c.toml"
seeds = [1, 2, 3]
tune = ["method.stepsize.multiplier"]
target = { grad_norm_sq = 1e-8 }
[grid]
"method.compressor" = ["top_k:k=1", "top_k:k=2"]
"method.stepsize.multiplier" = [1.0, 2.0, 4.0]
"#;

    #[test]
    fn a_grid_expands_to_every_combination_with_its_sets() {
        let s = sweep(&format!("set = {{ \"run.log_every\" = 1 }}\n{OK}")).unwrap();
        assert_eq!(s.config, Path::new("/base/c.toml"));
        let points = s.points();
        assert_eq!(points.len(), 6);
        assert_eq!(points[0], vec![0, 0]);
        assert_eq!(points[5], vec![1, 2]);
        let sets = s.sets(&points[4], 2);
        assert_eq!(
            sets,
            vec![
                "run.log_every=1",
                "method.compressor=\"top_k:k=2\"",
                "method.stepsize.multiplier=2.0",
                "seed=2",
                "stop.target_grad_norm_sq=1e-8",
            ]
        );
        assert_eq!(s.slug(&points[4]), "compressor-top_k_k_2__multiplier-2.0");
        assert_eq!(s.judge_seeds, vec![1, 2, 3]);
    }

    #[test]
    fn tuning_seeds_are_left_out_of_the_judged_ones() {
        let s = sweep(&format!("tune_seeds = [1]\n{OK}")).unwrap();
        assert_eq!(s.tune_seeds, vec![1]);
        assert_eq!(s.judge_seeds, vec![2, 3]);
        let e = sweep(&format!("tune_seeds = [1, 2, 3]\n{OK}")).unwrap_err();
        assert!(e.contains("no seed to judge"), "{e}");
        let e = sweep(&format!("tune_seeds = [9]\n{OK}")).unwrap_err();
        assert!(e.contains("subset of seeds"), "{e}");
    }

    #[test]
    fn mistakes_name_the_key_and_the_fix() {
        for (text, needle) in [
            (
                OK.replace("seeds = [1, 2, 3]", "seeds = []"),
                "seeds: empty",
            ),
            (OK.replace("seeds = [1, 2, 3]", "seeds = [1, 1]"), "twice"),
            (
                OK.replace("tune = [\"method.stepsize.multiplier\"]", "tune = [\"x\"]"),
                "not a grid key",
            ),
            (OK.replace("1e-8", "-1.0"), "target.grad_norm_sq"),
            (OK.replace("[1.0, 2.0, 4.0]", "[]"), "non-empty list"),
            (OK.replace("[1.0, 2.0, 4.0]", "2.0"), "non-empty list"),
            (
                OK.replace("\"method.compressor\"", "\"seed\""),
                "seeds = [...]",
            ),
            (OK.replace("\"method.compressor\"", "\"a b\""), "dotted key"),
            (
                OK.replace("\"method.compressor\"", "method.compressor"),
                "one quoted dotted key, e.g. \"method.compressor\"",
            ),
            (format!("colour = 1\n{OK}"), "unknown field"),
            (
                format!("set = {{ \"method.compressor\" = \"x\" }}\n{OK}"),
                "give it in one place",
            ),
            (
                format!("table = {{ rows = \"method.compressor\", columns = \"x\" }}\n{OK}"),
                "untuned grid key",
            ),
        ] {
            let e = sweep(&text).unwrap_err();
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }

    #[test]
    fn metrics_read_the_last_record() {
        let last = serde_json::json!({"round": 40, "bits_up_per_worker": 1000.0,
            "bits_up_values32_per_worker": 640.0, "grad_samples": 77});
        assert_eq!(Metric::Bits.read(&last), Some(1000.0));
        assert_eq!(Metric::Bits32.read(&last), Some(640.0));
        assert_eq!(Metric::Floats.read(&last), Some(20.0));
        assert_eq!(Metric::Rounds.read(&last), Some(40.0));
        assert_eq!(Metric::GradSamples.read(&last), Some(77.0));
    }
}
