//! Data that needs no download.
//!
//! * [`default_dataset`]: the **Wisconsin Diagnostic Breast Cancer** data (UCI; 569 samples ×
//!   30 real features, 357 benign / 212 malignant; Wolberg, Street, Mangasarian; CC BY 4.0),
//!   compiled in from `data/wdbc.csv` (source and licence in `data/README.md`). The values are
//!   the `f32` numbers of that table. Labels: benign → +1, malignant → −1. Features are
//!   **standardised**: each column is shifted to mean 0 and scaled to unit (population)
//!   standard deviation, computed in `f64` over all 569 rows; the matrix is stored as CSR
//!   (essentially dense: 569 × 30 non-zeros).
//! * [`synthetic_binary`]: a seeded generator with the shape of a9a (N × 123 binary one-hot
//!   features, 14 non-zeros per row) and labels from a planted logistic model, for benchmarks
//!   and tests at realistic sizes.
//!
//! ```
//! use squeeze_problems::embedded;
//! let d = embedded::default_dataset::<f32>();
//! assert_eq!((d.n_rows(), d.n_features()), (569, 30));
//! assert_eq!(d.label_counts(), (357, 212));
//! ```

use std::sync::OnceLock;

use squeeze_core::Scalar;
use squeeze_core::rng::{Purpose, SqueezeRng};

use crate::data::{Csr, Dataset};

/// The Wisconsin Diagnostic Breast Cancer table: one header line, then per sample `B` (benign)
/// or `M` (malignant) and the 30 feature values, each the shortest decimal of an `f32`.
const WDBC_CSV: &str = include_str!("../data/wdbc.csv");

/// Width of [`WDBC_CSV`]'s feature part.
const WDBC_FEATURES: usize = 30;

/// A parsed [`WDBC_CSV`]: row-major `f32` features and one `benign` flag per row.
#[derive(Debug)]
struct RawTable {
    data: Vec<f32>,
    benign: Vec<bool>,
    n_features: usize,
}

/// Parses a diagnosis-first CSV table (header line skipped) with `n_features` values per row;
/// the error names the 1-based line and what is wrong with it.
fn parse_table(text: &str, n_features: usize) -> Result<RawTable, String> {
    let mut table = RawTable {
        data: Vec::new(),
        benign: Vec::new(),
        n_features,
    };
    for (i, line) in text.lines().enumerate().skip(1) {
        let mut fields = line.split(',');
        table.benign.push(match fields.next() {
            Some("B") => true,
            Some("M") => false,
            other => return Err(format!("line {}: diagnosis {other:?} is not B or M", i + 1)),
        });
        let before = table.data.len();
        for f in fields {
            let v: f32 = f
                .parse()
                .map_err(|e| format!("line {}: {f:?} is not a number ({e})", i + 1))?;
            table.data.push(v);
        }
        if table.data.len() - before != n_features {
            return Err(format!(
                "line {}: {} values, expected {n_features}",
                i + 1,
                table.data.len() - before
            ));
        }
    }
    if table.benign.is_empty() {
        return Err("no data rows".to_string());
    }
    Ok(table)
}

/// [`WDBC_CSV`], parsed on first use.
fn wdbc() -> &'static RawTable {
    static TABLE: OnceLock<RawTable> = OnceLock::new();
    TABLE.get_or_init(|| match parse_table(WDBC_CSV, WDBC_FEATURES) {
        Ok(t) => t,
        Err(e) => unreachable!("the embedded wdbc.csv is valid (pinned by a test): {e}"),
    })
}

