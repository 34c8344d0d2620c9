//! The registry entries of the Newton-type methods: `newton_3pc` (any of the supported
//! three-point mechanisms on the Hessians) and `fednl` (the EF21 mechanism, FedNL's order).

use serde::{Deserialize, Serialize};
use squeeze_compress::three_point::{Bag, Clag, Ef21Mech, Lag, ThreePoint, V1};
use squeeze_core::Scalar;

use super::{HessianOrder, Newton3pc, RegularizationRule, triangle_len};
use crate::spec::{MethodConfigError, MethodSink, method_entry};

/// The three-point mechanism Newton-3PC learns the Hessians with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HessianMechanism {
    /// $H_i + \mathcal C(\nabla^2 f_i - H_i)$ (FedNL's rule; needs `compressor`).
    #[default]
    Ef21,
    /// The fresh Hessian, dense, iff it moved enough (`zeta`; no compressor).
    Lag,
    /// The EF21 step iff it moved enough (`compressor`, `zeta`).
    Clag,
    /// The fresh Hessian with probability `p`, else nothing (no compressor).
    Bag,
    /// 3PCv1: $\nabla^2 f_i(x^t) + \mathcal C(\nabla^2 f_i(x^{t+1}) - \nabla^2 f_i(x^t))$.
    #[serde(rename = "3pc_v1")]
    V1,
}

impl HessianMechanism {
    /// The config name, e.g. `"3pc_v1"`.
    fn name(self) -> &'static str {
        match self {
            Self::Ef21 => "ef21",
            Self::Lag => "lag",
            Self::Clag => "clag",
            Self::Bag => "bag",
            Self::V1 => "3pc_v1",
        }
    }

    /// The mechanism-specific keys this mechanism reads (of `compressor`, `zeta`, `p`).
    fn reads(self) -> &'static [&'static str] {
        match self {
            Self::Ef21 | Self::V1 => &["compressor"],
            Self::Lag => &["zeta"],
            Self::Clag => &["compressor", "zeta"],
            Self::Bag => &["p"],
        }
    }
}

/// The mechanism `m` with its parameters; `compressor` is built lazily (only the mechanisms
/// that take one ask for it). A mechanism key the chosen mechanism does not read
/// (`compressor_given`, `zeta`, `p`) is an error naming it, so that a config meant for CLAG
/// that says `lag` does not silently run without its compressor. Shared with [`super::bl1`]
/// and the variants.
pub(crate) fn mechanism<S: Scalar>(
    m: HessianMechanism,
    compressor_given: bool,
    compressor: impl FnOnce() -> Result<Box<dyn squeeze_core::Compressor<S>>, MethodConfigError>,
    zeta: Option<f64>,
    p: Option<f64>,
) -> Result<Box<dyn ThreePoint<S>>, MethodConfigError> {
    use crate::spec::mech_param_err as bad;
    let given = [
        ("compressor", compressor_given),
        ("zeta", zeta.is_some()),
        ("p", p.is_some()),
    ];
    if let Some((key, _)) = given
        .iter()
        .find(|(key, set)| *set && !m.reads().contains(key))
    {
        return Err(MethodConfigError::at(
            key,
            format!(
                "mechanism \"{}\" does not read {key} (it reads {}); remove {key} or pick a \
                 mechanism that uses it (ef21/3pc_v1: compressor; lag: zeta; clag: compressor, \
                 zeta; bag: p)",
                m.name(),
                m.reads().join(", ")
            ),
        ));
    }
    Ok(match m {
        HessianMechanism::Ef21 => Box::new(Ef21Mech::new(compressor()?)),
        HessianMechanism::Lag => Box::new(Lag::new(zeta.unwrap_or(1.0)).map_err(bad)?),
        HessianMechanism::Clag => {
            Box::new(Clag::new(compressor()?, zeta.unwrap_or(1.0)).map_err(bad)?)
        }
        HessianMechanism::Bag => Box::new(Bag::new(p.unwrap_or(0.5)).map_err(bad)?),
        HessianMechanism::V1 => Box::new(V1::new(compressor()?)),
    })
}

/// The hint for a `stepsize` key given to a Newton-type method.
pub(super) const UNIT_STEP: (&str, &str) = (
    "stepsize",
    "the Newton-type methods take the unit Newton step; remove the stepsize (regularization and mu shape the step)",
);

/// Hand the method to `sink`, mapping its parameter errors to their keys.
fn newton<S: Scalar, B: MethodSink<S>>(
    m: Result<Newton3pc<S>, crate::method::MethodError>,
    sink: B,
) -> Result<B::Output, B::Error> {
    sink.star(m.map_err(crate::spec::method_err)?)
}

method_entry! {
    Newton3pcSpec(Newton3pcParams {
        compressor,
        hessian_mechanism,
        newton_step,
        count_init,
    }): Star "newton_3pc",
    summary = "Newton-3PC: Hessians learned with a 3PC mechanism on their upper triangle (compressor, mechanism, zeta, p), dense gradients, a regularised Newton step",
    example = "compressor = \"top_k:k=30\"\nmechanism = \"clag\"\nzeta = 1.0",
    hints = [UNIT_STEP],
    |p, ctx, sink| {
        let mech = p.hessian_mechanism::<S>(triangle_len(ctx.dim))?;
        let rule = p.regularization.unwrap_or(RegularizationRule::Project);
        let m = Newton3pc::new("newton_3pc", mech, rule, p.mu, HessianOrder::Fresh, p.count_init);
        newton(m, sink)
    }
}

method_entry! {
    FedNlSpec(FedNlParams {
        compressor,
        newton_step,
        count_init,
    }): Star "fednl",
    summary = "FedNL: H_i += C(∇²f_i − H_i) on the upper triangle (compressor), dense gradients, Newton step with the previous H",
    example = "compressor = \"top_k:k=30\"",
    hints = [UNIT_STEP],
    |p, ctx, sink| {
        let tri = triangle_len(ctx.dim);
        let mech = Ef21Mech::new(p.main_compressor::<S>(tri)?);
        let rule = p.regularization.unwrap_or(RegularizationRule::Project);
        let m = Newton3pc::new("fednl", Box::new(mech), rule, p.mu, HessianOrder::Stale, p.count_init);
        newton(m, sink)
    }
}
