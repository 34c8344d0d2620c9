//! Compressed gossip on a ring: 16 nodes reach consensus on the average of their vectors while
//! each sends only a Top-K compressed difference per round (CHOCO-Gossip, Koloskova, Stich,
//! Jaggi 2019), with the mixing matrix of `squeeze::topology` and the push updates of
//! `squeeze::feedback::gossip`.
//!
//! ```text
//! cargo run --release --example gossip_ring
//! ```
//!
//! Node i keeps its value x_i and a public copy x̂_i that every neighbour can reconstruct:
//!
//! q_i = C(x_i − x̂_i),  x̂_i ← x̂_i + q_i  (`gossip::track`, sends q_i);
//! s_i ← s_i + Σ_j W_ij q_j  (`gossip::mix_into`; s_i = Σ_j W_ij x̂_j);
//! x_i ← x_i + γ (s_i − x̂_i).
//!
//! W is doubly stochastic, so the mean of the x_i never changes and the nodes converge to it;
//! the example asserts both and that the bits sent are a fraction of dense gossip.

use squeeze::core::{Message, Purpose, Scratch, SqueezeRng};
use squeeze::feedback::{Round, gossip};
use squeeze::topology::{Graph, MixingMatrix};

const NODES: usize = 16;
const DIM: usize = 200;
const ROUNDS: u64 = 1500;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// (1/n) Σ_i ‖x_i − x̄‖² and the mean x̄.
fn consensus_error(x: &[Vec<f64>]) -> (f64, Vec<f64>) {
    let mean: Vec<f64> = (0..DIM)
        .map(|j| x.iter().map(|xi| xi[j]).sum::<f64>() / NODES as f64)
        .collect();
    let err = x
        .iter()
        .map(|xi| {
            xi.iter()
                .zip(&mean)
                .map(|(a, m)| (a - m).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / NODES as f64;
    (err, mean)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let w = MixingMatrix::uniform(&Graph::ring(NODES)?);
    let c = squeeze::compress::parse::<f64>("top_k:k=20")?;
    // CHOCO's consensus stepsize; small enough for Top-10 % on this ring (tuned, not theory).
    let gamma = 0.2;
    println!(
        "ring of {NODES} nodes, uniform weights (1/3 each): spectral gap ρ = {:.4}, β = ‖I − W‖₂ = {:.3}",
        w.spectral_gap(),
        w.beta()
    );

    let mut rng = SqueezeRng::from_seed_u64(9);
    let mut x: Vec<Vec<f64>> = (0..NODES)
        .map(|_| (0..DIM).map(|_| 10.0 * rng.normal()).collect())
        .collect();
    let (start_err, start_mean) = consensus_error(&x);
    let mut copies = vec![vec![0.0; DIM]; NODES]; // x̂_i, known to the neighbours
    let mut mixed = vec![vec![0.0; DIM]; NODES]; // s_i = Σ_j W_ij x̂_j
    let neighbours: Vec<Vec<(usize, f64)>> = (0..NODES)
        .map(|i| {
            w.neighbors(i)
                .iter()
                .copied()
                .zip(w.neighbor_weights(i).iter().copied())
                .collect()
        })
        .collect();
    let mut streams: Vec<SqueezeRng> = (0..NODES)
        .map(|i| SqueezeRng::stream(9, Purpose::Compression, i as u64))
        .collect();
    let (mut scratch, mut work) = (Scratch::default(), vec![0.0; DIM]);
    let mut msgs = vec![Message::default(); NODES];
    let mut bits = 0u64;
    for round in 0..ROUNDS {
        for i in 0..NODES {
            let r = Round::new(i, NODES, round);
            gossip::track(
                c.as_ref(),
                &x[i],
                &mut copies[i],
                &mut streams[i],
                &r,
                &mut scratch,
                &mut work,
                &mut msgs[i],
            )?;
            bits += msgs[i].bits() * neighbours[i].len() as u64; // one copy per neighbour
        }
        for i in 0..NODES {
            gossip::mix_into(
                &mut mixed[i],
                i,
                w.self_weight(i),
                &neighbours[i],
                round,
                &msgs,
            )?;
            for ((xj, sj), hj) in x[i].iter_mut().zip(&mixed[i]).zip(&copies[i]) {
                *xj += gamma * (sj - hj);
            }
        }
        if round % 300 == 0 || round + 1 == ROUNDS {
            println!(
                "round {round:>5}: (1/n) Σ‖x_i − x̄‖² = {:.3e}",
                consensus_error(&x).0
            );
        }
    }
    let (end_err, end_mean) = consensus_error(&x);
    let drift = end_mean
        .iter()
        .zip(&start_mean)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let dense = ROUNDS * (NODES * 2) as u64 * (4 + 64 * DIM as u64);
    println!(
        "consensus error {start_err:.3e} → {end_err:.3e}; mean moved by {drift:.1e}; \
         sent {:.1} % of the bits of dense f64 gossip",
        100.0 * bits as f64 / dense as f64
    );
    if end_err > 1e-6 * start_err || drift > 1e-9 || bits >= dense / 5 {
        return Err(
            "expected consensus (error ÷ 10⁶) on the unchanged mean at < 20 % of dense bits".into(),
        );
    }
    Ok(())
}
