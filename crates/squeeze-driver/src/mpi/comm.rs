//! The world communicator ([`Comm`]): collectives, error agreement, the worker layout.

use std::ops::Range;
use std::sync::Arc;

use mpi::datatype::PartitionMut;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use super::FRAME_HEADER_BYTES;
use crate::engine::{EngineError, Metrics};

struct CommInner {
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    /// The thread that initialised MPI: the only one allowed to call it ("funneled").
    thread: std::thread::ThreadId,
}

// SAFETY: the communicator handle is an opaque pointer owned by the MPI library. MPI is
// initialised with `Threading::Funneled`, and every call through it goes through
// `Comm::world`, which checks that it runs on the thread that initialised MPI; `Send` and
// `Sync` are needed only because engines are `Send`.
unsafe impl Send for CommInner {}
// SAFETY: see above; no call is made concurrently.
unsafe impl Sync for CommInner {}

/// The world communicator, shared by the engine of this rank (cheap to clone).
#[derive(Clone)]
pub struct Comm {
    inner: Arc<CommInner>,
}

impl core::fmt::Debug for Comm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Comm(rank {} of {})", self.rank(), self.size())
    }
}

pub(super) fn count(n: usize) -> Result<mpi::Count, EngineError> {
    mpi::Count::try_from(n).map_err(|_| {
        EngineError::Transport(format!(
            "{n} elements in one MPI call exceed MPI's 32-bit counts (2³¹ − 1)"
        ))
    })
}

/// The layout of `counts[r]` elements from rank r, in rank order, as MPI takes it: the counts
/// and the displacements (every one, and the end, within MPI's 32-bit counts).
fn partition(counts: &[usize]) -> Result<(Vec<mpi::Count>, Vec<mpi::Count>), EngineError> {
    let counts: Vec<mpi::Count> = counts.iter().map(|&c| count(c)).collect::<Result<_, _>>()?;
    let mut at = 0usize;
    let displs = counts
        .iter()
        .map(|&c| {
            let d = count(at)?;
            at += c as usize;
            count(at)?;
            Ok(d)
        })
        .collect::<Result<_, EngineError>>()?;
    Ok((counts, displs))
}

/// A receive buffer split into one block per rank.
type RankBlocks<'a, T> = PartitionMut<'a, [T], Vec<mpi::Count>, Vec<mpi::Count>>;

/// Where a variable-count gather receives: `out` refilled with Σ_r `counts[r]` default
/// elements, laid out as `counts[r]` of them from rank r, in rank order ([`partition`]).
fn receive_layout<'a, T: Equivalence + Default + Clone>(
    counts: &[usize],
    out: &'a mut Vec<T>,
) -> Result<RankBlocks<'a, T>, EngineError> {
    let (counts_mpi, displs) = partition(counts)?;
    out.clear();
    out.resize(counts.iter().sum(), T::default());
    Ok(PartitionMut::new(&mut out[..], counts_mpi, displs))
}

impl Comm {
    pub(super) fn new(world: SimpleCommunicator) -> Self {
        let rank = world.rank() as usize;
        let size = world.size() as usize;
        Self {
            inner: Arc::new(CommInner {
                world,
                rank,
                size,
                thread: std::thread::current().id(),
            }),
        }
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.inner.rank
    }

    /// Number of ranks.
    pub fn size(&self) -> usize {
        self.inner.size
    }

    /// Whether this is rank 0 (the server's host and the writer of outputs).
    pub fn is_root(&self) -> bool {
        self.inner.rank == 0
    }

    /// Terminate every rank of the job (`MPI_Abort`) with `code`: for errors that the other
    /// ranks cannot learn about, so that nobody waits forever.
    pub fn abort(&self, code: i32) -> ! {
        self.world().abort(code)
    }

    /// Wait until every rank is here.
    pub fn barrier(&self) {
        self.world().barrier();
    }

    /// Rank 0's `value`, on every rank.
    pub fn root_value(&self, value: u64) -> u64 {
        let mut v = [value];
        self.bcast_u64s(&mut v);
        v[0]
    }

    /// The communicator, for a call into MPI.
    ///
    /// # Panics
    /// On any thread but the one that initialised MPI (MPI runs "funneled"; a call from another
    /// thread would be undefined behaviour, so this is a programming error, not a user input).
    pub(super) fn world(&self) -> &SimpleCommunicator {
        assert_eq!(
            std::thread::current().id(),
            self.inner.thread,
            "squeeze's MPI transport must be driven from the thread that initialised MPI"
        );
        &self.inner.world
    }

    /// Rank 0's `values`, on every rank.
    pub(super) fn bcast_u64s(&self, values: &mut [u64]) {
        self.world().process_at_rank(0).broadcast_into(values);
    }

    /// Rank 0's `flag`, on every rank.
    pub(super) fn root_flag(&self, flag: bool) -> bool {
        let mut v = [u64::from(flag)];
        self.bcast_u64s(&mut v);
        v[0] != 0
    }

    /// Rank 0's bytes, on every rank: an 8-byte length, then the payload. Returns the bytes
    /// that travelled (header included).
    pub(super) fn bcast_bytes(&self, buf: &mut Vec<u8>) -> Result<u64, EngineError> {
        let mut len = [buf.len() as u64];
        self.bcast_u64s(&mut len);
        let n = len[0] as usize;
        count(n)?;
        buf.resize(n, 0);
        if n > 0 {
            self.world().process_at_rank(0).broadcast_into(&mut buf[..]);
        }
        Ok(FRAME_HEADER_BYTES + n as u64)
    }

    /// One value from every rank, in rank order.
    pub(super) fn all_gather_one(&self, v: u64) -> Vec<u64> {
        let mut out = vec![0u64; self.size()];
        self.world().all_gather_into(&v, &mut out[..]);
        out
    }

