//! Server–worker (star) methods: every worker talks to one server ([`crate::ServerMethod`]).
//!
//! Families in folders: [`ef21`] (EF21 and its variants), [`three_pc`] (3PC-GD over a
//! three-point compressor), [`dgc`] (DGC and its selection); one file per other method.

pub mod adam;
pub mod clip21;
pub mod clip_gd;
pub mod dgc;
pub mod downlink;
pub mod econtrol;
pub mod ef14;
pub mod ef21;
pub mod gd;
pub mod local_sgd;
pub mod marina;
pub mod newton;
pub mod powersgd;
pub mod server;
pub mod sgd;
pub mod sign_sgd;
pub mod three_pc;
