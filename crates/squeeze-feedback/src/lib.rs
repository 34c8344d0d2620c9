//! # squeeze-feedback
//!
//! Push-style error-feedback mechanisms for vectors **your own training loop** computes: a
//! gradient, a momentum, a model delta. A mechanism is a state machine on each side of the
//! wire and nothing else — no oracle, no data, no stepsize, no model step:
//!
//! * the **worker** side holds an explicit, serialisable state (`Ef21Worker`, `Ef14Worker`,
//!   …) and a `step` that takes the vector you have and writes the [`Message`] to send (its
//!   `bits()` is the exact encoded length, `to_bytes()` the bytes to put on your wire);
//! * the **server** (or neighbour) side absorbs the messages in worker order and exposes the
//!   aggregate ([`Aggregator`], [`add_scaled`], [`gossip::mix_into`]).
//!
//! | mechanism | worker step | server | reference |
//! |---|---|---|---|
//! | [`Ef21`] | $c_i = \mathcal{C}(v_i - g_i)$, $g_i \mathrel{+}= c_i$ | $g \mathrel{+}= \tfrac1n\sum_i c_i$ | Richtárik et al. 2021 |
//! | [`Ef14`] | $m_i = \mathcal{C}(e_i + s v_i)$, $e_i \leftarrow e_i + s v_i - m_i$ | $x \mathrel{-}= \tfrac1n\sum_i m_i$ | Seide et al. 2014; Stich et al. 2018 |
//! | [`Econtrol`] | $\Delta_i = \mathcal{C}(\eta e_i + v_i - h_i)$, $e_i$, $h_i$ | $h \mathrel{+}= \tfrac1n\sum_i\Delta_i$ | Gao, Islamov, Stich 2024 |
//! | [`Clip21`] | $u_i = \operatorname{clip}_\tau(v_i - g_i)$ (+ Press, DP) | $g \mathrel{+}= \tfrac1n\sum_i u_i$ | Khirirat et al. 2023 |
//! | [`gossip::track`] | $q_i = \mathcal{C}(a - \hat a)$, $\hat a \mathrel{+}= q_i$ | $\sum_j w_{ij} q_j$ ([`gossip::mix_into`]) | CHOCO-SGD, BEER, MoTEF |
//!
//! The three-point compressors (LAG, CLAG, 3PCv1–v5, AdaCGD) are stateful *compressors* and
//! live in `squeeze-compress` (`three_point`). Whole optimisers (an oracle, a mechanism and
//! a step rule) are in `squeeze-methods`; they use these very updates, so a method run and a
//! hand-written loop over the same gradients produce the same bits.
//!
//! This crate depends only on `squeeze-core` and `squeeze-compress` (no problems, data or
//! linear-algebra crates).
//!
//! ## EF21 in your own loop
//!
//! ```
//! use squeeze_core::Message;
//! use squeeze_feedback::{Aggregator, Ef21, Ef21Worker, Round, Workspace};
//!
//! let (d, n) = (4, 2);
//! let ef21 = Ef21::<f32>::new(squeeze_compress::parse("top_k:k=1").unwrap());
//! let mut workers: Vec<_> = (0..n).map(|i| Ef21Worker::new(d, 7, i)).collect();
//! let mut server = Aggregator::new(d, n);
//! let (mut ws, mut msgs) = (Workspace::new(d), vec![Message::default(); n]);
//! let mut x = vec![1.0f32; d];
//! let mut bits = 0;
//! for round in 0..50 {
//!     for i in 0..n {
//!         // your autograd goes here: the gradient of f_i(x) = ½‖x − i‖²
//!         let grad: Vec<f32> = x.iter().map(|&xj| xj - i as f32).collect();
//!         ef21.step(&mut workers[i], &grad, &Round::new(i, n, round), &mut ws, &mut msgs[i]).unwrap();
//!         bits += msgs[i].bits();
//!     }
//!     server.absorb(round, &msgs).unwrap();
//!     for (xj, gj) in x.iter_mut().zip(server.estimate()) {
//!         *xj -= 0.5 * gj; // your optimizer step
//!     }
//! }
//! assert!(x.iter().all(|&xj| (xj - 0.5).abs() < 1e-3)); // the minimiser of the mean
//! assert!(bits < 50 * 2 * (4 + 4 * 32)); // far fewer bits than dense f32 vectors
//! ```

