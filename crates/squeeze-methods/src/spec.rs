//! Methods as components: a method is built from a name and a table of typed parameters.
//!
//! A [`MethodSpec`] is a method's registry entry: its name, a one-line summary, whether it runs
//! on the star (server–worker) or the gossip engine, its own typed `Params`
//! (`#[serde(deny_unknown_fields)]`, the `[method]` section minus `name`), an example table,
//! and `build`, which validates the parameters against the problem dimension $d$ and hands
//! the method to a [`MethodSink`] (the engine that runs it is the sink's business, so this
//! crate never names an engine or a transport). The registry ([`crate::registry`]) lists
//! every spec on one line each.
//!
//! Every configuration mistake is a [`MethodConfigError`] naming the key (`method.compressor`,
//! `method.zeta`, …) and the fix.
//!
//! ```
//! use squeeze_methods::spec::{MethodSpec, Topology};
//! use squeeze_methods::star::gd::GdSpec;
//! assert_eq!(GdSpec::NAME, "gd");
//! assert_eq!(GdSpec::TOPOLOGY, Topology::Star);
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;
use squeeze_compress::CompressorSpec;
use squeeze_core::{Compressor, Scalar};
use thiserror::Error;

use crate::gossip::GossipMethod;
use crate::method::{MethodError, ServerMethod};
use crate::star::ef21::GradInit;
use crate::star::ef21::sgd::Batch;

/// Which engine runs a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// A server and n workers (`ServerMethod`).
    Star,
    /// n nodes on a graph with mixing weights (`GossipMethod`; needs `[topology]`).
    Gossip,
}

impl Topology {
    /// `"star"` or `"gossip"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Topology::Star => "star",
            Topology::Gossip => "gossip",
        }
    }
}

/// A configuration mistake in the `[method]` section: the full key (e.g. `method.zeta`) and
/// what is wrong with how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{key}: {detail}")]
pub struct MethodConfigError {
    /// The key, e.g. `method.compressor` (`method.name` for an unknown method).
    pub key: String,
    /// What is wrong and how to fix it.
    pub detail: String,
}

impl MethodConfigError {
    /// An error for `method.<key>` (`key` without the `method.` prefix; empty: `method`).
    pub fn at(key: &str, detail: impl Into<String>) -> Self {
        let key = if key.is_empty() {
            "method".to_string()
        } else {
            format!("method.{key}")
        };
        Self {
            key,
            detail: detail.into(),
        }
    }
}

/// What `build` knows about the run besides the parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildCtx {
    /// The problem dimension d (compressors are checked against it).
    pub dim: usize,
}

/// Receives the built method, typed (the driver wraps it in an engine).
pub trait MethodSink<S: Scalar> {
    /// What the sink makes of a method (e.g. a boxed engine).
    type Output;
    /// The sink's error; configuration mistakes convert into it.
    type Error: From<MethodConfigError>;
    /// Take a star method.
    fn star<M: ServerMethod<S> + 'static>(self, m: M) -> Result<Self::Output, Self::Error>;
    /// Take a gossip method.
    fn gossip<M: GossipMethod<S> + 'static>(self, m: M) -> Result<Self::Output, Self::Error>;
}

/// A method's registry entry (one per registered name).
pub trait MethodSpec {
    /// The name in `[method] name = "…"`.
    const NAME: &'static str;
    /// One line for `squeeze list`.
    const SUMMARY: &'static str;
    /// The engine that runs it.
    const TOPOLOGY: Topology;
    /// A TOML table of parameters it runs with (the shared method suite and `squeeze list`
    /// use it), e.g. `"compressor = \"top_k:k=1\"\nzeta = 4.0"`.
    const EXAMPLE: &'static str;
    /// Keys it does not take but users write, each with the fix (e.g. `gd` and
    /// `compressor`); any other unknown key gets the list of accepted keys.
    const HINTS: &'static [(&'static str, &'static str)] = &[];
    /// The `[method]` section minus `name`.
    type Params: DeserializeOwned + Serialize;
    /// Validate `p` at dimension `ctx.dim` and hand the method to `sink`.
    fn build<S: Scalar, B: MethodSink<S>>(
        p: Self::Params,
        ctx: &BuildCtx,
        sink: B,
    ) -> Result<B::Output, B::Error>;
}

/// Build the compressor `spec` (key `method.<key>`) and check it fits dimension `dim`;
/// absent: "`name` needs a compressor".
pub fn compressor<S: Scalar>(
    name: &str,
    key: &str,
    spec: Option<&CompressorSpec>,
    dim: usize,
) -> Result<Box<dyn Compressor<S>>, MethodConfigError> {
    let spec = spec.ok_or_else(|| {
        MethodConfigError::at(
            key,
            format!("{name} needs a compressor, e.g. {key} = \"top_k:k=1\""),
        )
    })?;
    build_compressor(key, spec, dim)
}

