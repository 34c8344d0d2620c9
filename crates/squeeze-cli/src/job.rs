//! The shared part of `squeeze run`, in process and under MPI: the arguments, reading and
//! resolving the configuration, and running the executor.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use squeeze_driver::config::ProblemKind;
use squeeze_driver::executor::{ExecError, Observer, RunSummary};
use squeeze_driver::{Engine, Executor, ExperimentConfig};
use toml::{Table, Value};

use crate::fail::{CliResult, Failure, usage};
use crate::output::Start;
use crate::overrides::Override;

/// Arguments of `squeeze run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The experiment (TOML; see examples/ and `squeeze list`).
    pub config: PathBuf,
    /// Override a key before the config is read, e.g. `--set problem.n_workers=10`,
    /// `--set method.compressor=top_k:k=2`, `--set stop.max_rounds=500` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Output directory (default: runs/<name> under the current directory).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Worker threads (overrides run.threads; results do not depend on it).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Continue from <out>/checkpoint.json (same configuration; stop rules may change).
    #[arg(long)]
    pub resume: bool,
    /// No progress bar and no summary line.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Data values that name a built-in data set rather than a file.
const BUILTIN_DATA: &[&str] = &["embedded", "breast_cancer", "synthetic_a9a"];

/// Read the TOML file, apply the overrides, deserialise. Errors name the file and the key.
pub fn load_config(path: &Path, sets: &[String]) -> CliResult<ExperimentConfig> {
    let overrides = sets
        .iter()
        .map(|s| Override::parse(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let text = read_config_text(path)?;
    let mut table: Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e
            .span()
            .map(|s| {
                let (line, col) = line_col(&text, s.start);
                format!(":{line}:{col}")
            })
            .unwrap_or_default();
        usage(format!(
            "{}{at}: invalid TOML: {}",
            path.display(),
            e.message().trim()
        ))
    })?;
    for o in &overrides {
        o.apply(&mut table)?;
    }
    serde_path_to_error::deserialize::<_, ExperimentConfig>(Value::Table(table)).map_err(|e| {
        let key = e.path().to_string();
        let from_set = overrides
            .iter()
            .find(|o| key != "." && (o.key.starts_with(&key) || key.starts_with(&o.key)))
            .map(|o| format!(" (set by --set {}={})", o.key, o.value))
            .unwrap_or_default();
        let inner = e.into_inner().message().trim().to_string();
        let key = if key == "." {
            "top level".to_string()
        } else {
            key
        };
        usage(format!("{}: {key}: {inner}{from_set}", path.display()))
    })
}

/// The first line of every `config.resolved.toml` (see `output::write_resolved`).
pub(crate) const RESOLVED_HEADER: &str = "# Written by `squeeze run";

/// Appended to a refused key of a resolved configuration: squeeze before the method registry
/// wrote every method's keys (`init`, `count_init`, `stepsize`) into it.
const OLDER_RESOLVED_HINT: &str = " (this config.resolved.toml may come from an older squeeze, \
     which wrote keys of every method into [method]: delete the keys the method does not take, \
     or rerun from the original config)";

/// A configuration error, prefixed with the config file; a key refused in a resolved
/// configuration gets the hint that an older squeeze may have written it.
fn config_error(config: &Path, resolved: bool, e: &dyn std::fmt::Display) -> Failure {
    let e = e.to_string();
    let hint = if resolved && e.contains(" does not take ") {
        OLDER_RESOLVED_HINT
    } else {
        ""
    };
    usage(format!("{}: {e}{hint}", config.display()))
}

