//! A compressor of your own: implement `Compressor` for a new operator, then check its
//! contraction and its wire round trip the way the crate's conformance suite checks the
//! built-in ones.
//!
//! ```text
//! cargo run --release --example custom_compressor
//! ```
//!
//! The operator, *best window*: send the contiguous block of `b` coordinates with the largest
//! energy,
//!
//! C(x) = x restricted to [s, s + b),  s = argmax_t Σ_{j ∈ [t, t+b)} x_j²  (lowest t on ties).
//!
//! Class: the ⌈d/b⌉ windows starting at 0, b, 2b, … (the last one moved back to d − b) cover
//! every coordinate, so the best of them holds at least ‖x‖²/⌈d/b⌉ and
//! ‖C(x) − x‖² ≤ (1 − 1/⌈d/b⌉)‖x‖²: contractive with α = 1/⌈d/b⌉ (deterministic).
//!
//! Following CONTRIBUTING.md's compressor recipe as far as it applies outside the crate: a
//! validated constructor (`ParamError` with a hint), `check_dim` for parameters that do not
//! fit the dimension, typed errors for empty or non-finite input, `compress_into` reusing the
//! message's buffers (a `Sparse` message: no new wire format needed), `class(d)` for the theory
//! stepsizes. (A compressor inside `squeeze-compress` would add one registry line; then
//! `squeeze list`, spec strings and the shared proptests pick it up.)

use squeeze::core::{CompressError, ParamError, check_input};
use squeeze::prelude::*;

/// Best window of `b` contiguous coordinates.
#[derive(Debug)]
struct BestWindow {
    b: usize,
}

impl BestWindow {
    const NAME: &'static str = "best_window";

    fn new(b: usize) -> Result<Self, ParamError> {
        ParamError::require(b >= 1, Self::NAME, "b", b, "b ≥ 1 (the window length)")?;
        Ok(Self { b })
    }
}

impl<S: Scalar> Compressor<S> for BestWindow {
    fn spec(&self) -> String {
        format!("{}:b={}", Self::NAME, self.b)
    }

    fn class(&self, dim: usize) -> Class {
        let windows = dim.div_ceil(self.b.min(dim)).max(1);
        if windows == 1 {
            Class::Both {
                alpha: 1.0,
                omega: 0.0,
            } // the whole vector
        } else {
            Class::Contractive {
                alpha: 1.0 / windows as f64,
            }
        }
    }

    fn is_deterministic(&self) -> bool {
        true
    }

    fn check_dim(&self, dim: usize) -> Result<(), CompressError> {
        squeeze::core::check_dim_basic(dim)?;
        if self.b > dim {
            return Err(CompressError::Incompatible {
                component: Self::NAME,
                param: "b",
                value: self.b.to_string(),
                dim,
                hint: format!("use b ≤ {dim}"),
            });
        }
        Ok(())
    }

