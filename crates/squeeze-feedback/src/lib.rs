//! # squeeze-feedback
//!
//! Server–worker methods with compressed communication. Each method holds only its
//! hyperparameters and compressor; everything that changes lives in explicit, serialisable
//! state types (`Ef21Server`, `Ef21Worker`, …), so checkpoints are serde.
//!
//! | method | update | reference |
//! |---|---|---|
//! | [`Gd`] | $x \leftarrow x - \gamma\,\frac1n\sum_i\nabla f_i(x)$ | — |
//! | [`Ef14`] | $e_i + \gamma\nabla f_i \to$ compress, keep the residual | Seide et al. 2014; Stich et al. 2018 |
//! | [`Ef21`] | $g_i \leftarrow g_i + \mathcal{C}(\nabla f_i - g_i)$, $x \leftarrow x - \gamma g$ | Richtárik et al. 2021 |
//! | [`Ef21Plus`] | closer of $g_i + \mathcal{C}(\nabla f_i - g_i)$ and $\mathcal{C}(\nabla f_i)$ | Richtárik et al. 2021 |
//! | [`Ef21Sgd`] | EF21 on a τ-nice minibatch gradient | Fatkhullin et al. 2021 |
//! | [`Ef21Page`] | EF21 on the PAGE estimator (shared coin) | Fatkhullin et al. 2021 |
//! | [`Ef21Pp`] | EF21 with ⌊pn⌋ random participants per round | Fatkhullin et al. 2021 |
//! | [`Ef21Bc`] | EF21 up and a compressed EF21 downlink | Fatkhullin et al. 2021 |
//! | [`Ef21Hb`] | EF21 with heavy-ball $v \leftarrow \eta v + g$ on the server | Fatkhullin et al. 2021 |
//! | [`ThreePcBc`] | 3PC-GD with a second 3PC mechanism on the broadcast (bidirectional AdaCGD) | Makarenko et al. 2023 |
//! | [`ThreePc`] | $g_i \leftarrow \mathcal{C}_{g_i, \nabla f_i(x^t)}(\nabla f_i(x^{t+1}))$ for a [`ThreePoint`] mechanism ([`three_point`]: EF21, LAG, CLAG, 3PCv1/v2/v4/v5, BAG, AdaCGD) | Richtárik et al. 2022; Makarenko et al. 2023 |
//! | [`Econtrol`] | $\Delta_i = \mathcal{C}(\eta e_i + g_i - h_i)$, shift $h_i$ and error $e_i$ | Gao, Islamov, Stich 2024 |
//! | [`ClipGd`] | $x \leftarrow x - \gamma\,\frac1n\sum_i\operatorname{clip}_\tau(\nabla f_i)$ (fails) | Khirirat et al. 2023 |
//! | [`Clip21`] | $v_i \leftarrow v_i + \operatorname{clip}_\tau(\nabla f_i - v_i)$ (+ Press, DP) | Khirirat et al. 2023 |
//! | [`Marina`] | shared coin: full gradients, else $\mathcal{Q}(\nabla f_i(x^{t+1}) - \nabla f_i(x^t))$ | Gorbunov et al. 2021 |
//! | [`Sgd`] | minibatch SGD (optionally compressed, no feedback) | — |
//! | [`LocalSgd`] | $K$ local steps, then average the models | — |
//!
//! Decentralized (gossip) methods over a graph with mixing matrix W ([`GossipMethod`]):
//!
//! | method | messages/round | reference |
//! |---|---|---|
//! | [`Motef`] | 2 (compressed x and tracker deltas) | Islamov, Gao, Stich 2025 |
//! | [`Beer`] | 2 | Zhao et al. 2022 |
//! | [`Choco`] | 1 | Koloskova, Stich, Jaggi 2019 |
//! | [`Dsgd`] | 1 dense | — |
//!
//! The engines in `squeeze-driver` run them; see [`ServerMethod`] and [`GossipMethod`] for the
//! round protocols.

pub mod beer;
pub mod choco;
pub mod clip21;
pub mod clip_gd;
pub mod econtrol;
pub mod ef14;
pub mod ef21;
pub mod ef21_bc;
pub mod ef21_hb;
pub mod ef21_page;
pub mod ef21_plus;
pub mod ef21_pp;
pub mod ef21_sgd;
pub mod gd;
pub mod gossip;
pub mod local_sgd;
pub mod marina;
pub mod method;
pub mod motef;
pub mod sgd;
pub mod stepsize;
pub mod three_pc;
pub mod three_pc_bc;
pub mod three_point;

pub use beer::{Beer, BeerNode};
pub use choco::{Choco, ChocoNode, Dsgd, DsgdNode};
pub use clip_gd::{ClipGd, ClipGdServer, ClipGdWorker};
pub use clip21::{Clip21, Clip21Avg, Clip21Server, Clip21Variant, Clip21Worker};
pub use econtrol::{Econtrol, EcontrolServer, EcontrolWorker};
pub use ef14::{Ef14, Ef14Server, Ef14Worker};
pub use ef21::{Ef21, Ef21Server, Ef21Worker, GradInit};
pub use ef21_bc::{Ef21Bc, Ef21BcServer, Ef21BcWorker};
pub use ef21_hb::{Ef21Hb, Ef21HbServer};
pub use ef21_page::{Ef21Page, Ef21PageWorker};
pub use ef21_plus::{Ef21Plus, Ef21PlusServer, Ef21PlusWorker};
pub use ef21_pp::{Ef21Pp, Ef21PpWorker};
pub use ef21_sgd::{Batch, Ef21Sgd, Ef21SgdWorker};
pub use gd::{Gd, GdServer, GdWorker};
pub use gossip::{GossipInit, GossipMethod, GradSource, GradState, Neighbourhood, NodeCtx};
pub use local_sgd::{LocalSgd, LocalSgdServer, LocalSgdWorker};
pub use marina::{Marina, MarinaServer, MarinaWorker};
pub use method::{Init, InitUplink, MethodError, ServerMethod, WorkerBuffers, WorkerCtx};
pub use motef::{Motef, MotefNode, MotefParams};
pub use sgd::{Sgd, SgdServer, SgdWorker};
pub use stepsize::Stepsize;
pub use three_pc::{Parked, RungBuffers, ThreePc, ThreePcServer, ThreePcWorker};
pub use three_pc_bc::{ThreePcBc, ThreePcBcServer, ThreePcBcWorker};
pub use three_point::ThreePoint;