    /// Concatenation of every rank's `local` (rank r contributes `counts[r]` values).
    pub(super) fn all_gather_u64s(
        &self,
        local: &[u64],
        counts: &[usize],
        out: &mut Vec<u64>,
    ) -> Result<(), EngineError> {
        let mut part = receive_layout(counts, out)?;
        self.world().all_gather_varcount_into(local, &mut part);
        Ok(())
    }

    /// Every rank's `local` concatenated on rank 0 (rank r contributes `counts[r]` elements);
    /// `out` is untouched elsewhere.
    pub(super) fn gather_to_root<T: Equivalence + Default + Clone>(
        &self,
        local: &[T],
        counts: &[usize],
        out: &mut Vec<T>,
    ) -> Result<(), EngineError> {
        let root = self.world().process_at_rank(0);
        if self.is_root() {
            let mut part = receive_layout(counts, out)?;
            root.gather_varcount_into_root(local, &mut part);
        } else {
            // Rank 0's check of the layout, so that every rank fails (or none) before the call.
            partition(counts)?;
            root.gather_varcount_into(local);
        }
        Ok(())
    }

    /// Share every rank's error (if any) with every rank: all ranks return the error of the
    /// lowest failing rank, so that they all stop at the same point.
    pub fn any_failed(&self, local: Option<String>) -> Result<(), EngineError> {
        // Length + 1 for an error (so that an empty message is still an error), 0 for none.
        let failed = local.is_some();
        let text = local.map(String::into_bytes).unwrap_or_default();
        let flags = self.all_gather_one(if failed { text.len() as u64 + 1 } else { 0 });
        if flags.iter().all(|&f| f == 0) {
            return Ok(());
        }
        let counts: Vec<usize> = flags
            .iter()
            .map(|&f| f.saturating_sub(1) as usize)
            .collect();
        let mut all = Vec::new();
        let mut part = receive_layout(&counts, &mut all)?;
        self.world().all_gather_varcount_into(&text[..], &mut part);
        let rank = flags.iter().position(|&f| f > 0).unwrap_or(0);
        let start: usize = counts[..rank].iter().sum();
        let detail = String::from_utf8_lossy(&all[start..start + counts[rank]]).into_owned();
        Err(EngineError::Agreed { rank, detail })
    }

    /// Rank 0's outcome (the other ranks pass `Ok`), on every rank.
    pub(super) fn root_outcome(&self, root: Result<(), String>) -> Result<(), EngineError> {
        // A leading '!' marks an error (so that an empty message is still one).
        let mut text = match (self.is_root(), root) {
            (true, Err(e)) => [b"!".as_slice(), e.as_bytes()].concat(),
            _ => Vec::new(),
        };
        self.bcast_bytes(&mut text)?;
        match text.split_first() {
            None => Ok(()),
            Some((_, detail)) => Err(EngineError::Agreed {
                rank: 0,
                detail: String::from_utf8_lossy(detail).into_owned(),
            }),
        }
    }

    /// Rank 0's metrics, computed there alone by `on_root` (or its error), on every rank.
    pub(super) fn root_metrics(
        &self,
        on_root: impl FnOnce() -> Result<Metrics, EngineError>,
    ) -> Result<Metrics, EngineError> {
        let (outcome, mut v) = match self.is_root().then(on_root) {
            Some(Ok(m)) => (Ok(()), [m.loss, m.grad_norm_sq, m.consensus_error]),
            Some(Err(e)) => (Err(e.to_string()), [0.0; 3]),
            // Rank 0's values win.
            None => (Ok(()), [0.0; 3]),
        };
        self.root_outcome(outcome)?;
        self.world().process_at_rank(0).broadcast_into(&mut v[..]);
        Ok(Metrics {
            loss: v[0],
            grad_norm_sq: v[1],
            consensus_error: v[2],
        })
    }

    /// Check that every rank has the same `fingerprint` of `what` (0 means "unknown on this
    /// rank" and is not compared).
    pub fn agree_on(&self, what: &str, fingerprint: u64) -> Result<(), EngineError> {
        let all = self.all_gather_one(fingerprint);
        let reference = all.iter().copied().find(|&f| f != 0).unwrap_or(0);
        let differing: Vec<String> = all
            .iter()
            .enumerate()
            .filter(|&(_, &f)| f != 0 && f != reference)
            .map(|(r, _)| r.to_string())
            .collect();
        if differing.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Transport(format!(
                "the {what} of rank(s) {} differs from the other ranks': start every rank with the same configuration file, the same --set overrides and the same data (and, to resume, the same checkpoint: a file system shared by the ranks)",
                differing.join(", ")
            )))
        }
    }
}

/// Contiguous blocks of `n` items over `size` ranks, in rank order (the first n mod size
/// ranks host one more).
///
/// ```
/// use squeeze_driver::mpi::blocks;
/// assert_eq!(blocks(10, 4), vec![0..3, 3..6, 6..8, 8..10]);
/// ```
pub fn blocks(n: usize, size: usize) -> Vec<Range<usize>> {
    let size = size.max(1);
    let (base, extra) = (n / size, n % size);
    let mut at = 0;
    (0..size)
        .map(|r| {
            let len = base + usize::from(r < extra);
            let b = at..at + len;
            at += len;
            b
        })
        .collect()
}

pub(super) fn check_layout(n: usize, comm: &Comm) -> Result<Vec<Range<usize>>, EngineError> {
    if n < comm.size() {
        return Err(EngineError::Transport(format!(
            "{n} workers on {} ranks: every rank hosts at least one worker; start at most {n} ranks (mpirun -np {n}) or raise problem.n_workers",
            comm.size()
        )));
    }
    Ok(blocks(n, comm.size()))
}
