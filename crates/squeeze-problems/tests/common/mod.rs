//! Helpers shared by the integration tests of squeeze-problems.
//!
//! Each test file uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use squeeze_core::rng::SqueezeRng;
use squeeze_problems::prelude::*;

/// The regularisers every oracle is checked with: none, L2 and the EF21 papers' nonconvex one.
pub const REGS: [Regularizer; 3] = [
    Regularizer::None,
    Regularizer::L2 { lambda: 0.3 },
    Regularizer::Nonconvex { lambda: 0.1 },
];

/// d entries ~ N(0, scale²), seeded.
pub fn random_vec(d: usize, scale: f64, seed: u64) -> Vec<f64> {
    let mut r = SqueezeRng::from_seed_u64(seed);
    (0..d).map(|_| scale * r.normal()).collect()
}

/// x⁰ ~ N(0, I) drawn from `seed`.
pub fn gaussian(seed: u64) -> InitPoint {
    InitPoint::Gaussian { seed, std: 1.0 }
}
