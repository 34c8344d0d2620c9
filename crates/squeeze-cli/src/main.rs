//! `squeeze`: run compressed-communication experiments from TOML, plot their records, and list
//! the compressors and methods.
//!
//! ```text
//! squeeze run CONFIG.toml [--set key=value]... [--out DIR] [--threads N] [--resume] [--quiet]
//! squeeze plot RUN_DIR... [--x bits|rounds|grad_samples|bits32] [--y grad_norm_sq|loss] [--out STEM]
//! squeeze list [--dim D]
//! squeeze sweep SWEEP.toml [--out DIR] [--jobs N] [--threads N] [--dry-run] [--quiet]
//! squeeze config [SECTION] [--method NAME]
//! ```
//!
//! Exit codes: 0 success (also when stdout is closed by its reader); 2 for anything the user
//! can fix before the run starts (bad TOML, unknown key, method or compressor, missing or
//! oversized data, incompatible choices, bad `--set`, bad arguments, an output directory in use,
//! a refused resume); 1 for failures while running (divergence, I/O errors after the run
//! started, stdout errors). Every error is one line `error: …` on stderr that says what to
//! change; nothing panics. The library crates never print; this binary is the only place that
//! does.

mod config_ref;
mod console;
mod fail;
mod job;
mod list;
mod lock;
#[cfg(feature = "mpi")]
mod mpi_run;
mod output;
mod overrides;
mod plot;
mod resume;
mod run;
mod sweep;
mod threads;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::fail::Failure;

#[derive(Debug, Parser)]
#[command(
    name = "squeeze",
    version,
    about = "Compressed-communication distributed optimisation experiments",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the experiment described by a TOML file and write its records.
    Run(job::RunArgs),
    /// Plot ‖∇f‖² (or the loss) of one or more runs into SVG and PNG.
    Plot(plot::PlotArgs),
    /// List the compressors (with parameters and classes) and the methods.
    List(list::ListArgs),
    /// Run a grid (multipliers, K, ζ, … × seeds) of one configuration and tabulate what
    /// reaching a tolerance costs per cell, with the spread over seeds.
    Sweep(sweep::SweepArgs),
    /// Print the configuration reference (every key: type, default, meaning, example) as markdown.
    Config(config_ref::ConfigArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    let result = match cli.command {
        Command::Run(args) => run_command(args),
        Command::Plot(args) => plot::plot(args),
        Command::List(args) => list::list(args),
        Command::Sweep(args) => sweep::sweep(args),
        Command::Config(args) => config_ref::config(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => report(f),
    }
}

/// `squeeze run`: as one rank of an MPI job when started by `mpirun` (feature `mpi`), else in
/// this process.
fn run_command(args: job::RunArgs) -> fail::CliResult {
    #[cfg(feature = "mpi")]
    if squeeze_driver::mpi::launched_by_mpirun() {
        return mpi_run::run(args);
    }
    run::run(args)
}

fn report(f: Failure) -> ExitCode {
    if console::is_broken_pipe(&f) {
        return ExitCode::SUCCESS;
    }
    fail::print(&f);
    ExitCode::from(f.code)
}

/// clap's own messages span several lines (tips, usage); fold them into one.
fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // Help goes to stdout and is not an error (except when a subcommand is missing).
            let code = if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                2
            } else {
                0
            };
            let _ = e.print();
            ExitCode::from(code)
        }
        _ => {
            let text = e.render().to_string();
            let mut parts: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more"))
                .collect();
            if let Some(first) = parts.first_mut() {
                *first = first.strip_prefix("error: ").unwrap_or(first);
            }
            let mut line = String::new();
            for p in parts {
                if !line.is_empty() {
                    line.push_str(if line.ends_with(':') { " " } else { "; " });
                }
                line.push_str(p);
            }
            console::err_line(&format!(
                "error: {line}; see `squeeze --help` or `squeeze <COMMAND> --help`"
            ));
            ExitCode::from(2)
        }
    }
}
