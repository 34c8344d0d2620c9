//! What the integration tests of this crate share.

use squeeze_compress::parse;

/// `spec` is refused with an error that mentions `needle`.
#[track_caller]
pub fn assert_refused(spec: &str, needle: &str) {
    let e = parse::<f32>(spec).unwrap_err().to_string();
    assert!(e.contains(needle), "{spec}: {e}");
}