/// Largest configuration file read (a configuration is a few hundred bytes).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The configuration's text, read to at most [`MAX_CONFIG_BYTES`] (`squeeze run /dev/zero`
/// must not read forever).
fn read_config_text(path: &Path) -> CliResult<String> {
    use std::io::Read;
    let cannot = |e: &dyn std::fmt::Display| {
        usage(format!(
            "cannot read config {}: {e}; check the path (see examples/ for configs)",
            path.display()
        ))
    };
    let file = fs::File::open(path).map_err(|e| cannot(&e))?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(&e))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(usage(format!(
            "{}: more than {} MiB, which is not a squeeze configuration (a TOML file of a few \
             lines; see examples/)",
            path.display(),
            MAX_CONFIG_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|_| {
        usage(format!(
            "{}: not UTF-8 text, so not a squeeze configuration (a TOML file; see examples/)",
            path.display()
        ))
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The configuration as it will run: data path absolute (resolved against `base`), name set.
pub fn resolve(mut cfg: ExperimentConfig, base: &Path) -> ExperimentConfig {
    if !BUILTIN_DATA.contains(&cfg.problem.data.as_str()) {
        let p = Path::new(&cfg.problem.data);
        let joined = if p.is_relative() {
            base.join(p)
        } else {
            p.to_path_buf()
        };
        let abs = joined.canonicalize().unwrap_or(joined);
        cfg.problem.data = abs.to_string_lossy().into_owned();
    }
    cfg.name = Some(cfg.display_name());
    cfg
}

/// A missing data file is reported with where it was looked for (before anything is built).
fn check_data(cfg: &ExperimentConfig, config: &Path, base: &Path) -> CliResult {
    let uses_data = cfg.problem.kind != ProblemKind::Quadratic3pc;
    let data = Path::new(&cfg.problem.data);
    if uses_data && !BUILTIN_DATA.contains(&cfg.problem.data.as_str()) && data.exists() {
        if !data.is_file() {
            return Err(usage(format!(
                "{}: problem.data: {} is not a regular file (a directory, device or pipe); point \
                 problem.data at a LIBSVM text file, or use data = \"embedded\" or \"synthetic_a9a\"",
                config.display(),
                data.display()
            )));
        }
        return Ok(());
    }
    if uses_data && !BUILTIN_DATA.contains(&cfg.problem.data.as_str()) {
        return Err(usage(format!(
            "{}: problem.data: no file at {} (relative paths are resolved against the config \
             file's directory {}); fix the path, or use data = \"embedded\" or \"synthetic_a9a\"",
            config.display(),
            data.display(),
            base.display()
        )));
    }
    Ok(())
}

/// `runs/<name>` with the name reduced to `[A-Za-z0-9._-]`.
pub fn default_out_dir(name: &str) -> PathBuf {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            s.push(c);
        } else if !s.ends_with('_') {
            s.push('_');
        }
    }
    let s = s.trim_matches(|c| c == '_' || c == '.').to_string();
    PathBuf::from("runs").join(if s.is_empty() { "run".to_string() } else { s })
}

/// A run, prepared: configuration resolved and checked, nothing written yet.
pub(crate) struct Job {
    pub(crate) cwd: PathBuf,
    pub(crate) base: PathBuf,
    pub(crate) cfg: ExperimentConfig,
    pub(crate) name: String,
    pub(crate) out: PathBuf,
    pub(crate) executor: Executor,
    config_arg: PathBuf,
    /// The configuration is a `config.resolved.toml` (its first line says so).
    resolved: bool,
}

impl Job {
    /// A configuration error, prefixed with the config file.
    pub(crate) fn cfg_error(&self, e: &dyn std::fmt::Display) -> Failure {
        config_error(&self.config_arg, self.resolved, e)
    }
}

/// Read, override, resolve and check the configuration (no file is written).
pub(crate) fn prepare(args: &RunArgs) -> CliResult<Job> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let config_path = cwd.join(&args.config);
    let base = config_path
        .parent()
        .map_or_else(|| cwd.clone(), Path::to_path_buf);
    let mut cfg = load_config(&args.config, &args.set)?;
    crate::threads::apply(&mut cfg, args.threads)?;
    let cfg = resolve(cfg, &base);
    check_data(&cfg, &args.config, &base)?;
    let name = cfg.display_name();
    let out = match &args.out {
        Some(o) => cwd.join(o),
        None => cwd.join(default_out_dir(&name)),
    };
    let resolved = read_config_text(&args.config).is_ok_and(|t| t.starts_with(RESOLVED_HEADER));
    let executor = cfg
        .executor(Some(&out))
        .map_err(|e| config_error(&args.config, resolved, &e))?;
    Ok(Job {
        cwd,
        base,
        cfg,
        name,
        out,
        executor,
        config_arg: args.config.clone(),
        resolved,
    })
}

/// Run (or resume) the executor with `observers`.
pub(crate) fn execute(
    job: &Job,
    engine: &mut dyn Engine,
    observers: &mut [&mut dyn Observer],
    start: Start,
) -> Result<RunSummary, ExecError> {
    match start {
        Start::Fresh => job.executor.run(engine, observers),
        Start::Restored(state) => job.executor.continue_from(engine, state, observers),
    }
}

/// Exit code of a failed run: a checkpoint that cannot be restored or bad stop rules are the
/// user's to fix.
pub(crate) fn exec_error_code(e: &ExecError) -> u8 {
    match e {
        ExecError::Checkpoint { .. } | ExecError::Stop(_) => crate::fail::USAGE,
        _ => crate::fail::RUNTIME,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_out_dir_is_sanitised() {
        assert_eq!(
            default_out_dir("ef21 top_k:k=1"),
            PathBuf::from("runs/ef21_top_k_k_1")
        );
        assert_eq!(default_out_dir("../x"), PathBuf::from("runs/x"));
        assert_eq!(default_out_dir("///"), PathBuf::from("runs/run"));
        assert_eq!(default_out_dir("EF21 ×4"), PathBuf::from("runs/EF21_4"));
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