/// Wisconsin Diagnostic Breast Cancer, standardised, labels ±1 (see the [module docs](self)).
pub fn default_dataset<S: Scalar>() -> Dataset<S> {
    let raw = wdbc();
    let (m, d) = (raw.benign.len(), raw.n_features);
    let mut mean = vec![0.0f64; d];
    let mut var = vec![0.0f64; d];
    for row in raw.data.chunks_exact(d) {
        for (mu, &v) in mean.iter_mut().zip(row) {
            *mu += v as f64;
        }
    }
    mean.iter_mut().for_each(|v| *v /= m as f64);
    for row in raw.data.chunks_exact(d) {
        for ((s, &mu), &v) in var.iter_mut().zip(&mean).zip(row) {
            *s += (v as f64 - mu) * (v as f64 - mu);
        }
    }
    let std: Vec<f64> = var
        .iter()
        .map(|s| {
            let sd = (s / m as f64).sqrt();
            if sd > 0.0 { sd } else { 1.0 }
        })
        .collect();
    let mut features = Csr::empty(d);
    let mut idx = Vec::with_capacity(d);
    let mut val = Vec::with_capacity(d);
    for row in raw.data.chunks_exact(d) {
        idx.clear();
        val.clear();
        for (k, &v) in row.iter().enumerate() {
            let z = S::from_f64((v as f64 - mean[k]) / std[k]);
            if z != S::ZERO {
                idx.push(k as u32);
                val.push(z);
            }
        }
        // Standardised embedded values are finite and the indices increasing by construction.
        if features.push_row(&idx, &val).is_err() {
            unreachable!("standardised breast_cancer rows are valid");
        }
    }
    let labels = raw
        .benign
        .iter()
        .map(|&b| if b { S::ONE } else { -S::ONE })
        .collect();
    match Dataset::new("breast_cancer", features, labels) {
        Ok(d) => d,
        Err(e) => unreachable!("embedded data set is valid: {e}"),
    }
}

/// Sizes of the 14 one-hot groups of [`synthetic_binary`]; they sum to 123 (a9a's width).
pub const A9A_LIKE_GROUPS: [usize; 14] = [9, 16, 7, 15, 6, 5, 2, 2, 3, 5, 5, 8, 38, 2];

