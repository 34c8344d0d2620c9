//! # squeeze-compress
//!
//! Compression operators for distributed optimisation, each with its class (contractive α /
//! unbiased ω), a reference, and an exact bit-packed wire format (`squeeze_core::Message`).
//!
//! | name | operator | class |
//! |---|---|---|
//! | `identity` | $x$ | α = 1, ω = 0 |
//! | `qsgd` | QSGD random dithering, $s$ uniform levels of $\|x\|_2$ or $\|x\|_\infty$ | ω = min(d/s², √d/s) (ℓ₂) |
//! | `natural` | unbiased random rounding to a neighbouring power of two | ω = 1/8 |
//! | `natural_dithering` | dithering onto levels $0, 2^{-(s-1)}, …, 1/2, 1$ of the norm | ω = 1/8 + (√d/2^{s−1})·min(1, √d/2^{s−1}) |
//! | `terngrad` | $\|x\|_\infty\,\mathrm{sign}(x_j)\,\mathrm{Bernoulli}(\lvert x_j\rvert/\|x\|_\infty)$ | ω = √d − 1 |
//! | `power_rounding` | nearest power of $b$ (linear distance), keep sign | α = 4b/(b+1)² |
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

pub mod compose;
pub mod conformance;
pub mod identity;
pub mod natural;
pub mod natural_dithering;
pub mod params;
pub mod power_rounding;
pub mod qsgd;
pub mod quant;
pub mod registry;
pub mod scaled;
pub mod terngrad;

pub use compose::Compose;
pub use identity::Identity;
pub use natural::Natural;
pub use natural_dithering::NaturalDithering;
pub use params::KSpec;
pub use power_rounding::PowerRounding;
pub use qsgd::Qsgd;
pub use quant::NormKind;
pub use registry::{CompressorSpec, RegistryError, parse};
pub use scaled::ScaledUnbiased;
pub use terngrad::TernGrad;
