//! The method registry: one line per [`MethodSpec`], star and gossip alike.
//!
//! A `[method]` section is a name and a table; [`build_method`] looks the name up in
//! [`METHODS`], checks every key against the method's `Params` (an unknown or inapplicable key
//! is an error naming it and the keys the method accepts), deserializes the table and calls
//! the method's `build`. Adding a method = one file (its `Params` and `MethodSpec`) plus one
//! line in `methods!` below.
//!
//! ```
//! use squeeze_methods::registry::{check_params, entry};
//! let ef21 = entry("ef21").unwrap();
//! assert_eq!(
//!     ef21.accepts(),
//!     ["compressor", "warmup_rounds", "compressor_schedule", "stepsize", "init", "count_init"]
//! );
//! let t: toml::Table = "compressor = \"top_k:k=1\"\nzeta = 4".parse().unwrap();
//! let e = check_params("ef21", &t).unwrap_err();
//! assert_eq!(e.key, "method.zeta");
//! assert_eq!(
//!     e.detail,
//!     "ef21 does not take zeta; it accepts compressor, warmup_rounds, compressor_schedule, \
//!      stepsize, init, count_init"
//! );
//! ```

use serde::de::{self, Visitor};
use squeeze_core::Scalar;

use crate::spec::{
    BuildCtx, MethodConfigError, MethodSink, MethodSpec, ParamDoc, ParamKeys, Topology,
};

/// One registered method: what `squeeze list`, the dispatch and the shared suite read.
#[derive(Debug, Clone, Copy)]
pub struct MethodEntry {
    /// Name in `[method] name = "…"`.
    pub name: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// Star or gossip engine.
    pub topology: Topology,
    /// Example parameters (TOML lines of the `[method]` section, without `name`).
    pub example: &'static str,
    fields: fn() -> &'static [&'static str],
    keys: &'static [ParamDoc],
    normalize: fn(&toml::Table) -> Result<toml::Table, MethodConfigError>,
    hints: &'static [(&'static str, &'static str)],
}

impl MethodEntry {
    /// The keys the method accepts (besides `name`), in declaration order.
    pub fn accepts(&self) -> &'static [&'static str] {
        (self.fields)()
    }

    /// The keys with their Rust types and doc lines, in declaration order (the same names as
    /// [`MethodEntry::accepts`]).
    pub fn keys(&self) -> &'static [ParamDoc] {
        self.keys
    }

    /// `params` as the method's typed `Params` write them back (defaults explicit); an error
    /// names a value of the wrong type. `normalized(&Table::new())` gives the defaults (keys
    /// without a default, such as a required `tau`, are absent).
    pub fn normalized(&self, params: &toml::Table) -> Result<toml::Table, MethodConfigError> {
        check_keys(self, params)?;
        (self.normalize)(params)
    }

    /// The example parameters as a table.
    pub fn example_table(&self) -> Result<toml::Table, MethodConfigError> {
        self.example
            .parse()
            .map_err(|e: toml::de::Error| MethodConfigError::at("", e.message().to_string()))
    }
}

macro_rules! methods {
    ($($spec:ty),* $(,)?) => {
        /// Every registered method, in `squeeze list` order.
        pub const METHODS: &[MethodEntry] = &[$(MethodEntry {
            name: <$spec as MethodSpec>::NAME,
            summary: <$spec as MethodSpec>::SUMMARY,
            topology: <$spec as MethodSpec>::TOPOLOGY,
            example: <$spec as MethodSpec>::EXAMPLE,
            fields: struct_fields::<<$spec as MethodSpec>::Params>,
            keys: <<$spec as MethodSpec>::Params as ParamKeys>::KEYS,
            normalize: normalize_as::<<$spec as MethodSpec>::Params>,
            hints: <$spec as MethodSpec>::HINTS,
        }),*];

        /// Build the method `name` from its parameter table at `ctx` and hand it to `sink`.
        ///
        /// # Errors
        /// An unknown name (`method.name`, with a suggestion), an unknown or inapplicable key,
        /// a value of the wrong type, or the method's own validation.
        pub fn build_method<S: Scalar, B: MethodSink<S>>(
            name: &str,
            params: &toml::Table,
            ctx: &BuildCtx,
            sink: B,
        ) -> Result<B::Output, B::Error> {
            $(if name == <$spec as MethodSpec>::NAME {
                return build_one::<$spec, S, B>(params, ctx, sink);
            })*
            Err(unknown_method(name).into())
        }
    };
}

