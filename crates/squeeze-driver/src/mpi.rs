//! Real multi-process runs over MPI (feature `mpi`): the same engines, with the encoded messages
//! travelling between ranks as bytes.
//!
//! # Layout
//! The n workers (or gossip nodes) are split into contiguous blocks, one per rank, in rank
//! order (the first n mod size ranks host one more). Every rank loads the configuration and
//! the data and builds the full engine (the initialisation is deterministic, so every rank
//! computes the same initial states); afterwards a rank only advances the workers of its block,
//! and rank 0 alone advances the server. Metrics are computed on rank 0 from the full data and
//! broadcast, so every rank's executor takes the same decisions; only rank 0 writes outputs.
//!
//! # A round on the wire
//! Star methods ([`MpiStarEngine`]):
//! 1. rank 0 runs the server's `broadcast`, encodes the downlink, and `MPI_Bcast`s it as an
//!    8-byte length followed by the payload; the other ranks decode it;
//! 2. each rank runs its workers, encodes every uplink message as a **frame** — worker index
//!    (u32, little endian), payload length in bytes (u32), payload (the message's exact
//!    encoding, ⌈bits/8⌉ bytes) — and the frames of all ranks are gathered on rank 0 with
//!    `MPI_Gatherv` (rank 0's own frames included), where they are decoded and checked: the
//!    index and length must match, and the decoded message's `bits()` must round up to the
//!    payload length;
//! 3. every rank learns the per-worker counters (payload length, gradient samples, bits,
//!    entries, the two paper conventions, the AdaCGD level: 7 × u64 per worker, `MPI_Allgatherv`), so the
//!    counters and the stop rules agree everywhere;
//! 4. rank 0 absorbs the messages in worker order and tells the others whether that worked.
//!
//! Gossip methods ([`MpiGossipEngine`]): per phase, each rank runs its nodes' `send`, then sends
//! one buffer of frames to each rank that hosts a neighbour of one of its nodes (and receives
//! one from each rank hosting a neighbour of one of its nodes; non-blocking point-to-point),
//! decodes them into the message slots the nodes read, and runs its nodes' `receive`.
//!
//! # Measured bytes
//! [`Totals::wire_bytes_up`](crate::Totals) counts the bytes of the uplink (gossip: node-to-node)
//! frames as they were handed to MPI: Σ over messages of (8 + ⌈bits/8⌉) — every uplink message
//! for star methods (rank 0's own go through `MPI_Gatherv` too), and for gossip each message
//! once per *other* rank that hosts one of its node's neighbours (messages between nodes of one
//! rank never leave the process). `wire_bytes_down` counts each downlink broadcast as 8 + its
//! payload. The fixed per-message header is therefore [`FRAME_HEADER_BYTES`] = 8. Control
//! traffic (the counters, error agreement, metrics) is not included, and neither is the
//! initialisation: every rank computes it, so a counted init round (in `bits_up`) never travels.
//!
//! # Failures are loud
//! Every rank checks that all ranks run the same configuration (a fingerprint of the resolved
//! configuration) and that every rank could build the experiment, before the first round. An
//! error on one rank during a round (a diverged worker, a malformed frame) is shared with all
//! ranks, which stop together with [`EngineError::Agreed`] naming the rank. A rank that dies is
//! detected by `mpirun`, which terminates the job with a non-zero exit.
//!
//! # Equivalence
//! Same seed ⇒ the records (except wall time and the measured wire bytes, which are 0 in
//! process) equal the in-process run's bit for bit: a worker computes exactly what it computes
//! in process, the messages' encodings are exact, and the server absorbs in worker order.
//!
//! # Use
//! The `squeeze` CLI does all of this when it is started by `mpirun`; a program of its own
//! looks like this (every rank runs it; rank 0's executor gets the observers):
//!
//! ```no_run
//! use squeeze_driver::ExperimentConfig;
//! use squeeze_driver::executor::Collect;
//! use squeeze_driver::mpi::{MpiSession, build_mpi_engine};
//!
//! let cfg = ExperimentConfig::from_toml(r#"
//!     seed = 1
//!     [problem]
//!     n_workers = 8
//!     [method]
//!     name = "ef21"
//!     compressor = "top_k:k=1"
//!     [stop]
//!     max_rounds = 100
//! "#).unwrap();
//! let session = MpiSession::init().unwrap();
//! let comm = session.comm();
//! let mut engine = build_mpi_engine(&cfg, std::path::Path::new("."), comm).unwrap();
//! let mut records = Collect::default();
//! let summary = if comm.is_root() {
//!     cfg.executor(None).unwrap().run(engine.as_mut(), &mut [&mut records])
//! } else {
//!     cfg.executor(None).unwrap().run(engine.as_mut(), &mut [])
//! }
//! .unwrap();
//! assert_eq!(summary.last.round, 100); // on every rank
//! ```
//!
//! # Limitations
//! Every rank holds the full data and (stale) copies of the states of the workers it does not
//! host; checkpoint and resume need a file system shared by the ranks (rank 0 writes, every
//! rank reads). The engine must be driven from the thread that initialised MPI.

use std::ops::Range;
use std::sync::Arc;

use mpi::datatype::PartitionMut;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use squeeze_core::{BitWriter, Message, Scalar};
use squeeze_methods::{GossipMethod, ServerMethod};

