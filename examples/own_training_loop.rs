//! EF21 with Top-K inside **your own** training loop, through the push API of
//! `squeeze-feedback`: the program owns the model, computes the gradients itself (a small
//! softmax classifier written below, no autograd library), and asks squeeze only for what to
//! send and how to aggregate it.
//!
//! ```text
//! cargo run --release --example own_training_loop
//! cargo run --release --example own_training_loop -- 0.05   # Top-K ratio (default 0.02)
//! ```
//!
//! Each of `WORKERS` simulated workers holds a different slice of a synthetic 10-class
//! problem (label-skewed, as in federated learning). Per round every worker computes its
//! gradient, `Ef21::step` turns it into a compressed correction (a `Message` whose `bits()` is
//! its exact encoded length and whose `to_bytes()` is what would cross the network), the
//! server's `Aggregator` absorbs the messages in worker order, and the program takes its own
//! SGD-with-momentum step on the aggregated estimate.

use squeeze::core::{Message, Scalar, SqueezeRng};
use squeeze::feedback::{Aggregator, Ef21, Ef21Worker, Round, Workspace};

const WORKERS: usize = 4;
const CLASSES: usize = 10;
const FEATURES: usize = 64;
const SAMPLES_PER_WORKER: usize = 500;
const ROUNDS: u64 = 300;

/// A linear softmax classifier: `CLASSES × FEATURES` weights plus `CLASSES` biases, flat.
struct Model {
    params: Vec<f32>,
}

impl Model {
    fn dim() -> usize {
        CLASSES * FEATURES + CLASSES
    }

    /// Mean cross-entropy over `data` and its gradient (written into `grad`).
    fn loss_and_grad(&self, data: &[(Vec<f32>, usize)], grad: &mut [f32]) -> f32 {
        grad.iter_mut().for_each(|g| *g = 0.0);
        let (w, b) = self.params.split_at(CLASSES * FEATURES);
        let mut loss = 0.0;
        let mut logits = [0.0f32; CLASSES];
        for (x, y) in data {
            for (c, l) in logits.iter_mut().enumerate() {
                *l = b[c]
                    + w[c * FEATURES..(c + 1) * FEATURES]
                        .iter()
                        .zip(x)
                        .map(|(a, b)| a * b)
                        .sum::<f32>();
            }
            let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let z: f32 = logits.iter().map(|l| (l - max).exp()).sum();
            loss += z.ln() + max - logits[*y];
            for (c, &l) in logits.iter().enumerate() {
                let p = (l - max).exp() / z - if c == *y { 1.0 } else { 0.0 };
                let scale = p / data.len() as f32;
                for (g, &xj) in grad[c * FEATURES..(c + 1) * FEATURES].iter_mut().zip(x) {
                    *g += scale * xj;
                }
                grad[CLASSES * FEATURES + c] += scale;
            }
        }
        loss / data.len() as f32
    }
}

/// Synthetic data: class centres in feature space, worker `i` sees mostly classes near `i`.
fn make_data(rng: &mut SqueezeRng) -> Vec<Vec<(Vec<f32>, usize)>> {
    let centres: Vec<Vec<f32>> = (0..CLASSES)
        .map(|_| (0..FEATURES).map(|_| rng.normal() as f32).collect())
        .collect();
    (0..WORKERS)
        .map(|i| {
            (0..SAMPLES_PER_WORKER)
                .map(|s| {
                    // 70 % of a worker's samples come from its 3 "home" classes.
                    let y = if s % 10 < 7 {
                        (3 * i + s % 3) % CLASSES
                    } else {
                        s % CLASSES
                    };
                    let x = centres[y]
                        .iter()
                        .map(|&c| c + 1.5 * rng.normal() as f32)
                        .collect();
                    (x, y)
                })
                .collect()
        })
        .collect()
}

