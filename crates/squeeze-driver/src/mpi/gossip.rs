//! [`MpiGossipEngine`]: a gossip engine whose nodes are spread over the ranks.

use std::ops::Range;

use mpi::traits::*;
use squeeze_core::Scalar;
use squeeze_methods::GossipMethod;

use super::FRAME_HEADER_BYTES;
use super::comm::*;
use super::frames::*;
use crate::engine::{Engine, EngineError, Metrics, Totals};
use crate::gossip::GossipEngine;

/// Who sends to whom in a gossip run: for each peer rank, the local nodes with a neighbour there
/// (sent) and its nodes with a neighbour here (received), both in node order.
#[derive(Debug, Clone)]
pub(super) struct GossipPlan {
    send_to: Vec<Vec<usize>>,
    recv_from: Vec<Vec<usize>>,
    /// For each node, the number of other ranks hosting one of its neighbours.
    fanout: Vec<u64>,
}

impl GossipPlan {
    pub(super) fn new(neighbours: &[Vec<usize>], blocks: &[Range<usize>], me: usize) -> Self {
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
    part: RankPart,
    plan: GossipPlan,
    send_bufs: Vec<Vec<u8>>,
    recv_bufs: Vec<Vec<u8>>,
    xbar: Vec<f64>,
}

rank_engine!(debug MpiGossipEngine: GossipMethod);

impl<S: Scalar, M: GossipMethod<S> + 'static> MpiGossipEngine<S, M> {
    /// Run `engine` (built identically on every rank) as this rank's part of an MPI run.
    pub fn new(engine: GossipEngine<S, M>, comm: Comm) -> Result<Self, EngineError> {
        let part = RankPart::new(engine.mixing().len(), comm)?;
        let neighbours: Vec<Vec<usize>> = engine
            .mixing()
            .iter()
            .map(|row| row.neighbours.iter().map(|&(j, _)| j).collect())
            .collect();
        let plan = GossipPlan::new(&neighbours, &part.blocks, part.comm.rank());
        let size = part.comm.size();
        Ok(Self {
            inner: engine,
            part,
            plan,
            send_bufs: vec![Vec::new(); size],
            recv_bufs: vec![Vec::new(); size],
            xbar: Vec::new(),
        })
    }

    /// Fill the send buffers and size the receive buffers for [`Self::exchange`]; returns this
    /// rank's error (a buffer beyond MPI's counts) before any rank starts sending.
    fn prepare_exchange(&mut self) -> Option<String> {
        let part = &self.part;
        for (p, nodes) in self.plan.send_to.iter().enumerate() {
            let buf = &mut self.send_bufs[p];
            buf.clear();
            for &i in nodes {
                let at = part.frame_at[i];
                buf.extend_from_slice(&part.frames[at..at + part.frame_len(i)]);
            }
        }
        for (p, nodes) in self.plan.recv_from.iter().enumerate() {
            let len: usize = nodes.iter().map(|&j| part.frame_len(j)).sum();
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
        let me = self.part.comm.rank();
        let d = self.inner.dim();
        let world = self.part.comm.world();
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
        let outs = self.inner.parts_mut().outs;
        for (p, nodes) in self.plan.recv_from.iter().enumerate() {
            let mut buf = &self.recv_bufs[p][..];
            for &j in nodes {
                let (len, c) = self.part.counters_at(j);
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
    rank_engine!(methods);

    fn round(&mut self) -> Result<(), EngineError> {
        let mine = self.part.mine();
        let n = self.inner.n_workers();
        let sample_counts: Vec<usize> = self.part.blocks.iter().map(|b| b.len()).collect();
        for phase in 0..self.inner.method().phases() {
            self.inner.send_phase(phase, mine.clone());
            let parts = self.inner.parts_mut();
            (self.part).frame_and_share(parts.results, parts.outs, None)?;
            for i in 0..n {
                let (len, counts) = self.part.counters_at(i);
                self.inner.charge_send(i, &counts);
                self.inner.parts_mut().totals.wire_bytes_up +=
                    self.plan.fanout[i] * (FRAME_HEADER_BYTES + len);
            }
            let oversized = self.prepare_exchange();
            self.part.comm.any_failed(oversized)?;
            let received = self.exchange()?;
            self.part.comm.any_failed(received)?;
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
            self.part.comm.any_failed(local_err)?;
            let mut all = Vec::new();
            self.part
                .comm
                .all_gather_u64s(&samples, &sample_counts, &mut all)?;
            self.inner.parts_mut().totals.grad_samples += all.iter().sum::<u64>();
        }
        self.inner.parts_mut().totals.rounds += 1;
        Ok(())
    }

    fn evaluate(&mut self) -> Result<Metrics, EngineError> {
        let d = self.inner.dim();
        let mine = self.part.mine();
        let mut local = Vec::with_capacity(mine.len() * d);
        for i in mine {
            let x = self.inner.node_iterate(i).unwrap_or(&[]);
            local.extend(x.iter().map(|v| v.to_f64()));
        }
        let counts: Vec<usize> = self.part.blocks.iter().map(|b| b.len() * d).collect();
        let mut all = Vec::new();
        self.part.comm.gather_to_root(&local, &counts, &mut all)?;
        self.part.comm.root_metrics(|| {
            // Widened to f64 and narrowed back: exact for f32 and f64 models.
            let models: Vec<Vec<S>> = all
                .chunks(d.max(1))
                .map(|c| c.iter().map(|&v| S::from_f64(v)).collect())
                .collect();
            let refs: Vec<&[S]> = models.iter().map(Vec::as_slice).collect();
            let m = self.inner.evaluate_with(&refs);
            self.xbar = self.inner.last_xbar().iter().map(|v| v.to_f64()).collect();
            m
        })
    }

    /// x̄ at the last evaluation, on rank 0 (empty elsewhere).
    fn iterate_f64(&self) -> Vec<f64> {
        self.xbar.clone()
    }

    /// Rank 0 gathers every rank's node states and returns the whole snapshot; the other ranks
    /// return `null`.
    fn snapshot(&self) -> Result<serde_json::Value, EngineError> {
        self.part.snapshot(self.inner.nodes(), "node", |n| {
            self.inner.snapshot_with_nodes(n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::build::data_fingerprint;
    use super::*;
    use crate::config::ExperimentConfig;
    use squeeze_core::{BitWriter, Message};

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
