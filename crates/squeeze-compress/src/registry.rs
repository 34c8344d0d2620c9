//! Name → compressor registry: the list of entries, and building a compressor from a spec
//! string.
//!
//! Spec strings (syntax in [`crate::spec`]): `name[:key=value,…]`, `A | B` (sparsify with A,
//! compress the kept values with B) and `scaled(Q)`, e.g. `top_k:k=10`, `qsgd:s=16`,
//! `top_k:ratio=0.01 | qsgd:s=4`, `scaled(rand_k:k=5)`. At most
//! [`MAX_DEPTH`](squeeze_core::message::MAX_DEPTH) `|` and `scaled(...)` may nest (the wire
//! format's limit), checked when the spec is parsed.
//!
//! Adding a compressor: implement [`Registered`] and add one line to the `registry!` list at
//! the bottom of this file. That line also enrols it in the conformance property tests
//! (`tests/conformance.rs`) and the throughput benches, which iterate over
//! [`entries()`]`[i].examples`.
//!
//! ```
//! use squeeze_compress::registry;
//! let c = registry::parse::<f32>("top_k:k=2").unwrap();
//! assert_eq!(c.spec(), "top_k:k=2");
//! assert_eq!(c.class(10).alpha(), Some(0.2));
//! let err = registry::parse::<f32>("top_k:k=0").unwrap_err().to_string();
//! assert!(err.contains("k must be ≥ 1"), "{err}");
//! let err = registry::parse::<f32>("topk:k=2").unwrap_err().to_string();
//! assert!(err.contains("did you mean top_k"), "{err}");
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use squeeze_core::{Compressor, Scalar};

use crate::compose::{COMPOSE_ENTRY, Compose};
use crate::params::Params;
use crate::scaled::{SCALED_ENTRY, ScaledUnbiased};
use crate::spec::{SpecTree, parse_tree};

pub use crate::entry::{EntryInfo, ParamDoc, Registered};
pub use crate::error::RegistryError;

/// Every registered compressor, composition and wrapper, in listing order.
pub fn entries() -> &'static [EntryInfo] {
    ENTRIES
}

/// Build a compressor from a spec string: parse it ([`parse_tree`], which refuses malformed
/// and over-deep specs in linear time), then build each node.
///
/// ```
/// use squeeze_compress::registry::parse;
/// let c = parse::<f32>("top_k:ratio=0.5 | scaled(qsgd:s=2)").unwrap();
/// assert_eq!(c.nesting(), 2);
/// let e = parse::<f32>("compose").unwrap_err().to_string();
/// assert!(e.contains("A | B") && !e.contains("did you mean compose"), "{e}");
/// ```
pub fn parse<S: Scalar>(spec: &str) -> Result<Box<dyn Compressor<S>>, RegistryError> {
    build(&parse_tree(spec)?)
}

/// Test helper: `spec` is refused with an error that mentions `needle`.
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_refused(spec: &str, needle: &str) {
    let e = parse::<f32>(spec).unwrap_err().to_string();
    assert!(e.contains(needle), "{spec}: {e}");
}

/// Build the compressor of a syntax tree (recursion as deep as the tree: at most
/// `MAX_DEPTH + 1` for a parsed one).
fn build<S: Scalar>(tree: &SpecTree<'_>) -> Result<Box<dyn Compressor<S>>, RegistryError> {
    match tree {
        SpecTree::Compose(a, b) => {
            let first = build::<S>(a)?;
            let second = build::<S>(b)?;
            Ok(Box::new(Compose::new(first, second)?))
        }
        SpecTree::Scaled(q) => Ok(Box::new(ScaledUnbiased::new(build::<S>(q)?)?)),
        SpecTree::Atom { name, params } => {
            build_atom::<S>(name, params).unwrap_or_else(|| Err(unknown(name)))
        }
    }
}

/// The error for a name no atom has, with a suggestion when one is close. `compose` and
/// `scaled` are not names but syntax (`A | B`, `scaled(Q)`), so near-misses of them are told
/// how to write it.
fn unknown(name: &str) -> RegistryError {
    let atoms = ENTRIES
        .iter()
        .map(|e| e.name)
        .filter(|n| *n != COMPOSE_ENTRY.name && *n != SCALED_ENTRY.name);
    let best = nearest_name(
        name,
        atoms.clone().chain([COMPOSE_ENTRY.name, SCALED_ENTRY.name]),
    )
    .filter(|(d, n)| *d <= 3 && *n != name);
    let suggestion = match best {
        None => String::new(),
        Some((_, n)) if n == COMPOSE_ENTRY.name => {
            "; a composition is written A | B, e.g. top_k:ratio=0.25 | qsgd:s=4".to_string()
        }
        Some((_, n)) if n == SCALED_ENTRY.name => {
            "; did you mean scaled(Q)? e.g. scaled(rand_k:k=3)".to_string()
        }
        Some((_, n)) => format!("; did you mean {n}?"),
    };
    let mut known: Vec<&str> = atoms.collect();
    known.extend(["A | B (compose)", "scaled(Q)"]);
    RegistryError::Unknown {
        name: name.to_string(),
        suggestion,
        known: known.join(", "),
    }
}

