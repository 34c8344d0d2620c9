//! `squeeze sweep`: run a grid of one configuration (stepsize multipliers, K, ζ, … × seeds) and
//! report what reaching a tolerance costs per cell, with the spread over seeds.
//!
//! A sweep file names a base configuration, a `[grid]` of `--set` keys with lists of values,
//! the `seeds`, the keys `tune`d per cell (chosen by the median cost over `tune_seeds`, judged
//! on the other seeds when those are given) and the `target` tolerance and cost. Every
//! combination × seed is an ordinary run in `OUT/runs/<cell>/seed-<s>/`; `OUT/sweep.csv` has one
//! row per run and `OUT/sweep.md` the cells, the verdict (is the best cell ahead of the
//! runner-up by more than the spread over seeds?) and, for two untuned keys, a heat-map table.
//! Every configuration is read and checked before the first run starts.

mod spec;
mod table;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Args;

use crate::fail::{CliResult, USAGE, runtime, usage};
use crate::job::{RunArgs, prepare};
use spec::Sweep;
use table::{Outcome, RunResult};

/// Arguments of `squeeze sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The sweep file (TOML; see examples/sweeps/ and docs/cli.md).
    pub sweep: PathBuf,
    /// Output directory (default: runs/sweep-<name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Runs at a time (each with the configuration's own threads; results do not depend on it).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub jobs: usize,
    /// Worker threads of every run (overrides run.threads).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Check every configuration and list the runs, but run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// No line per finished run.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `squeeze sweep`.
pub fn sweep(args: SweepArgs) -> CliResult {
    let sweep = Sweep::load(&args.sweep)?;
    if args.jobs == 0 {
        return Err(usage("--jobs 0: give at least 1"));
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| crate::job::default_out_dir(&format!("sweep-{}", sweep.name)));
    let plan = plan(&sweep, &args, &out)?;
    if args.dry_run {
        for (point, seed, run) in &plan {
            println!(
                "{} seed={seed} -> {}",
                table::describe_point(&sweep, point),
                run.out
                    .as_ref()
                    .map_or(String::new(), |o| o.display().to_string())
            );
        }
        println!("{} runs", plan.len());
        return Ok(());
    }
    let results = run_all(&sweep, &out, plan, args.jobs, args.quiet)?;
    let cells = table::cells(&sweep, &results);
    let md = table::markdown(&sweep, &cells);
    let csv = table::runs_csv(&sweep, &results).map_err(runtime)?;
    fs::create_dir_all(&out).map_err(|e| runtime(format!("{}: {e}", out.display())))?;
    crate::output::write_atomic(&out.join("sweep.csv"), &csv)
        .and_then(|()| crate::output::write_atomic(&out.join("sweep.md"), md.as_bytes()))
        .map_err(|e| {
            runtime(format!(
                "cannot write the sweep tables in {}: {e}",
                out.display()
            ))
        })?;
    if !args.quiet {
        println!("{md}");
        println!("(written to {}/sweep.md and sweep.csv)", out.display());
    }
    Ok(())
}

type Planned = (Vec<usize>, u64, RunArgs);

/// Every run's arguments, each configuration read and checked (nothing is written).
fn plan(sweep: &Sweep, args: &SweepArgs, out: &Path) -> CliResult<Vec<Planned>> {
    let mut plan = Vec::new();
    for point in sweep.points() {
        let slug = sweep.slug(&point);
        for &seed in &sweep.seeds {
            let run = RunArgs {
                config: sweep.config.clone(),
                set: sweep.sets(&point, seed),
                out: Some(out.join("runs").join(&slug).join(format!("seed-{seed}"))),
                threads: args.threads,
                resume: false,
                quiet: true,
            };
            let cannot = |e: &dyn std::fmt::Display| {
                usage(format!(
                    "{}: the run {} seed={seed}: {e}",
                    args.sweep.display(),
                    table::describe_point(sweep, &point),
                ))
            };
            let job = prepare(&run).map_err(|f| cannot(&format!("{:#}", f.error)))?;
            if seed == sweep.seeds[0] {
                // Method parameters are checked against the problem when the engine is built
                // (e.g. K > d): once per grid point, before anything runs.
                job.cfg
                    .build_engine(&job.base)
                    .map_err(|e| cannot(&job.cfg_error(&e).error))?;
            }
            plan.push((point.clone(), seed, run));
        }
    }
    Ok(plan)
}

