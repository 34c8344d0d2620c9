//! Composition: sparsify, then compress the kept values.

use squeeze_core::message::MAX_DEPTH;
use squeeze_core::{
    Class, CompressCtx, CompressError, Compressor, Message, ParamError, Scalar, Sparsifier,
};

use crate::entry::{EntryInfo, ParamDoc, compressor};

pub(crate) const COMPOSE_ENTRY: EntryInfo = EntryInfo {
    name: "compose",
    summary: "A | B: sparsify with A (top_k, rand_k, perm_k, threshold_*), then compress the k kept values with B; bits add up",
    params: &[
        ParamDoc {
            name: "A",
            doc: "a sparsifier spec",
        },
        ParamDoc {
            name: "B",
            doc: "any compressor spec, applied to the vector of kept values (dimension k)",
        },
    ],
    examples: &[
        "top_k:ratio=0.25 | qsgd:s=4",
        "top_k:k=2 | scaled_sign",
        "rand_k:k=3 | natural",
        "top_k:ratio=0.5 | scaled(qsgd:s=2)",
    ],
    bench: &["top_k:ratio=0.01 | scaled(qsgd:s=16)"],
    matrix: false,
};

/// Composition $\mathcal{C}(x) = \mathcal{Q}(T(x))$: a sparsifier $T$ keeps $k$ coordinates
/// and a second operator $\mathcal{Q}$ compresses the vector of kept values (dimension $k$).
///
/// Wire: a `Composed` message — the kept indices, then $\mathcal{Q}$'s message over $k$
/// values; the bits add up.
///
/// Class (derived; $T$'s output and $x - T(x)$ have disjoint supports, so the errors are
/// orthogonal, $\mathbb{E}\lVert\mathcal{Q}(T) - x\rVert^2 = \mathbb{E}\lVert\mathcal{Q}(T) -
/// T\rVert^2 + \lVert T - x\rVert^2$):
/// * $T$ a projection in $B(\alpha_1)$ and $\mathcal{Q} \in B(\alpha_2)$: contractive with
///   $\alpha = \alpha_1\alpha_2$;
/// * $T$ a projection in $B(\alpha_1)$ and $\mathcal{Q} \in U(\omega)$ with $\omega < 1$:
///   contractive with $\alpha = (1-\omega)\alpha_1$ (use `scaled(Q)` when $\omega \ge 1$: then
///   $\alpha = \alpha_1/(\omega_k + 1)$, the spec's Top-K-then-$Q/(\omega+1)$ rule);
/// * $T \in U(\omega_1)$ and $\mathcal{Q} \in U(\omega_2)$: unbiased with
///   $\omega = (\omega_1+1)(\omega_2+1) - 1$;
/// * otherwise no uniform guarantee.
///
/// $\omega_2$, $\alpha_2$ are taken at dimension $k$ (or $d$ when $k$ depends on the input).
///
/// ```
/// use squeeze_compress::registry::parse;
/// use squeeze_core::{Compressor, CompressCtx, Scratch, SqueezeRng};
/// let c = parse::<f32>("top_k:k=2 | scaled_sign").unwrap();
/// let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(0), Scratch::default());
/// let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
/// let m = c.compress(&[0.0, 3.0, -1.0, 0.5], &mut ctx).unwrap();
/// // Top-2 keeps 3 and -1; scaled sign sends their mean magnitude 2 with signs.
/// assert_eq!(m.to_dense().unwrap(), vec![0.0, 2.0, -2.0, 0.0]);
/// assert_eq!(c.class(4).alpha(), Some(0.5 * 0.5));
/// ```
#[derive(Debug)]
pub struct Compose<S: Scalar> {
    first: Box<dyn Compressor<S>>,
    second: Box<dyn Compressor<S>>,
}

/// A wrapper (`wrapper`, e.g. `A | B`, of `component`'s parameter `param`) wraps `inner`'s
/// message once more: refuse an `inner` already nested [`MAX_DEPTH`] deep.
pub(crate) fn check_wrappable<S: Scalar>(
    component: &'static str,
    param: &'static str,
    wrapper: &str,
    inner: &dyn Compressor<S>,
) -> Result<(), ParamError> {
    if inner.nesting() < MAX_DEPTH {
        return Ok(());
    }
    Err(ParamError::new(
        component,
        param,
        inner.spec(),
        format!(
            "{wrapper} wraps {param}'s message once more and the wire format carries at most {MAX_DEPTH} nested wrappers (each '|' and scaled(...) is one); use fewer stages"
        ),
    ))
}

impl<S: Scalar> Compose<S> {
    /// `first` must be a sparsifier, and `second`'s messages nested at most `MAX_DEPTH − 1`
    /// deep (the `Composed` message wraps them once more; the wire format carries
    /// [`MAX_DEPTH`] wrappers).
    pub fn new(
        first: Box<dyn Compressor<S>>,
        second: Box<dyn Compressor<S>>,
    ) -> Result<Self, ParamError> {
        ParamError::require(
            first.as_sparsifier().is_some(),
            "compose",
            "A",
            first.spec(),
            "the first stage of `A | B` must be a sparsifier (top_k, rand_k, perm_k, threshold_abs, threshold_rel)",
        )?;
        check_wrappable("compose", "B", "A | B", second.as_ref())?;
        Ok(Self { first, second })
    }

    /// The class at `dim` (see the type's docs): contractive if the sparsifier is a projection
    /// and the second stage has an α (or ω < 1), unbiased if both stages are, else neither.
    fn class_at(&self, dim: usize) -> Class {
        let sp = self.sparsifier();
        let k = sp.kept(dim).unwrap_or(dim).max(1);
        let c1 = self.first.class(dim);
        let c2 = self.second.class(k);
        if sp.is_projection()
            && let Some(a1) = c1.alpha()
        {
            if let Some(a2) = c2.alpha() {
                return Class::Contractive { alpha: a1 * a2 };
            }
            if let Some(w) = c2.omega()
                && w < 1.0
            {
                return Class::Contractive {
                    alpha: (1.0 - w) * a1,
                };
            }
        }
        if let (Some(w1), Some(w2)) = (c1.omega(), c2.omega()) {
            return Class::Unbiased {
                omega: (w1 + 1.0) * (w2 + 1.0) - 1.0,
            };
        }
        Class::Neither
    }

    fn sparsifier(&self) -> &dyn Sparsifier<S> {
        match self.first.as_sparsifier() {
            Some(s) => s,
            None => unreachable!("checked in Compose::new"),
        }
    }
}

compressor! {
    Compose<S>, |self, dim| {
        spec: format!("{} | {}", self.first.spec(), self.second.spec()),
        class: self.class_at(dim),
        deterministic: self.first.is_deterministic() && self.second.is_deterministic(),
        fn nesting(&self) -> u32 {
            1 + self.second.nesting()
        }
        fn check_dim(&self, dim: usize) -> Result<(), CompressError> {
            self.first.check_dim(dim)?;
            match self.sparsifier().kept(dim) {
                Some(k) if k > 0 => self.second.check_dim(k),
                _ => Ok(()),
            }
        }
    }
    compress_into |x, ctx, out| {
        let (indices, inner) = out.composed_parts(x.len());
        let mut kept = std::mem::take(S::scratch_values(ctx.scratch));
        let result = self
            .sparsifier()
            .sparsify_into(x, ctx, indices, &mut kept)
            .and_then(|()| {
                if kept.is_empty() {
                    inner.set_skip(0);
                    Ok(())
                } else {
                    self.second.compress_into(&kept, ctx, inner)
                }
            });
        *S::scratch_values(ctx.scratch) = kept;
        result
    }
}