use crate::config::{ConfigError, EngineTransport, ExperimentConfig};
use crate::engine::{Engine, EngineError, Metrics, StarEngine, Totals, WorkerCounts};
use crate::gossip::GossipEngine;

/// Bytes of the fixed header of every frame on the wire (index u32 + length u32 for uplink and
/// gossip frames; a u64 length for the downlink broadcast).
pub const FRAME_HEADER_BYTES: u64 = 8;

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

fn count(n: usize) -> Result<mpi::Count, EngineError> {
    mpi::Count::try_from(n).map_err(|_| {
        EngineError::Transport(format!(
            "{n} elements in one MPI call exceed MPI's 32-bit counts (2³¹ − 1)"
        ))
    })
}

fn displacements(counts: &[mpi::Count]) -> Result<Vec<mpi::Count>, EngineError> {
    let mut at = 0usize;
    counts
        .iter()
        .map(|&c| {
            let d = count(at)?;
            at += c as usize;
            count(at)?;
            Ok(d)
        })
        .collect()
}

impl Comm {
    fn new(world: SimpleCommunicator) -> Self {
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
    fn world(&self) -> &SimpleCommunicator {
        assert_eq!(
            std::thread::current().id(),
            self.inner.thread,
            "squeeze's MPI transport must be driven from the thread that initialised MPI"
        );
        &self.inner.world
    }

    /// Rank 0's `values`, on every rank.
    fn bcast_u64s(&self, values: &mut [u64]) {
        self.world().process_at_rank(0).broadcast_into(values);
    }

    /// Rank 0's `flag`, on every rank.
    fn root_flag(&self, flag: bool) -> bool {
        let mut v = [u64::from(flag)];
        self.bcast_u64s(&mut v);
        v[0] != 0
    }

    /// Rank 0's bytes, on every rank: an 8-byte length, then the payload. Returns the bytes
    /// that travelled (header included).
    fn bcast_bytes(&self, buf: &mut Vec<u8>) -> Result<u64, EngineError> {
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
    fn all_gather_one(&self, v: u64) -> Vec<u64> {
        let mut out = vec![0u64; self.size()];
        self.world().all_gather_into(&v, &mut out[..]);
        out
    }

    /// Concatenation of every rank's `local` (rank r contributes `counts[r]` values).
    fn all_gather_u64s(
        &self,
        local: &[u64],
        counts: &[usize],
        out: &mut Vec<u64>,
    ) -> Result<(), EngineError> {
        let counts: Vec<mpi::Count> = counts.iter().map(|&c| count(c)).collect::<Result<_, _>>()?;
        let displs = displacements(&counts)?;
        out.clear();
        out.resize(counts.iter().map(|&c| c as usize).sum(), 0);
        let mut part = PartitionMut::new(&mut out[..], &counts[..], &displs[..]);
        self.world().all_gather_varcount_into(local, &mut part);
        Ok(())
    }

    /// Every rank's `local` concatenated on rank 0 (rank r contributes `counts[r]` elements);
    /// `out` is untouched elsewhere.
    fn gather_to_root<T: Equivalence + Default + Clone>(
        &self,
        local: &[T],
        counts: &[usize],
        out: &mut Vec<T>,
    ) -> Result<(), EngineError> {
        let counts: Vec<mpi::Count> = counts.iter().map(|&c| count(c)).collect::<Result<_, _>>()?;
        let displs = displacements(&counts)?;
        let root = self.world().process_at_rank(0);
        if self.is_root() {
            out.clear();
            out.resize(counts.iter().map(|&c| c as usize).sum(), T::default());
            let mut part = PartitionMut::new(&mut out[..], &counts[..], &displs[..]);
            root.gather_varcount_into_root(local, &mut part);
        } else {
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
        let counts_i: Vec<mpi::Count> =
            counts.iter().map(|&c| count(c)).collect::<Result<_, _>>()?;
        let displs = displacements(&counts_i)?;
        all.resize(counts.iter().sum(), 0u8);
        let mut part = PartitionMut::new(&mut all[..], &counts_i[..], &displs[..]);
        self.world().all_gather_varcount_into(&text[..], &mut part);
        let rank = flags.iter().position(|&f| f > 0).unwrap_or(0);
        let start = displs[rank] as usize;
        let detail = String::from_utf8_lossy(&all[start..start + counts[rank]]).into_owned();
        Err(EngineError::Agreed { rank, detail })
    }

    /// Rank 0's outcome (the other ranks pass `Ok`), on every rank.
    fn root_outcome(&self, root: Result<(), String>) -> Result<(), EngineError> {
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

    /// Rank 0's metrics (or its error), on every rank.
    fn share_metrics(&self, root: Result<Metrics, EngineError>) -> Result<Metrics, EngineError> {
        let (outcome, mut v) = match root {
            Ok(m) => (Ok(()), [m.loss, m.grad_norm_sq, m.consensus_error]),
            Err(e) => (Err(e.to_string()), [0.0; 3]),
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

fn check_layout(n: usize, comm: &Comm) -> Result<Vec<Range<usize>>, EngineError> {
    if n < comm.size() {
        return Err(EngineError::Transport(format!(
            "{n} workers on {} ranks: every rank hosts at least one worker; start at most {n} ranks (mpirun -np {n}) or raise problem.n_workers",
            comm.size()
        )));
    }
    Ok(blocks(n, comm.size()))
}

/// FNV-1a, 64 bits (a stable fingerprint of the resolved configuration).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A fingerprint of the data file's contents (0 for built-in data or a file that cannot be
/// read: building the problem reports that).
fn data_fingerprint(cfg: &ExperimentConfig, base_dir: &std::path::Path) -> u64 {
    use crate::config::ProblemKind;
    let data = &cfg.problem.data;
    if ["embedded", "breast_cancer", "synthetic_a9a"].contains(&data.as_str())
        || !matches!(
            cfg.problem.kind,
            ProblemKind::Logreg | ProblemKind::LeastSquares
        )
    {
        return 0;
    }
    std::fs::read(base_dir.join(data)).map_or(0, |bytes| fnv1a(&bytes))
}

/// Build this rank's part of an MPI run of `cfg`: check that every rank runs the same
/// configuration, build the engine, and check that every rank could (a rank that cannot open
/// the data makes every rank fail with its message).
pub fn build_mpi_engine(
    cfg: &ExperimentConfig,
    base_dir: &std::path::Path,
    comm: &Comm,
) -> Result<Box<dyn Engine>, ConfigError> {
    // The data path may differ between machines; the data's contents are compared below.
    let mut without_path = cfg.clone();
    without_path.problem.data.clear();
    let resolved = toml::to_string(&without_path).map_err(|e| ConfigError::Parse(e.to_string()))?;
    comm.agree_on("configuration", fnv1a(resolved.as_bytes()))?;
    // The same path may hold different files on different machines.
    comm.agree_on("data file", data_fingerprint(cfg, base_dir))?;
    let built = cfg.build_engine_with(base_dir, cfg.run.threads, comm);
    match comm.any_failed(built.as_ref().err().map(|e| e.to_string())) {
        Ok(()) => built,
        // This rank's own error reads better than its agreed copy.
        Err(agreed) => Err(built.err().unwrap_or(ConfigError::Engine(agreed))),
    }
}

/// The MPI transport: a built engine becomes this rank's part of the run.
impl EngineTransport for Comm {
    fn star<S: Scalar, M: ServerMethod<S> + 'static>(
        &self,
        engine: StarEngine<S, M>,
    ) -> Result<Box<dyn Engine>, ConfigError> {
        Ok(Box::new(MpiStarEngine::new(engine, self.clone())?))
    }

    fn gossip<S: Scalar, M: GossipMethod<S> + 'static>(
        &self,
        engine: GossipEngine<S, M>,
    ) -> Result<Box<dyn Engine>, ConfigError> {
        Ok(Box::new(MpiGossipEngine::new(engine, self.clone())?))
    }
}

/// Append a frame (index, payload length, payload) for `msg` to `out`; returns the payload
/// length.
fn push_frame<S: Scalar>(
    out: &mut Vec<u8>,
    writer: &mut BitWriter,
    index: usize,
    msg: &Message<S>,
) -> Result<u64, EngineError> {
    writer.clear();
    msg.encode(writer);
    let payload = writer.finish();
    let len = u32::try_from(payload.len())
        .map_err(|_| EngineError::Transport(format!("message of {index} exceeds 4 GiB")))?;
    out.extend_from_slice(&(index as u32).to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(payload);
    Ok(u64::from(len))
}

/// Read the frame of item `index` (expected payload length `len`, reported `bits`) at the
/// start of `buf`; returns the message and the rest of the buffer.
fn read_frame<S: Scalar>(
    buf: &[u8],
    index: usize,
    len: u64,
    bits: u64,
    dim: usize,
) -> Result<(Message<S>, &[u8]), String> {
    let bad = |what: String| format!("malformed frame for worker/node {index}: {what}");
    if buf.len() < FRAME_HEADER_BYTES as usize {
        return Err(bad(format!("{} bytes left, no header", buf.len())));
    }
    let got_index = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let got_len = u64::from(u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]));
    if got_index != index || got_len != len {
        return Err(bad(format!(
            "header says item {got_index}, {got_len} bytes; expected item {index}, {len} bytes"
        )));
    }
    let rest = &buf[FRAME_HEADER_BYTES as usize..];
    if (rest.len() as u64) < len {
        return Err(bad(format!("{} payload bytes, expected {len}", rest.len())));
    }
    let (payload, rest) = rest.split_at(len as usize);
    let msg = Message::decode(payload, dim).map_err(|e| bad(e.to_string()))?;
    if msg.bits() != bits || msg.bits().div_ceil(8) != len {
        return Err(bad(format!(
            "decoded {} bits in {len} bytes, the sender reported {bits} bits",
            msg.bits()
        )));
    }
    Ok((msg, rest))
}

/// What ranks other than 0 contribute to [`Comm::share_metrics`] (rank 0's values win).
const NOT_ROOT: Metrics = Metrics {
    loss: 0.0,
    grad_norm_sq: 0.0,
    consensus_error: 0.0,
};

/// Per-worker counters shared by allgather: payload length, then [`WorkerCounts`].
const COUNTERS: usize = 7;

fn push_counters(out: &mut Vec<u64>, len: u64, c: &WorkerCounts) {
    out.extend_from_slice(&[
        len,
        c.grad_samples,
        c.bits,
        c.entries,
        c.bits_values32,
        c.bits_values64,
        c.level as u64,
    ]);
}

fn counters_at(all: &[u64], i: usize) -> (u64, WorkerCounts) {
    let c = &all[i * COUNTERS..(i + 1) * COUNTERS];
    (
        c[0],
        WorkerCounts {
            grad_samples: c[1],
            bits: c[2],
            entries: c[3],
            bits_values32: c[4],
            bits_values64: c[5],
            level: usize::try_from(c[6]).unwrap_or(usize::MAX),
        },
    )
}

/// Gather the states that each rank advances (its block of `all`) on rank 0: rank 0 gets
/// `Some(all states, current)` (or the reason they could not be read), the others `None`.
fn gather_states<T>(
    comm: &Comm,
    blocks: &[Range<usize>],
    all: &[T],
    what: &str,
) -> Result<Option<Result<Vec<T>, String>>, EngineError>
where
    T: Clone + serde::Serialize + serde::de::DeserializeOwned,
{
    let (bytes, err) = match serde_json::to_vec(&all[blocks[comm.rank()].clone()]) {
        Ok(b) => (b, None),
        Err(e) => (Vec::new(), Some(format!("{what} states: {e}"))),
    };
    comm.any_failed(err)?;
    let counts: Vec<usize> = comm
        .all_gather_one(bytes.len() as u64)
        .iter()
        .map(|&l| l as usize)
        .collect();
    let mut gathered = Vec::new();
    comm.gather_to_root(&bytes, &counts, &mut gathered)?;
    if !comm.is_root() {
        return Ok(None);
    }
    let mut states = all.to_vec();
    let mut at = 0;
    for (block, &len) in blocks.iter().zip(&counts) {
        match serde_json::from_slice::<Vec<T>>(&gathered[at..at + len]) {
            Ok(got) if got.len() == block.len() => states[block.clone()].clone_from_slice(&got),
            Ok(got) => {
                return Ok(Some(Err(format!(
                    "a rank sent {} {what} states for {} {what}s",
                    got.len(),
                    block.len()
                ))));
            }
            Err(e) => return Ok(Some(Err(format!("{what} states: {e}")))),
        }
        at += len;
    }
    Ok(Some(Ok(states)))
}

/// The engine's snapshot on rank 0 (`snapshot_with` applied to the states gathered from every
/// rank), or its error, decided for every rank; the other ranks return `null`.
fn snapshot_on_root<T>(
    comm: &Comm,
    blocks: &[Range<usize>],
    all: &[T],
    what: &str,
    snapshot_with: impl FnOnce(Vec<T>) -> Result<serde_json::Value, EngineError>,
) -> Result<serde_json::Value, EngineError>
where
    T: Clone + serde::Serialize + serde::de::DeserializeOwned,
{
    let (outcome, value) = match gather_states(comm, blocks, all, what)? {
        Some(Ok(states)) => match snapshot_with(states) {
            Ok(v) => (Ok(()), v),
            Err(e) => (Err(e.to_string()), serde_json::Value::Null),
        },
        Some(Err(e)) => (Err(e), serde_json::Value::Null),
        None => (Ok(()), serde_json::Value::Null),
    };
    comm.root_outcome(outcome)?;
    Ok(value)
}

/// Restore `snapshot` on every rank after checking that every rank read the same one (ranks
/// without a shared file system may hold different checkpoint files).
fn restore_everywhere(
    comm: &Comm,
    snapshot: &serde_json::Value,
    restore: impl FnOnce(&serde_json::Value) -> Result<(), EngineError>,
) -> Result<(), EngineError> {
    comm.agree_on("checkpoint", fnv1a(snapshot.to_string().as_bytes()))?;
    comm.any_failed(restore(snapshot).err().map(|e| e.to_string()))
}

/// The star engine over MPI: this rank's block of workers, and the server on rank 0.
pub struct MpiStarEngine<S: Scalar, M: ServerMethod<S>> {
    inner: StarEngine<S, M>,
    comm: Comm,
    blocks: Vec<Range<usize>>,
    writer: BitWriter,
    down_buf: Vec<u8>,
    frames: Vec<u8>,
    gathered: Vec<u8>,
    local_counters: Vec<u64>,
    counters: Vec<u64>,
}

impl<S: Scalar, M: ServerMethod<S>> core::fmt::Debug for MpiStarEngine<S, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MpiStarEngine")
            .field("inner", &self.inner)
            .field("comm", &self.comm)
            .finish()
    }
}

impl<S: Scalar, M: ServerMethod<S> + 'static> MpiStarEngine<S, M> {
    /// Run `engine` (built identically on every rank) as this rank's part of an MPI run.
    pub fn new(engine: StarEngine<S, M>, comm: Comm) -> Result<Self, EngineError> {
        let blocks = check_layout(engine.n_workers(), &comm)?;
        Ok(Self {
            inner: engine,
            comm,
            blocks,
            writer: BitWriter::new(),
            down_buf: Vec::new(),
            frames: Vec::new(),
            gathered: Vec::new(),
            local_counters: Vec::new(),
            counters: Vec::new(),
        })
    }

    fn mine(&self) -> Range<usize> {
        self.blocks[self.comm.rank()].clone()
    }

    fn counter_counts(&self) -> Vec<usize> {
        self.blocks.iter().map(|b| b.len() * COUNTERS).collect()
    }

    /// Phase 1: rank 0's downlink, decoded on the other ranks. Returns this rank's error.
    fn downlink(&mut self) -> Result<Option<String>, EngineError> {
        let d = self.inner.dim();
        let root = self.comm.is_root();
        let outcome = if root {
            self.inner.server_broadcast().map_err(|e| e.to_string())
        } else {
            Ok(())
        };
        self.comm.root_outcome(outcome)?;
        if root {
            self.writer.clear();
            self.inner.parts_mut().down.encode(&mut self.writer);
            self.down_buf.clear();
            self.down_buf.extend_from_slice(self.writer.finish());
        }
        let wire = self.comm.bcast_bytes(&mut self.down_buf)?;
        let parts = self.inner.parts_mut();
        parts.totals.wire_bytes_down += wire;
        if !root {
            match Message::decode(&self.down_buf, d) {
                Ok(m) => *parts.down = m,
                Err(e) => return Ok(Some(format!("malformed downlink: {e}"))),
            }
        }
        Ok(None)
    }
}

impl<S: Scalar, M: ServerMethod<S> + 'static> Engine for MpiStarEngine<S, M> {
    fn describe(&self) -> String {
        format!(
            "{} over MPI ({} ranks)",
            self.inner.describe(),
            self.comm.size()
        )
    }

