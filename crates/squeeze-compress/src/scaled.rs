//! The unbiased → contractive scaling $Q/(\omega+1)$.

use squeeze_core::{Class, CompressCtx, CompressError, Compressor, Message, ParamError, Scalar};

use crate::compose::check_wrappable;
use crate::entry::{EntryInfo, ParamDoc, compressor};

pub(crate) const SCALED_ENTRY: EntryInfo = EntryInfo {
    name: "scaled",
    summary: "scaled(Q): Q/(ω+1) for an unbiased Q ∈ U(ω); contractive with α = 1/(ω+1) [EF21-BW §1]",
    params: &[ParamDoc {
        name: "Q",
        doc: "an unbiased compressor spec, e.g. scaled(rand_k:k=10)",
    }],
    examples: &["scaled(rand_k:k=3)", "scaled(qsgd:s=2)", "scaled(natural)"],
    bench: &["scaled(qsgd:s=16)"],
    matrix: false,
};

/// $\mathcal{C}(x) = \mathcal{Q}(x)/(\omega+1)$ for $\mathcal{Q} \in U(\omega)$.
///
/// Class: contractive with $\alpha = 1/(\omega+1)$. With $c = 1/(\omega+1)$ and
/// $\mathbb{E}\lVert\mathcal{Q}(x)\rVert^2 \le (\omega+1)\lVert x\rVert^2$: $\mathbb{E}\lVert c\mathcal{Q}(x) -
/// x\rVert^2 = c^2\thinspace\mathbb{E}\lVert\mathcal{Q}(x)\rVert^2 - 2c\lVert x\rVert^2 + \lVert x\rVert^2
/// \le (1 - c)\lVert x\rVert^2$ (Fatkhullin et al., EF21-BW §1). $\omega$ is the inner operator's
/// at the input dimension. Wire: a `Scaled` message (one scalar, then $\mathcal{Q}$'s message).
///
/// ```
/// use squeeze_compress::registry::parse;
/// let c = parse::<f32>("scaled(rand_k:k=1)").unwrap();
/// // Rand-1 in d = 4 has ω = 3, so α = 1/4.
/// assert_eq!(c.class(4).alpha(), Some(0.25));
/// assert!(parse::<f32>("scaled(top_k:k=1)").is_err());
/// ```
#[derive(Debug)]
pub struct ScaledUnbiased<S: Scalar> {
    inner: Box<dyn Compressor<S>>,
}

impl<S: Scalar> ScaledUnbiased<S> {
    /// `inner` must be unbiased, and its messages nested at most `MAX_DEPTH − 1` deep (the
    /// `Scaled` message wraps them once more; the wire format carries
    /// [`MAX_DEPTH`](squeeze_core::message::MAX_DEPTH) wrappers).
    pub fn new(inner: Box<dyn Compressor<S>>) -> Result<Self, ParamError> {
        ParamError::require(
            inner.class(1).omega().is_some(),
            "scaled",
            "Q",
            inner.spec(),
            "scaled(Q) needs an unbiased Q (rand_k, perm_k, qsgd, natural, natural_dithering, terngrad); contractive ones need no scaling",
        )?;
        check_wrappable("scaled", "Q", "scaled(Q)", inner.as_ref())?;
        Ok(Self { inner })
    }

    fn omega(&self, dim: usize) -> Result<f64, CompressError> {
        self.inner
            .class(dim)
            .omega()
            .ok_or_else(|| CompressError::Incompatible {
                component: "scaled",
                param: "Q",
                value: self.inner.spec(),
                dim,
                hint: "the inner compressor is not unbiased at this dimension".to_string(),
            })
    }
}

compressor! {
    ScaledUnbiased<S>, |self, dim| {
        spec: format!("scaled({})", self.inner.spec()),
        class: match self.omega(dim) {
            Ok(w) => Class::Contractive {
                alpha: 1.0 / (w + 1.0),
            },
            Err(_) => Class::Neither,
        },
        deterministic: self.inner.is_deterministic(),
        fn nesting(&self) -> u32 {
            1 + self.inner.nesting()
        }
        fn check_dim(&self, dim: usize) -> Result<(), CompressError> {
            self.inner.check_dim(dim)?;
            self.omega(dim).map(|_| ())
        }
    }
    compress_into |x, ctx, out| {
        let w = self.omega(x.len())?;
        let (scale, inner) = out.scaled_parts();
        self.inner.compress_into(x, ctx, inner)?;
        *scale = S::from_f64(1.0 / (w + 1.0));
        Ok(())
    }
}
