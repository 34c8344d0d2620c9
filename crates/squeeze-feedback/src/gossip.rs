//! The compressed-gossip updates of CHOCO-SGD, BEER and MoTEF: public copies tracked with
//! compressed differences, and the neighbour-side mixing of received messages.

use squeeze_core::{Compressor, Message, Scalar, Scratch, SqueezeRng, ops};

use squeeze_compress::three_point::MechanismError;

use crate::FeedbackError;
use crate::round::{Round, compress, message_err, sub_into};

/// Compressed tracking of a public copy (CHOCO-SGD, Koloskova, Stich, Jaggi 2019; BEER, Zhao
/// et al. 2022; MoTEF, Islamov, Gao, Stich 2025): node $i$ keeps a copy $\hat a$ of a vector
/// $a$ that its neighbours can reconstruct, and sends
///
/// $$q_i = \mathcal{C}(a - \hat a),\qquad \hat a \leftarrow \hat a + q_i .$$
///
/// Each neighbour $j$ adds $w_{ji}\thinspace q_i$ to its running mix $\sum_k w_{jk}\hat a_k$
/// ([`mix_into`]), so mixing costs one compressed message per node per tracked vector.
/// `work` is length-d scratch; a non-finite $a - \hat a$ is `MechanismError::Diverged`
/// (reported as "a node's model or tracker").
///
/// ```
/// use squeeze_core::{Message, Scratch, SqueezeRng};
/// use squeeze_feedback::{Round, gossip::track};
/// let c = squeeze_compress::parse::<f64>("top_k:k=1").unwrap();
/// let (mut copy, mut work, mut q) = (vec![0.0; 2], vec![0.0; 2], Message::default());
/// let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(1), Scratch::default());
/// track(c.as_ref(), &[5.0, -1.0], &mut copy, &mut rng, &Round::new(0, 3, 0), &mut scratch, &mut work, &mut q).unwrap();
/// assert_eq!(copy, vec![5.0, 0.0]);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn track<S: Scalar>(
    c: &dyn Compressor<S>,
    target: &[S],
    copy: &mut [S],
    rng: &mut SqueezeRng,
    r: &Round,
    scratch: &mut Scratch,
    work: &mut [S],
    out: &mut Message<S>,
) -> Result<(), FeedbackError> {
    sub_into(target, copy, work);
    if ops::first_non_finite(work).is_some() {
        return Err(MechanismError::Diverged {
            what: "a node's model or tracker",
            round: r.round,
        }
        .into());
    }
    compress(c, work, rng, scratch, r, "a node's model or tracker", out).map_err(|e| match e {
        // The difference was checked finite: a compressor refusal is not divergence.
        FeedbackError::Step(MechanismError::Diverged { .. }) => {
            MechanismError::Incompatible(format!(
                "node {}, round {}: the compressor refused a finite vector",
                r.worker, r.round
            ))
            .into()
        }
        e => e,
    })?;
    out.add_to(copy, S::ONE)
        .map_err(message_err(r.worker, r.round))
}

/// The neighbour side: `acc ← acc + w_ii·msgs[i] + Σ_j w_ij·msgs[j]` for node `node`, its
/// self weight and its `(neighbour, weight)` list, in neighbour order (deterministic).
/// `msgs` is indexed by node.
///
/// ```
/// use squeeze_core::Message;
/// let msgs = [Message::Dense { values: vec![1.0f64] }, Message::Dense { values: vec![3.0] }];
/// let mut acc = vec![0.0];
/// squeeze_feedback::gossip::mix_into(&mut acc, 0, 0.5, &[(1, 0.5)], 0, &msgs).unwrap();
/// assert_eq!(acc, vec![2.0]);
/// ```
pub fn mix_into<S: Scalar>(
    acc: &mut [S],
    node: usize,
    self_weight: f64,
    neighbours: &[(usize, f64)],
    round: u64,
    msgs: &[Message<S>],
) -> Result<(), FeedbackError> {
    let own = msgs
        .get(node)
        .ok_or_else(|| MechanismError::Incompatible(format!("node {node} has no message")))?;
    own.add_to(acc, S::from_f64(self_weight))
        .map_err(message_err(node, round))?;
    for &(j, w) in neighbours {
        let m = msgs.get(j).ok_or_else(|| {
            MechanismError::Incompatible(format!("neighbour {j} of node {node} does not exist"))
        })?;
        m.add_to(acc, S::from_f64(w))
            .map_err(message_err(j, round))?;
    }
    Ok(())
}