methods! {
    crate::star::gd::GdSpec,
    crate::star::ef14::Ef14Spec,
    crate::star::ef21::Ef21Spec,
    crate::star::ef21::plus::Ef21PlusSpec,
    crate::star::ef21::sgd::Ef21SgdSpec,
    crate::star::ef21::page::Ef21PageSpec,
    crate::star::ef21::pp::Ef21PpSpec,
    crate::star::ef21::bc::Ef21BcSpec,
    crate::star::ef21::hb::Ef21HbSpec,
    crate::star::three_pc::specs::ThreePcEf21Spec,
    crate::star::three_pc::specs::LagSpec,
    crate::star::three_pc::specs::ClagSpec,
    crate::star::three_pc::specs::ThreePcV1Spec,
    crate::star::three_pc::specs::ThreePcV2Spec,
    crate::star::three_pc::specs::ThreePcV4Spec,
    crate::star::three_pc::specs::ThreePcV5Spec,
    crate::star::three_pc::specs::BagSpec,
    crate::star::three_pc::specs::AdaCgdSpec,
    crate::star::econtrol::EcontrolSpec,
    crate::star::clip_gd::ClipGdSpec,
    crate::star::clip21::Clip21GdSpec,
    crate::star::clip21::PressClip21Spec,
    crate::star::clip21::DpClip21Spec,
    crate::star::marina::MarinaSpec,
    crate::star::sgd::SgdSpec,
    crate::star::local_sgd::LocalSgdSpec,
    crate::star::sign_sgd::SignSgdMvSpec,
    crate::star::sign_sgd::SignumSpec,
    crate::star::ef14::EfSignSgdSpec,
    crate::star::ef14::OneBitSgdSpec,
    crate::star::newton::specs::Newton3pcSpec,
    crate::star::newton::specs::FedNlSpec,
    crate::star::newton::pp::FedNlPpSpec,
    crate::star::newton::bc::FedNlBcSpec,
    crate::star::newton::bl1::Bl1Spec,
    crate::star::dgc::DgcSpec,
    crate::star::powersgd::PowerSgdSpec,
    crate::star::adam::AdamSpec,
    crate::star::adam::OnebitAdamSpec,
    crate::gossip::motef::MotefSpec,
    crate::gossip::beer::BeerSpec,
    crate::gossip::choco::ChocoSpec,
    crate::gossip::choco::DsgdSpec,
}

/// The registry entry of `name`.
pub fn entry(name: &str) -> Option<&'static MethodEntry> {
    METHODS.iter().find(|m| m.name == name)
}

/// Check `params` against method `name` without building it: every key must be one the
/// method accepts, and the values must have the right types. An unknown name passes (the
/// build reports it, with the known names).
pub fn check_params(name: &str, params: &toml::Table) -> Result<(), MethodConfigError> {
    let Some(e) = entry(name) else {
        return Ok(());
    };
    check_keys(e, params)
}

/// The parameters of method `name` as its typed `Params` write them: every default
/// explicit, values in their canonical types (`multiplier = 4` becomes `4.0`). An unknown
/// name, or parameters that do not check, come back as they are.
pub fn normalize(name: &str, params: &toml::Table) -> toml::Table {
    match entry(name) {
        Some(e) if check_keys(e, params).is_ok() => {
            (e.normalize)(params).unwrap_or_else(|_| params.clone())
        }
        _ => params.clone(),
    }
}

fn normalize_as<P: de::DeserializeOwned + serde::Serialize>(
    params: &toml::Table,
) -> Result<toml::Table, MethodConfigError> {
    let p: P = parse_params(params)?;
    toml::Table::try_from(p).map_err(|e| MethodConfigError::at("", e.to_string()))
}

fn check_keys(e: &MethodEntry, params: &toml::Table) -> Result<(), MethodConfigError> {
    let accepts = e.accepts();
    for key in params.keys() {
        if accepts.contains(&key.as_str()) {
            continue;
        }
        let detail = match e.hints.iter().find(|h| h.0 == key) {
            Some(&(_, hint)) => hint.to_string(),
            None => format!(
                "{} does not take {key}; it accepts {}",
                e.name,
                accepts.join(", ")
            ),
        };
        return Err(MethodConfigError::at(key, detail));
    }
    Ok(())
}

fn build_one<T: MethodSpec, S: Scalar, B: MethodSink<S>>(
    params: &toml::Table,
    ctx: &BuildCtx,
    sink: B,
) -> Result<B::Output, B::Error> {
    let e = entry(T::NAME).ok_or_else(|| unknown_method(T::NAME))?;
    check_keys(e, params)?;
    let p: T::Params = parse_params(params)?;
    T::build(p, ctx, sink)
}

/// Deserialize a parameter table; a type error names the key when it can.
fn parse_params<P: de::DeserializeOwned>(params: &toml::Table) -> Result<P, MethodConfigError> {
    toml::Value::Table(params.clone())
        .try_into()
        .map_err(|e: toml::de::Error| {
            let msg = e.message().trim().to_string();
            // Find the offending key by deserializing one key at a time is not possible with a
            // typed struct; name a key the message mentions, if any.
            let key = params
                .keys()
                .find(|k| msg.contains(&format!("`{k}`")))
                .map_or("", |k| k.as_str());
            MethodConfigError::at(key, msg)
        })
}

