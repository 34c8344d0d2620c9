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

use crate::fail::{CliResult, Failure, runtime, usage};
use crate::job::{self, RunArgs};
use crate::output::{self, CHECKPOINT, Start};

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

/// Share this rank's outcome of a step with every rank: `Ok` only when no rank failed. A rank
/// that failed keeps its own error (it reads better than the agreed copy); the others get the
/// agreed one. Ranks without a part in the step pass `None`.
fn share<T>(comm: &Comm, local: Option<CliResult<T>>) -> Result<Option<T>, Failure> {
    let message = match &local {
        Some(Err(f)) => Some(format!("{:#}", f.error)),
        _ => None,
    };
    match (comm.any_failed(message), local) {
        (_, Some(Err(own))) => Err(own),
        (Err(agreed), _) => Err(usage(agreed)),
        (Ok(()), Some(Ok(value))) => Ok(Some(value)),
        (Ok(()), None) => Ok(None),
    }
}

/// Every rank reads the same checkpoint file (ranks without a shared file system may hold
/// different ones): agreed before the restore, so that every rank takes the same path through
/// it and none waits alone in a collective.
fn same_checkpoint_everywhere(comm: &Comm, job: &job::Job) -> Result<(), Failure> {
    use std::hash::{Hash, Hasher};
    let path = job.out.join(CHECKPOINT);
    let hash = std::fs::read(&path).map(|bytes| {
        let mut h = std::hash::DefaultHasher::new();
        bytes.hash(&mut h);
        h.finish()
    });
    let local = hash.as_ref().err().map(|e| {
        format!(
            "--resume: cannot read {} ({e}); nothing was changed",
            path.display()
        )
    });
    comm.any_failed(local).map_err(usage)?;
    comm.agree_on("checkpoint file", hash.unwrap_or_default())
        .map_err(|e| usage(format!("--resume: {e}; nothing was changed")))
}

/// This rank's part of `squeeze run`.
pub fn run(args: RunArgs) -> CliResult {
    let session = MpiSession::init().map_err(runtime)?;
    let comm = session.comm().clone();
    // 1. Every rank reads and checks the configuration and the data path; one failing rank
    //    (a missing file, a bad --set) stops them all.
    let job = share(&comm, Some(job::prepare(&args)))
        .and_then(|job| job.ok_or_else(|| runtime("internal: no job prepared")));
    let job = match job {
        Ok(job) => job,
        Err(f) => return leave(session, f),
    };
    // 2. Same configuration everywhere, then the engine (every rank loads the data).
    let mut engine = match build_mpi_engine(&job.cfg, &job.base, &comm) {
        Ok(e) => e,
        // Every rank has an error here (its own, or the one it learnt from another rank).
        Err(e) => return leave(session, job.cfg_error(&e)),
    };
    // 3. Nothing in the output directory changes until every rank is ready: rank 0 takes and
    //    checks it; for a resume every rank then restores the same checkpoint (a collective);
    //    only then does rank 0 trim the records and open the outputs.
    let root = comm.is_root();
    let prepared = match share(&comm, root.then(|| output::prepare_outputs(&job, &args))) {
        Ok(p) => p,
        Err(f) => return leave(session, f),
    };
    let restored = if args.resume {
        let restored = same_checkpoint_everywhere(&comm, &job)
            .and_then(|()| share(&comm, Some(output::restore(&job, engine.as_mut()))));
        match restored {
            Ok(state) => state,
            Err(f) => return leave(session, f),
        }
    } else {
        None
    };
    let committed = prepared.map(|p| {
        output::commit_outputs(
            &job,
            &args,
            output::RunMeta::of(&job, engine.as_ref()),
            p,
            restored.as_ref(),
        )
    });
    let output = match share(&comm, committed) {
        Ok(o) => o,
        Err(f) => return leave(session, f),
    };
    let start = restored.map_or(Start::Fresh, Start::Restored);
    // 4. The run: rank 0 observes and writes; the others only compute.
    match output {
        Some(mut output) => {
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
        None => match job::execute(&job, engine.as_mut(), &mut [], start) {
            Ok(_) => Ok(()),
            Err(e) => {
                let failure = Failure {
                    code: job::exec_error_code(&e),
                    error: anyhow::anyhow!("{e}"),
                };
                if agreed_exec(&e) {
                    leave(session, failure)
                } else {
                    abort(&comm, failure)
                }
            }
        },
    }
}