fn main() {
    let ratio: f64 = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 0.02,
        Some(Ok(r)) if r > 0.0 && r <= 1.0 => r,
        Some(_) => {
            eprintln!("error: the argument is the Top-K ratio, a number in (0, 1], e.g. 0.02");
            std::process::exit(2);
        }
    };
    let seed = 7;
    let mut rng = SqueezeRng::from_seed_u64(seed);
    let data = make_data(&mut rng);
    let d = Model::dim();

    // squeeze's side: one mechanism (hyperparameters), one state per worker, one aggregator.
    let spec = format!("top_k:ratio={ratio}");
    let compressor = match squeeze::compress::parse::<f32>(&spec) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let ef21 = Ef21::new(compressor);
    let mut workers: Vec<Ef21Worker<f32>> =
        (0..WORKERS).map(|i| Ef21Worker::new(d, seed, i)).collect();
    let mut server = Aggregator::new(d, WORKERS);
    let mut ws = Workspace::new(d);
    let mut msgs = vec![Message::default(); WORKERS];

    // The program's side: its model, its gradients, its optimizer (SGD with momentum).
    let mut model = Model {
        params: vec![0.0; d],
    };
    let mut grad = vec![0.0f32; d];
    let mut velocity = vec![0.0f32; d];
    let (lr, momentum) = (0.5f32, 0.9f32);
    let mut bits_sent = 0u64;
    let mut bytes_on_wire = 0usize;
    let (mut first_loss, mut last_loss) = (f32::NAN, f32::NAN);
    println!("EF21 + {spec} on {WORKERS} workers, d = {d}");
    println!(
        "{:>6} {:>10} {:>14} {:>14}",
        "round", "loss", "bits/worker", "dense f32 bits"
    );
    for round in 0..ROUNDS {
        let mut loss = 0.0;
        for (i, (w, msg)) in workers.iter_mut().zip(msgs.iter_mut()).enumerate() {
            loss += model.loss_and_grad(&data[i], &mut grad) / WORKERS as f32;
            let r = Round::new(i, WORKERS, round).with_shared_seed(seed);
            if let Err(e) = ef21.step(w, &grad, &r, &mut ws, msg) {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
            bits_sent += msg.bits();
            bytes_on_wire += msg.to_bytes().len();
        }
        if round == 0 {
            first_loss = loss;
        }
        last_loss = loss;
        if let Err(e) = server.absorb(round, &msgs) {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
        for ((p, v), &g) in model
            .params
            .iter_mut()
            .zip(velocity.iter_mut())
            .zip(server.estimate())
        {
            *v = momentum * *v + g;
            *p -= lr * *v;
        }
        if round % 30 == 0 || round + 1 == ROUNDS {
            let dense = (round + 1) * (d as u64) * 32;
            println!(
                "{round:>6} {loss:>10.4} {:>14} {dense:>14}",
                bits_sent / WORKERS as u64
            );
        }
    }
    let dense = ROUNDS * d as u64 * 32 * WORKERS as u64;
    println!(
        "sent {bits_sent} bits ({bytes_on_wire} bytes encoded) = {:.2} % of dense f32 gradients",
        100.0 * bits_sent as f64 / dense as f64
    );
    // The estimate is the mean of the workers' estimates, exactly as the workers hold them.
    let mean_of_workers: f64 = (0..d)
        .map(|j| workers.iter().map(|w| w.g[j].to_f64()).sum::<f64>() / WORKERS as f64)
        .zip(server.estimate())
        .map(|(a, &b)| (a - b.to_f64()).abs())
        .fold(0.0, f64::max);
    println!("max |server estimate − mean of worker estimates| = {mean_of_workers:.2e}");
    // What the README claims, checked (CI runs every example).
    let fell = last_loss < 1e-2 * first_loss; // false for NaN
    if !fell || mean_of_workers > 1e-4 {
        eprintln!(
            "error: the loss did not fall 100× ({first_loss} → {last_loss}) or the estimates disagree"
        );
        std::process::exit(1);
    }
}
