//! The identity operator.

use squeeze_core::{Class, CompressCtx, CompressError, Compressor, Message, Scalar};

use crate::entry::compressor;

/// Identity: $\mathcal{C}(x) = x$, sent as all $d$ values.
///
/// Class: contractive with $\alpha = 1$ and unbiased with $\omega = 0$. Bits: $4 + 32d$ for
/// `f32` (tag plus the values). Methods run with the identity reduce to their uncompressed
/// counterparts (EF21 with the identity is gradient descent).
///
/// ```
/// use squeeze_compress::Identity;
/// use squeeze_core::{Compressor, CompressCtx, Scratch, SqueezeRng};
/// let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
/// let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
/// let m = Identity.compress(&[1.0f32, -2.0], &mut ctx).unwrap();
/// assert_eq!(m.to_dense().unwrap(), vec![1.0, -2.0]);
/// assert_eq!(m.bits(), 4 + 64);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Identity;

compressor! {
    unit Identity = "identity",
        "C(x) = x; α = 1, ω = 0; dense, 32d bits (f32)";
    |self, _dim| {
        class: Class::Both {
            alpha: 1.0,
            omega: 0.0,
        },
        deterministic: true,
    }
    compress_into |x, _ctx, out| {
        squeeze_core::check_input(x)?;
        out.dense_parts().extend_from_slice(x);
        Ok(())
    }
}
