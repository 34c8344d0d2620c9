//! Splitting a data set of N rows across n workers.
//!
//! Rows are first put in an order ([`Split`]), then cut into n contiguous blocks of
//! ⌊N/n⌋ rows; the N mod n leftover rows go to the last worker ([`Remainder::ToLast`], the
//! EF21 code's rule), are dropped ([`Remainder::Drop`], the CLAG and MoTEF codes' rule), or
//! are spread one each over the first workers ([`Remainder::Balanced`], `numpy.array_split`).
//!
//! ```
//! use squeeze_problems::split::{split_indices, Remainder, Split};
//! let parts = split_indices(&[1.0f64, -1.0, 1.0, -1.0, 1.0], 2, Split::Contiguous, Remainder::ToLast).unwrap();
//! assert_eq!(parts, vec![vec![0, 1], vec![2, 3, 4]]);
//! let parts = split_indices(&[1.0f64, -1.0, 1.0, -1.0, 1.0], 2, Split::SortedByLabel, Remainder::Drop).unwrap();
//! assert_eq!(parts, vec![vec![1, 3], vec![0, 2]]);
//! let parts = split_indices(&[1.0f64; 7], 3, Split::Contiguous, Remainder::Balanced).unwrap();
//! assert_eq!(parts, vec![vec![0, 1, 2], vec![3, 4], vec![5, 6]]);
//! ```

use squeeze_core::Scalar;
use squeeze_core::rng::{Purpose, SqueezeRng};

use crate::data::Dataset;
use crate::error::ProblemError;

/// The order in which rows are dealt out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// File order (the EF21 papers: heterogeneity comes from the file order).
    Contiguous,
    /// A uniformly random permutation (iid workers), drawn from
    /// `SqueezeRng::stream(seed, Purpose::Split, 0)` by Fisher–Yates.
    Shuffled {
        /// Experiment seed.
        seed: u64,
    },
    /// Stable sort by label (−1 first, then +1), then contiguous: MoTEF's strongly
    /// heterogeneous "unshuffled" split.
    SortedByLabel,
}

/// What happens to the N mod n rows that do not fill a whole block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Remainder {
    /// Appended to the last worker (EF21 code).
    #[default]
    ToLast,
    /// Dropped, so all workers hold ⌊N/n⌋ rows (CLAG, MoTEF codes).
    Drop,
    /// One each to the first N mod n workers, which hold ⌊N/n⌋ + 1 rows — the blocks of
    /// `numpy.array_split(rows, n)`, for matching reference code that splits that way.
    Balanced,
}

/// Row indices of each worker's block (see the [module docs](self)). `labels` only matters
/// for [`Split::SortedByLabel`]; its length is N.
///
/// Errors with [`ProblemError::Split`] if `n_workers == 0` or `n_workers > N`.
pub fn split_indices<S: Scalar>(
    labels: &[S],
    n_workers: usize,
    split: Split,
    remainder: Remainder,
) -> Result<Vec<Vec<usize>>, ProblemError> {
    let n_rows = labels.len();
    if n_workers == 0 || n_workers > n_rows {
        return Err(ProblemError::Split { n_workers, n_rows });
    }
    let mut order: Vec<usize> = (0..n_rows).collect();
    match split {
        Split::Contiguous => {}
        Split::Shuffled { seed } => {
            let mut rng = SqueezeRng::stream(seed, Purpose::Split, 0);
            for k in (1..n_rows).rev() {
                let j = rng.below(k as u64 + 1) as usize;
                order.swap(k, j);
            }
        }
        Split::SortedByLabel => {
            // Stable: ties keep file order. Labels are ±1, so `partial_cmp` never fails, but
            // fall back to "equal" rather than panic.
            order.sort_by(|&a, &b| {
                labels[a]
                    .partial_cmp(&labels[b])
                    .unwrap_or(core::cmp::Ordering::Equal)
            });
        }
    }
    let block = n_rows / n_workers;
    let extra = n_rows % n_workers;
    let mut parts = Vec::with_capacity(n_workers);
    let mut start = 0;
    for w in 0..n_workers {
        let len = match remainder {
            Remainder::ToLast if w + 1 == n_workers => n_rows - start,
            Remainder::Balanced if w < extra => block + 1,
            _ => block,
        };
        parts.push(order[start..start + len].to_vec());
        start += len;
    }
    Ok(parts)
}

