//! Parsed `key=value` parameters of a spec string, with typed getters that produce
//! [`ParamError`]s naming the compressor and the parameter.

use std::collections::BTreeMap;

use squeeze_core::{CompressError, ParamError};

/// Parameters of one registry term (`top_k:k=10,ratio=...`), consumed by typed getters.
///
/// ```
/// use squeeze_compress::params::Params;
/// let mut p = Params::parse("qsgd", "s=16, norm=l2").unwrap();
/// assert_eq!(p.u64("s").unwrap(), Some(16));
/// assert_eq!(p.string("norm"), Some("l2".to_string()));
/// p.finish(&["s", "norm"]).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Params {
    component: &'static str,
    values: BTreeMap<String, String>,
}

impl Params {
    /// Parse `k=v,k=v` (whitespace around items ignored) for `component` (its registry name).
    pub fn parse(component: &'static str, text: &str) -> Result<Self, ParamError> {
        let mut values = BTreeMap::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((k, v)) = item.split_once('=') else {
                return Err(ParamError::new(
                    component,
                    "parameters",
                    item,
                    "write parameters as key=value, separated by commas (e.g. top_k:k=10)",
                ));
            };
            let (k, v) = (k.trim(), v.trim());
            if values.insert(k.to_string(), v.to_string()).is_some() {
                return Err(ParamError::new(
                    component,
                    "parameters",
                    k,
                    "each parameter may be given once",
                ));
            }
        }
        Ok(Self { component, values })
    }

    /// An empty parameter set for `component`.
    pub fn empty(component: &'static str) -> Self {
        Self {
            component,
            values: BTreeMap::new(),
        }
    }

    /// Insert a value (used when building from a config table).
    pub fn insert(&mut self, key: &str, value: String) {
        self.values.insert(key.to_string(), value);
    }

    /// The component these parameters belong to.
    pub fn component(&self) -> &'static str {
        self.component
    }

    fn take(&mut self, key: &str) -> Option<String> {
        self.values.remove(key)
    }

    /// A string parameter.
    pub fn string(&mut self, key: &str) -> Option<String> {
        self.take(key)
    }

    /// An unsigned integer parameter.
    pub fn u64(&mut self, key: &'static str) -> Result<Option<u64>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
                ParamError::new(self.component, key, &v, "expected a non-negative integer")
            }),
        }
    }

    /// A real parameter (accepts `inf`).
    pub fn f64(&mut self, key: &'static str) -> Result<Option<f64>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => match v.parse::<f64>() {
                Ok(x) if !x.is_nan() => Ok(Some(x)),
                _ => Err(ParamError::new(
                    self.component,
                    key,
                    &v,
                    "expected a number",
                )),
            },
        }
    }

    /// A parameter without default: what the getter `get` (e.g. [`Params::f64`]) finds under
    /// `key`, or, if it is absent, an error that says how to write it:
    /// "`component` needs `key`=`what`, e.g. `component`:`key`=`example`".
    ///
    /// ```
    /// use squeeze_compress::params::Params;
    /// let mut p = Params::parse("qsgd", "s=16").unwrap();
    /// assert_eq!(p.require("s", Params::u64, "<levels ≥ 1>", "16").unwrap(), 16);
    /// let e = p.require("s", Params::u64, "<levels ≥ 1>", "16").unwrap_err();
    /// assert!(e.to_string().contains("qsgd needs s=<levels ≥ 1>, e.g. qsgd:s=16"), "{e}");
    /// ```
    pub fn require<T>(
        &mut self,
        key: &'static str,
        get: fn(&mut Self, &'static str) -> Result<Option<T>, ParamError>,
        what: &str,
        example: &str,
    ) -> Result<T, ParamError> {
        get(self, key)?.ok_or_else(|| {
            let c = self.component;
            let hint = format!("{c} needs {key}={what}, e.g. {c}:{key}={example}");
            ParamError::new(c, key, "missing", hint)
        })
    }

    /// A boolean parameter (`true`/`false`).
    pub fn bool(&mut self, key: &'static str) -> Result<Option<bool>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => v
                .parse::<bool>()
                .map(Some)
                .map_err(|_| ParamError::new(self.component, key, &v, "expected true or false")),
        }
    }

    /// Fail on any parameter not consumed by a getter, listing the known ones.
    pub fn finish(self, known: &[&str]) -> Result<(), ParamError> {
        if let Some(k) = self.values.keys().next() {
            return Err(ParamError::new(
                self.component,
                "parameters",
                k,
                format!(
                    "unknown parameter; {} takes: {}",
                    self.component,
                    list(known)
                ),
            ));
        }
        Ok(())
    }
}