/// An a9a-shaped synthetic data set: `n_rows` × 123 binary features in 14 one-hot groups
/// (group sizes [`A9A_LIKE_GROUPS`], one uniformly chosen column per group), so every row has
/// exactly 14 ones. Labels come from a planted logistic
/// model: w* ~ N(0, I), b = +1 with probability σ(a·w* − mean), all drawn from
/// `SqueezeRng::stream(seed, Purpose::Data, 0)`.
///
/// ```
/// use squeeze_problems::embedded::synthetic_binary;
/// let d = synthetic_binary::<f64>(1000, 7);
/// assert_eq!((d.n_rows(), d.n_features(), d.features.nnz()), (1000, 123, 14_000));
/// let (pos, neg) = d.label_counts();
/// assert!(pos > 100 && neg > 100);
/// ```
pub fn synthetic_binary<S: Scalar>(n_rows: usize, seed: u64) -> Dataset<S> {
    const D: usize = 123;
    let groups = A9A_LIKE_GROUPS;
    let mut rng = SqueezeRng::stream(seed, Purpose::Data, 0);
    let w: Vec<f64> = (0..D).map(|_| rng.normal()).collect();
    let mut rows: Vec<[u32; 14]> = Vec::with_capacity(n_rows);
    let mut margins = Vec::with_capacity(n_rows);
    for _ in 0..n_rows {
        let mut r = [0u32; 14];
        let mut start = 0usize;
        let mut z = 0.0;
        for (g, &size) in groups.iter().enumerate() {
            let c = start + rng.below(size as u64) as usize;
            r[g] = c as u32;
            z += w[c];
            start += size;
        }
        rows.push(r);
        margins.push(z);
    }
    let mean = margins.iter().sum::<f64>() / n_rows.max(1) as f64;
    let mut features = Csr::empty(D);
    let ones = [S::ONE; 14];
    let mut labels = Vec::with_capacity(n_rows);
    for (r, z) in rows.iter().zip(&margins) {
        if features.push_row(r, &ones).is_err() {
            unreachable!("one-hot groups give increasing in-range columns");
        }
        let p = 1.0 / (1.0 + (-(z - mean)).exp());
        labels.push(if rng.bernoulli(p) { S::ONE } else { -S::ONE });
    }
    match Dataset::new(format!("a9a_like({n_rows},seed={seed})"), features, labels) {
        Ok(d) => d,
        Err(e) => unreachable!("synthetic data set is valid: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breast_cancer_is_standardised() {
        let d = default_dataset::<f64>();
        let dense = d.features.to_dense();
        for k in 0..30 {
            let col: Vec<f64> = dense.chunks_exact(30).map(|r| r[k]).collect();
            let mean = col.iter().sum::<f64>() / 569.0;
            let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 569.0;
            assert!(
                mean.abs() < 1e-9 && (var - 1.0).abs() < 1e-9,
                "{k}: {mean} {var}"
            );
        }
    }

    /// FNV-1a (64 bit) over the little-endian bytes of `bits`.
    fn fnv1a(bits: impl Iterator<Item = u64>, width: usize) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in bits.flat_map(|x| x.to_le_bytes().into_iter().take(width)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    }

    /// The checksums were computed from `smartcore::dataset::breast_cancer::load_dataset()`
    /// (smartcore 0.7) and the earlier `default_dataset` built on it, before smartcore was
    /// removed: the embedded table and the standardised data are bit-identical to it.
    #[test]
    fn breast_cancer_is_pinned_to_the_smartcore_bits() {
        let raw = wdbc();
        assert_eq!(
            (raw.benign.len(), raw.n_features, raw.data.len()),
            (569, 30, 569 * 30)
        );
        assert_eq!(raw.benign.iter().filter(|&&b| b).count(), 357);
        let raw_bits = raw.data.iter().map(|v| u64::from(v.to_bits()));
        assert_eq!(fnv1a(raw_bits, 4), 0x7c3b_b332_1032_0a47);
        let d64 = default_dataset::<f64>();
        assert_eq!(
            (d64.n_rows(), d64.n_features(), d64.features.nnz()),
            (569, 30, 17_070)
        );
        assert_eq!(d64.label_counts(), (357, 212));
        let dense64 = d64.features.to_dense();
        assert_eq!(
            fnv1a(dense64.iter().map(|v| v.to_bits()), 8),
            0xa375_a4c6_1b02_2323
        );
        let labels64 = d64.labels.iter().map(|v| v.to_bits());
        assert_eq!(fnv1a(labels64, 8), 0x7c88_ff4e_3824_7938);
        let dense32 = default_dataset::<f32>().features.to_dense();
        let bits32 = dense32.iter().map(|v| u64::from(v.to_bits()));
        assert_eq!(fnv1a(bits32, 4), 0xba65_cb57_19ee_4d57);
    }

    #[test]
    fn table_parser_names_the_bad_line() {
        let ok = parse_table("h\nB,1,2.5\nM,-3,4e-2\n", 2).map(|t| (t.data, t.benign));
        assert_eq!(ok, Ok((vec![1.0, 2.5, -3.0, 0.04], vec![true, false])));
        let err = |text: &str| parse_table(text, 2).map(|_| ()).unwrap_err();
        assert_eq!(
            err("h\nX,1,2"),
            "line 2: diagnosis Some(\"X\") is not B or M"
        );
        assert_eq!(err("h\nB,1,2\nM,1"), "line 3: 1 values, expected 2");
        assert!(err("h\nB,1,x").starts_with("line 2: \"x\" is not a number"));
        assert_eq!(err("h\n"), "no data rows");
    }

    #[test]
    fn synthetic_is_seeded() {
        let a = synthetic_binary::<f32>(200, 1);
        assert_eq!(a, synthetic_binary::<f32>(200, 1));
        assert_ne!(a.labels, synthetic_binary::<f32>(200, 2).labels);
    }
}
