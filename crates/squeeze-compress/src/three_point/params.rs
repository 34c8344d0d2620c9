//! Parameter checks and the constants the mechanisms share: α of a compressor, the EF21 pair,
//! ζ and p ranges, dimension fit.

use squeeze_core::{Compressor, ParamError, Scalar};

use super::MechanismError;

/// EF21's constants for a contractive compressor with parameter `α ∈ (0, 1]`:
/// $\theta = 1 - \sqrt{1-\alpha}$, $\beta = (1-\alpha)/(1-\sqrt{1-\alpha})$ (Richtárik et al.
/// 2021; $\beta = 0$ at $\alpha = 1$). As a 3PC pair: $(A, B) = (\theta, \beta)$.
///
/// ```
/// let (theta, beta) = squeeze_compress::three_point::ef21_theta_beta(0.75);
/// assert!((theta - 0.5).abs() < 1e-15 && (beta - 0.5).abs() < 1e-15);
/// assert_eq!(squeeze_compress::three_point::ef21_theta_beta(1.0), (1.0, 0.0));
/// ```
pub fn ef21_theta_beta(alpha: f64) -> (f64, f64) {
    let r = (1.0 - alpha).max(0.0).sqrt();
    let theta = 1.0 - r;
    let beta = if alpha >= 1.0 {
        0.0
    } else {
        (1.0 - alpha) / theta
    };
    (theta, beta)
}

/// α of a contractive compressor at `d`, or a typed error naming the mechanism.
pub(crate) fn alpha_of<S: Scalar>(
    mech: &'static str,
    param: &'static str,
    c: &dyn Compressor<S>,
    d: usize,
) -> Result<f64, MechanismError> {
    c.class(d).alpha().ok_or_else(|| {
        MechanismError::Param(ParamError::new(
            mech,
            param,
            c.spec(),
            "needs a contractive compressor (α), e.g. top_k:k=1; wrap an unbiased one as scaled(...)",
        ))
    })
}

/// The EF21 pair of [`ef21_theta_beta`] for the α of `c` (parameter `compressor`) at `d`.
pub(crate) fn ef21_ab_of<S: Scalar>(
    mech: &'static str,
    c: &dyn Compressor<S>,
    d: usize,
) -> Result<(f64, f64), MechanismError> {
    Ok(ef21_theta_beta(alpha_of(mech, "compressor", c, d)?))
}

/// Validate a laziness threshold ζ ≥ 0 (finite).
pub(crate) fn check_zeta(mech: &'static str, zeta: f64) -> Result<(), ParamError> {
    ParamError::require(
        zeta.is_finite() && zeta >= 0.0,
        mech,
        "zeta",
        zeta,
        "the trigger threshold ζ must be finite and ≥ 0 (ζ = 0: always send)",
    )
}

/// Validate a probability p ∈ (0, 1].
pub(crate) fn check_p(mech: &'static str, p: f64) -> Result<(), ParamError> {
    ParamError::require(
        p > 0.0 && p <= 1.0,
        mech,
        "p",
        p,
        "the probability p must be in (0, 1] (p = 1: always send the full vector)",
    )
}

/// Check that every compressor of mechanism `mech` fits dimension `d` (in order; the first
/// refusal is [`MechanismError::Incompatible`], prefixed with `mech`).
pub(crate) fn check_dims<S: Scalar>(
    mech: &'static str,
    cs: &[&dyn Compressor<S>],
    d: usize,
) -> Result<(), MechanismError> {
    for c in cs {
        c.check_dim(d)
            .map_err(|e| MechanismError::Incompatible(format!("{mech}: {e}")))?;
    }
    Ok(())
}