/// A later stage of `method.compressor_schedule`: `compressor` from round `from` on.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleStage {
    /// The first round of this stage (> the warm-up and the previous stage's).
    pub from: u64,
    /// Its compressor spec.
    pub compressor: CompressorSpec,
}

/// `skip_serializing_if` for keys whose default is 0 (configs that do not set them keep their
/// resolved form and fingerprint).
pub fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// The method's compressor (`method.compressor`, required) with its schedule: the identity
/// for the first `warmup_rounds` rounds (`method.warmup_rounds`), then the compressor, then
/// each stage of `method.compressor_schedule` from its round on
/// ([`squeeze_compress::Schedule`]: bits are the stage's, the class the weakest stage's, and
/// nothing is added to the state, so checkpoints resume in the right stage). Without a
/// warm-up or schedule it is the compressor itself.
///
/// ```
/// use squeeze_compress::CompressorSpec::Text;
/// use squeeze_methods::spec::{ScheduleStage, main_compressor};
/// let top1 = Text("top_k:k=1".into());
/// let later = [ScheduleStage { from: 50, compressor: Text("top_k:k=3".into()) }];
/// let c = main_compressor::<f64>("ef21", Some(&top1), 10, &later, 5).unwrap();
/// assert_eq!(c.spec(), "schedule(identity; from 10: top_k:k=1; from 50: top_k:k=3)");
/// // A stage must start after the warm-up.
/// let early = [ScheduleStage { from: 5, compressor: Text("top_k:k=3".into()) }];
/// let e = main_compressor::<f64>("ef21", Some(&top1), 10, &early, 5).unwrap_err();
/// assert_eq!(e.key, "method.compressor_schedule");
/// ```
pub fn main_compressor<S: Scalar>(
    name: &str,
    spec: Option<&CompressorSpec>,
    warmup_rounds: u64,
    schedule: &[ScheduleStage],
    dim: usize,
) -> Result<Box<dyn Compressor<S>>, MethodConfigError> {
    let c = compressor(name, "compressor", spec, dim)?;
    if warmup_rounds == 0 && schedule.is_empty() {
        return Ok(c);
    }
    let mut later = Vec::with_capacity(schedule.len() + 1);
    for (i, stage) in schedule.iter().enumerate() {
        let key = format!("compressor_schedule[{i}].compressor");
        later.push((
            stage.from,
            build_compressor::<S>(&key, &stage.compressor, dim)?,
        ));
    }
    let bad = |e: squeeze_core::ParamError| {
        MethodConfigError::at(
            "compressor_schedule",
            format!(
                "{e}; stages start after the warm-up ({warmup_rounds} rounds) and after each \
                 other, e.g. compressor_schedule = [{{ from = 500, compressor = \"top_k:k=10\" }}]"
            ),
        )
    };
    let s = if warmup_rounds > 0 {
        later.insert(0, (warmup_rounds, c));
        squeeze_compress::Schedule::new(Box::new(squeeze_compress::Identity), later)
    } else {
        squeeze_compress::Schedule::new(c, later)
    }
    .map_err(bad)?;
    Ok(Box::new(s))
}

/// Build `spec` and check it fits dimension `dim`; errors carry `method.<key>`.
pub fn build_compressor<S: Scalar>(
    key: &str,
    spec: &CompressorSpec,
    dim: usize,
) -> Result<Box<dyn Compressor<S>>, MethodConfigError> {
    let c = spec
        .build::<S>()
        .map_err(|e| MethodConfigError::at(key, e.to_string()))?;
    c.check_dim(dim)
        .map_err(|e| MethodConfigError::at(key, e.to_string()))?;
    Ok(c)
}

/// A required value: "`name` needs `key`: `hint`".
pub fn required<T>(
    name: &str,
    key: &str,
    v: Option<T>,
    hint: &str,
) -> Result<T, MethodConfigError> {
    v.ok_or_else(|| MethodConfigError::at(key, format!("{name} needs {key}: {hint}")))
}

/// Methods that send dense vectors reject a compressor (key `method.compressor`).
pub fn no_compressor(present: bool, hint: &str) -> Result<(), MethodConfigError> {
    if present {
        Err(MethodConfigError::at("compressor", hint))
    } else {
        Ok(())
    }
}