/// "unknown method 'x'; did you mean y? known: …".
fn unknown_method(name: &str) -> MethodConfigError {
    let best = squeeze_compress::registry::nearest_name(name, METHODS.iter().map(|m| m.name));
    let suggestion = match best {
        Some((d, n)) if d <= 2.max(name.len() / 3) => format!("did you mean {n}? "),
        _ => String::new(),
    };
    let known: Vec<&str> = METHODS.iter().map(|m| m.name).collect();
    MethodConfigError::at(
        "name",
        format!(
            "unknown method '{name}'; {suggestion}known: {}",
            known.join(", ")
        ),
    )
}

/// The field names of a `#[derive(Deserialize)]` struct, read from what it asks a
/// deserializer for (no value is built; a type that is not a plain struct gives none).
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Section { a: u32, b: Option<String> }
/// assert_eq!(squeeze_methods::registry::struct_fields::<Section>(), ["a", "b"]);
/// ```
pub fn struct_fields<P: de::DeserializeOwned>() -> &'static [&'static str] {
    let mut probe = FieldProbe(None);
    let _ = P::deserialize(&mut probe);
    probe.0.unwrap_or(&[])
}

struct FieldProbe(Option<&'static [&'static str]>);

#[derive(Debug)]
struct ProbeDone;

impl core::fmt::Display for ProbeDone {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("field probe")
    }
}

impl std::error::Error for ProbeDone {}

impl de::Error for ProbeDone {
    fn custom<T: core::fmt::Display>(_: T) -> Self {
        ProbeDone
    }
}

impl<'de> de::Deserializer<'de> for &mut FieldProbe {
    type Error = ProbeDone;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeDone> {
        Err(ProbeDone)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, ProbeDone> {
        self.0 = Some(fields);
        Err(ProbeDone)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_examples_pass_the_key_check() {
        for (i, m) in METHODS.iter().enumerate() {
            assert!(
                METHODS[..i].iter().all(|o| o.name != m.name),
                "{} twice",
                m.name
            );
            assert!(!m.accepts().is_empty(), "{}: no fields", m.name);
            let t = m.example_table().unwrap();
            check_params(m.name, &t).unwrap();
        }
    }

    #[test]
    fn documented_keys_are_the_accepted_keys_and_the_defaults_parse() {
        for m in METHODS {
            let names: Vec<&str> = m.keys().iter().map(|k| k.name).collect();
            assert_eq!(names, m.accepts(), "{}", m.name);
            assert!(m.keys().iter().all(|k| !k.doc.is_empty()), "{}", m.name);
            let defaults = m.normalized(&toml::Table::new()).unwrap();
            assert!(
                defaults.keys().all(|k| names.contains(&k.as_str())),
                "{}",
                m.name
            );
        }
        let bad: toml::Table = "zeta = \"high\"".parse().unwrap();
        assert!(entry("clag").unwrap().normalized(&bad).is_err());
        let unknown: toml::Table = "lambda = 1".parse().unwrap();
        let e = entry("clag").unwrap().normalized(&unknown).unwrap_err();
        assert_eq!(e.key, "method.lambda");
    }

    #[test]
    fn normalizing_makes_defaults_explicit_and_types_canonical() {
        let t: toml::Table = "stepsize = { rule = \"theory\", multiplier = 4 }"
            .parse()
            .unwrap();
        let n = normalize("ef21", &t);
        assert_eq!(n["stepsize"]["multiplier"].as_float(), Some(4.0));
        assert_eq!(n["count_init"].as_bool(), Some(false));
        assert_eq!(normalize("ef99", &t), t);
    }

    #[test]
    fn unknown_names_get_a_suggestion_and_the_list() {
        let e = unknown_method("ef22");
        assert_eq!(e.key, "method.name");
        assert!(
            e.detail
                .starts_with("unknown method 'ef22'; did you mean ef21? known: gd, ef14, ef21"),
            "{}",
            e.detail
        );
        let e = unknown_method("zzzzzzzzzz");
        assert!(!e.detail.contains("did you mean"), "{}", e.detail);
    }

    #[test]
    fn hints_replace_the_generic_message() {
        let t: toml::Table = "compressor = \"top_k:k=1\"".parse().unwrap();
        let e = check_params("gd", &t).unwrap_err();
        assert_eq!(e.key, "method.compressor");
        assert!(e.detail.contains("identity"), "{}", e.detail);
        let t: toml::Table = "lambda = 0.5".parse().unwrap();
        let e = check_params("beer", &t).unwrap_err();
        assert_eq!(e.key, "method.lambda");
        assert_eq!(
            e.detail,
            "beer does not take lambda; it accepts compressor, warmup_rounds, compressor_schedule, gamma, eta, \
             gradient"
        );
    }
}
