// Temporary (not committed): CPU time and wall time per compression on 1- and 2-thread pools.
use squeeze_compress::registry::parse;
use squeeze_core::{CompressCtx, Message, Scratch, SqueezeRng};
use std::time::Instant;

fn cpu_secs() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

fn main() {
    let d = 10_000_000;
    let mut r = SqueezeRng::from_seed_u64(2024);
    let x: Vec<f32> = (0..d)
        .map(|i| {
            let g = r.normal() as f32;
            if i % 997 == 0 { 50.0 * g } else { g }
        })
        .collect();
    let specs: Vec<String> = std::env::args().skip(2).collect();
    let reps: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    for spec in &specs {
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let c = parse::<f32>(spec).unwrap();
            let (mut rng, mut scratch, mut msg) = (
                SqueezeRng::from_seed_u64(1),
                Scratch::default(),
                Message::default(),
            );
            pool.install(|| {
                c.compress_into(&x, &mut CompressCtx::new(&mut rng, &mut scratch), &mut msg)
                    .unwrap()
            });
            let (c0, t0) = (cpu_secs(), Instant::now());
            let mut walls = Vec::new();
            for _ in 0..reps {
                let t = Instant::now();
                pool.install(|| {
                    c.compress_into(&x, &mut CompressCtx::new(&mut rng, &mut scratch), &mut msg)
                        .unwrap()
                });
                walls.push(t.elapsed().as_secs_f64());
            }
            walls.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let cpu = (cpu_secs() - c0) / reps as f64;
            println!(
                "{spec:24} threads={threads} wall median {:7.2} ms  min {:7.2} ms  cpu/call {:7.2} ms  (total wall {:.2}s)",
                walls[reps / 2] * 1e3,
                walls[0] * 1e3,
                cpu * 1e3,
                t0.elapsed().as_secs_f64()
            );
        }
    }
}
