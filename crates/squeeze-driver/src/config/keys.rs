//! The documented keys of every configuration section: one [`KeyDoc`] line per key (type,
//! default, meaning, example) — the source of `squeeze config` and `docs/config.md`. The
//! `[method]` keys besides `name` come from the method registry
//! ([`squeeze_methods::MethodEntry::keys`]), one table per method.
//!
//! Adding a key to a section struct means adding its line to the section's table here: the
//! tests compare each table with the fields serde accepts (a field without a line, or a line
//! without a field, fails), parse every example, and check every default against what the
//! structs fill in. A new section is one more [`Section`] in [`SECTIONS`].
//!
//! ```
//! use squeeze_driver::config::keys::{SECTIONS, section};
//! let problem = section("problem").unwrap();
//! let n = problem.keys.iter().find(|k| k.key == "n_workers").unwrap();
//! assert_eq!(n.default, "required");
//! assert!(SECTIONS.iter().any(|s| s.name == "stop"));
//! ```

use squeeze_methods::registry::{METHODS, MethodEntry};

/// One key of a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDoc {
    /// The key inside its section, dotted when nested (`regularizer.lambda`).
    pub key: &'static str,
    /// Its TOML type (and range).
    pub ty: &'static str,
    /// A TOML value (checked against the struct's default), `required`, or `—` (unset;
    /// the meaning says what that does).
    pub default: &'static str,
    /// One line: what it does.
    pub doc: &'static str,
    /// A TOML value that parses at this key.
    pub example: &'static str,
}

/// [`KeyDoc`] in one line.
const fn key(
    key: &'static str,
    ty: &'static str,
    default: &'static str,
    doc: &'static str,
    example: &'static str,
) -> KeyDoc {
    KeyDoc {
        key,
        ty,
        default,
        doc,
        example,
    }
}

/// The default of a key that is unset unless written.
pub const UNSET: &str = "—";

/// A section of the configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    /// The table name (`problem`), or `""` for the top-level keys.
    pub name: &'static str,
    /// One paragraph: what the section is for and when it is needed.
    pub intro: &'static str,
    /// Its keys, in the order of the struct.
    pub keys: &'static [KeyDoc],
}

/// Top-level keys ([`super::ExperimentConfig`]).
#[rustfmt::skip]
pub const TOP: &[KeyDoc] = &[
    key("name", "string", UNSET, "Run name: the output directory `runs/<name>` and the plot legend; unset: the method and compressor (`ef21 top_k:k=1`).", "\"ef21-top1\""),
    key("seed", "integer ≥ 0", "0", "Experiment seed: every random stream (split, x⁰, compressors, minibatches, random graphs) derives from it.", "1"),
    key("precision", "`\"f32\"` or `\"f64\"`", "\"f64\"", "Floating-point type of the run.", "\"f32\""),
];

/// `[problem]` keys ([`super::ProblemConfig`]).
#[rustfmt::skip]
pub const PROBLEM: &[KeyDoc] = &[
    key("kind", "string", "\"logreg\"", "Objective: `logreg` (labels ±1), `least_squares` (labels as targets), `quadratic3pc`, `quadratic_motef` (synthetic quadratics, no data).", "\"least_squares\""),
    key("data", "string", "\"embedded\"", "`\"embedded\"` (breast cancer, 569 × 30), `\"synthetic_a9a\"` (a9a-shaped, seeded) or a LIBSVM file path, relative to the config file.", "\"data/w8a\""),
    key("rows", "integer ≥ 1", UNSET, "Rows of `synthetic_a9a` (unset: 32,560).", "10000"),
    key("n_features", "integer ≥ 1", UNSET, "Feature count of a LIBSVM file whose largest index is below the true width (unset: the largest index).", "300"),
    key("n_workers", "integer ≥ 1", "required", "Number of workers (the nodes of the graph for gossip methods).", "20"),
    key("split", "string", "\"contiguous\"", "How rows go to workers: `contiguous` (file order; heterogeneous), `shuffled` (seeded; iid) or `sorted_by_label`.", "\"shuffled\""),
    key("drop_remainder", "boolean", "false", "Drop the N mod n leftover rows (the same as `remainder = \"drop\"`).", "true"),
    key("remainder", "string", UNSET, "Where the N mod n leftover rows go: `to_last` (unset), `drop`, or `balanced` (one each to the first workers, as `numpy.array_split`).", "\"balanced\""),
    key("regularizer.kind", "string", "\"nonconvex\"", "Regulariser: `none`, `l2` (λ/2‖x‖²) or `nonconvex` (λΣx²/(1+x²)).", "\"l2\""),
    key("regularizer.lambda", "float ≥ 0", "0.1", "λ (0 when `regularizer` is written without it).", "0.01"),
    key("init.kind", "string", "\"gaussian\"", "x⁰: `zeros`, `gaussian` (N(0, std²I) from the seed) or `problem_default` (3PC quadratics: √d e₁; else zeros).", "\"zeros\""),
    key("init.std", "float ≥ 0", "1.0", "Standard deviation of a `gaussian` x⁰.", "0.5"),
    key("dim", "integer ≥ 1", UNSET, "Dimension of the synthetic quadratics (unset: 1000 for `quadratic3pc`, 20 for `quadratic_motef`).", "100"),
    key("heterogeneity", "float", UNSET, "Scale s of the 3PC quadratics (unset: 0.1); ζ of the MoTEF quadratics (unset: 1).", "1.0"),
];

