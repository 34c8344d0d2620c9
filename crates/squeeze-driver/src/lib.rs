//! # squeeze-driver
//!
//! Runs methods on problems: the star [`engine`] (n workers in parallel under rayon,
//! aggregated in worker order, bit-identical for every thread count), the [`executor`] (stop
//! rules, observers, checkpoints with exact resume), per-round [`records`], and experiment
//! [`config`]uration from TOML. With the cargo feature `mpi`, `mpi` runs the same engines as
//! MPI ranks exchanging the encoded messages (see the module's documentation).
//!
//! ```
//! use squeeze_driver::config::ExperimentConfig;
//! use squeeze_driver::executor::Collect;
//! let cfg = ExperimentConfig::from_toml(r#"
//!     seed = 1
//!     [problem]
//!     n_workers = 4
//!     [method]
//!     name = "ef21"
//!     compressor = "top_k:k=1"
//!     [stop]
//!     max_rounds = 20
//! "#).unwrap();
//! let mut engine = cfg.build_engine(std::path::Path::new(".")).unwrap();
//! let mut rec = Collect::default();
//! let summary = cfg.executor(None).unwrap().run(engine.as_mut(), &mut [&mut rec]).unwrap();
//! assert_eq!(summary.last.round, 20);
//! assert_eq!(rec.records.len(), 21);
//! assert!(rec.records[20].grad_norm_sq < rec.records[0].grad_norm_sq);
//! ```

pub mod config;
pub mod engine;
pub mod executor;
pub mod fingerprint;
pub mod gossip;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod records;
mod snapshot;

pub use config::{ConfigError, ExperimentConfig};
pub use engine::{Engine, EngineError, Metrics, StarEngine, Totals};
pub use executor::{Collect, ExecError, Executor, Observer, RunSummary, StopReason, StopRules};
pub use gossip::GossipEngine;
pub use records::{CsvRecordError, RoundRecord};
pub use squeeze_methods::{StepsizeReport, TheoryConstants};

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
