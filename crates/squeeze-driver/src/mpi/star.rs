//! [`MpiStarEngine`]: a star engine whose workers are spread over the ranks.
use squeeze_core::{Message, Scalar};
use squeeze_methods::ServerMethod;

use super::FRAME_HEADER_BYTES;
use super::comm::*;
use super::frames::*;
use crate::engine::{Engine, EngineError, Metrics, StarEngine, Totals};

/// The star engine over MPI: this rank's block of workers, and the server on rank 0.
pub struct MpiStarEngine<S: Scalar, M: ServerMethod<S>> {
    inner: StarEngine<S, M>,
    part: RankPart,
    down_buf: Vec<u8>,
    gathered: Vec<u8>,
}

rank_engine!(debug MpiStarEngine: ServerMethod);

impl<S: Scalar, M: ServerMethod<S> + 'static> MpiStarEngine<S, M> {
    /// Run `engine` (built identically on every rank) as this rank's part of an MPI run.
    pub fn new(engine: StarEngine<S, M>, comm: Comm) -> Result<Self, EngineError> {
        Ok(Self {
            part: RankPart::new(engine.n_workers(), comm)?,
            inner: engine,
            down_buf: Vec::new(),
            gathered: Vec::new(),
        })
    }

    /// Step 1 of phase `phase`: rank 0's downlink, decoded on the other ranks (as a message of
    /// the phase's downlink dimension). Returns this rank's error.
    fn downlink(&mut self, phase: usize) -> Result<Option<String>, EngineError> {
        let d = self.inner.method().phase_dims(self.inner.dim(), phase).0;
        let root = self.part.comm.is_root();
        let outcome = if root {
            self.inner
                .server_broadcast(phase)
                .map_err(|e| e.to_string())
        } else {
            Ok(())
        };
        self.part.comm.root_outcome(outcome)?;
        if root {
            let writer = &mut self.part.writer;
            writer.clear();
            self.inner.down_mut().encode(writer);
            self.down_buf.clear();
            self.down_buf.extend_from_slice(writer.finish());
        }
        let wire = self.part.comm.bcast_bytes(&mut self.down_buf)?;
        self.inner.parts_mut().totals.wire_bytes_down += wire;
        if !root {
            match Message::decode(&self.down_buf, d) {
                Ok(m) => *self.inner.down_mut() = m,
                Err(e) => return Ok(Some(format!("malformed downlink: {e}"))),
            }
        }
        Ok(None)
    }

    /// One communication phase of a round: the downlink, this rank's workers, the gathered
    /// uplink frames (decoded at the phase's uplink dimension) and rank 0's absorb.
    fn phase(&mut self, phase: usize) -> Result<(), EngineError> {
        let root = self.part.comm.is_root();
        let mine = self.part.mine();
        let d = self.inner.method().phase_dims(self.inner.dim(), phase).1;
        let local_err = self.downlink(phase)?;
        if local_err.is_none() {
            self.inner.run_workers(mine.clone(), phase);
        }
        let parts = self.inner.parts_mut();
        (self.part).frame_and_share(parts.results, parts.outs, local_err)?;
        let n = self.inner.n_workers();
        let frame_counts: Vec<usize> = self
            .part
            .blocks
            .iter()
            .map(|b| b.clone().map(|i| self.part.frame_len(i)).sum())
            .collect();
        self.part
            .comm
            .gather_to_root(&self.part.frames, &frame_counts, &mut self.gathered)?;
        for i in 0..n {
            let (len, counts) = self.part.counters_at(i);
            self.inner.charge(i, &counts);
            self.inner.parts_mut().totals.wire_bytes_up += FRAME_HEADER_BYTES + len;
        }
        let outcome = if root {
            // Decode the other ranks' frames (rank 0's own messages are already in place, and
            // its frames were checked on the way: they decode to the same messages).
            let mut decoded = Ok(());
            let mut buf = &self.gathered[..];
            for i in 0..n {
                let (len, counts) = self.part.counters_at(i);
                match read_frame::<S>(buf, i, len, counts.bits, d) {
                    Ok((msg, rest)) => {
                        buf = rest;
                        if !mine.contains(&i) {
                            self.inner.parts_mut().outs[i] = msg;
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
        self.part.comm.root_outcome(outcome)
    }
}

impl<S: Scalar, M: ServerMethod<S> + 'static> Engine for MpiStarEngine<S, M> {
    rank_engine!(methods);

    fn stepsize(&self) -> Option<squeeze_methods::StepsizeReport> {
        self.inner.stepsize()
    }

    fn round(&mut self) -> Result<(), EngineError> {
        for phase in 0..self.inner.method().phases() {
            self.phase(phase)?;
        }
        self.inner.end_round();
        Ok(())
    }

    fn evaluate(&mut self) -> Result<Metrics, EngineError> {
        self.part.comm.root_metrics(|| self.inner.evaluate())
    }

    /// The server's model: meaningful on rank 0 (other ranks do not advance the server).
    fn iterate_f64(&self) -> Vec<f64> {
        self.inner.iterate_f64()
    }

    /// Rank 0 gathers every rank's worker states and returns the whole snapshot; the other
    /// ranks return `null`.
    fn snapshot(&self) -> Result<serde_json::Value, EngineError> {
        self.part.snapshot(self.inner.workers(), "worker", |w| {
            self.inner.snapshot_with_workers(w)
        })
    }
}
