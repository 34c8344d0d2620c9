//! # squeeze-core
//!
//! The ground every squeeze crate stands on:
//!
//! * [`Scalar`] — `f32`, `f64` and the 16-bit [`f16`](struct@f16) / [`bf16`](struct@bf16), with their IEEE layout for
//!   the wire format;
//! * [`ops`] — allocation-free, deterministic, auto-vectorised slice kernels;
//! * [`bits`] and [`Message`] — the bit-exact wire format (`bits()` is the exact encoded
//!   length; decoding untrusted bytes returns typed errors, never panics);
//! * [`Compressor`] and [`Class`] — the operator trait and its contractive (α) / unbiased (ω)
//!   guarantees;
//! * [`rng`] — seeded xoshiro256++ streams per purpose and worker; no entropy anywhere.
//!
//! ```
//! use squeeze_core::{BitConvention, Message};
//! let m = Message::<f32>::Dense { values: vec![1.0, 2.0] };
//! assert_eq!(m.bits(), 4 + 64);
//! assert_eq!(m.bits_under(BitConvention::Values32), 64);
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod alloc_count;
pub mod bits;
pub mod compressor;
pub mod error;
pub mod message;
pub mod ops;
pub mod rng;
pub mod scalar;
pub mod simd;
pub mod sym;

pub use bits::{BitReader, BitWriter};
pub use compressor::{
    Class, CompressCtx, Compressor, Scratch, Sparsifier, check_dim_basic, check_input,
    non_finite_error, sparse_compress_into,
};
pub use error::{CompressError, DecodeError, LengthMismatch, MessageError, ParamError};
/// The 16-bit float types that implement [`Scalar`] (re-exported from the `half` crate).
pub use half::{bf16, f16};
pub use message::{BitConvention, CastFormat, Levels, Message};
pub use rng::{Purpose, SqueezeRng, WideRng, round_seed};
pub use scalar::Scalar;

/// Number of property-test cases: `PROPTEST_CASES` if set (CI bounds it), else `default`.
///
/// Use it in `proptest_config` so that the environment variable is honoured even where a test
/// states its own default.
#[doc(hidden)]
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
