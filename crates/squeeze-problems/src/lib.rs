//! # squeeze-problems
//!
//! Problems and data for squeeze.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod data;
pub mod error;
pub mod libsvm;

pub use data::{Csr, Dataset, Row};
pub use error::{DataError, ParseKind, ProblemError};
