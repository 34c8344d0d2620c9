//! Reads the real LIBSVM files in `../shared/data/libsvm` (skipped with a note if absent) and
//! checks the counts documented in that folder's README.

use std::path::PathBuf;

use squeeze_problems::libsvm::{ReadOptions, read_libsvm_path};

fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/libsvm");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "note: {} is absent; skipping the real-data test",
            dir.display()
        );
        None
    }
}

#[test]
fn w8a_a8a_a9a_t_match_the_readme() {
    let Some(dir) = data_dir() else { return };

    let w8a = read_libsvm_path::<f64>(dir.join("w8a"), &ReadOptions::default()).unwrap();
    assert_eq!((w8a.n_rows(), w8a.n_features()), (49_749, 300));
    assert_eq!(w8a.name, "w8a");
    let (p, m) = w8a.label_counts();
    assert_eq!(p + m, 49_749);
    assert!(p > 0 && m > 0);

    let a8a = read_libsvm_path::<f32>(dir.join("a8a"), &ReadOptions::default()).unwrap();
    assert_eq!((a8a.n_rows(), a8a.n_features()), (22_696, 123));
    assert_eq!(a8a.label_counts(), (5_506, 17_190));
    // a8a's 123 features are binary indicators, ~14 per row.
    assert!(a8a.features.values().iter().all(|&v| v == 1.0));
    let per_row = a8a.features.nnz() as f64 / a8a.n_rows() as f64;
    assert!((13.0..15.0).contains(&per_row), "{per_row}");

    let a9at =
        read_libsvm_path::<f64>(dir.join("a9a.t"), &ReadOptions::with_n_features(123)).unwrap();
    assert_eq!((a9at.n_rows(), a9at.n_features()), (16_281, 123));
    let (p, m) = a9at.label_counts();
    assert!(p > 0 && m > 0);
}
