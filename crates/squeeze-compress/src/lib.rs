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
pub mod params;
pub mod registry;
pub mod scaled;
mod sparse_scan;
pub mod threshold_abs;
pub mod threshold_rel;
pub mod top_k;

pub use compose::Compose;
pub use identity::Identity;
pub use params::KSpec;
pub use registry::{CompressorSpec, RegistryError, parse};
pub use scaled::ScaledUnbiased;
pub use threshold_abs::ThresholdAbs;
pub use threshold_rel::ThresholdRel;
pub use top_k::TopK;
