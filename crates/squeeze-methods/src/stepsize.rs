//! Stepsize rules, including the EF21 theory stepsize.

use serde::{Deserialize, Serialize};
use squeeze_core::ParamError;
use squeeze_problems::{Smoothness, SmoothnessRule};

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
        self.report(method, alpha, smooth).map(|r| r.gamma)
    }

    /// [`Self::report`] for a method that sends uncompressed vectors: GD's rule, EF21's with
    /// $\alpha = 1$ ($A = 1$, $B = 0$), so the theory γ = multiplier / L.
    ///
    /// ```
    /// use squeeze_methods::Stepsize;
    /// use squeeze_problems::Smoothness;
    /// let s = Smoothness::new(vec![2.0, 2.0], 2.0);
    /// let r = Stepsize::Theory { multiplier: 1.0 }.report_uncompressed("gd", &s).unwrap();
    /// assert_eq!(r.gamma, 0.5);
    /// ```
    pub fn report_uncompressed(
        &self,
        method: &'static str,
        smooth: &Smoothness,
    ) -> Result<StepsizeReport, ParamError> {
        self.report(method, Some(1.0), smooth)
    }

    /// [`Self::resolve`] with the constants behind γ: for the theory rule $L$, $\tilde L$,
    /// α and EF21's $A = \theta$, $B = \beta$ (γ = multiplier / (L + L̃·√(B/A))).
    ///
    /// ```
    /// use squeeze_methods::Stepsize;
    /// use squeeze_problems::Smoothness;
    /// let s = Smoothness::new(vec![1.0, 1.0], 1.0);
    /// let r = Stepsize::Theory { multiplier: 2.0 }.report("ef21", Some(0.75), &s).unwrap();
    /// let t = r.theory.unwrap();
    /// assert_eq!((t.alpha, t.a, t.b), (Some(0.75), Some(0.5), Some(0.5)));
    /// assert!((r.gamma - 1.0).abs() < 1e-15); // 2 / (1 + 1·√(0.5/0.5))
    /// ```
    pub fn report(
        &self,
        method: &'static str,
        alpha: Option<f64>,
        smooth: &Smoothness,
    ) -> Result<StepsizeReport, ParamError> {
        self.validate()?;
        match *self {
            Stepsize::Constant { gamma } => Ok(StepsizeReport::constant(*self, gamma)),
            Stepsize::Theory { multiplier } => {
                let alpha = alpha.ok_or_else(|| {
                    ParamError::new(
                        method,
                        "stepsize",
                        "theory",
                        "the theory stepsize needs a contractive compressor (α); use a contractive one, wrap an unbiased one as scaled(...), or set stepsize = { rule = \"constant\", gamma = ... }",
                    )
                })?;
                let mut t = TheoryConstants::of(
                    smooth,
                    "multiplier / (L + L̃·sqrt(B/A)), A = θ, B = β of α (1/L when α = 1)",
                );
                t.alpha = Some(alpha);
                if alpha < 1.0 {
                    let (theta, beta) = ef21_theta_beta(alpha);
                    (t.a, t.b) = (Some(theta), Some(beta));
                }
                Ok(StepsizeReport {
                    rule: *self,
                    gamma: multiplier * ef21_gamma(alpha, smooth.l, smooth.l_tilde),
                    theory: Some(t),
                })
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
        self.report_ab(method, a, b, smooth).map(|r| r.gamma)
    }

    /// [`Self::resolve_ab`] with the constants behind γ ($L$, $\tilde L$, A, B).
    ///
    /// ```
    /// use squeeze_methods::Stepsize;
    /// use squeeze_problems::Smoothness;
    /// let s = Smoothness::new(vec![1.0], 1.0);
    /// let r = Stepsize::Theory { multiplier: 1.0 }.report_ab("lag", 0.25, 1.0, &s).unwrap();
    /// assert!((r.gamma - 1.0 / 3.0).abs() < 1e-15);
    /// assert_eq!(r.theory.unwrap().b, Some(1.0));
    /// ```
    pub fn report_ab(
        &self,
        method: &'static str,
        a: f64,
        b: f64,
        smooth: &Smoothness,
    ) -> Result<StepsizeReport, ParamError> {
        self.validate()?;
        match *self {
            Stepsize::Constant { gamma } => Ok(StepsizeReport::constant(*self, gamma)),
            Stepsize::Theory { multiplier } => {
                if !(a > 0.0 && a <= 1.0 && b >= 0.0 && b.is_finite()) {
                    return Err(ParamError::new(
                        method,
                        "stepsize",
                        format!("theory (A = {a}, B = {b})"),
                        "the theory stepsize needs 0 < A ≤ 1 and a finite B ≥ 0; use stepsize = { rule = \"constant\", gamma = ... }",
                    ));
                }
                let mut t =
                    TheoryConstants::of(smooth, "multiplier / (L + L̃·sqrt(B/A)) (1/L when B = 0)");
                (t.a, t.b) = (Some(a), Some(b));
                Ok(StepsizeReport {
                    rule: *self,
                    gamma: multiplier * three_pc_gamma(a, b, smooth.l, smooth.l_tilde),
                    theory: Some(t),
                })
            }
        }
    }
}

/// The stepsize γ a method runs with and where it came from (written to `summary.json`).
/// Reported by a method's `init` ([`crate::Init::stepsize`]); `theory` is `None` for a
/// constant γ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepsizeReport {
    /// The configured rule (`{ rule = "theory", multiplier }` or `{ rule = "constant", gamma }`).
    pub rule: Stepsize,
    /// The γ used.
    pub gamma: f64,
    /// The constants behind a theory γ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theory: Option<TheoryConstants>,
}

impl StepsizeReport {
    /// A γ that is not derived from constants.
    pub fn constant(rule: Stepsize, gamma: f64) -> Self {
        Self {
            rule,
            gamma,
            theory: None,
        }
    }
}

/// The constants a theory stepsize was computed from; a constant a rule does not use is
/// `None` (and not serialised).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TheoryConstants {
    /// The formula, in words.
    pub formula: String,
    /// L as used (the pooled L or the mean of the L_i, see `smoothness`).
    pub l: f64,
    /// Which L: `pooled` or `mean_of_workers`.
    pub smoothness: SmoothnessRule,
    /// L̃ = sqrt((1/n) Σ L_i²).
    pub l_tilde: f64,
    /// L_± where a rule uses it instead of L̃ (MARINA on the 3PC quadratics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l_pm: Option<f64>,
    /// The compressor's contraction α.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// The compressor's variance ω (unbiased compressors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub omega: Option<f64>,
    /// The three-point constant A (EF21: θ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub a: Option<f64>,
    /// The three-point constant B (EF21: β).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b: Option<f64>,
    /// A probability the rule reads (MARINA's p).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
}

impl TheoryConstants {
    /// L, its rule and L̃ from `smooth`, the other constants unset.
    pub fn of(smooth: &Smoothness, formula: &str) -> Self {
        Self {
            formula: formula.to_string(),
            l: smooth.l,
            smoothness: smooth.rule,
            l_tilde: smooth.l_tilde,
            l_pm: None,
            alpha: None,
            omega: None,
            a: None,
            b: None,
            p: None,
        }
    }
}