/// The EF21 variants that start from g_i⁰ = ∇f_i(x⁰) only.
pub fn full_init_only(name: &str, init: GradInit) -> Result<(), MethodConfigError> {
    if init == GradInit::Full {
        Ok(())
    } else {
        Err(MethodConfigError::at(
            "init",
            format!(
                "{name} starts from the full local gradients; remove init or set init = \"full\" (ef21, ef21_pp and ef21_hb take other inits)"
            ),
        ))
    }
}

/// The required, validated minibatch size of the stochastic EF21 variants.
pub fn batch(name: &str, b: Option<Batch>) -> Result<Batch, MethodConfigError> {
    let b = b.ok_or_else(|| {
        MethodConfigError::at(
            "batch",
            format!(
                "{name} needs batch: a count (batch = 5) or a fraction of the local samples (batch = 0.25)"
            ),
        )
    })?;
    b.validate()
        .map_err(|e| MethodConfigError::at("batch", e.to_string()))?;
    Ok(b)
}

/// The clipping radius τ > 0 of Clip-GD and the Clip21 family.
pub fn tau(name: &str, tau: Option<f64>) -> Result<f64, MethodConfigError> {
    let t = required(
        name,
        "tau",
        tau,
        "the clipping radius τ > 0, e.g. tau = 1 (tau = inf: no clipping)",
    )?;
    if t > 0.0 {
        Ok(t)
    } else {
        Err(MethodConfigError::at(
            "tau",
            format!("{t}: the clipping radius must be > 0 (inf disables clipping)"),
        ))
    }
}

/// `[method]` keys whose parameter errors are reported under their own key (the method
/// constructors name the parameter as the key does).
pub const OWN_KEYS: &[&str] = &["batch", "p", "participation", "momentum"];

/// A method constructor's error as a configuration mistake: stepsize problems under
/// `method.stepsize`, the parameters of [`OWN_KEYS`] under their key, the rest under `method`.
pub fn method_err(e: MethodError) -> MethodConfigError {
    match e {
        MethodError::Param(p) if p.component == "stepsize" => {
            MethodConfigError::at("stepsize", p.to_string())
        }
        MethodError::Param(p) if OWN_KEYS.contains(&p.param) => {
            MethodConfigError::at(p.param, p.to_string())
        }
        e => MethodConfigError::at("", e.to_string()),
    }
}

/// A 3PC mechanism's parameter error under its config key (`method.zeta`, `method.p`, …).
pub fn mech_param_err(e: squeeze_core::ParamError) -> MethodConfigError {
    let key = match e.param {
        "zeta" | "p" | "ladder" | "compressor2" => e.param,
        _ => "",
    };
    MethodConfigError::at(key, e.to_string())
}

/// 3PC-GD with mechanism `mech`, handed to `sink`.
pub fn three_pc<S: Scalar, B: MethodSink<S>>(
    mech: Box<dyn crate::three_point::ThreePoint<S>>,
    stepsize: crate::stepsize::Stepsize,
    count_init: bool,
    sink: B,
) -> Result<B::Output, B::Error> {
    let m = crate::star::three_pc::ThreePc::new(mech, stepsize, count_init).map_err(method_err)?;
    sink.star(m)
}

