//! Writes `tests/vectors/rust_vectors.json`: message bytes that the Rust crates produce for
//! fixed inputs, seeds, workers and rounds. `tests/test_vectors.py` checks that the Python
//! bindings produce exactly these bytes.
//!
//! Regenerate (only when the wire format or a compressor changes on purpose):
//! `cargo run --release --manifest-path python/Cargo.toml --bin squeeze-py-vectors > python/tests/vectors/rust_vectors.json`

use squeeze_core::{CompressCtx, Message, Purpose, Scalar, Scratch, SqueezeRng, round_seed};
use squeeze_feedback::{
    Clip21, Clip21Variant, Clip21Worker, Econtrol, EcontrolWorker, Ef14, Ef14Worker, Ef21,
    Ef21Worker, Round, Workspace,
};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Deterministic test input (only integer arithmetic and one division per entry, so it is the
/// same on every platform); the JSON carries its bytes anyway.
fn input<S: Scalar>(d: usize, salt: u64) -> Vec<S> {
    (0..d as u64)
        .map(|j| {
            let h = (j.wrapping_mul(2654435761).wrapping_add(salt * 97)) % 2001;
            S::from_f64((h as f64 - 1000.0) / 128.0)
        })
        .collect()
}

fn le_bytes<S: Scalar>(x: &[S]) -> Vec<u8> {
    let mut out = Vec::new();
    for &v in x {
        if S::BITS == 32 {
            out.extend_from_slice(&(v.to_f64() as f32).to_le_bytes());
        } else {
            out.extend_from_slice(&v.to_f64().to_le_bytes());
        }
    }
    out
}

fn compress_case<S: Scalar>(spec: &str, d: usize, ids: (u64, usize, usize, u64)) -> String {
    let (seed, worker, n, round) = ids;
    let x = input::<S>(d, seed + round);
    let c = squeeze_compress::parse::<S>(spec).expect("registered spec");
    let mut rng = SqueezeRng::stream(seed, Purpose::Compression, worker as u64);
    let mut scratch = Scratch::default();
    let mut ctx = CompressCtx::new(&mut rng, &mut scratch)
        .with_worker(worker, n)
        .with_round_seed(round_seed(seed, round));
    let mut m = Message::default();
    c.compress_into(&x, &mut ctx, &mut m).expect("compresses");
    format!(
        "{{\"spec\": {spec:?}, \"dtype\": \"{}\", \"dim\": {d}, \"seed\": {seed}, \"worker\": {worker}, \"n_workers\": {n}, \"round\": {round}, \"x\": \"{}\", \"bits\": {}, \"bytes\": \"{}\"}}",
        if S::BITS == 32 { "float32" } else { "float64" },
        hex(&le_bytes(&x)),
        m.bits(),
        hex(&m.to_bytes())
    )
}

fn feedback_case(kind: &str, spec: &str, d: usize, seed: u64, worker: usize, n: usize) -> String {
    let steps = 4;
    let xs: Vec<Vec<f32>> = (0..steps).map(|t| input::<f32>(d, 11 * t + 3)).collect();
    let mut ws = Workspace::new(d);
    let mut m = Message::default();
    let mut out = Vec::new();
    let r = |t: u64| Round::new(worker, n, t).with_shared_seed(seed);
    match kind {
        "ef21" => {
            let mech = Ef21::<f32>::new(squeeze_compress::parse(spec).expect("spec"));
            let mut w = Ef21Worker::new(d, seed, worker);
            for (t, x) in xs.iter().enumerate() {
                mech.step(&mut w, x, &r(t as u64), &mut ws, &mut m)
                    .expect("step");
                out.push(hex(&m.to_bytes()));
            }
        }
        "ef14" => {
            let mech = Ef14::<f32>::new(squeeze_compress::parse(spec).expect("spec"));
            let mut w = Ef14Worker::new(d, seed, worker);
            for (t, x) in xs.iter().enumerate() {
                mech.step(&mut w, 0.5, x, &r(t as u64), &mut ws, &mut m)
                    .expect("step");
                out.push(hex(&m.to_bytes()));
            }
        }
        "econtrol" => {
            let c = squeeze_compress::parse(spec).expect("spec");
            let mech = Econtrol::<f32>::new(c, 0.25).expect("eta");
            let mut w = EcontrolWorker::new(d, seed, worker);
            for (t, x) in xs.iter().enumerate() {
                mech.step(&mut w, x, &r(t as u64), &mut ws, &mut m)
                    .expect("step");
                out.push(hex(&m.to_bytes()));
            }
        }
        _ => {
            let c = squeeze_compress::parse(spec).expect("spec");
            let mech = Clip21::<f32>::new(2.0, Clip21Variant::Press(c)).expect("tau");
            let mut w = Clip21Worker::new(d, seed, worker);
            for (t, x) in xs.iter().enumerate() {
                mech.step(&mut w, x, &r(t as u64), &mut ws, &mut m)
                    .expect("step");
                out.push(hex(&m.to_bytes()));
            }
        }
    }
    let xs_hex: Vec<String> = xs
        .iter()
        .map(|x| format!("\"{}\"", hex(&le_bytes(x))))
        .collect();
    let out: Vec<String> = out.into_iter().map(|h| format!("\"{h}\"")).collect();
    format!(
        "{{\"kind\": \"{kind}\", \"spec\": {spec:?}, \"dim\": {d}, \"seed\": {seed}, \"worker\": {worker}, \"n_workers\": {n}, \"xs\": [{}], \"bytes\": [{}]}}",
        xs_hex.join(", "),
        out.join(", ")
    )
}

fn main() {
    let specs = [
        "top_k:k=3",
        "rand_k:k=4",
        "perm_k:n=2",
        "qsgd:s=4",
        "natural",
        "scaled_sign",
        "terngrad",
        "top_k:ratio=0.25 | scaled(qsgd:s=16)",
        "scaled(rand_k:k=5)",
    ];
    let mut compress = Vec::new();
    for spec in specs {
        let idss: [(u64, usize, usize, u64); 2] = if spec.starts_with("perm_k") {
            [(3, 0, 2, 1), (7, 1, 2, 3)]
        } else {
            [(0, 0, 1, 0), (7, 1, 2, 3)]
        };
        for ids in idss {
            compress.push(compress_case::<f32>(spec, 20, ids));
            compress.push(compress_case::<f64>(spec, 20, ids));
        }
    }
    let feedback = [
        feedback_case("ef21", "rand_k:k=3", 16, 5, 1, 2),
        feedback_case("ef14", "top_k:k=2", 16, 5, 0, 2),
        feedback_case("econtrol", "qsgd:s=4", 16, 9, 0, 1),
        feedback_case("clip21", "rand_k:k=4", 16, 2, 1, 3),
    ];
    println!(
        "{{\n\"compress\": [\n{}\n],\n\"feedback\": [\n{}\n]\n}}",
        compress.join(",\n"),
        feedback.join(",\n")
    );
}
