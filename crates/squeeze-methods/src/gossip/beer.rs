//! BEER (Zhao, Li, Chi et al. 2022): gradient tracking with compressed communication.

use serde::{Deserialize, Serialize};
use squeeze_core::{Compressor, Scalar};

use crate::gossip::tracking::{Tracked, TrackingFamily, TrackingNode};
use crate::gossip::{CompressedGossip, GradSource};
use crate::method::Result;

/// BEER: MoTEF without momentum, in the BEER authors' form.
///
/// $$X \leftarrow X + \gamma H(W-I) - \eta V,\quad H \leftarrow H + \mathcal{C}(X - H)$$
/// $$V \leftarrow V + \gamma G(W-I) + \nabla F(X^{new}) - \nabla F(X^{old}),\quad
/// G \leftarrow G + \mathcal{C}(V - G)$$
///
/// with $H = G = 0$ and $V = \nabla F(X^0)$ initially; two compressed messages per node per
/// round (the rounds of [`crate::gossip::tracking`]): [`TrackingFamily`] tracking the
/// [`LocalGradient`]. Its tracker update is written independently of [`crate::Motef`]'s (it
/// keeps the previous gradient instead of a momentum) so that "MoTEF with λ = 1 = BEER" is a
/// real, bit-for-bit test.
pub type Beer<S> = TrackingFamily<S, LocalGradient>;

/// BEER's tracked quantity: the local gradient, $u_i = \nabla f_i(x_i)$ (the node keeps the
/// previous one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalGradient;

/// BEER node state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct BeerNode<S: Scalar> {
    /// Model, tracker, public copies and their mixes, streams.
    #[serde(flatten)]
    pub track: TrackingNode<S>,
    /// Previous local gradient.
    pub prev: Vec<S>,
}

crate::gossip::tracking::reads_as_tracking!(BeerNode);

impl<S: Scalar> Beer<S> {
    /// BEER with consensus stepsize γ ∈ (0, 1] and stepsize η > 0.
    pub fn new(
        compressor: Box<dyn Compressor<S>>,
        gamma: f64,
        eta: f64,
        grad: GradSource,
    ) -> Result<Self> {
        let parts = CompressedGossip::new("beer", compressor, gamma, eta, grad)?;
        Ok(Self::compose(parts, LocalGradient))
    }
}

impl<S: Scalar> Tracked<S> for LocalGradient {
    const NAME: &'static str = "beer";
    type Node = BeerNode<S>;

    fn describe(&self) -> String {
        String::new()
    }

    fn node(track: TrackingNode<S>) -> BeerNode<S> {
        BeerNode {
            prev: track.v.clone(),
            track,
        }
    }

    fn split(node: &mut BeerNode<S>) -> (&mut TrackingNode<S>, &mut [S]) {
        (&mut node.track, &mut node.prev)
    }

    /// u = the local gradient: ∇f_i(x^new) − ∇f_i(x^old).
    fn update(&self) -> impl Fn(&mut S, S) -> (S, S) {
        |p: &mut S, gr: S| (gr, std::mem::replace(p, gr))
    }
}

// ---- registry entry (name, params, build): see `crate::registry` ----

crate::spec::method_entry! {
    BeerSpec(BeerParams { compressor, consensus, gradient }): Gossip "beer",
    summary = "BEER: compressed gradient tracking, 2 messages/round (gamma, eta)",
    example = "compressor = \"top_k:k=1\"\ngamma = 0.5\neta = 0.05",
    |p, ctx, sink| {
        sink.gossip(Beer::compose(p.compressed_gossip::<S>(ctx.dim)?, LocalGradient))
    }
}
