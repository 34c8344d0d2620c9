//! The registry's descriptor types: what each compressor file declares about itself
//! ([`Registered`], [`ParamDoc`]) and what the listing shows ([`EntryInfo`]).
//!
//! A leaf module: it imports no compressor, so compressor files can use it while
//! [`crate::registry`] (the list of entries) imports the compressors.
//!
//! ```
//! use squeeze_compress::entry::{EntryInfo, ParamDoc};
//! const E: EntryInfo = EntryInfo {
//!     name: "demo",
//!     summary: "a demo entry",
//!     params: &[ParamDoc { name: "k", doc: "a count" }],
//!     examples: &["demo:k=1", "demo:k=2"],
//!     bench: &[],
//! };
//! assert_eq!(E.bench_specs(), &["demo:k=1"]);
//! ```

use serde::Serialize;
use squeeze_core::ParamError;

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
