//! The identity operator.

use squeeze_core::{Class, CompressCtx, CompressError, Compressor, Message, ParamError, Scalar};

use crate::entry::{ParamDoc, Registered, compressor};
use crate::params::Params;

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

impl Registered for Identity {
    const NAME: &'static str = "identity";
    const SUMMARY: &'static str = "C(x) = x; α = 1, ω = 0; dense, 32d bits (f32)";
    const PARAMS: &'static [ParamDoc] = &[];
    const EXAMPLES: &'static [&'static str] = &["identity"];
    fn from_params(_: &mut Params) -> Result<Self, ParamError> {
        Ok(Identity)
    }
}

compressor! {
    Identity, |self, _dim| {
        spec: Self::NAME.to_string(),
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
