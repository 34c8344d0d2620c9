//! What the property tests of this crate share.

use proptest::prelude::ProptestConfig;
use proptest::test_runner::FileFailurePersistence;

/// 512 cases unless `PROPTEST_CASES` says otherwise, but at least 256; failing inputs are kept
/// in `regressions/` beside the test file.
pub fn config() -> ProptestConfig {
    ProptestConfig {
        cases: squeeze_core::proptest_cases(512).max(256),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}
