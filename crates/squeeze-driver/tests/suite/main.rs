//! The integration tests of squeeze-driver, one module per subject, in one test binary: a
//! binary per file would compile and link the engine and every method once per file, which
//! cost CI several minutes. Run one subject with e.g.
//! `cargo test --release -p squeeze-driver --test suite newton::`.

mod common;

mod adam;
mod bits;
mod bl1;
mod dgc;
mod econtrol_clip21_marina;
mod ef21_variants;
mod ef21_vs_ef14;
mod equivalences;
mod errors;
mod gossip;
mod method_suite;
mod metrics_at_scale;
mod newton;
mod newton_variants;
mod powersgd;
mod schedules;
mod sign_methods;
mod stepsize_report;
mod three_pc;
mod three_pc_reproductions;
