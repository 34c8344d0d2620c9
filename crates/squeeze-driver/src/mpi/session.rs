//! Starting and finishing MPI: [`MpiSession`], and whether `mpirun` started this process.

use super::comm::Comm;
use crate::engine::EngineError;

/// Whether this process was started by `mpirun`/`mpiexec` (OpenMPI, MPICH or PMIx variables).
pub fn launched_by_mpirun() -> bool {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

/// An initialised MPI environment: MPI is finalised when it is dropped.
pub struct MpiSession {
    // Dropped after `comm` (fields drop in order): MPI_Finalize comes last.
    comm: Comm,
    _universe: mpi::environment::Universe,
}

impl core::fmt::Debug for MpiSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MpiSession")
            .field("rank", &self.comm.rank())
            .field("size", &self.comm.size())
            .finish()
    }
}

impl MpiSession {
    /// Initialise MPI (once per process; "funneled": only this thread calls MPI).
    pub fn init() -> Result<Self, EngineError> {
        let (universe, level) = mpi::initialize_with_threading(mpi::Threading::Funneled)
            .ok_or_else(|| {
                EngineError::Transport("MPI was already initialised in this process".into())
            })?;
        if level < mpi::Threading::Funneled {
            return Err(EngineError::Transport(format!(
                "the MPI library grants thread level {level:?}; squeeze needs Funneled (worker threads that do not call MPI)"
            )));
        }
        let world = universe.world();
        Ok(Self {
            comm: Comm::new(world),
            _universe: universe,
        })
    }

    /// The world communicator.
    pub fn comm(&self) -> &Comm {
        &self.comm
    }
}
