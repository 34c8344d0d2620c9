//! `squeeze run` as one rank of an MPI job (feature `mpi`; chosen automatically when the
//! process was started by `mpirun`).
//!
//! Every rank reads the configuration and the data; rank 0 hosts the server, writes the
//! outputs and prints. Errors are shared so that every rank stops at the same point: rank 0
//! reports them and every rank exits with the same code. An error that the other ranks cannot
//! learn about (a rank that cannot read a checkpoint that the others can) is printed by its rank,
//! which then aborts the whole job (`MPI_Abort`) rather than leave the others waiting.

use squeeze_driver::EngineError;
use squeeze_driver::executor::ExecError;
use squeeze_driver::mpi::{Comm, MpiSession, build_mpi_engine};

use crate::fail::{CliResult, Failure, runtime};
use crate::job::{self, RunArgs};
use crate::output::{self, Start};

/// Whether every rank already knows about this error (so no abort is needed).
fn agreed_exec(e: &ExecError) -> bool {
    // Divergence is decided from a record, and every rank has the same records.
    matches!(
        e,
        ExecError::Engine(EngineError::Agreed { .. })
            | ExecError::Diverged { .. }
            | ExecError::Exploded { .. }
    )
}

/// Leave after an error every rank knows about: rank 0 reports it, then every rank waits for
/// that (a barrier: mpirun stops the whole job as soon as one rank exits with an error, which
/// could otherwise cut rank 0 off before it prints) and exits with the same code.
fn leave(session: MpiSession, failure: Failure) -> CliResult {
    let comm = session.comm();
    if comm.is_root() {
        crate::fail::print(&failure);
    }
    // Rank 0's exit code everywhere: mpirun reports whichever rank exits first.
    let code = comm.root_value(u64::from(failure.code));
    comm.barrier();
    drop(session);
    std::process::exit(i32::try_from(code).unwrap_or(1))
}

/// Leave after an error only this rank knows about: print it and abort the job.
fn abort(comm: &Comm, failure: Failure) -> ! {
    crate::console::err_line(&format!(
        "error: rank {}: {}",
        comm.rank(),
        crate::fail::shorten_numbers(&crate::fail::one_line(&format!("{:#}", failure.error)))
    ));
    comm.abort(i32::from(failure.code))
}

/// How a rank that does not write the outputs starts.
fn start_elsewhere(args: &RunArgs) -> Start {
    if args.resume {
        Start::Checkpoint
    } else {
        Start::Fresh
    }
}

/// This rank's part of `squeeze run`.
pub fn run(args: RunArgs) -> CliResult {
    let session = MpiSession::init().map_err(runtime)?;
    let comm = session.comm().clone();
    // 1. Every rank reads and checks the configuration and the data path; one failing rank
    //    (a missing file, a bad --set) stops them all.
    let job = job::prepare(&args);
    let local = job.as_ref().err().map(|f| format!("{:#}", f.error));
    let job = match (comm.any_failed(local), job) {
        (Ok(()), Ok(job)) => job,
        // This rank's own error reads better than its agreed copy.
        (_, Err(own)) => return leave(session, own),
        (Err(agreed), Ok(_)) => return leave(session, crate::fail::usage(agreed)),
    };
    // 2. Same configuration everywhere, then the engine (every rank loads the data).
    let mut engine = match build_mpi_engine(&job.cfg, &job.base, &comm) {
        Ok(e) => e,
        // Every rank has an error here (its own, or the one it learnt from another rank).
        Err(e) => return leave(session, job.cfg_error(&e)),
    };
    // 3. Rank 0 prepares the output directory.
    let opened = if comm.is_root() {
        // The checkpoint is restored by every rank when the run starts (a collective).
        Some(output::open_outputs(&job, &args, engine.as_mut(), false))
    } else {
        None
    };
    let local = match &opened {
        Some(Err(f)) => Some(format!("{:#}", f.error)),
        _ => None,
    };
    if let Err(agreed) = comm.any_failed(local) {
        let failure = match opened {
            Some(Err(f)) => f,
            _ => crate::fail::usage(agreed),
        };
        return leave(session, failure);
    }
    // 4. The run: rank 0 observes and writes; the others only compute.
    match opened {
        Some(Ok((mut output, start))) => {
            let result = job::execute(&job, engine.as_mut(), &mut [&mut output], start);
            // A failure of the run itself is known to every rank; a failure to write the
            // summary afterwards is rank 0's alone (the others have finished).
            let agreed = matches!(&result, Err(e) if agreed_exec(e));
            let outcome = output::finish(&job, &args, &mut output, result);
            // Release the output directory's lock before leaving (`leave` exits the process).
            drop(output);
            match outcome {
                Ok(()) => Ok(()),
                Err(f) if agreed => leave(session, f),
                Err(f) => abort(&comm, f),
            }
        }
        _ => match job::execute(&job, engine.as_mut(), &mut [], start_elsewhere(&args)) {
            Ok(_) => Ok(()),
            Err(e) if agreed_exec(&e) => leave(
                session,
                Failure {
                    code: job::exec_error_code(&e),
                    error: anyhow::anyhow!("{e}"),
                },
            ),
            Err(e) => abort(
                &comm,
                Failure {
                    code: job::exec_error_code(&e),
                    error: anyhow::anyhow!("{e}"),
                },
            ),
        },
    }
}
