//! One round of every registered method, straight from the method registry
//! (`docs/benchmarks.md` § Methods): adding a method to `methods!` adds its row here.
//!
//! ```text
//! cargo bench --bench methods                 # every method (about half a minute)
//! cargo bench --bench methods -- ef21         # a filter
//! ```
//!
//! Each method runs with its registry `EXAMPLE` parameters on the EF21 experiments' problem
//! (nonconvex logistic regression on the embedded data, d = 30, n = 10, f64; L2 for the
//! Newton-type methods, which need positive-definite Hessians); gossip methods
//! on a ring of the 10 nodes. The engine is warmed up for a few rounds, so a row is a
//! steady-state round: the server or neighbour work, every worker's gradient and compression,
//! and the aggregation, without metrics. Small d makes the rows compare the methods' per-round
//! overhead; `rounds.rs` measures the engine at scale.

use std::path::Path;

use divan::Bencher;
use squeeze::driver::Engine;
use squeeze::driver::config::{ExperimentConfig, METHODS, Topology};

fn main() {
    divan::main();
}

const WARMUP: usize = 5;

/// The registered method names, in `squeeze list` order.
fn names() -> Vec<&'static str> {
    METHODS.iter().map(|m| m.name).collect()
}

/// An engine of `name` with its registry example, warmed up.
fn engine(name: &str) -> Box<dyn Engine> {
    let entry = METHODS
        .iter()
        .find(|m| m.name == name)
        .expect("a registered method");
    let topology = match entry.topology {
        Topology::Star => "",
        Topology::Gossip => "[topology]\nkind = \"ring\"\n",
    };
    // The Newton-type methods (they take `mu`) need positive-definite Hessians: L2 instead.
    let regularizer = if entry.accepts().contains(&"mu") {
        "regularizer = { kind = \"l2\", lambda = 0.1 }\n"
    } else {
        ""
    };
    let text = format!(
        "seed = 1\n[problem]\nkind = \"logreg\"\ndata = \"embedded\"\nn_workers = 10\n\
         {regularizer}{topology}[method]\nname = \"{name}\"\n{}\n[stop]\nmax_rounds = 1\n",
        entry.example
    );
    let cfg = ExperimentConfig::from_toml(&text)
        .unwrap_or_else(|e| panic!("{name}: the registry example does not parse: {e}"));
    let mut e = cfg
        .build_engine(Path::new("."))
        .unwrap_or_else(|e| panic!("{name}: the registry example does not build: {e}"));
    for _ in 0..WARMUP {
        e.round().expect("warm-up round");
    }
    e
}

#[divan::bench(args = names(), sample_count = 100)]
fn round(bencher: Bencher<'_, '_>, name: &str) {
    let mut e = engine(name);
    bencher.bench_local(|| e.round().expect("round"));
}
