//! How many worker threads a run gets. Results never depend on it (the engines aggregate in
//! worker order), so the count is only a matter of speed:
//!
//! * `--threads N` overrides `run.threads`; `0` is refused either way (`--threads 0` and
//!   `run.threads = 0` give the same error): use at least 1;
//! * more threads than workers (nodes) cannot be used: the count is capped at
//!   `problem.n_workers` silently (in process and under MPI, where every rank gets the same cap);
//! * in process, the count is also capped at [`CORES_MULTIPLE`] × the available cores, with a
//!   `note:` line (thousands of threads only cost time: `--threads 100000` would spawn them).

use squeeze_driver::ExperimentConfig;

use crate::fail::{CliResult, usage};

/// In process, at most this many threads per available core.
pub const CORES_MULTIPLE: usize = 4;

/// Apply `--threads`, refuse 0, cap at the worker count.
pub fn apply(cfg: &mut ExperimentConfig, flag: Option<usize>) -> CliResult {
    let (requested, from) = match flag {
        Some(t) => (t, format!("--threads {t}")),
        None => (
            cfg.run.threads,
            format!("run.threads = {}", cfg.run.threads),
        ),
    };
    if requested == 0 {
        return Err(usage(format!(
            "{from}: use at least 1 thread (the count does not change the results; \
             1 to {} are useful here, one per worker)",
            cfg.problem.n_workers.max(1)
        )));
    }
    cfg.run.threads = requested.min(cfg.problem.n_workers.max(1));
    Ok(())
}

/// Cap at [`CORES_MULTIPLE`] × `cores`; returns a note when the count was lowered.
pub fn cap_to_cores(cfg: &mut ExperimentConfig, cores: usize) -> Option<String> {
    let cap = cores.max(1).saturating_mul(CORES_MULTIPLE);
    if cfg.run.threads <= cap {
        return None;
    }
    let asked = cfg.run.threads;
    cfg.run.threads = cap;
    Some(format!(
        "note: using {cap} threads instead of {asked} ({CORES_MULTIPLE} per available core, \
         {cores} cores); the results do not depend on the thread count"
    ))
}

/// The cores this process may use (1 if unknown).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(workers: usize, threads: usize) -> ExperimentConfig {
        let mut c = ExperimentConfig::from_toml(
            "seed = 1\n[problem]\nn_workers = 2\n[method]\nname = \"gd\"\n[stop]\nmax_rounds = 1\n",
        )
        .unwrap();
        c.problem.n_workers = workers;
        c.run.threads = threads;
        c
    }

    #[test]
    fn zero_is_refused_from_the_flag_and_the_file_alike() {
        let e = apply(&mut cfg(4, 1), Some(0)).unwrap_err();
        assert!(format!("{:#}", e.error).starts_with("--threads 0: use at least 1"));
        let e = apply(&mut cfg(4, 0), None).unwrap_err();
        assert!(format!("{:#}", e.error).starts_with("run.threads = 0: use at least 1"));
    }

    #[test]
    fn capped_at_workers_then_cores() {
        let mut c = cfg(10, 1);
        apply(&mut c, Some(100_000)).unwrap();
        assert_eq!(c.run.threads, 10);
        assert!(cap_to_cores(&mut c, 2).is_some());
        assert_eq!(c.run.threads, 8);
        assert!(cap_to_cores(&mut c, 2).is_none());
        let mut c = cfg(10, 3);
        apply(&mut c, None).unwrap();
        assert_eq!(c.run.threads, 3);
    }
}
