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
//! A method with several communication phases per round (`ServerMethod::phases`, PowerSGD's two
//! all-reduces) repeats 1–4 once per phase, decoding each phase's messages at that phase's
//! dimensions (`ServerMethod::phase_dims`).
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
//! ranks, which stop together with [`crate::EngineError::Agreed`] naming the rank. A rank that dies is
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

mod build;
mod comm;
mod frames;
mod gossip;
mod session;
mod star;

pub use build::build_mpi_engine;
pub use comm::{Comm, blocks};
pub use gossip::MpiGossipEngine;
pub use session::{MpiSession, launched_by_mpirun};
pub use star::MpiStarEngine;

/// Bytes of the fixed header of every frame on the wire (index u32 + length u32 for uplink and
/// gossip frames; a u64 length for the downlink broadcast).
pub const FRAME_HEADER_BYTES: u64 = 8;