    fn n_workers(&self) -> usize {
        self.inner.n_workers()
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn round(&mut self) -> Result<(), EngineError> {
        let root = self.comm.is_root();
        let mine = self.mine();
        let d = self.inner.dim();
        let mut local_err = self.downlink()?;
        if local_err.is_none() {
            self.inner.run_workers(mine.clone());
        }
        self.frames.clear();
        self.local_counters.clear();
        for i in mine.clone() {
            match self.inner.take_result(i) {
                Ok(samples) if local_err.is_none() => {
                    let up = &self.inner.parts_mut().ups[i];
                    let counts = WorkerCounts::of(up, samples);
                    match push_frame(&mut self.frames, &mut self.writer, i, up) {
                        Ok(len) => push_counters(&mut self.local_counters, len, &counts),
                        Err(e) => local_err = Some(e.to_string()),
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    local_err.get_or_insert_with(|| e.to_string());
                }
            }
        }
        self.comm.any_failed(local_err)?;
        let counter_counts = self.counter_counts();
        self.comm
            .all_gather_u64s(&self.local_counters, &counter_counts, &mut self.counters)?;
        let n = self.inner.n_workers();
        let frame_counts: Vec<usize> = self
            .blocks
            .iter()
            .map(|b| {
                b.clone()
                    .map(|i| FRAME_HEADER_BYTES as usize + self.counters[i * COUNTERS] as usize)
                    .sum()
            })
            .collect();
        self.comm
            .gather_to_root(&self.frames, &frame_counts, &mut self.gathered)?;
        for i in 0..n {
            let (len, counts) = counters_at(&self.counters, i);
            self.inner.charge(i, &counts);
            self.inner.parts_mut().totals.wire_bytes_up += FRAME_HEADER_BYTES + len;
        }
        let outcome = if root {
            // Decode the other ranks' frames (rank 0's own messages are already in place, and
            // its frames were checked on the way: they decode to the same messages).
            let mut decoded = Ok(());
            let mut buf = &self.gathered[..];
            for i in 0..n {
                let (len, counts) = counters_at(&self.counters, i);
                match read_frame::<S>(buf, i, len, counts.bits, d) {
                    Ok((msg, rest)) => {
                        buf = rest;
                        if !mine.contains(&i) {
                            self.inner.parts_mut().ups[i] = msg;
                        }
                    }
                    Err(e) => {
                        decoded = Err(e);
                        break;
                    }
                }
            }
            decoded.and_then(|()| self.inner.finish_round(true).map_err(|e| e.to_string()))
        } else {
            self.inner.finish_round(false).map_err(|e| e.to_string())
        };
        self.comm.root_outcome(outcome)
    }

    fn totals(&self) -> &Totals {
        self.inner.totals()
    }

    fn evaluate(&mut self) -> Result<Metrics, EngineError> {
        let metrics = if self.comm.is_root() {
            self.inner.evaluate()
        } else {
            Ok(NOT_ROOT)
        };
        self.comm.share_metrics(metrics)
    }

    /// The server's model: meaningful on rank 0 (other ranks do not advance the server).
    fn iterate_f64(&self) -> Vec<f64> {
        self.inner.iterate_f64()
    }

    /// Rank 0 gathers every rank's worker states and returns the whole snapshot; the other
    /// ranks return `null`.
    fn snapshot(&self) -> Result<serde_json::Value, EngineError> {
        snapshot_on_root(
            &self.comm,
            &self.blocks,
            self.inner.workers(),
            "worker",
            |w| self.inner.snapshot_with_workers(w),
        )
    }

    /// Every rank restores the whole snapshot (read from a shared file system).
    fn restore(&mut self, snapshot: &serde_json::Value) -> Result<(), EngineError> {
        restore_everywhere(&self.comm, snapshot, |s| self.inner.restore(s))
    }

    fn agree(&mut self, flag: bool) -> Result<bool, EngineError> {
        Ok(self.comm.root_flag(flag))
    }

    fn writes_outputs(&self) -> bool {
        self.comm.is_root()
    }
}

/// Who sends to whom in a gossip run: for each peer rank, the local nodes with a neighbour there
/// (sent) and its nodes with a neighbour here (received), both in node order.
#[derive(Debug, Clone)]
struct GossipPlan {
    send_to: Vec<Vec<usize>>,
    recv_from: Vec<Vec<usize>>,
    /// For each node, the number of other ranks hosting one of its neighbours.
    fanout: Vec<u64>,
}

impl GossipPlan {
    fn new(neighbours: &[Vec<usize>], blocks: &[Range<usize>], me: usize) -> Self {
        let n = neighbours.len();
        let mut rank_of = vec![0usize; n];
        for (r, b) in blocks.iter().enumerate() {
            for i in b.clone() {
                rank_of[i] = r;
            }
        }
        let size = blocks.len();
        // targets[i] = the other ranks hosting a neighbour of node i, sorted, distinct.
        let targets: Vec<Vec<usize>> = (0..n)
            .map(|i| {
                let mut t: Vec<usize> = neighbours[i]
                    .iter()
                    .map(|&j| rank_of[j])
                    .filter(|&r| r != rank_of[i])
                    .collect();
                t.sort_unstable();
                t.dedup();
                t
            })
            .collect();
        let mut send_to = vec![Vec::new(); size];
        let mut recv_from = vec![Vec::new(); size];
        for i in 0..n {
            for &r in &targets[i] {
                if rank_of[i] == me {
                    send_to[r].push(i);
                }
                if r == me {
                    recv_from[rank_of[i]].push(i);
                }
            }
        }
        let fanout = targets.iter().map(|t| t.len() as u64).collect();
        Self {
            send_to,
            recv_from,
            fanout,
        }
    }
}

/// A gossip engine over MPI: this rank's block of nodes; messages go to the ranks hosting
/// neighbours.
pub struct MpiGossipEngine<S: Scalar, M: GossipMethod<S>> {
    inner: GossipEngine<S, M>,
    comm: Comm,
    blocks: Vec<Range<usize>>,
    plan: GossipPlan,
    writer: BitWriter,
    /// This rank's encoded messages of the current phase, one frame per local node.
    frames: Vec<u8>,
    /// Where node i's frame starts in `frames` (local nodes only).
    frame_at: Vec<usize>,
    send_bufs: Vec<Vec<u8>>,
    recv_bufs: Vec<Vec<u8>>,
    local_counters: Vec<u64>,
    counters: Vec<u64>,
    xbar: Vec<f64>,
}

impl<S: Scalar, M: GossipMethod<S>> core::fmt::Debug for MpiGossipEngine<S, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MpiGossipEngine")
            .field("inner", &self.inner)
            .field("comm", &self.comm)
            .finish()
    }
}

