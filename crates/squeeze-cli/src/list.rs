//! `squeeze list`: every registered compressor with its parameters and the class of each
//! example at dimension D, then the methods.

use clap::Args;
use squeeze_compress::registry::{entries, parse};
use squeeze_driver::config::{METHODS, Topology};

use crate::fail::{CliResult, usage};

/// Arguments of `squeeze list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Dimension at which the example compressors' classes (α, ω) are shown.
    #[arg(long, value_name = "D", default_value_t = 1000)]
    pub dim: usize,
}

/// Run `squeeze list`.
pub fn list(args: ListArgs) -> CliResult {
    if args.dim == 0 {
        return Err(usage("--dim 0: the dimension must be ≥ 1"));
    }
    let d = args.dim;
    println!("Compressors (method.compressor = \"SPEC\"; classes at d = {d}):\n");
    for e in entries() {
        println!("{} — {}", e.name, e.summary);
        for p in e.params {
            println!("    {:<8} {}", p.name, p.doc);
        }
        for spec in e.examples {
            match parse::<f64>(spec) {
                Ok(c) => match c.check_dim(d) {
                    Ok(()) => println!("    e.g. {spec:<36} {}", c.class(d).describe()),
                    Err(err) => println!("    e.g. {spec:<36} (not at d = {d}: {err})"),
                },
                Err(err) => println!("    e.g. {spec:<36} ({err})"),
            }
        }
    }
    let w = METHODS.iter().map(|m| m.name.len()).max().unwrap_or(6);
    for (topology, title) in [
        (
            Topology::Star,
            "Methods (method.name = \"NAME\"; then the keys each takes):",
        ),
        (
            Topology::Gossip,
            "Gossip methods (need a [topology], e.g. kind = \"ring\"):",
        ),
    ] {
        println!("\n{title}\n");
        for m in METHODS.iter().filter(|m| m.topology == topology) {
            println!("{:<w$} {}", m.name, m.summary);
            println!("{:<w$}   keys: {}", "", m.accepts().join(", "));
            println!("{:<w$}   e.g. {}", "", m.example.replace('\n', "; "));
        }
    }
    Ok(())
}
