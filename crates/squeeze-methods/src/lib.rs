//! # squeeze-methods
//!
//! Server–worker methods with compressed communication. Each method holds only its
//! hyperparameters and compressor; everything that changes lives in explicit, serialisable
//! state types (`Ef21Server`, `Ef21Worker`, …), so checkpoints are serde.
//!
//! | method | update | reference |
//! |---|---|---|
//! | [`Gd`] | $x \leftarrow x - \gamma\thinspace\frac1n\sum_i\nabla f_i(x)$ | — |
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
//! | [`ClipGd`] | $x \leftarrow x - \gamma\thinspace\frac1n\sum_i\operatorname{clip}_\tau(\nabla f_i)$ (fails) | Khirirat et al. 2023 |
//! | [`Clip21`] | $v_i \leftarrow v_i + \operatorname{clip}_\tau(\nabla f_i - v_i)$ (+ Press, DP) | Khirirat et al. 2023 |
//! | [`Marina`] | shared coin: full gradients, else $\mathcal{Q}(\nabla f_i(x^{t+1}) - \nabla f_i(x^t))$ | Gorbunov et al. 2021 |
//! | [`Sgd`] | minibatch SGD (optionally compressed, no feedback) | — |
//! | [`LocalSgd`] | $K$ local steps, then average the models | — |
//! | [`SignSgd`] | $x \leftarrow x - \gamma\operatorname{sign}\big(\sum_i\operatorname{sign}(m_i)\big)$, $m_i$ the (momentum) gradient: signSGD-MV, Signum | Bernstein et al. 2018, 2019 |
//! | [`Dgc`] | $u_i \leftarrow m u_i + g_i$, $v_i \leftarrow v_i + u_i$, send the sampled top-$k$ of $v_i$, mask $u_i, v_i$ there | Lin et al. 2018 |
//! | [`Adam`] | Adam on the mean gradient; 1-bit Adam: $v$ frozen after a warm-up, error-compensated compressed momentum both ways | Kingma, Ba 2015; Tang et al. 2021 |
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
//! The EF21 rows are one skeleton, [`Ef21Family`] = [`GradEstimator`] × the EF21 correction ×
//! [`ServerRule`] (see [`star::ef21`]); most star servers are the shared [`StepServer`] or
//! [`ModelServer`] states, whose [`ServerState`] round the methods inherit.
//!
//! The engines in `squeeze-driver` run them; see [`ServerMethod`] and [`GossipMethod`] for the
//! round protocols.

pub mod gossip;
pub mod method;
pub mod registry;
pub mod spec;
pub mod star;
pub mod stepsize;
/// The three-point compressors, re-exported from [`squeeze_compress::three_point`] (where they
/// live beside the compressors they are built from).
pub use squeeze_compress::three_point;

pub use gossip::beer::{Beer, BeerNode};
pub use gossip::choco::{Choco, ChocoNode, Dsgd, DsgdNode};
pub use gossip::motef::{Motef, MotefNode, MotefParams};
pub use gossip::{GossipInit, GossipMethod, GradSource, GradState, Neighbourhood, NodeCtx};
pub use method::{
    Init, InitUplink, MethodError, MethodState, ServerMethod, ServerState, WorkerBuffers, WorkerCtx,
};
pub use registry::{METHODS, MethodEntry, build_method};
pub use spec::{BuildCtx, MethodConfigError, MethodSink, MethodSpec, Topology};
pub use star::adam::{Adam, AdamBetas, AdamReplica, AdamServer, AdamWorker};
pub use star::clip_gd::{ClipGd, ClipGdServer, ClipGdWorker};
pub use star::clip21::{Clip21, Clip21Avg, Clip21Server, Clip21Variant, Clip21Worker};
pub use star::dgc::{Dgc, DgcOptions, DgcServer, DgcWorker};
pub use star::econtrol::{Econtrol, EcontrolServer, EcontrolWorker};
pub use star::ef14::{Ef14, Ef14Server, Ef14Worker};
pub use star::ef21::bc::{Ef21Bc, Ef21BcServer, Ef21BcWorker};
pub use star::ef21::hb::{Ef21Hb, Ef21HbServer};
pub use star::ef21::page::{Ef21Page, Ef21PageWorker};
pub use star::ef21::plus::{Ef21Plus, Ef21PlusServer, Ef21PlusWorker};
pub use star::ef21::pp::{Ef21Pp, Ef21PpWorker};
pub use star::ef21::sgd::{Batch, Ef21Sgd, Ef21SgdWorker, Minibatches};
pub use star::ef21::{
    Ef21, Ef21Family, Ef21Server, Ef21Worker, FullGrad, GradEstimator, GradInit, PlainStep,
    ServerRule,
};
pub use star::gd::{Gd, GdServer, GdWorker};
pub use star::local_sgd::{LocalSgd, LocalSgdServer, LocalSgdWorker};
pub use star::marina::{Marina, MarinaServer, MarinaWorker};
pub use star::powersgd::{PowerSgd, PowerSgdServer, PowerSgdShape, PowerSgdWorker};
pub use star::server::{ModelServer, StepServer};
pub use star::sgd::{Sgd, SgdServer, SgdWorker};
pub use star::sign_sgd::{SignSgd, SignSgdServer, SignSgdWorker};
pub use star::three_pc::bc::{ThreePcBc, ThreePcBcServer, ThreePcBcWorker};
pub use star::three_pc::{Parked, RungBuffers, ThreePc, ThreePcServer, ThreePcWorker};
pub use stepsize::{Stepsize, StepsizeReport, TheoryConstants};
pub use three_point::ThreePoint;