/// `[method]` keys shared by every method (each method's own keys come from the registry).
#[rustfmt::skip]
pub const METHOD: &[KeyDoc] = &[
    key("name", "string", "required", "The method (`squeeze list`); the other keys depend on it (tables below).", "\"ef21\""),
    key("smoothness", "string", UNSET, "The L of theory stepsizes: `pooled` (L of f; unset means this) or `mean_of_workers` (the mean of the L_i, as the EF21 reference code); only for methods with a `stepsize` key.", "\"mean_of_workers\""),
];

/// `[stop]` keys ([`crate::StopRules`]).
#[rustfmt::skip]
pub const STOP: &[KeyDoc] = &[
    key("max_rounds", "integer", UNSET, "Stop after this many rounds.", "1000"),
    key("target_grad_norm_sq", "float", UNSET, "Stop once ‖∇f(x)‖² ≤ this (checked on logged rounds).", "1e-6"),
    key("bit_budget_per_worker", "float", UNSET, "Stop once the mean uplink bits per worker reach this.", "1e6"),
    key("wall_time_s", "float", UNSET, "Stop after this many seconds of wall time (makes the round count machine-dependent).", "60.0"),
    key("diverge_factor", "float > 1", UNSET, "Stop as diverged once the largest of |f|, ‖∇f‖² and the consensus error exceeds this times its value at round 0 (unset: 1e6; `inf`: never).", "1e9"),
];

/// `[run]` keys ([`super::RunConfig`]).
#[rustfmt::skip]
pub const RUN: &[KeyDoc] = &[
    key("threads", "integer ≥ 1", "1", "Worker threads; results do not depend on it (capped at `problem.n_workers`; `--threads` overrides it).", "4"),
    key("log_every", "integer ≥ 1", "1", "Write a record every this many rounds.", "10"),
    key("checkpoint_every", "integer", UNSET, "Write `checkpoint.json` every this many rounds, for `--resume` (unset or 0: never).", "100"),
];

/// `[output]` keys ([`super::OutputConfig`]).
#[rustfmt::skip]
pub const OUTPUT: &[KeyDoc] = &[
    key("formats", "array of strings", UNSET, "Record files (unset: `[\"csv\"]`): `csv` (`records.csv`, what `squeeze plot` reads) and/or `jsonl` (`records.jsonl`); at least one, each once.", "[\"csv\", \"jsonl\"]"),
];

/// `[topology]` keys ([`squeeze_topology::TopologyConfig`]).
#[rustfmt::skip]
pub const TOPOLOGY: &[KeyDoc] = &[
    key("kind", "string", "required", "Graph on n = `problem.n_workers` nodes: `ring`, `torus`, `complete`, `star`, `path`, `grid`, `erdos_renyi` or `edges`.", "\"torus\""),
    key("rows", "integer ≥ 1", UNSET, "`torus`, `grid`: rows (unset: n / cols, or √n when both are unset).", "4"),
    key("cols", "integer ≥ 1", UNSET, "`torus`, `grid`: columns (unset: n / rows, or √n).", "5"),
    key("p", "float in (0, 1]", UNSET, "`erdos_renyi`: edge probability (required there).", "0.2"),
    key("seed", "integer", UNSET, "`erdos_renyi`: graph seed (unset: the experiment seed).", "3"),
    key("edges", "array of [a, b]", UNSET, "`edges`: the undirected edges (required there).", "[[0, 1], [1, 2], [2, 0]]"),
    key("weights", "string", "\"metropolis_hastings\"", "Mixing weights: `metropolis_hastings` (1/(1 + max degree of the pair)) or `uniform` (1/(Δ + 1)).", "\"uniform\""),
];