impl<S: Scalar, M: GossipMethod<S> + 'static> MpiGossipEngine<S, M> {
    /// Run `engine` (built identically on every rank) as this rank's part of an MPI run.
    pub fn new(engine: GossipEngine<S, M>, comm: Comm) -> Result<Self, EngineError> {
        let n = engine.mixing().len();
        let blocks = check_layout(n, &comm)?;
        let neighbours: Vec<Vec<usize>> = engine
            .mixing()
            .iter()
            .map(|row| row.neighbours.iter().map(|&(j, _)| j).collect())
            .collect();
        let plan = GossipPlan::new(&neighbours, &blocks, comm.rank());
        let size = comm.size();
        Ok(Self {
            inner: engine,
            comm,
            blocks,
            plan,
            writer: BitWriter::new(),
            frames: Vec::new(),
            frame_at: vec![0; n],
            send_bufs: vec![Vec::new(); size],
            recv_bufs: vec![Vec::new(); size],
            local_counters: Vec::new(),
            counters: Vec::new(),
            xbar: Vec::new(),
        })
    }

    fn mine(&self) -> Range<usize> {
        self.blocks[self.comm.rank()].clone()
    }

    /// Fill the send buffers and size the receive buffers for [`Self::exchange`]; returns this
    /// rank's error (a buffer beyond MPI's counts) before any rank starts sending.
    fn prepare_exchange(&mut self) -> Option<String> {
        let frame_len =
            |c: &[u64], i: usize| FRAME_HEADER_BYTES as usize + c[i * COUNTERS] as usize;
        for (p, nodes) in self.plan.send_to.iter().enumerate() {
            let buf = &mut self.send_bufs[p];
            buf.clear();
            for &i in nodes {
                let at = self.frame_at[i];
                buf.extend_from_slice(&self.frames[at..at + frame_len(&self.counters, i)]);
            }
        }
        for (p, nodes) in self.plan.recv_from.iter().enumerate() {
            let len: usize = nodes.iter().map(|&j| frame_len(&self.counters, j)).sum();
            self.recv_bufs[p].clear();
            self.recv_bufs[p].resize(len, 0);
        }
        self.send_bufs
            .iter()
            .chain(&self.recv_bufs)
            .find_map(|b| count(b.len()).err())
            .map(|e| e.to_string())
    }

    /// Send this rank's frames to the ranks that need them and receive theirs (after
    /// [`Self::prepare_exchange`]); returns the received buffers' parse/decode error, if any.
    fn exchange(&mut self) -> Result<Option<String>, EngineError> {
        let me = self.comm.rank();
        let d = self.inner.dim();
        let world = self.comm.world();
        let plan = &self.plan;
        let send_bufs = &self.send_bufs;
        let recv_bufs = &mut self.recv_bufs;
        mpi::request::scope(|scope| {
            let mut requests = Vec::new();
            for (p, buf) in recv_bufs.iter_mut().enumerate() {
                if p != me && !plan.recv_from[p].is_empty() {
                    let r = world
                        .process_at_rank(p as mpi::Rank)
                        .immediate_receive_into(scope, &mut buf[..]);
                    requests.push(r);
                }
            }
            let mut sends = Vec::new();
            for (p, buf) in send_bufs.iter().enumerate() {
                if p != me && !plan.send_to[p].is_empty() {
                    let r = world
                        .process_at_rank(p as mpi::Rank)
                        .immediate_send(scope, &buf[..]);
                    sends.push(r);
                }
            }
            for r in requests {
                r.wait();
            }
            for r in sends {
                r.wait();
            }
        });
        let (outs, _, _) = self.inner.parts_mut();
        for (p, nodes) in self.plan.recv_from.iter().enumerate() {
            let mut buf = &self.recv_bufs[p][..];
            for &j in nodes {
                let (len, c) = counters_at(&self.counters, j);
                match read_frame::<S>(buf, j, len, c.bits, d) {
                    Ok((msg, rest)) => {
                        outs[j] = msg;
                        buf = rest;
                    }
                    Err(e) => return Ok(Some(format!("from rank {p}: {e}"))),
                }
            }
        }
        Ok(None)
    }
}

