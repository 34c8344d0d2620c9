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
    use std::fmt::Write as _;
    if args.dim == 0 {
        return Err(usage("--dim 0: the dimension must be ≥ 1"));
    }
    let d = args.dim;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Compressors (method.compressor = \"SPEC\"; classes at d = {d}):\n"
    );
    for e in entries() {
        let _ = writeln!(text, "{} — {}", e.name, e.summary);
        for p in e.params {
            let _ = writeln!(text, "    {:<8} {}", p.name, p.doc);
        }
        for spec in e.examples {
            let class = match parse::<f64>(spec) {
                Ok(c) => match c.check_dim(d) {
                    Ok(()) => c.class(d).describe(),
                    Err(err) => format!("(not at d = {d}: {err})"),
                },
                Err(err) => format!("({err})"),
            };
            let _ = writeln!(text, "    e.g. {spec:<36} {class}");
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
        let _ = writeln!(text, "\n{title}\n");
        for m in METHODS.iter().filter(|m| m.topology == topology) {
            let _ = writeln!(text, "{:<w$} {}", m.name, m.summary);
            let _ = writeln!(text, "{:<w$}   keys: {}", "", m.accepts().join(", "));
            let _ = writeln!(text, "{:<w$}   e.g. {}", "", m.example.replace('\n', "; "));
        }
    }
    crate::console::out(&text)
}