fn list(known: &[&str]) -> String {
    if known.is_empty() {
        "no parameters".to_string()
    } else {
        known.join(", ")
    }
}

/// How many coordinates a sparsifier keeps: a fixed count `k` or a fraction of `d`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KSpec {
    /// Exactly `k` coordinates (`1 ≤ k ≤ d`).
    Count(usize),
    /// `k = max(1, ⌈ratio · d⌉)` coordinates, `0 < ratio ≤ 1`.
    Ratio(f64),
}

impl KSpec {
    /// Read `k=` or `ratio=` (exactly one) from `p`.
    pub fn from_params(p: &mut Params) -> Result<Self, ParamError> {
        let c = p.component();
        let k = p.u64("k")?;
        let r = p.f64("ratio")?;
        match (k, r) {
            (Some(_), Some(_)) => Err(ParamError::new(
                c,
                "k",
                "k and ratio",
                "give either k (a count) or ratio (a fraction of d), not both",
            )),
            (Some(k), None) => Self::count(c, k as usize),
            (None, Some(r)) => Self::ratio(c, r),
            (None, None) => Err(ParamError::new(
                c,
                "k",
                "missing",
                format!("{c} needs k=<count ≥ 1> or ratio=<fraction in (0, 1]>"),
            )),
        }
    }

    /// Validated count.
    pub fn count(component: &'static str, k: usize) -> Result<Self, ParamError> {
        if k == 0 {
            Err(ParamError::new(
                component,
                "k",
                0,
                "k must be ≥ 1 (k = 0 would send nothing and never converge)",
            ))
        } else {
            Ok(KSpec::Count(k))
        }
    }

    /// Validated ratio.
    pub fn ratio(component: &'static str, r: f64) -> Result<Self, ParamError> {
        if r > 0.0 && r <= 1.0 {
            Ok(KSpec::Ratio(r))
        } else {
            Err(ParamError::new(
                component,
                "ratio",
                r,
                "ratio must be in (0, 1]",
            ))
        }
    }

    /// This rule checked for `component` (`k ≥ 1`, `ratio ∈ (0, 1]`).
    pub fn validated(self, component: &'static str) -> Result<Self, ParamError> {
        match self {
            KSpec::Count(k) => Self::count(component, k),
            KSpec::Ratio(r) => Self::ratio(component, r),
        }
    }

    /// The count for dimension `d`, or an error if it does not fit.
    pub fn resolve(&self, component: &'static str, d: usize) -> Result<usize, CompressError> {
        squeeze_core::check_dim_basic(d)?;
        match *self {
            KSpec::Count(k) if k <= d => Ok(k),
            KSpec::Count(k) => Err(CompressError::Incompatible {
                component,
                param: "k",
                value: k.to_string(),
                dim: d,
                hint: format!("k must be ≤ d = {d}; use ratio= to scale with the dimension"),
            }),
            KSpec::Ratio(r) => Ok(((r * d as f64).ceil() as usize).clamp(1, d)),
        }
    }

    /// The spec-string fragment (`k=10` or `ratio=0.01`).
    pub fn spec(&self) -> String {
        match *self {
            KSpec::Count(k) => format!("k={k}"),
            KSpec::Ratio(r) => format!("ratio={r}"),
        }
    }

    /// `k/d` at dimension `d` (for classes), using the resolved count.
    pub fn fraction(&self, d: usize) -> f64 {
        match *self {
            KSpec::Count(k) => (k.min(d.max(1))) as f64 / d.max(1) as f64,
            KSpec::Ratio(r) => {
                ((r * d as f64).ceil().clamp(1.0, d.max(1) as f64)) / d.max(1) as f64
            }
        }
    }
}
