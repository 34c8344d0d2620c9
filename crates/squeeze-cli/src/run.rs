//! `squeeze run` in this process (`main` sends runs started by `mpirun` to `mpi_run`).

use crate::fail::CliResult;
#[cfg(not(feature = "mpi"))]
use crate::fail::usage;
use crate::job::{RunArgs, execute, prepare};
use crate::output::{finish, open_outputs};

/// Run `squeeze run` in this process.
pub fn run(args: RunArgs) -> CliResult {
    #[cfg(not(feature = "mpi"))]
    if let Some(size) = mpirun_world_size()
        && size > 1
    {
        return Err(usage(format!(
            "started by mpirun as one of {size} ranks, but this squeeze was built without MPI \
             support (every rank would run the whole experiment alone): rebuild with \
             `cargo build --release -p squeeze-cli --features mpi`, or run without mpirun"
        )));
    }
    let mut job = prepare(&args)?;
    if let Some(note) =
        crate::threads::cap_to_cores(&mut job.cfg, crate::threads::available_cores())
        && !args.quiet
    {
        crate::console::err_line(&note);
    }
    let mut engine = job
        .cfg
        .build_engine(&job.base)
        .map_err(|e| job.cfg_error(&e))?;
    let (mut output, start) = open_outputs(&job, &args, engine.as_mut())?;
    let result = execute(&job, engine.as_mut(), &mut [&mut output], start);
    finish(&job, &args, &mut output, result)
}

/// The world size announced by mpirun (OpenMPI or MPICH variables), if any.
#[cfg(not(feature = "mpi"))]
fn mpirun_world_size() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .and_then(|v| v.trim().parse().ok())
}
