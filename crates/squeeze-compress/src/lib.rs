//! # squeeze-compress
//!
//! Compression operators for distributed optimisation, each with its class (contractive α /
//! unbiased ω), a reference, and an exact bit-packed wire format (`squeeze_core::Message`).
//!
//! | name | operator | class |
//! |---|---|---|
//! | `identity` | $x$ | α = 1, ω = 0 |
//! | `top_k` | keep the $k$ largest magnitudes (ties → lower index) | α = k/d |
//! | `threshold_abs` | keep magnitudes ≥ λ | none (error ≤ dλ²) |
//! | `threshold_rel` | keep magnitudes ≥ λ‖x‖∞ | α = max(1 − (d−1)λ², 1/d) |
//! | `rand_k` | $k$ uniformly random coordinates, $\times d/k$ unless `scaled=false` | ω = d/k − 1 (scaled), α = k/d (unscaled) |
//! | `perm_k` | block `worker` of a shared random permutation cut into $n$ blocks, $\times d/\lvert B_i\rvert$ | ω = d/⌊d/n⌋ − 1; exact average when n ∣ d |
//! | `scaled_sign` | $(\lVert x\rVert_1/d)\operatorname{sign}(x)$ | α = 1/d (α(x) = ‖x‖₁²/(d‖x‖²)) |
//! | `clip` | $\min\lbrace1, \tau/\lVert x\rVert\rbrace\thinspace x$ | none for finite τ; α = 1, ω = 0 for τ = ∞ |
//! | `qsgd` | QSGD random dithering, $s$ uniform levels of $\lVert x\rVert_2$ or $\lVert x\rVert_\infty$ | ω = min(d/s², √d/s) (ℓ₂) |
//! | `natural` | unbiased random rounding to a neighbouring power of two | ω = 1/8 |
//! | `natural_dithering` | dithering onto levels $0, 2^{-(s-1)}, …, 1/2, 1$ of the norm | ω = 1/8 + (√d/2^{s−1})·min(1, √d/2^{s−1}) |
//! | `terngrad` | $\lVert x\rVert_\infty\thinspace\mathrm{sign}(x_j)\thinspace\mathrm{Bernoulli}(\lvert x_j\rvert/\lVert x\rVert_\infty)$ | ω = √d − 1 |
//! | `power_rounding` | nearest power of $b$ (linear distance), keep sign | α = 4b/(b+1)² |
//! | `one_bit` | per block of $b$: one bit per coordinate, the means of the nonnegative and of the negative entries | α = 1/min(b, d) |
//! | `fp16` | round to nearest IEEE binary16, saturating at ±65504 (DDP hook) | none (relative error ≤ 2⁻¹¹ on the normal range) |
//! | `bf16` | round to nearest bfloat16, saturating (DDP hook) | none (relative error ≤ 2⁻⁸ on the normal range) |
//! | `uint8` | stochastic 8-bit codes on the per-message [min, max] grid | ω = (d−2)⁺/(2·255²) |
//!
//! Matrix compressors (`sym_top_k`, `sym_rand_k`, `sym_threshold`, `rank_r`, `power_sym`) act
//! on the packed upper triangle of a symmetric matrix with their classes in the Frobenius norm:
//! see [`matrix`].
//!
//! Three-point compressors (stateful $\mathcal{C}_{h,y}(x)$ with constants $A, B$: EF21, LAG,
//! CLAG, 3PCv1/v2/v4/v5, Bernoulli aggregation, AdaCGD's adaptive ladder) are built from these
//! in [`three_point`].
//!
//! Called from a rayon pool with several threads, QSGD, TernGrad, natural compression,
//! natural dithering and power rounding split one vector of $d \ge 2^{19}$ coordinates across
//! the pool's threads with messages bit-identical to the single-thread ones ([`parallel`]).
//!
//! Build any of them from a spec string with [`registry::parse`]; list them with
//! [`registry::entries`]. Every registered compressor passes the conformance suite
//! ([`conformance`]): round trip through the wire format, encoded length = reported bits,
//! its class's inequality, determinism under a seed, typed errors on bad input.
//!
//! ```
//! use squeeze_compress::registry::parse;
//! use squeeze_core::{Compressor, CompressCtx, Scratch, SqueezeRng};
//! let c = parse::<f32>("identity").unwrap();
//! let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(7), Scratch::default());
//! let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
//! let m = c.compress(&[1.0, 2.0], &mut ctx).unwrap();
//! assert_eq!(m.to_dense().unwrap(), vec![1.0, 2.0]);
//! ```

pub mod cast;
pub mod clip;
pub mod compose;
pub mod conformance;
pub mod entry;
pub mod error;
pub mod identity;
pub mod matrix;
pub mod natural;
pub mod natural_dithering;
pub mod one_bit;
pub mod parallel;
pub mod params;
pub mod perm_k;
pub mod power_rounding;
pub mod qsgd;
pub mod quant;
pub mod rand_k;
pub mod registry;
pub mod scaled;
pub mod scaled_sign;
pub mod schedule;
mod sparse_scan;
pub mod spec;
pub mod terngrad;
pub mod three_point;
pub mod threshold_abs;
pub mod threshold_rel;
pub mod top_k;

pub use cast::{CastBf16, CastF16, CastU8};
pub use clip::Clip;
pub use compose::Compose;
pub use error::RegistryError;
pub use identity::Identity;
pub use natural::Natural;
pub use natural_dithering::NaturalDithering;
pub use one_bit::OneBit;
pub use params::KSpec;
pub use perm_k::PermK;
pub use power_rounding::PowerRounding;
pub use qsgd::Qsgd;
pub use quant::NormKind;
pub use rand_k::RandK;
pub use registry::{CompressorSpec, parse};
pub use scaled::ScaledUnbiased;
pub use scaled_sign::ScaledSign;
pub use schedule::Schedule;
pub use terngrad::TernGrad;
pub use threshold_abs::ThresholdAbs;
pub use threshold_rel::ThresholdRel;
pub use top_k::TopK;

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
