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
//!
//! The engines in `squeeze-driver` run them; see [`ServerMethod`] for the round protocol.

pub mod ef14;
pub mod ef21;
pub mod gd;
pub mod method;
pub mod stepsize;

pub use ef14::{Ef14, Ef14Server, Ef14Worker};
pub use ef21::{Ef21, Ef21Server, Ef21Worker, GradInit};
pub use gd::{Gd, GdServer, GdWorker};
pub use method::{Init, InitUplink, MethodError, ServerMethod, WorkerBuffers, WorkerCtx};
pub use stepsize::Stepsize;