/// Every section, in file order.
#[rustfmt::skip]
pub const SECTIONS: &[Section] = &[
    Section { name: "", intro: "Keys at the top of the file, before any table.", keys: TOP },
    Section { name: "problem", intro: "The objective, its data and how the data is split across the workers.", keys: PROBLEM },
    Section { name: "method", intro: "The method and its parameters: `name` plus the keys of that method (an unknown or inapplicable key is an error that lists the accepted ones).", keys: METHOD },
    Section { name: "stop", intro: "Stop rules: at least one is required; the first one met ends the run. Non-finite values always stop it as diverged.", keys: STOP },
    Section { name: "run", intro: "How the run executes; `--resume` may change these (and `stop.*`, `name`).", keys: RUN },
    Section { name: "output", intro: "Which record files a run writes (the section may be left out: CSV only).", keys: OUTPUT },
    Section { name: "topology", intro: "The graph and mixing weights of the gossip methods (required for them, refused by the others).", keys: TOPOLOGY },
];

/// The section called `name` (`""`: the top-level keys).
pub fn section(name: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|s| s.name == name)
}

/// Example values of `[method]` keys for the methods whose `EXAMPLE` does not set them.
#[rustfmt::skip]
pub const METHOD_KEY_EXAMPLES: &[(&str, &str)] = &[
    ("compressor", "\"top_k:k=1\""),
    ("warmup_rounds", "100"),
    ("compressor_schedule", "[{ from = 500, compressor = \"top_k:k=10\" }]"),
    ("stepsize", "{ rule = \"constant\", gamma = 0.1 }"),
    ("init", "\"compressed\""),
    ("count_init", "true"),
    ("gradient", "{ kind = \"minibatch\", batch = 8 }"),
    ("batch", "0.25"),
    ("tau", "1.0"),
    ("zeta", "4.0"),
    ("p", "0.1"),
    ("eta", "0.05"),
    ("gamma", "0.5"),
    ("downlink_ladder", "[\"top_k:k=4\", \"identity\"]"),
    ("downlink_zeta", "1.0"),
    ("adapt_then_combine", "true"),
    ("layers", "[[20, 15], [1, 20]]"),
    ("warm_start", "false"),
    ("beta1", "0.9"),
    ("beta2", "0.99"),
    ("eps", "1e-6"),
    ("block", "64"),
    ("regularization", "\"shift\""),
    ("mu", "1e-3"),
    ("clip_norm", "1.0"),
    ("hierarchical_cap", "1.5"),
    ("gradient_prob", "0.5"),
];

/// An example value of `key` for `method`: its registry example's value when it sets the key,
/// else [`METHOD_KEY_EXAMPLES`], else another method's example.
pub fn method_key_example(method: &MethodEntry, key: &str) -> Option<String> {
    let from = |m: &MethodEntry| m.example_table().ok()?.get(key).map(ToString::to_string);
    from(method)
        .or_else(|| {
            METHOD_KEY_EXAMPLES
                .iter()
                .find(|e| e.0 == key)
                .map(|e| e.1.to_string())
        })
        .or_else(|| METHODS.iter().find_map(from))
}

/// The TOML type of a method parameter from its Rust type as `method_entry!` declares it
/// (`Option<f64>` → `float`); unknown types come back as written.
///
/// ```
/// use squeeze_driver::config::keys::toml_type;
/// assert_eq!(toml_type("Option<Vec<squeeze_compress::CompressorSpec>>"), "array of compressor specs");
/// assert_eq!(toml_type("bool"), "boolean");
/// ```
pub fn toml_type(rust: &str) -> String {
    let t: String = rust.chars().filter(|c| !c.is_whitespace()).collect();
    let t = t
        .strip_prefix("Option<")
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(&t);
    if let Some(inner) = t.strip_prefix("Vec<").and_then(|s| s.strip_suffix('>')) {
        return format!("array of {}s", toml_type(inner));
    }
    let last = t.rsplit("::").next().unwrap_or(t);
    match last {
        "f64" | "f32" => "float",
        "u32" | "u64" | "usize" => "integer",
        "bool" => "boolean",
        "String" => "string",
        "CompressorSpec" => "compressor spec",
        "Stepsize" => "table",
        "GradInit" | "HessianMechanism" | "RegularizationRule" => "string",
        "GradSource" | "ScheduleStage" => "table",
        "Batch" => "integer or float",
        "[usize;2]" => "integer pair",
        other => other,
    }
    .to_string()
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