    fn compress_into(
        &self,
        x: &[S],
        _ctx: &mut CompressCtx<'_>,
        out: &mut Message<S>,
    ) -> Result<(), CompressError> {
        check_input(x)?; // empty or non-finite input: a typed error
        Compressor::<S>::check_dim(self, x.len())?;
        // Sliding sum of squares (f64), one pass.
        let sq = |j: usize| x[j].to_f64() * x[j].to_f64();
        let mut energy: f64 = (0..self.b).map(sq).sum();
        let (mut best, mut best_energy) = (0, energy);
        for t in 1..=x.len() - self.b {
            energy += sq(t + self.b - 1) - sq(t - 1);
            if energy > best_energy {
                (best, best_energy) = (t, energy);
            }
        }
        let (indices, values) = out.sparse_parts(x.len()); // cleared, buffers reused
        indices.extend((best..best + self.b).map(|j| j as u32));
        values.extend_from_slice(&x[best..best + self.b]);
        Ok(())
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (d, b) = (1000, 50);
    let c = BestWindow::new(b)?;
    let alpha = Compressor::<f32>::class(&c, d)
        .alpha()
        .ok_or("best_window must be contractive")?;
    println!(
        "{}: {} at d = {d}",
        Compressor::<f32>::spec(&c),
        Compressor::<f32>::class(&c, d).describe()
    );

    // 1. Contraction on many random vectors (a smooth signal plus noise, and pure noise):
    //    ‖C(x) − x‖² ≤ (1 − α)‖x‖², deterministic so one draw per vector.
    let (mut rng, mut scratch, mut msg) = (
        SqueezeRng::from_seed_u64(3),
        Scratch::default(),
        Message::default(),
    );
    let mut worst = 0.0f64;
    for trial in 0..200 {
        let bump = rng.below(d as u64) as f32;
        let x: Vec<f32> = (0..d)
            .map(|j| {
                let smooth = if trial % 2 == 0 {
                    (-((j as f32 - bump) / 40.0).powi(2)).exp()
                } else {
                    0.0
                };
                smooth + 0.05 * rng.normal() as f32
            })
            .collect();
        c.compress_into(&x, &mut CompressCtx::new(&mut rng, &mut scratch), &mut msg)?;
        let sent = msg.to_dense()?;
        let err: f64 = sent
            .iter()
            .zip(&x)
            .map(|(s, x)| ((s - x) as f64).powi(2))
            .sum();
        let norm: f64 = x.iter().map(|x| (*x as f64).powi(2)).sum();
        worst = worst.max(err / norm);

        // 2. Wire round trip: exactly ⌈bits/8⌉ bytes, decoded to the same message.
        let bytes = msg.to_bytes();
        if bytes.len() as u64 != msg.bits().div_ceil(8) || Message::decode(&bytes, d)? != msg {
            return Err(format!("trial {trial}: the wire round trip changed the message").into());
        }
    }
    println!(
        "200 vectors: worst ‖C(x)−x‖²/‖x‖² = {worst:.4} ≤ 1 − α = {:.4}; each message {} bits \
         ({} values + indices), round trip exact",
        1.0 - alpha,
        msg.bits(),
        b
    );
    if worst > 1.0 - alpha {
        return Err(format!("contraction violated: {worst} > {}", 1.0 - alpha).into());
    }

    // 3. Mistakes are typed errors with a hint, never panics.
    let errors = [
        BestWindow::new(0).map(|_| ()).map_err(|e| e.to_string()),
        c.compress_into(
            &[1.0f32, f32::NAN, 2.0],
            &mut CompressCtx::new(&mut rng, &mut scratch),
            &mut msg,
        )
        .map_err(|e| e.to_string()),
        c.compress_into(
            &[1.0f32; 10],
            &mut CompressCtx::new(&mut rng, &mut scratch),
            &mut msg,
        )
        .map_err(|e| e.to_string()),
    ];
    for e in &errors {
        match e {
            Err(text) => println!("refused: {text}"),
            Ok(()) => return Err("a bad parameter or input was accepted".into()),
        }
    }

    // 4. It plugs into everything that takes a `Compressor`, e.g. EF21 in your own loop.
    let ef21 = squeeze::feedback::Ef21::<f32>::new(Box::new(BestWindow::new(2)?));
    let mut worker = squeeze::feedback::Ef21Worker::new(4, 7, 0);
    let mut ws = squeeze::feedback::Workspace::new(4);
    let mut x = [4.0f32, -3.0, 2.0, 1.0];
    for round in 0..60 {
        let grad = x; // f(x) = ½‖x‖²
        let r = squeeze::feedback::Round::new(0, 1, round);
        ef21.step(&mut worker, &grad, &r, &mut ws, &mut msg)?;
        for (xj, gj) in x.iter_mut().zip(&worker.g) {
            *xj -= 0.3 * gj;
        }
    }
    let norm = x.iter().map(|v| v * v).sum::<f32>().sqrt();
    println!("EF21 + best_window:b=2 on ½‖x‖² (d = 4): ‖x‖ from 5.48 to {norm:.2e} in 60 rounds");
    if norm > 1e-3 {
        return Err("EF21 with the custom compressor did not converge".into());
    }
    Ok(())
}