//! ## Half precision
//!
//! The mechanisms are generic over the [`Scalar`](squeeze_core::Scalar) type, the 16-bit
//! [`f16`](squeeze_core::f16) and [`bf16`](squeeze_core::bf16) included: states, messages and
//! aggregates are then 16-bit vectors (each operation rounded once to the type). For a 16-bit
//! *wire* under `f32` state, as PyTorch's DDP hooks do, keep `f32` and use the cast
//! compressors `fp16`, `bf16` or `uint8`.
//!
//! ```
//! use squeeze_core::{Message, bf16, f16};
//! use squeeze_feedback::{Aggregator, Ef21, Ef21Worker, Round, Workspace};
//!
//! // EF21 with Top-1 on f16 vectors: tag, count, index and one 16-bit value per message.
//! let (d, n) = (4, 2);
//! let ef21 = Ef21::<f16>::new(squeeze_compress::parse("top_k:k=1").unwrap());
//! let mut workers: Vec<_> = (0..n).map(|i| Ef21Worker::new(d, 7, i)).collect();
//! let mut server = Aggregator::new(d, n);
//! let (mut ws, mut msgs) = (Workspace::new(d), vec![Message::default(); n]);
//! let mut x = vec![f16::from_f32(1.0); d];
//! for round in 0..60 {
//!     for i in 0..n {
//!         let grad: Vec<f16> = x.iter().map(|&xj| xj - f16::from_f32(i as f32)).collect();
//!         ef21.step(&mut workers[i], &grad, &Round::new(i, n, round), &mut ws, &mut msgs[i]).unwrap();
//!         assert_eq!(msgs[i].bits(), 4 + 3 + 2 + 16);
//!     }
//!     server.absorb(round, &msgs).unwrap();
//!     for (xj, gj) in x.iter_mut().zip(server.estimate()) {
//!         *xj -= f16::from_f32(0.5) * *gj;
//!     }
//! }
//! // The minimiser of the mean, 0.5, to f16 precision.
//! assert!(x.iter().all(|&xj| (xj.to_f32() - 0.5).abs() < 2e-3));
//!
//! // A bfloat16 worker state sending stochastic 8-bit codes.
//! let ef21 = Ef21::<bf16>::new(squeeze_compress::parse("uint8").unwrap());
//! let mut w = Ef21Worker::new(d, 7, 0);
//! let v: Vec<bf16> = [0.5f32, -1.0, 2.0, 0.25].iter().map(|&a| bf16::from_f32(a)).collect();
//! let (mut ws, mut m) = (Workspace::new(d), Message::default());
//! ef21.step(&mut w, &v, &Round::new(0, 1, 0), &mut ws, &mut m).unwrap();
//! assert_eq!(m.bits(), 4 + 2 + 2 * 16 + 8 * 4);
//! ```

mod aggregate;
pub mod clip21;
pub mod econtrol;
pub mod ef14;
pub mod ef21;
mod error;
pub mod gossip;
pub mod round;

pub use aggregate::{Aggregator, add_mean, add_scaled};
pub use clip21::{Clip21, Clip21Variant, Clip21Worker};
pub use econtrol::{Econtrol, EcontrolWorker};
pub use ef14::{Ef14, Ef14Worker};
pub use ef21::{Ef21, Ef21Worker};
pub use error::FeedbackError;
pub use round::{Round, Workspace};
pub use squeeze_core::Message;

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
