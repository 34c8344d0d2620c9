//! The wire format between ranks: frames (index, length, payload), per-worker counters,
//! this rank's part of a run ([`RankPart`]), and gathering / restoring states for checkpoints.

use std::ops::Range;

use squeeze_core::{BitWriter, Message, Scalar};
use squeeze_methods::MethodError;

use super::FRAME_HEADER_BYTES;
use super::comm::*;
use crate::engine::{EngineError, WorkerCounts};

/// This rank's part of a run of n items (workers or nodes): the communicator, every rank's
/// block of items, and one phase's frames of this rank's outgoing messages with every item's
/// counters (the state the star and gossip engines over MPI share).
#[derive(Debug)]
pub(super) struct RankPart {
    pub(super) comm: Comm,
    /// Rank r's items, for every rank r (contiguous, in rank order: [`blocks`]).
    pub(super) blocks: Vec<Range<usize>>,
    pub(super) writer: BitWriter,
    /// This rank's encoded messages of the current phase, one frame per local item.
    pub(super) frames: Vec<u8>,
    /// Where item i's frame starts in `frames` (local items only).
    pub(super) frame_at: Vec<usize>,
    local_counters: Vec<u64>,
    /// Every item's counters of the current phase ([`COUNTERS`] per item, in item order).
    pub(super) counters: Vec<u64>,
}

impl RankPart {
    /// This rank's part of a run of `n` items on `comm`'s ranks (every rank hosts one or more).
    pub(super) fn new(n: usize, comm: Comm) -> Result<Self, EngineError> {
        Ok(Self {
            blocks: check_layout(n, &comm)?,
            comm,
            writer: BitWriter::new(),
            frames: Vec::new(),
            frame_at: vec![0; n],
            local_counters: Vec::new(),
            counters: Vec::new(),
        })
    }

    /// This rank's items.
    pub(super) fn mine(&self) -> Range<usize> {
        self.blocks[self.comm.rank()].clone()
    }

    /// `inner` (the engine's own description) with the number of ranks.
    pub(super) fn describe(&self, inner: &str) -> String {
        format!("{inner} over MPI ({} ranks)", self.comm.size())
    }

    /// Item `i`'s payload length and counts of the current phase.
    pub(super) fn counters_at(&self, i: usize) -> (u64, WorkerCounts) {
        counters_at(&self.counters, i)
    }

    /// The bytes of item `i`'s frame of the current phase (header and payload).
    pub(super) fn frame_len(&self, i: usize) -> usize {
        FRAME_HEADER_BYTES as usize + self.counters[i * COUNTERS] as usize
    }

