//! Compressor demo on an embedded default input: every registered compressor (or the specs
//! given on the command line) applied to one gradient-like vector, with class, exact bits,
//! error and speed.
//!
//! ```text
//! cargo run --release --example demo
//! cargo run --release --example demo -- --dim 100000 "top_k:ratio=0.01" "qsgd:s=16"
//! ```

use std::time::Instant;

use squeeze::compress::registry::{entries, parse};
use squeeze::core::{BitConvention, CompressCtx, Message, Scratch, SqueezeRng};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

/// Every registry entry with its parameters, and the class of each example at dimension `dim`.
fn list(dim: usize) {
    for e in entries() {
        println!("{} — {}", e.name, e.summary);
        for p in e.params {
            println!("    {:<8} {}", p.name, p.doc);
        }
        for spec in e.examples {
            match parse::<f32>(spec) {
                Ok(c) => println!(
                    "    e.g. {spec:<36} at d = {dim}: {}",
                    c.class(dim).describe()
                ),
                Err(err) => println!("    e.g. {spec:<36} ({err})"),
            }
        }
    }
}

fn run() -> Result<(), String> {
    let mut dim = 1_000_000usize;
    let mut seed = 2024u64;
    let mut specs: Vec<String> = Vec::new();
    let mut listing = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dim" => {
                dim = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--dim needs a positive integer")?
            }
            "--seed" => {
                seed = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--seed needs an integer")?
            }
            "--list" => listing = true,
            "-h" | "--help" => {
                println!(
                    "usage: demo [--dim N] [--seed S] [--list] [SPEC ...]   (default: every registered compressor)"
                );
                return Ok(());
            }
            _ => specs.push(a),
        }
    }
    if listing {
        list(dim);
        return Ok(());
    }
    if specs.is_empty() {
        // Matrix compressors take a packed symmetric matrix, not this vector.
        specs = entries()
            .iter()
            .filter(|e| !e.matrix)
            .flat_map(|e| e.bench_specs().iter().map(|s| s.to_string()))
            .collect();
    }

    // Embedded default: a gradient-like vector, Gaussian with 0.1% heavy outliers (×50).
    let mut rng = SqueezeRng::from_seed_u64(seed);
    let x: Vec<f32> = (0..dim)
        .map(|i| {
            let g = rng.normal() as f32;
            if i % 997 == 0 { 50.0 * g } else { g }
        })
        .collect();
    let xx: f64 = x.iter().map(|&v| (v as f64) * (v as f64)).sum();
    println!(
        "input: d = {dim}, f32, Gaussian with 0.1% ×50 outliers, seed {seed}, ‖x‖² = {xx:.4e}"
    );
    println!("dense cost: {} bits\n", 32 * dim);
    println!(
        "{:<34} {:<34} {:>10} {:>13} {:>9} {:>11} {:>10} {:>9}",
        "compressor",
        "class at d",
        "entries",
        "exact bits",
        "bits/d",
        "‖C(x)−x‖²/‖x‖²",
        "ms/call",
        "GB/s"
    );
    let mut scratch = Scratch::default();
    let mut msg = Message::default();
    let mut out = vec![0.0f32; dim];
    for spec in &specs {
        let c = parse::<f32>(spec).map_err(|e| e.to_string())?;
        c.check_dim(dim).map_err(|e| format!("{spec}: {e}"))?;
        let mut crng = SqueezeRng::from_seed_u64(seed ^ 1);
        let mut ctx = CompressCtx::new(&mut crng, &mut scratch).with_worker(0, 4);
        c.compress_into(&x, &mut ctx, &mut msg)
            .map_err(|e| e.to_string())?;
        let reps = 5;
        let t = Instant::now();
        for _ in 0..reps {
            c.compress_into(&x, &mut ctx, &mut msg)
                .map_err(|e| e.to_string())?;
        }
        let secs = t.elapsed().as_secs_f64() / reps as f64;
        msg.write_dense(&mut out).map_err(|e| e.to_string())?;
        let err: f64 = out
            .iter()
            .zip(&x)
            .map(|(&a, &b)| ((a - b) as f64).powi(2))
            .sum();
        let bytes = msg.to_bytes();
        let back = Message::<f32>::decode(&bytes, dim).map_err(|e| e.to_string())?;
        assert_eq!(back, msg, "wire round trip");
        println!(
            "{:<34} {:<34} {:>10} {:>13} {:>9.3} {:>15.4e} {:>10.3} {:>9.2}",
            c.spec(),
            c.class(dim).describe(),
            msg.entries(),
            msg.bits(),
            msg.bits() as f64 / dim as f64,
            err / xx,
            secs * 1e3,
            (dim * 4) as f64 / secs / 1e9
        );
        let _ = msg.bits_under(BitConvention::Values32);
    }
    println!("\nEvery message above was encoded to bytes and decoded back bit for bit.");
    Ok(())
}