/// One registry entry: the typed `Params` struct (`deny_unknown_fields`, every field
/// `#[serde(default)]`, in the order given — the order `squeeze list` and the "it accepts …"
/// errors show) and the `MethodSpec` impl, with `build` given as a body over `p` (the typed
/// params), `ctx` and `sink` (with `crate::spec` in scope as `s`).
///
/// Fields are either one of the shared keys — `compressor`, `stepsize`, `init`,
/// `count_init`, `gradient`, `batch`, `tau`, each with its one type and doc — or
/// `/// doc` `name: Type` for a method's own key. The generated `Params` doc carries a doctest
/// that parses the entry's `EXAMPLE` table and round-trips it.
macro_rules! method_entry {
    (
        $(#[$doc:meta])*
        $spec:ident($params:ident { $($fields:tt)* }): $topology:ident $name:literal,
        summary = $summary:literal, example = $example:literal, hints = [$($hint:tt)*],
        |$p:ident, $ctx:ident, $sink:ident| $body:block
    ) => {
        $crate::spec::method_entry!(@fields ($params, $name, $spec) [] $($fields)*);

        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $spec;

        impl $crate::spec::MethodSpec for $spec {
            const NAME: &'static str = $name;
            const SUMMARY: &'static str = $summary;
            const TOPOLOGY: $crate::spec::Topology = $crate::spec::Topology::$topology;
            const EXAMPLE: &'static str = $example;
            const HINTS: &'static [(&'static str, &'static str)] = &[$($hint)*];
            type Params = $params;

            fn build<S: squeeze_core::Scalar, B: $crate::spec::MethodSink<S>>(
                $p: $params,
                $ctx: &$crate::spec::BuildCtx,
                $sink: B,
            ) -> Result<B::Output, B::Error> {
                #[allow(unused_imports)]
                use $crate::spec as s;
                let _ = &$ctx;
                $body
            }
        }
    };
    (@fields ($params:ident, $name:literal, $spec:ident) [$($done:tt)*]) => {
        #[doc = concat!("The `[method]` parameters of `", $name, "` (defaults as documented on the fields).")]
        ///
        /// ```
        /// use squeeze_methods::spec::MethodSpec;
        #[doc = concat!("use ", module_path!(), "::{", stringify!($params), " as P, ", stringify!($spec), " as Spec};")]
        /// let p: P = toml::from_str(Spec::EXAMPLE).unwrap();
        /// let back: P = toml::Value::Table(toml::Table::try_from(&p).unwrap()).try_into().unwrap();
        /// assert_eq!(back, p);
        /// ```
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $params {
            $($done)*
        }
    };
    (@fields $h:tt [$($done:tt)*] compressor $(, $($rest:tt)*)?) => {
        $crate::spec::method_entry!(@fields $h [$($done)*
            #[doc = "Compressor spec, e.g. `\"top_k:k=1\"`."]
            #[serde(default)]
            pub compressor: Option<squeeze_compress::CompressorSpec>,
            #[doc = "Uncompressed rounds before `compressor` takes over (default 0; see [`crate::spec::main_compressor`])."]
            #[serde(default, skip_serializing_if = "crate::spec::is_zero")]
            pub warmup_rounds: u64,
            #[doc = "Later compressors: `[{ from = 500, compressor = \"top_k:k=10\" }]` (default none)."]
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub compressor_schedule: Vec<$crate::spec::ScheduleStage>,
        ] $($($rest)*)?);
    };
    (@fields $h:tt [$($done:tt)*] stepsize $(, $($rest:tt)*)?) => {
        $crate::spec::method_entry!(@fields $h [$($done)*
            #[doc = "Stepsize rule."]
            #[serde(default)]
            pub stepsize: $crate::stepsize::Stepsize,
        ] $($($rest)*)?);
    };
    (@fields $h:tt [$($done:tt)*] init $(, $($rest:tt)*)?) => {
        $crate::spec::method_entry!(@fields $h [$($done)*
            #[doc = "Initial gradient estimates."]
            #[serde(default)]
            pub init: $crate::star::ef21::GradInit,
        ] $($($rest)*)?);
    };
    (@fields $h:tt [$($done:tt)*] count_init $(, $($rest:tt)*)?) => {
        $crate::spec::method_entry!(@fields $h [$($done)*
            #[doc = "Count the bits of an uncompressed initial round."]
            #[serde(default)]
            pub count_init: bool,
        ] $($($rest)*)?);
    };
    (@fields $h:tt [$($done:tt)*] gradient $(, $($rest:tt)*)?) => {
        $crate::spec::method_entry!(@fields $h [$($done)*
            #[doc = "Local gradients: `{ kind = \"full\" }` (default), `{ kind = \"minibatch\", batch = 5 }` or `{ kind = \"noisy\", sigma = 10 }`."]
            #[serde(default)]
            pub gradient: Option<$crate::gossip::GradSource>,
        ] $($($rest)*)?);
    };
    (@fields $h:tt [$($done:tt)*] batch $(, $($rest:tt)*)?) => {
        $crate::spec::method_entry!(@fields $h [$($done)*
            #[doc = "Minibatch size per worker: a count (`batch = 5`) or a fraction (`batch = 0.25`)."]
            #[serde(default)]
            pub batch: Option<$crate::star::ef21::sgd::Batch>,
        ] $($($rest)*)?);
    };
    (@fields $h:tt [$($done:tt)*] tau $(, $($rest:tt)*)?) => {
        $crate::spec::method_entry!(@fields $h [$($done)*
            #[doc = "Clipping radius τ > 0 (`inf` disables clipping; required)."]
            #[serde(default)]
            pub tau: Option<f64>,
        ] $($($rest)*)?);
    };
    (@fields $h:tt [$($done:tt)*] #[doc = $fdoc:literal] $field:ident: $ty:ty $(, $($rest:tt)*)?) => {
        $crate::spec::method_entry!(@fields $h [$($done)*
            #[doc = $fdoc]
            #[serde(default)]
            pub $field: $ty,
        ] $($($rest)*)?);
    };
}
pub(crate) use method_entry;
