//! # squeeze
//!
//! Compressed-communication distributed optimisation in Rust. This umbrella crate re-exports
//! the workspace crates so that one dependency gives everything:
//!
//! * [`core`] (`squeeze-core`): scalars, slice kernels, the bit-exact wire format
//!   ([`core::Message`]), the [`core::Compressor`] trait and seeded RNG streams;
//! * [`compress`] (`squeeze-compress`): Top-K, Rand-K, Perm-K, thresholds, scaled sign, QSGD,
//!   natural compression and dithering, TernGrad, power rounding, clipping, compositions, and
//!   the registry that builds them from spec strings such as `top_k:k=10`;
//! * [`problems`] (`squeeze-problems`): data sets, the LIBSVM reader, worker splits, logistic
//!   regression, least squares, the synthetic quadratics and their smoothness constants;
//! * [`feedback`] (`squeeze-feedback`): push-style error-feedback mechanisms (EF14, EF21,
//!   EControl, Clip21, compressed gossip) on vectors your own training loop computes;
//! * [`methods`] (`squeeze-methods`): whole optimisers — an oracle, a mechanism and a step
//!   rule (GD, EF14, the EF21 family, 3PC-GD, EControl, Clip21, MARINA, MoTEF, BEER, CHOCO-SGD);
//! * [`topology`] (`squeeze-topology`): graphs, mixing matrices and their spectral gap for the
//!   gossip methods;
//! * [`driver`] (`squeeze-driver`): the star engine, the executor, records and TOML configs.
//!
//! ```
//! use squeeze::prelude::*;
//! let c = squeeze::compress::parse::<f32>("identity").unwrap();
//! let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(1), Scratch::default());
//! let m = c.compress(&[1.0, 2.0], &mut CompressCtx::new(&mut rng, &mut scratch)).unwrap();
//! assert_eq!(m.bits(), 4 + 2 * 32);
//! ```

pub use squeeze_compress as compress;
pub use squeeze_core as core;
pub use squeeze_driver as driver;
pub use squeeze_feedback as feedback;
pub use squeeze_methods as methods;
pub use squeeze_problems as problems;
pub use squeeze_topology as topology;

/// The names most programs need.
pub mod prelude {
    pub use squeeze_compress::registry::{CompressorSpec, parse};
    pub use squeeze_core::{
        BitConvention, Class, CompressCtx, CompressError, Compressor, Message, Scalar, Scratch,
        SqueezeRng,
    };
}

/// The README's code examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