/// Build the registered compressor `T` from its `key=value` text; every key must be consumed
/// (`known` lists them for the error).
fn build_registered<S: Scalar, T: Registered + Compressor<S> + 'static>(
    params: &str,
    known: &[&str],
) -> Result<Box<dyn Compressor<S>>, squeeze_core::ParamError> {
    let mut p = Params::parse(T::NAME, params)?;
    let c = T::from_params(&mut p)?;
    p.finish(known)?;
    Ok(Box::new(c))
}

/// The known name closest to `name` in edit distance (Levenshtein: insertions, deletions and
/// substitutions of characters), with that distance; ties go to the smaller name. `None` when
/// `known` is empty. The registries use it for "did you mean …?".
///
/// ```
/// use squeeze_compress::registry::nearest_name;
/// assert_eq!(nearest_name("top-k", ["rand_k", "top_k"]), Some((1, "top_k")));
/// assert_eq!(nearest_name("qsgd", []), None);
/// ```
pub fn nearest_name<'a>(
    name: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Option<(usize, &'a str)> {
    known.into_iter().map(|k| (edit_distance(k, name), k)).min()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A compressor as written in a config file: a spec string, or a table with `name` and
/// parameters.
///
/// ```
/// use squeeze_compress::registry::CompressorSpec;
/// #[derive(serde::Deserialize)]
/// struct Cfg { compressor: CompressorSpec }
/// let a: Cfg = toml::from_str(r#"compressor = "top_k:k=10""#).unwrap();
/// let b: Cfg = toml::from_str("compressor = { name = \"top_k\", k = 10 }").unwrap();
/// assert_eq!(a.compressor.to_spec_string(), b.compressor.to_spec_string());
/// assert_eq!(b.compressor.build::<f32>().unwrap().spec(), "top_k:k=10");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CompressorSpec {
    /// `"top_k:k=10"`.
    Text(String),
    /// `{ name = "top_k", k = 10 }`.
    Table {
        /// Registry name.
        name: String,
        /// Parameters.
        #[serde(flatten)]
        params: BTreeMap<String, ParamValue>,
    },
}

/// A parameter value in a config table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// Boolean.
    Bool(bool),
    /// Integer.
    Int(i64),
    /// Real.
    Float(f64),
    /// Text.
    Text(String),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Text(s) => write!(f, "{s}"),
        }
    }
}

impl CompressorSpec {
    /// The equivalent spec string.
    pub fn to_spec_string(&self) -> String {
        match self {
            CompressorSpec::Text(s) => s.trim().to_string(),
            CompressorSpec::Table { name, params } => {
                if params.is_empty() {
                    name.clone()
                } else {
                    let kv: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("{name}:{}", kv.join(","))
                }
            }
        }
    }

    /// Build the compressor.
    pub fn build<S: Scalar>(&self) -> Result<Box<dyn Compressor<S>>, RegistryError> {
        parse(&self.to_spec_string())
    }
}

macro_rules! registry {
    ($($t:ty),* $(,)?) => {
        const ENTRIES: &[EntryInfo] = &[
            $(EntryInfo {
                name: <$t as Registered>::NAME,
                summary: <$t as Registered>::SUMMARY,
                params: <$t as Registered>::PARAMS,
                examples: <$t as Registered>::EXAMPLES,
                bench: <$t as Registered>::BENCH,
                matrix: <$t as Registered>::MATRIX,
            },)*
            COMPOSE_ENTRY,
            SCALED_ENTRY,
        ];

        /// Build the atom `name` from its `key=value` text; `None` if no atom has that name.
        fn build_atom<S: Scalar>(
            name: &str,
            params: &str,
        ) -> Option<Result<Box<dyn Compressor<S>>, RegistryError>> {
            $(
                if name == <$t as Registered>::NAME {
                    const KNOWN: &[&str] = &{
                        let docs = <$t as Registered>::PARAMS;
                        let mut out = [""; <$t as Registered>::PARAMS.len()];
                        let mut i = 0;
                        while i < docs.len() {
                            out[i] = docs[i].name;
                            i += 1;
                        }
                        out
                    };
                    return Some(build_registered::<S, $t>(params, KNOWN).map_err(Into::into));
                }
            )*
            None
        }
    };
}

// One line per compressor. The order is the listing order.
registry! {
    crate::identity::Identity,
    crate::top_k::TopK,
    crate::threshold_abs::ThresholdAbs,
    crate::threshold_rel::ThresholdRel,
    crate::rand_k::RandK,
    crate::perm_k::PermK,
    crate::scaled_sign::ScaledSign,
    crate::clip::Clip,
    crate::qsgd::Qsgd,
    crate::natural::Natural,
    crate::natural_dithering::NaturalDithering,
    crate::terngrad::TernGrad,
    crate::power_rounding::PowerRounding,
    crate::one_bit::OneBit,
    crate::cast::CastF16,
    crate::cast::CastBf16,
    crate::cast::CastU8,
    crate::matrix::SymTopK,
    crate::matrix::SymRandK,
    crate::matrix::SymThreshold,
    crate::matrix::RankR,
    crate::matrix::PowerSym,
}
