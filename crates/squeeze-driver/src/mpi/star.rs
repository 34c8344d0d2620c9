//! [`MpiStarEngine`]: a star engine whose workers are spread over the ranks.

use std::ops::Range;

use squeeze_core::{BitWriter, Message, Scalar};
use squeeze_methods::ServerMethod;

use super::FRAME_HEADER_BYTES;
use super::comm::*;
use super::frames::*;
use crate::engine::{Engine, EngineError, Metrics, StarEngine, Totals, WorkerCounts};

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

    /// Step 1 of phase `phase`: rank 0's downlink, decoded on the other ranks (as a message of
    /// the phase's downlink dimension). Returns this rank's error.
    fn downlink(&mut self, phase: usize) -> Result<Option<String>, EngineError> {
        let d = self.inner.method().phase_dims(self.inner.dim(), phase).0;
        let root = self.comm.is_root();
        let outcome = if root {
            self.inner
                .server_broadcast(phase)
                .map_err(|e| e.to_string())
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

    /// One communication phase of a round: the downlink, this rank's workers, the gathered
    /// uplink frames (decoded at the phase's uplink dimension) and rank 0's absorb.
    fn phase(&mut self, phase: usize) -> Result<(), EngineError> {
        let root = self.comm.is_root();
        let mine = self.mine();
        let d = self.inner.method().phase_dims(self.inner.dim(), phase).1;
        let mut local_err = self.downlink(phase)?;
        if local_err.is_none() {
            self.inner.run_workers(mine.clone(), phase);
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
            decoded.and_then(|()| {
                self.inner
                    .finish_phase(phase, true)
                    .map_err(|e| e.to_string())
            })
        } else {
            self.inner
                .finish_phase(phase, false)
                .map_err(|e| e.to_string())
        };
        self.comm.root_outcome(outcome)
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

    fn stepsize(&self) -> Option<squeeze_methods::StepsizeReport> {
        self.inner.stepsize()
    }

    fn n_workers(&self) -> usize {
        self.inner.n_workers()
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn round(&mut self) -> Result<(), EngineError> {
        for phase in 0..self.inner.method().phases() {
            self.phase(phase)?;
        }
        self.inner.end_round();
        Ok(())
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