    /// After a step of this rank's items (star workers or gossip nodes), whose results (item
    /// i's gradient work in samples, or its error) are taken out of `results[i]` and whose
    /// outgoing messages are `outs[i]`: frame the messages (unless an item or `local_err`,
    /// this rank's error so far, failed), agree with every rank on the first error, and share
    /// every item's counters with every rank.
    pub(super) fn frame_and_share<S: Scalar>(
        &mut self,
        results: &mut [Result<u64, MethodError>],
        outs: &[Message<S>],
        mut local_err: Option<String>,
    ) -> Result<(), EngineError> {
        self.frames.clear();
        self.local_counters.clear();
        for i in self.mine() {
            match std::mem::replace(&mut results[i], Ok(0)) {
                Ok(samples) if local_err.is_none() => {
                    let msg = &outs[i];
                    let counts = WorkerCounts::of(msg, samples);
                    self.frame_at[i] = self.frames.len();
                    match push_frame(&mut self.frames, &mut self.writer, i, msg) {
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
        let counts: Vec<usize> = self.blocks.iter().map(|b| b.len() * COUNTERS).collect();
        self.comm
            .all_gather_u64s(&self.local_counters, &counts, &mut self.counters)
    }
}

/// Append a frame (index, payload length, payload) for `msg` to `out`; returns the payload
/// length.
pub(super) fn push_frame<S: Scalar>(
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
pub(super) fn read_frame<S: Scalar>(
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

/// Per-worker counters shared by allgather: payload length, then [`WorkerCounts`].
pub(super) const COUNTERS: usize = 7;

pub(super) fn push_counters(out: &mut Vec<u64>, len: u64, c: &WorkerCounts) {
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

pub(super) fn counters_at(all: &[u64], i: usize) -> (u64, WorkerCounts) {
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

impl RankPart {
    /// Gather the states that each rank advances (its block of `all`) on rank 0: rank 0 gets
    /// `Some(all states, current)` (or the reason they could not be read), the others `None`.
    fn gather_states<T>(
        &self,
        all: &[T],
        what: &str,
    ) -> Result<Option<Result<Vec<T>, String>>, EngineError>
    where
        T: Clone + serde::Serialize + serde::de::DeserializeOwned,
    {
        let comm = &self.comm;
        let (bytes, err) = match serde_json::to_vec(&all[self.mine()]) {
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
        for (block, &len) in self.blocks.iter().zip(&counts) {
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

    /// The engine's snapshot on rank 0 (`snapshot_with` applied to the states gathered from
    /// every rank), or its error, decided for every rank; the other ranks return `null`.
    pub(super) fn snapshot<T>(
        &self,
        all: &[T],
        what: &str,
        snapshot_with: impl FnOnce(Vec<T>) -> Result<serde_json::Value, EngineError>,
    ) -> Result<serde_json::Value, EngineError>
    where
        T: Clone + serde::Serialize + serde::de::DeserializeOwned,
    {
        let (outcome, value) = match self.gather_states(all, what)? {
            Some(Ok(states)) => match snapshot_with(states) {
                Ok(v) => (Ok(()), v),
                Err(e) => (Err(e.to_string()), serde_json::Value::Null),
            },
            Some(Err(e)) => (Err(e), serde_json::Value::Null),
            None => (Ok(()), serde_json::Value::Null),
        };
        self.comm.root_outcome(outcome)?;
        Ok(value)
    }

    /// Restore `snapshot` on every rank after checking that every rank read the same one
    /// (ranks without a shared file system may hold different checkpoint files).
    pub(super) fn restore(
        &self,
        snapshot: &serde_json::Value,
        restore: impl FnOnce(&serde_json::Value) -> Result<(), EngineError>,
    ) -> Result<(), EngineError> {
        let comm = &self.comm;
        comm.agree_on("checkpoint", fnv1a(snapshot.to_string().as_bytes()))?;
        comm.any_failed(restore(snapshot).err().map(|e| e.to_string()))
    }
}

/// What the star and gossip engines over MPI declare alike around their fields `inner` (the
/// in-process engine, which every rank builds in full) and `part` (this rank's [`RankPart`]).
///
/// `rank_engine!(debug Name: Bound)` is the `Debug` impl of `Name<S, M: Bound<S>>` (`inner`
/// and the communicator). `rank_engine!(methods)`, inside the `Engine` impl, are the
/// [`Engine`](crate::engine::Engine) methods answered alike: the description with the number
/// of ranks, the sizes and totals of `inner`, restoring a snapshot on every rank after checking
/// that every rank read the same one, agreement on a flag through rank 0, and rank 0 alone
/// writing outputs.
macro_rules! rank_engine {
    (debug $name:ident: $bound:ident) => {
        impl<S: Scalar, M: $bound<S>> core::fmt::Debug for $name<S, M> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("inner", &self.inner)
                    .field("comm", &self.part.comm)
                    .finish()
            }
        }
    };
    (methods) => {
        fn describe(&self) -> String {
            self.part.describe(&self.inner.describe())
        }

        fn n_workers(&self) -> usize {
            self.inner.n_workers()
        }

        fn dim(&self) -> usize {
            self.inner.dim()
        }

        fn totals(&self) -> &Totals {
            self.inner.totals()
        }

        /// Every rank restores the whole snapshot (read from a shared file system).
        fn restore(&mut self, snapshot: &serde_json::Value) -> Result<(), EngineError> {
            self.part.restore(snapshot, |s| self.inner.restore(s))
        }

        fn agree(&mut self, flag: bool) -> Result<bool, EngineError> {
            Ok(self.part.comm.root_flag(flag))
        }

        fn writes_outputs(&self) -> bool {
            self.part.comm.is_root()
        }
    };
}
pub(super) use rank_engine;

/// FNV-1a, 64 bits (a stable fingerprint of the resolved configuration).
pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
