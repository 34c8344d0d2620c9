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
//!     matrix: false,
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

/// The parameters of a [`crate::KSpec`] (`k` or `ratio`), for sparsifiers that take one.
pub const K_PARAMS: [ParamDoc; 2] = [
    ParamDoc {
        name: "k",
        doc: "number of kept coordinates, 1 ≤ k ≤ d (give k or ratio)",
    },
    ParamDoc {
        name: "ratio",
        doc: "fraction of d to keep, in (0, 1]; k = max(1, ⌈ratio·d⌉)",
    },
];

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
    /// `true` for a matrix compressor (input: the packed upper triangle of a symmetric
    /// matrix, class in the Frobenius norm; see [`crate::matrix`]): the conformance suite runs
    /// it on such inputs and measures in that norm.
    const MATRIX: bool = false;
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
    /// A matrix compressor ([`Registered::MATRIX`]).
    pub matrix: bool,
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

/// `impl Compressor<S>` for a compressor type from the parts that differ between compressors:
/// with `self` and the dimension named by the caller, the bodies of `spec`, `class` and
/// `is_deterministic`, any further trait items (`check_dim`, `nesting`), and the body of
/// `compress_into` with the names it gives $x$, the context and the output message.
///
/// The sparsifier form replaces `compress_into` by the `Sparsifier` parts (`sparsify_into`,
/// `kept`, `is_projection`): `compress_into` is then the `Sparse` message of the kept
/// coordinates ([`squeeze_core::sparse_compress_into`]) and `as_sparsifier` is `Some`.
/// Either form may follow `compress_into` with `, compress_encode |x, ctx, writer| body`: the
/// compressor's own path from `x` to the bits ([`Compressor::compress_encode`], whose message
/// buffer it does not use; without it the default builds the message and encodes it).
/// The unit form (`unit Type = "name", "summary";`, then `class`, `deterministic` and
/// `compress_into`) is for a compressor without parameters: it also writes the [`Registered`]
/// impl (no parameters, the name as the only example) and `spec` is the name.
///
/// The expansion names `Scalar`, `Class`, `Compressor`, `CompressCtx`, `CompressError`,
/// `Message` (and `Sparsifier`) as the calling file imports them.
macro_rules! compressor {
    (
        unit $ty:ident = $name:literal, $summary:literal;
        |$this:ident, $dim:pat_param| {
            class: $class:expr,
            deterministic: $det:expr $(,)?
        }
        compress_into |$x:pat_param, $ctx:pat_param, $out:ident| $body:expr
        $(, compress_encode |$ex:pat_param, $ectx:pat_param, $ew:ident| $ebody:expr)? $(,)?
    ) => {
        impl $crate::entry::Registered for $ty {
            const NAME: &'static str = $name;
            const SUMMARY: &'static str = $summary;
            const PARAMS: &'static [$crate::entry::ParamDoc] = &[];
            const EXAMPLES: &'static [&'static str] = &[$name];
            fn from_params(
                _: &mut $crate::params::Params,
            ) -> Result<Self, squeeze_core::ParamError> {
                Ok($ty)
            }
        }
        $crate::entry::compressor! {
            $ty, |$this, $dim| {
                spec: $name.to_string(),
                class: $class,
                deterministic: $det,
            }
            compress_into |$x, $ctx, $out| $body
            $(, compress_encode |$ex, $ectx, $ew| $ebody)?
        }
    };
    (
        $ty:ty, |$this:ident, $dim:pat_param| {
            spec: $spec:expr,
            class: $class:expr,
            deterministic: $det:expr,
            $($extra:item)*
        }
        compress_into |$x:pat_param, $ctx:pat_param, $out:ident| $body:expr
        $(, compress_encode |$ex:pat_param, $ectx:pat_param, $ew:ident| $ebody:expr)? $(,)?
    ) => {
        impl<S: Scalar> Compressor<S> for $ty {
            fn spec(&$this) -> String {
                $spec
            }
            fn class(&$this, $dim: usize) -> Class {
                $class
            }
            fn is_deterministic(&$this) -> bool {
                $det
            }
            $($extra)*
            fn compress_into(
                &$this,
                $x: &[S],
                $ctx: &mut CompressCtx<'_>,
                $out: &mut Message<S>,
            ) -> Result<(), CompressError> {
                $body
            }
            $(
                fn compress_encode(
                    &$this,
                    $ex: &[S],
                    $ectx: &mut CompressCtx<'_>,
                    _: &mut Message<S>,
                    $ew: &mut squeeze_core::BitWriter,
                ) -> Result<(), CompressError> {
                    $ebody
                }
            )?
        }
    };
    (
        $ty:ty, |$this:ident, $dim:pat_param| {
            spec: $spec:expr,
            class: $class:expr,
            deterministic: $det:expr,
            $($extra:item)*
        }
        sparsify_into |$x:pat_param, $ctx:pat_param, $indices:ident, $values:ident| $body:expr,
        kept |$kd:pat_param| $kept:expr,
        projection: $proj:expr $(,)?
    ) => {
        $crate::entry::compressor! {
            $ty, |$this, $dim| {
                spec: $spec,
                class: $class,
                deterministic: $det,
                fn as_sparsifier(&$this) -> Option<&dyn Sparsifier<S>> {
                    Some($this)
                }
                $($extra)*
            }
            compress_into |x, ctx, out| squeeze_core::sparse_compress_into($this, x, ctx, out)
        }
        impl<S: Scalar> Sparsifier<S> for $ty {
            fn sparsify_into(
                &$this,
                $x: &[S],
                $ctx: &mut CompressCtx<'_>,
                $indices: &mut Vec<u32>,
                $values: &mut Vec<S>,
            ) -> Result<(), CompressError> {
                $body
            }
            fn kept(&$this, $kd: usize) -> Option<usize> {
                $kept
            }
            fn is_projection(&$this) -> bool {
                $proj
            }
        }
    };
}
pub(crate) use compressor;