/// Split a data set into one data set per worker (see [`split_indices`]). Worker data sets
/// are named `"{name}[w/n]"`.
///
/// ```
/// use squeeze_problems::{embedded, split::{split_dataset, Remainder, Split}};
/// let d = embedded::default_dataset::<f64>();
/// let parts = split_dataset(&d, 20, Split::Contiguous, Remainder::ToLast).unwrap();
/// assert_eq!(parts.len(), 20);
/// assert_eq!(parts.iter().map(|p| p.n_rows()).sum::<usize>(), d.n_rows());
/// assert!(split_dataset(&d, 0, Split::Contiguous, Remainder::Drop).is_err());
/// ```
pub fn split_dataset<S: Scalar>(
    data: &Dataset<S>,
    n_workers: usize,
    split: Split,
    remainder: Remainder,
) -> Result<Vec<Dataset<S>>, ProblemError> {
    let parts = split_indices(&data.labels, n_workers, split, remainder)?;
    parts
        .iter()
        .enumerate()
        .map(|(w, rows)| {
            let mut d = data.select_rows(rows)?;
            d.name = format!("{}[{w}/{n_workers}]", data.name);
            Ok(d)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_blocks_and_remainder_rules() {
        let labels = vec![1.0f64; 10];
        let p = split_indices(&labels, 3, Split::Contiguous, Remainder::ToLast).unwrap();
        assert_eq!(p, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8, 9]]);
        let p = split_indices(&labels, 3, Split::Contiguous, Remainder::Drop).unwrap();
        assert_eq!(p, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8]]);
        let p = split_indices(&labels, 10, Split::Contiguous, Remainder::Drop).unwrap();
        assert!(p.iter().all(|b| b.len() == 1));
    }

    /// `numpy.array_split(range(N), n)`: every row once, in order; the first N mod n blocks
    /// hold ⌊N/n⌋ + 1 rows, the others ⌊N/n⌋.
    #[test]
    fn balanced_blocks_are_numpy_array_split() {
        for n_rows in 1..40usize {
            let labels = vec![1.0f64; n_rows];
            for n in 1..=n_rows {
                let p = split_indices(&labels, n, Split::Contiguous, Remainder::Balanced).unwrap();
                let sizes: Vec<usize> = p.iter().map(Vec::len).collect();
                let expected: Vec<usize> = (0..n)
                    .map(|w| n_rows / n + usize::from(w < n_rows % n))
                    .collect();
                assert_eq!(sizes, expected, "N = {n_rows}, n = {n}");
                assert_eq!(
                    p.concat(),
                    (0..n_rows).collect::<Vec<_>>(),
                    "N = {n_rows}, n = {n}"
                );
            }
        }
    }

    #[test]
    fn bad_worker_counts_are_errors() {
        let labels = vec![1.0f32; 4];
        for n in [0, 5] {
            assert!(matches!(
                split_indices(&labels, n, Split::Contiguous, Remainder::ToLast),
                Err(ProblemError::Split { .. })
            ));
        }
    }

    #[test]
    fn shuffled_is_a_seeded_permutation() {
        let labels = vec![1.0f64; 100];
        let a = split_indices(&labels, 4, Split::Shuffled { seed: 1 }, Remainder::ToLast).unwrap();
        let b = split_indices(&labels, 4, Split::Shuffled { seed: 1 }, Remainder::ToLast).unwrap();
        let c = split_indices(&labels, 4, Split::Shuffled { seed: 2 }, Remainder::ToLast).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut all: Vec<usize> = a.concat();
        assert_ne!(all, (0..100).collect::<Vec<_>>());
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn sorted_by_label_is_stable() {
        let labels = [1.0f64, -1.0, 1.0, -1.0, -1.0, 1.0];
        let p = split_indices(&labels, 2, Split::SortedByLabel, Remainder::ToLast).unwrap();
        assert_eq!(p, vec![vec![1, 3, 4], vec![0, 2, 5]]);
    }
}
