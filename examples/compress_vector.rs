//! Compress one vector with Top-K and with QSGD, put each message on the wire as bytes, decode
//! it back and print exactly what was sent.
//!
//! ```text
//! cargo run --release --example compress_vector
//! ```
//!
//! The first example of the progression (`compress_vector` → `custom_compressor` →
//! `own_training_loop` → `custom_method` → `gossip_ring`). It checks what it prints: the bytes
//! are exactly ⌈bits/8⌉, the decoded message equals the sent one, Top-K's error obeys its
//! contraction bound and QSGD's average over many draws approaches the input (unbiased).

use squeeze::prelude::*;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// ‖a − b‖² / ‖b‖².
fn rel_err(a: &[f32], b: &[f32]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    let den: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    num / den
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let d = 1000;
    // A gradient-like vector: a few large entries on top of small noise.
    let mut rng = SqueezeRng::from_seed_u64(1);
    let x: Vec<f32> = (0..d)
        .map(|j| (if j % 97 == 0 { 5.0 } else { 0.1 }) * rng.normal() as f32)
        .collect();
    let dense_bits = 32 * d as u64;
    println!("x: d = {d}, dense f32 = {dense_bits} bits");

    let mut scratch = Scratch::default();
    let mut msg = Message::default();
    for spec in ["top_k:k=20", "qsgd:s=4"] {
        let c = parse::<f32>(spec)?;
        let mut stream = SqueezeRng::stream(42, squeeze::core::Purpose::Compression, 0);
        c.compress_into(
            &x,
            &mut CompressCtx::new(&mut stream, &mut scratch),
            &mut msg,
        )?;

        // The wire: exactly ⌈bits/8⌉ bytes, decoded bit for bit.
        let bytes = msg.to_bytes();
        let back = Message::<f32>::decode(&bytes, d)?;
        if bytes.len() as u64 != msg.bits().div_ceil(8) || back != msg {
            return Err(format!("{spec}: the wire round trip changed the message").into());
        }
        let err = rel_err(&back.to_dense()?, &x);
        println!(
            "{spec:<11} {:<22} sends {:>5} bits = {:>4} bytes ({:>5.2} % of dense), ‖C(x)−x‖²/‖x‖² = {err:.4}",
            c.class(d).describe(),
            msg.bits(),
            bytes.len(),
            100.0 * msg.bits() as f64 / dense_bits as f64,
        );
        // What the class promises, checked on this vector.
        match c.class(d) {
            Class::Contractive { alpha } if err > 1.0 - alpha => {
                return Err(format!("{spec}: error {err} above 1 − α = {}", 1.0 - alpha).into());
            }
            Class::Unbiased { omega } if err > 3.0 * omega => {
                return Err(format!("{spec}: error {err} far above ω = {omega}").into());
            }
            _ => {}
        }
    }

    // QSGD is unbiased: the mean of many independent draws approaches x.
    let q = parse::<f32>("qsgd:s=4")?;
    let draws = 400;
    let mut mean = vec![0.0f32; d];
    let mut stream = SqueezeRng::stream(42, squeeze::core::Purpose::Compression, 1);
    let mut single = 0.0; // mean error of one draw
    for _ in 0..draws {
        q.compress_into(
            &x,
            &mut CompressCtx::new(&mut stream, &mut scratch),
            &mut msg,
        )?;
        msg.add_to(&mut mean, 1.0 / draws as f32)?; // scatter-add, no dense temporary
        single += rel_err(&msg.to_dense()?, &x) / draws as f64;
    }
    let averaged = rel_err(&mean, &x);
    println!(
        "qsgd:s=4    mean of {draws} draws: ‖mean−x‖²/‖x‖² = {averaged:.5} (one draw: {single:.4}; unbiased ⇒ ≈ {:.5})",
        single / draws as f64
    );
    // Independent unbiased draws: the error of the mean is the single-draw error / draws.
    if averaged > 1.5 * single / draws as f64 {
        return Err("the QSGD average does not approach x like an unbiased estimator".into());
    }
    Ok(())
}