impl<S: Scalar, M: GossipMethod<S> + 'static> Engine for MpiGossipEngine<S, M> {
    fn describe(&self) -> String {
        format!(
            "{} over MPI ({} ranks)",
            self.inner.describe(),
            self.comm.size()
        )
    }

    fn n_workers(&self) -> usize {
        self.inner.n_workers()
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn round(&mut self) -> Result<(), EngineError> {
        let mine = self.mine();
        let n = self.inner.n_workers();
        let counter_counts: Vec<usize> = self.blocks.iter().map(|b| b.len() * COUNTERS).collect();
        let sample_counts: Vec<usize> = self.blocks.iter().map(|b| b.len()).collect();
        for phase in 0..self.inner.method().phases() {
            self.inner.send_phase(phase, mine.clone());
            let mut local_err = None;
            self.frames.clear();
            self.local_counters.clear();
            for i in mine.clone() {
                match self.inner.take_result(i) {
                    Ok(samples) if local_err.is_none() => {
                        let (outs, _, _) = self.inner.parts_mut();
                        let counts = WorkerCounts::of(&outs[i], samples);
                        self.frame_at[i] = self.frames.len();
                        match push_frame(&mut self.frames, &mut self.writer, i, &outs[i]) {
                            Ok(len) => push_counters(&mut self.local_counters, len, &counts),
                            Err(e) => local_err = Some(e.to_string()),
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        local_err.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            self.comm.any_failed(local_err)?;
            self.comm
                .all_gather_u64s(&self.local_counters, &counter_counts, &mut self.counters)?;
            for i in 0..n {
                let (len, counts) = counters_at(&self.counters, i);
                self.inner.charge_send(i, &counts);
                self.inner.parts_mut().2.wire_bytes_up +=
                    self.plan.fanout[i] * (FRAME_HEADER_BYTES + len);
            }
            let oversized = self.prepare_exchange();
            self.comm.any_failed(oversized)?;
            let received = self.exchange()?;
            self.comm.any_failed(received)?;
            self.inner.receive_phase(phase, mine.clone());
            let mut local_err = None;
            let mut samples = Vec::with_capacity(mine.len());
            for i in mine.clone() {
                match self.inner.take_result(i) {
                    Ok(s) => samples.push(s),
                    Err(e) => {
                        samples.push(0);
                        local_err.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            self.comm.any_failed(local_err)?;
            let mut all = Vec::new();
            self.comm
                .all_gather_u64s(&samples, &sample_counts, &mut all)?;
            self.inner.parts_mut().2.grad_samples += all.iter().sum::<u64>();
        }
        self.inner.parts_mut().2.rounds += 1;
        Ok(())
    }

    fn totals(&self) -> &Totals {
        self.inner.totals()
    }

    fn evaluate(&mut self) -> Result<Metrics, EngineError> {
        let d = self.inner.dim();
        let mine = self.mine();
        let mut local = Vec::with_capacity(mine.len() * d);
        for i in mine {
            let x = self.inner.node_iterate(i).unwrap_or(&[]);
            local.extend(x.iter().map(|v| v.to_f64()));
        }
        let counts: Vec<usize> = self.blocks.iter().map(|b| b.len() * d).collect();
        let mut all = Vec::new();
        self.comm.gather_to_root(&local, &counts, &mut all)?;
        let metrics = if self.comm.is_root() {
            // Widened to f64 and narrowed back: exact for f32 and f64 models.
            let models: Vec<Vec<S>> = all
                .chunks(d.max(1))
                .map(|c| c.iter().map(|&v| S::from_f64(v)).collect())
                .collect();
            let refs: Vec<&[S]> = models.iter().map(Vec::as_slice).collect();
            let m = self.inner.evaluate_with(&refs);
            self.xbar = self.inner.last_xbar().iter().map(|v| v.to_f64()).collect();
            m
        } else {
            Ok(NOT_ROOT)
        };
        self.comm.share_metrics(metrics)
    }

    /// x̄ at the last evaluation, on rank 0 (empty elsewhere).
    fn iterate_f64(&self) -> Vec<f64> {
        self.xbar.clone()
    }

    /// Rank 0 gathers every rank's node states and returns the whole snapshot; the other ranks
    /// return `null`.
    fn snapshot(&self) -> Result<serde_json::Value, EngineError> {
        snapshot_on_root(&self.comm, &self.blocks, self.inner.nodes(), "node", |n| {
            self.inner.snapshot_with_nodes(n)
        })
    }

    fn restore(&mut self, snapshot: &serde_json::Value) -> Result<(), EngineError> {
        restore_everywhere(&self.comm, snapshot, |s| self.inner.restore(s))
    }

    fn agree(&mut self, flag: bool) -> Result<bool, EngineError> {
        Ok(self.comm.root_flag(flag))
    }

    fn writes_outputs(&self) -> bool {
        self.comm.is_root()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_every_worker_once_in_order() {
        for n in 1..20 {
            for size in 1..=n {
                let b = blocks(n, size);
                assert_eq!(b.len(), size);
                assert_eq!(b[0].start, 0);
                assert_eq!(b[size - 1].end, n);
                for w in b.windows(2) {
                    assert_eq!(w[0].end, w[1].start);
                    assert!(w[0].len() >= w[1].len() && w[0].len() <= w[1].len() + 1);
                }
            }
        }
    }

    #[test]
    fn gossip_plan_on_a_ring_sends_only_across_block_borders() {
        // Ring of 8 on 2 ranks: {0..4} and {4..8}; 3–4 and 7–0 cross.
        let nb: Vec<Vec<usize>> = (0..8).map(|i| vec![(i + 7) % 8, (i + 1) % 8]).collect();
        let b = blocks(8, 2);
        let p0 = GossipPlan::new(&nb, &b, 0);
        assert_eq!(p0.send_to, vec![vec![], vec![0, 3]]);
        assert_eq!(p0.recv_from, vec![vec![], vec![4, 7]]);
        assert_eq!(p0.fanout, vec![1, 0, 0, 1, 1, 0, 0, 1]);
        let p1 = GossipPlan::new(&nb, &b, 1);
        assert_eq!(p1.send_to, vec![vec![4, 7], vec![]]);
        assert_eq!(p1.recv_from, vec![vec![0, 3], vec![]]);
    }

    #[test]
    fn frames_round_trip_and_reject_tampering() {
        let m = Message::<f32>::Sparse {
            dim: 10,
            indices: vec![2, 7],
            values: vec![1.5, -2.0],
        };
        let mut w = BitWriter::new();
        let mut buf = Vec::new();
        let len = push_frame(&mut buf, &mut w, 3, &m).unwrap();
        assert_eq!(buf.len() as u64, FRAME_HEADER_BYTES + len);
        assert_eq!(len, m.bits().div_ceil(8));
        let (back, rest) = read_frame::<f32>(&buf, 3, len, m.bits(), 10).unwrap();
        assert_eq!(back, m);
        assert!(rest.is_empty());
        assert!(read_frame::<f32>(&buf, 4, len, m.bits(), 10).is_err());
        assert!(read_frame::<f32>(&buf, 3, len, m.bits() + 1, 10).is_err());
        assert!(read_frame::<f32>(&buf[..buf.len() - 1], 3, len, m.bits(), 10).is_err());
        assert!(read_frame::<f32>(&buf[..5], 3, len, m.bits(), 10).is_err());
    }

    #[test]
    fn data_fingerprint_follows_the_file_contents() {
        let dir = std::env::temp_dir().join(format!("squeeze-mpi-fp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cfg = ExperimentConfig::from_toml(
            "[problem]\nn_workers = 2\n[method]\nname = \"gd\"\n[stop]\nmax_rounds = 1\n",
        )
        .unwrap();
        assert_eq!(data_fingerprint(&cfg, &dir), 0, "embedded data");
        cfg.problem.data = "d.svm".into();
        assert_eq!(data_fingerprint(&cfg, &dir), 0, "no file yet");
        std::fs::write(dir.join("d.svm"), "1 1:0.5\n").unwrap();
        let a = data_fingerprint(&cfg, &dir);
        std::fs::write(dir.join("d.svm"), "1 1:0.25\n").unwrap();
        let b = data_fingerprint(&cfg, &dir);
        assert!(a != 0 && b != 0 && a != b);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fingerprint_is_stable_and_sensitive() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(fnv1a(b"max_rounds = 10"), fnv1a(b"max_rounds = 11"));
    }
}