/// Run the plan, `jobs` at a time; results in plan order. A configuration error stops the
/// sweep; a run that fails (diverges) is a result.
fn run_all(
    sweep: &Sweep,
    out: &Path,
    plan: Vec<Planned>,
    jobs: usize,
    quiet: bool,
) -> CliResult<Vec<RunResult>> {
    let total = plan.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<CliResult<RunResult>>>> =
        (0..total).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(total) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((point, seed, run)) = plan.get(i) else {
                        break;
                    };
                    let r = run_one(sweep, out, point, *seed, run);
                    if !quiet {
                        let k = done.fetch_add(1, Ordering::SeqCst) + 1;
                        progress_line(sweep, k, total, point, *seed, &r);
                    }
                    let stop = r.is_err();
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                    if stop {
                        // Let the other threads finish their current run, start no more.
                        next.store(total, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    let mut results = Vec::with_capacity(total);
    for slot in slots {
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(r) => results.push(r?),
            None => continue,
        }
    }
    Ok(results)
}

fn progress_line(
    sweep: &Sweep,
    k: usize,
    total: usize,
    point: &[usize],
    seed: u64,
    r: &CliResult<RunResult>,
) {
    let what = match r {
        Ok(r) => match &r.outcome {
            Outcome::Reached => format!(
                "reached at {} {} ({} rounds)",
                table::num(r.cost.unwrap_or(f64::NAN)),
                sweep.target.x.name(),
                table::num(r.rounds.unwrap_or(f64::NAN))
            ),
            Outcome::NotReached => format!(
                "not reached (‖∇f‖² = {:.3e} after {} rounds)",
                r.grad_norm_sq.unwrap_or(f64::NAN),
                table::num(r.rounds.unwrap_or(f64::NAN))
            ),
            Outcome::Failed(m) => format!("failed: {m}"),
        },
        Err(f) => format!("error: {:#}", f.error),
    };
    crate::console::err_line(&format!(
        "[{k}/{total}] {} seed={seed}: {what}",
        table::describe_point(sweep, point)
    ));
}

/// One run, then its summary read back.
fn run_one(
    sweep: &Sweep,
    out: &Path,
    point: &[usize],
    seed: u64,
    run: &RunArgs,
) -> CliResult<RunResult> {
    let dir = run.out.clone().unwrap_or_default();
    let failed = match crate::run::run(run.clone()) {
        Ok(()) => None,
        Err(f) if f.code == USAGE => {
            return Err(usage(format!(
                "the run {} seed={seed}: {:#}",
                table::describe_point(sweep, point),
                f.error
            )));
        }
        Err(f) => Some(format!("{:#}", f.error)),
    };
    let summary: Option<serde_json::Value> = fs::read(dir.join(crate::output::SUMMARY))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let last = summary.as_ref().and_then(|s| s.get("last"));
    let field = |k: &str| {
        last.and_then(|l| l.get(k))
            .and_then(serde_json::Value::as_f64)
    };
    let reached = summary
        .as_ref()
        .and_then(|s| s.get("stop_reason"))
        .and_then(serde_json::Value::as_str)
        == Some("target_reached");
    let outcome = match failed {
        Some(m) => Outcome::Failed(m),
        None if reached => Outcome::Reached,
        None => Outcome::NotReached,
    };
    let cost = match outcome {
        Outcome::Reached => last.and_then(|l| sweep.target.x.read(l)),
        _ => None,
    };
    Ok(RunResult {
        dir: dir.strip_prefix(out).map_or(dir.clone(), Path::to_path_buf),
        point: point.to_vec(),
        seed,
        outcome,
        cost,
        rounds: field("round"),
        grad_norm_sq: field("grad_norm_sq"),
    })
}
