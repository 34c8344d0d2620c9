//! Stepsize rules, including the EF21 theory stepsize.

use serde::{Deserialize, Serialize};
use squeeze_core::ParamError;
use squeeze_problems::Smoothness;

/// EF21's constants for a contractive compressor with parameter `α ∈ (0, 1]`:
/// $\theta = 1 - \sqrt{1-\alpha}$, $\beta = (1-\alpha)/(1-\sqrt{1-\alpha})$ (Richtárik et al. 2021);
/// the one implementation is [`squeeze_compress::three_point::ef21_theta_beta`].
///
/// ```
/// let (theta, beta) = squeeze_methods::stepsize::ef21_theta_beta(0.75);
/// assert!((theta - 0.5).abs() < 1e-15 && (beta - 0.5).abs() < 1e-15);
/// ```
pub fn ef21_theta_beta(alpha: f64) -> (f64, f64) {
    squeeze_compress::three_point::ef21_theta_beta(alpha)
}

/// The EF21 theory stepsize $\gamma = 1/(L + \tilde L\sqrt{\beta/\theta})$ (= 1/L when α = 1).
///
/// ```
/// use squeeze_methods::stepsize::ef21_gamma;
/// assert_eq!(ef21_gamma(1.0, 2.0, 3.0), 0.5);
/// // sqrt(β/θ) = (1 + sqrt(1−α))/α − 1 = 1 for α = 0.75.
/// assert!((ef21_gamma(0.75, 1.0, 1.0) - 0.5).abs() < 1e-15);
/// ```
pub fn ef21_gamma(alpha: f64, l: f64, l_tilde: f64) -> f64 {
    if alpha >= 1.0 {
        return 1.0 / l;
    }
    let (theta, beta) = ef21_theta_beta(alpha);
    1.0 / (l + l_tilde * (beta / theta).sqrt())
}

/// How the stepsize γ is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Stepsize {
    /// `multiplier × 1/(L + L̃·sqrt(β/θ))` with α from the compressor's class (the EF21
    /// papers' "1×, 4×, 16×" runs); EF14 and GD use the same base (EF21 experiment code).
    Theory {
        /// Multiplier (> 0).
        multiplier: f64,
    },
    /// A fixed γ (> 0).
    Constant {
        /// The stepsize.
        gamma: f64,
    },
}

impl Default for Stepsize {
    fn default() -> Self {
        Stepsize::Theory { multiplier: 1.0 }
    }
}

impl Stepsize {
    /// Validate the numbers.
    pub fn validate(&self) -> Result<(), ParamError> {
        let (param, v) = match *self {
            Stepsize::Theory { multiplier } => ("multiplier", multiplier),
            Stepsize::Constant { gamma } => ("gamma", gamma),
        };
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(ParamError::new(
                "stepsize",
                param,
                v,
                "must be finite and > 0",
            ))
        }
    }

    /// γ for a method whose compressor has contraction `alpha` (None if it has none).
    pub fn resolve(
        &self,
        method: &'static str,
        alpha: Option<f64>,
        smooth: &Smoothness,
    ) -> Result<f64, ParamError> {
        self.validate()?;
        match *self {
            Stepsize::Constant { gamma } => Ok(gamma),
            Stepsize::Theory { multiplier } => {
                let alpha = alpha.ok_or_else(|| {
                    ParamError::new(
                        method,
                        "stepsize",
                        "theory",
                        "the theory stepsize needs a contractive compressor (α); use a contractive one, wrap an unbiased one as scaled(...), or set stepsize = { rule = \"constant\", gamma = ... }",
                    )
                })?;
                Ok(multiplier * ef21_gamma(alpha, smooth.l, smooth.l_tilde))
            }
        }
    }
}

/// The 3PC theory stepsize $\gamma = 1/(L + \tilde L\sqrt{B/A})$ for a three-point compressor
/// with constants $A \in (0, 1]$, $B \ge 0$ (Richtárik et al. 2022; the authors' code uses it
/// for every mechanism). For EF21 ($A = \theta$, $B = \beta$) it is [`ef21_gamma`].
///
/// ```
/// use squeeze_methods::stepsize::three_pc_gamma;
/// assert_eq!(three_pc_gamma(1.0, 0.0, 2.0, 3.0), 0.5);
/// assert!((three_pc_gamma(0.25, 1.0, 1.0, 1.0) - 1.0 / 3.0).abs() < 1e-15);
/// ```
pub fn three_pc_gamma(a: f64, b: f64, l: f64, l_tilde: f64) -> f64 {
    if b <= 0.0 {
        return 1.0 / l;
    }
    1.0 / (l + l_tilde * (b / a).sqrt())
}

impl Stepsize {
    /// γ for a 3PC method with constants `(A, B)` (see [`three_pc_gamma`]).
    pub fn resolve_ab(
        &self,
        method: &'static str,
        a: f64,
        b: f64,
        smooth: &Smoothness,
    ) -> Result<f64, ParamError> {
        self.validate()?;
        match *self {
            Stepsize::Constant { gamma } => Ok(gamma),
            Stepsize::Theory { multiplier } => {
                if !(a > 0.0 && a <= 1.0 && b >= 0.0 && b.is_finite()) {
                    return Err(ParamError::new(
                        method,
                        "stepsize",
                        format!("theory (A = {a}, B = {b})"),
                        "the theory stepsize needs 0 < A ≤ 1 and a finite B ≥ 0; use stepsize = { rule = \"constant\", gamma = ... }",
                    ));
                }
                Ok(multiplier * three_pc_gamma(a, b, smooth.l, smooth.l_tilde))
            }
        }
    }
}
