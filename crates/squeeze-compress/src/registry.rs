//! Name → compressor registry.
//!
//! Spec strings:
//!
//! ```text
//! spec := term | term '|' spec          sparsify with the first term, compress the kept values
//!                                       with the rest (see [`crate::Compose`])
//! term := 'scaled(' spec ')'            Q/(ω+1) for an unbiased Q (see [`crate::ScaledUnbiased`])
//!       | name [':' key '=' value (',' key '=' value)*]
//! ```
//!
//! e.g. `top_k:k=10`, `qsgd:s=16`, `top_k:ratio=0.01 | qsgd:s=4`, `scaled(rand_k:k=5)`.
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
use squeeze_core::{Compressor, ParamError, Scalar};
use thiserror::Error;

use crate::params::Params;

/// Documentation of one parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParamDoc {
    /// Key in spec strings.
    pub name: &'static str,
    /// Meaning, domain and default.
    pub doc: &'static str,
}

/// A compressor type that the registry can build from parameters.
pub trait Registered: Sized {
    /// Registry name (snake_case).
    const NAME: &'static str;
    /// One line: what it does, its class and the reference.
    const SUMMARY: &'static str;
    /// Parameters it accepts.
    const PARAMS: &'static [ParamDoc];
    /// Spec strings that exercise it (edge settings included); the conformance tests run each.
    const EXAMPLES: &'static [&'static str];
    /// Spec strings for the throughput benches (at d = 10⁵, 10⁶, 10⁷); empty = `EXAMPLES[0]`.
    const BENCH: &'static [&'static str] = &[];
    /// Build from parsed parameters (consume them with the typed getters; leftovers are
    /// reported as unknown by the registry).
    fn from_params(p: &mut Params) -> Result<Self, ParamError>;
}

/// What `squeeze list` shows for one registry entry.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EntryInfo {
    /// Registry name.
    pub name: &'static str,
    /// One-line description with class and reference.
    pub summary: &'static str,
    /// Accepted parameters.
    pub params: &'static [ParamDoc],
    /// Example spec strings (the conformance tests run these).
    pub examples: &'static [&'static str],
    /// Spec strings for the throughput benches (empty = the first example).
    pub bench: &'static [&'static str],
}

impl EntryInfo {
    /// The specs the benches run for this entry.
    pub fn bench_specs(&self) -> &'static [&'static str] {
        if self.bench.is_empty() {
            &self.examples[..self.examples.len().min(1)]
        } else {
            self.bench
        }
    }
}

/// Why a spec string could not be turned into a compressor.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// No compressor has this name.
    #[error("unknown compressor '{name}'{suggestion}; known compressors: {known}")]
    Unknown {
        /// The name given.
        name: String,
        /// `; did you mean X` or empty.
        suggestion: String,
        /// All registered names.
        known: String,
    },
    /// A parameter is invalid.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The spec string is malformed.
    #[error("malformed compressor spec '{spec}': {hint}")]
    Syntax {
        /// The spec string.
        spec: String,
        /// What is wrong and how to write it.
        hint: String,
    },
}

/// Every registered compressor, composition and wrapper, in listing order.
pub fn entries() -> &'static [EntryInfo] {
    ENTRIES
}

/// Build a compressor from a spec string.
pub fn parse<S: Scalar>(spec: &str) -> Result<Box<dyn Compressor<S>>, RegistryError> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(RegistryError::Syntax {
            spec: spec.to_string(),
            hint: "empty; write e.g. top_k:k=10".to_string(),
        });
    }
    if let Some(pos) = top_level_pipe(spec)? {
        let first = parse::<S>(&spec[..pos])?;
        let second = parse::<S>(&spec[pos + 1..])?;
        return Ok(Box::new(crate::compose::Compose::new(first, second)?));
    }
    if let Some(inner) = spec
        .strip_prefix("scaled(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let inner = parse::<S>(inner)?;
        return Ok(Box::new(crate::scaled::ScaledUnbiased::new(inner)?));
    }
    let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
    let name = name.trim();
    if name.contains(['(', ')', ' ']) {
        return Err(RegistryError::Syntax {
            spec: spec.to_string(),
            hint: "a name is a single word such as top_k; wrappers are written scaled(<spec>)"
                .to_string(),
        });
    }
    let mut p = Params::parse(name, rest)?;
    match build_atom::<S>(name, &mut p) {
        Some((built, known)) => {
            let c = built?;
            p.finish(known)?;
            Ok(c)
        }
        None => Err(unknown(name)),
    }
}

fn top_level_pipe(spec: &str) -> Result<Option<usize>, RegistryError> {
    let mut depth = 0i32;
    for (i, ch) in spec.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            '|' if depth == 0 => return Ok(Some(i)),
            _ => {}
        }
        if depth < 0 {
            break;
        }
    }
    if depth != 0 {
        return Err(RegistryError::Syntax {
            spec: spec.to_string(),
            hint: "unbalanced parentheses".to_string(),
        });
    }
    Ok(None)
}

fn unknown(name: &str) -> RegistryError {
    let names: Vec<&str> = ENTRIES.iter().map(|e| e.name).collect();
    let best = names
        .iter()
        .map(|n| (edit_distance(n, name), *n))
        .min()
        .filter(|(d, _)| *d <= 3);
    RegistryError::Unknown {
        name: name.to_string(),
        suggestion: best
            .map(|(_, n)| format!("; did you mean {n}?"))
            .unwrap_or_default(),
        known: names.join(", "),
    }
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
            },)*
            crate::compose::COMPOSE_ENTRY,
            crate::scaled::SCALED_ENTRY,
        ];

        type Built<S> = Result<Box<dyn Compressor<S>>, ParamError>;

        fn build_atom<S: Scalar>(name: &str, p: &mut Params) -> Option<(Built<S>, &'static [&'static str])> {
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
                    let built = <$t as Registered>::from_params(p)
                        .map(|c| Box::new(c) as Box<dyn Compressor<S>>);
                    return Some((built, KNOWN));
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
}
