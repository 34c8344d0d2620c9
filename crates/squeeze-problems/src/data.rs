//! Compressed sparse row matrices and labelled data sets.
//!
//! A [`Csr<S>`] stores an `n_rows × n_cols` matrix A by rows: row `r` is the pairs
//! `(indices[k], values[k])` for `k ∈ indptr[r]..indptr[r+1]`, with column indices strictly
//! increasing and `< n_cols`. These invariants are checked once, when the matrix is built
//! ([`Csr::new`], [`Csr::push_row`]), so that the hot kernels [`Row::dot`] (`aᵀx`) and
//! [`Row::axpy`] (`x += c·a`) never index out of range.
//!
//! ```
//! use squeeze_problems::data::Csr;
//! // A = [[1, 0, 2],
//! //      [0, 3, 0]]
//! let a = Csr::<f64>::new(3, vec![0, 2, 3], vec![0, 2, 1], vec![1.0, 2.0, 3.0]).unwrap();
//! let x = [1.0, 1.0, 1.0];
//! assert_eq!(a.row(0).dot(&x), 3.0);
//! let mut y = [0.0; 3];
//! a.row(1).axpy(2.0, &mut y); // y += 2·a₁
//! assert_eq!(y, [0.0, 6.0, 0.0]);
//! ```

use squeeze_core::Scalar;

use crate::error::DataError;

/// A sparse matrix in compressed-sparse-row form (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct Csr<S> {
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<S>,
    n_cols: usize,
}

/// One row of a [`Csr`] matrix: sorted column indices and their values.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a, S> {
    /// Column indices, strictly increasing, `< n_cols`.
    pub indices: &'a [u32],
    /// Values, same length as `indices`.
    pub values: &'a [S],
}

impl<S: Scalar> Row<'_, S> {
    /// Number of stored entries.
    #[inline]
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Sparse dot product `aᵀx = Σ_k values[k]·x[indices[k]]`.
    ///
    /// `x` must have at least `n_cols` entries (the caller validates this at setup); a shorter
    /// `x` panics on the out-of-range index rather than reading out of bounds.
    ///
    /// ```
    /// use squeeze_problems::data::Row;
    /// let r = Row { indices: &[1, 3], values: &[2.0f32, -1.0] };
    /// assert_eq!(r.dot(&[9.0, 1.0, 9.0, 4.0]), -2.0);
    /// ```
    #[inline]
    pub fn dot(&self, x: &[S]) -> S {
        // Two independent accumulators: rows are short (≈ 10–20 entries), so a longer chain
        // of latency-bound adds would dominate.
        let mut a0 = S::ZERO;
        let mut a1 = S::ZERO;
        let mut ic = self.indices.chunks_exact(2);
        let mut vc = self.values.chunks_exact(2);
        for (i, v) in (&mut ic).zip(&mut vc) {
            a0 += v[0] * x[i[0] as usize];
            a1 += v[1] * x[i[1] as usize];
        }
        for (&i, &v) in ic.remainder().iter().zip(vc.remainder()) {
            a0 += v * x[i as usize];
        }
        a0 + a1
    }

    /// Scatter-add `x += c·a`.
    ///
    /// ```
    /// use squeeze_problems::data::Row;
    /// let r = Row { indices: &[0, 2], values: &[1.0f64, 2.0] };
    /// let mut x = [1.0, 1.0, 1.0];
    /// r.axpy(0.5, &mut x);
    /// assert_eq!(x, [1.5, 1.0, 2.0]);
    /// ```
    #[inline]
    pub fn axpy(&self, c: S, x: &mut [S]) {
        for (&i, &v) in self.indices.iter().zip(self.values) {
            x[i as usize] += c * v;
        }
    }

    /// [`Row::dot`] without bounds checks.
    ///
    /// # Safety
    /// Every column index of the row must be `< x.len()`. Rows of a [`Csr`] satisfy this
    /// whenever `x.len() ≥ n_cols` (checked once by the caller).
    #[inline]
    pub(crate) unsafe fn dot_unchecked(&self, x: &[S]) -> S {
        debug_assert!(self.indices.iter().all(|&i| (i as usize) < x.len()));
        let mut a0 = S::ZERO;
        let mut a1 = S::ZERO;
        let mut ic = self.indices.chunks_exact(2);
        let mut vc = self.values.chunks_exact(2);
        for (i, v) in (&mut ic).zip(&mut vc) {
            // SAFETY: the caller guarantees every index is < x.len().
            unsafe {
                a0 += v[0] * *x.get_unchecked(i[0] as usize);
                a1 += v[1] * *x.get_unchecked(i[1] as usize);
            }
        }
        for (&i, &v) in ic.remainder().iter().zip(vc.remainder()) {
            // SAFETY: as above.
            a0 += v * unsafe { *x.get_unchecked(i as usize) };
        }
        a0 + a1
    }

    /// [`Row::axpy`] without bounds checks.
    ///
    /// # Safety
    /// Every column index of the row must be `< x.len()` (see [`Row::dot_unchecked`]).
    #[inline]
    pub(crate) unsafe fn axpy_unchecked(&self, c: S, x: &mut [S]) {
        debug_assert!(self.indices.iter().all(|&i| (i as usize) < x.len()));
        for (&i, &v) in self.indices.iter().zip(self.values) {
            // SAFETY: the caller guarantees every index is < x.len().
            unsafe { *x.get_unchecked_mut(i as usize) += c * v };
        }
    }

    /// [`Row::dot_unchecked`] for a row whose values are all exactly 1 (binary features):
    /// `Σ_k x[indices[k]]`, with the same two accumulators in the same order, so the result
    /// has the same bits as `dot_unchecked` (`1·v = v` exactly in IEEE arithmetic).
    ///
    /// # Safety
    /// Every column index of the row must be `< x.len()` (see [`Row::dot_unchecked`]).
    #[inline]
    pub(crate) unsafe fn dot_ones_unchecked(&self, x: &[S]) -> S {
        debug_assert!(self.indices.iter().all(|&i| (i as usize) < x.len()));
        debug_assert!(self.values.iter().all(|&v| v == S::ONE));
        let mut a0 = S::ZERO;
        let mut a1 = S::ZERO;
        let mut ic = self.indices.chunks_exact(2);
        for i in &mut ic {
            // SAFETY: the caller guarantees every index is < x.len().
            unsafe {
                a0 += *x.get_unchecked(i[0] as usize);
                a1 += *x.get_unchecked(i[1] as usize);
            }
        }
        for &i in ic.remainder() {
            // SAFETY: as above.
            a0 += unsafe { *x.get_unchecked(i as usize) };
        }
        a0 + a1
    }

    /// [`Row::axpy_unchecked`] for a row whose values are all exactly 1: `x[indices[k]] += c`
    /// (the same bits, as `c·1 = c`).
    ///
    /// # Safety
    /// Every column index of the row must be `< x.len()` (see [`Row::dot_unchecked`]).
    #[inline]
    pub(crate) unsafe fn axpy_ones_unchecked(&self, c: S, x: &mut [S]) {
        debug_assert!(self.indices.iter().all(|&i| (i as usize) < x.len()));
        for &i in self.indices {
            // SAFETY: the caller guarantees every index is < x.len().
            unsafe { *x.get_unchecked_mut(i as usize) += c };
        }
    }

    /// The dot product $\sum_k a_k x_{i_k}$ with an `f64` vector, in `f64`, one term after
    /// the other in index order (the power iterations and Gram matrices of
    /// [`crate::smoothness`]). `x` needs `n_cols` entries, as for [`Row::dot`].
    pub fn dot_f64(&self, x: &[f64]) -> f64 {
        (self.indices.iter().zip(self.values))
            .map(|(&i, &v)| v.to_f64() * x[i as usize])
            .sum()
    }

    /// Squared Euclidean norm `‖a‖²`, accumulated in `f64`.
    pub fn norm2_sq(&self) -> f64 {
        self.values.iter().map(|v| v.to_f64() * v.to_f64()).sum()
    }
}

impl<S: Scalar> Csr<S> {
    /// An empty matrix (no rows) with `n_cols` columns; add rows with [`Csr::push_row`].
    pub fn empty(n_cols: usize) -> Self {
        Self {
            indptr: vec![0],
            indices: Vec::new(),
            values: Vec::new(),
            n_cols,
        }
    }

    /// Build from raw parts, validating every invariant: `indptr` starts at 0, is
    /// non-decreasing and ends at `indices.len() == values.len()`; column indices are strictly
    /// increasing within each row and `< n_cols`; values are finite; `n_cols ≤ 2³²`.
    ///
    /// ```
    /// use squeeze_problems::data::Csr;
    /// assert!(Csr::<f64>::new(2, vec![0, 2], vec![1, 0], vec![1.0, 1.0]).is_err()); // unsorted
    /// assert!(Csr::<f64>::new(2, vec![0, 1], vec![2], vec![1.0]).is_err()); // out of range
    /// ```
    pub fn new(
        n_cols: usize,
        indptr: Vec<usize>,
        indices: Vec<u32>,
        values: Vec<S>,
    ) -> Result<Self, DataError> {
        let bad = |m: String| Err(DataError::InvalidMatrix(m));
        if n_cols > u32::MAX as usize + 1 {
            return bad(format!(
                "n_cols = {n_cols} exceeds the u32 index range; split the features"
            ));
        }
        if indptr.first() != Some(&0) {
            return bad("indptr must start with 0".into());
        }
        if indices.len() != values.len() {
            return bad(format!(
                "{} indices but {} values; they must pair up",
                indices.len(),
                values.len()
            ));
        }
        if indptr.last() != Some(&indices.len()) {
            return bad(format!(
                "indptr must end at nnz = {} (ends at {:?})",
                indices.len(),
                indptr.last()
            ));
        }
        for (r, w) in indptr.windows(2).enumerate() {
            if w[1] < w[0] {
                return bad(format!("indptr decreases at row {r}"));
            }
            let idx = &indices[w[0]..w[1]];
            for (k, &c) in idx.iter().enumerate() {
                if c as usize >= n_cols {
                    return bad(format!(
                        "row {r}: column {c} ≥ n_cols = {n_cols} (indices are 0-based here)"
                    ));
                }
                if k > 0 && idx[k - 1] >= c {
                    return bad(format!(
                        "row {r}: columns must be strictly increasing ({} then {c})",
                        idx[k - 1]
                    ));
                }
            }
        }
        if let Some(k) = values.iter().position(|v| !v.is_finite()) {
            return bad(format!("value #{k} is {} (must be finite)", values[k]));
        }
        Ok(Self {
            indptr,
            indices,
            values,
            n_cols,
        })
    }

    /// Build from a dense row-major `n_rows × n_cols` array, storing every non-zero.
    ///
    /// ```
    /// use squeeze_problems::data::Csr;
    /// let a = Csr::from_dense(2, &[1.0f64, 0.0, 0.0, 4.0]).unwrap();
    /// assert_eq!((a.n_rows(), a.n_cols(), a.nnz()), (2, 2, 2));
    /// assert_eq!(a.to_dense(), vec![1.0, 0.0, 0.0, 4.0]);
    /// ```
    pub fn from_dense(n_cols: usize, data: &[S]) -> Result<Self, DataError> {
        if n_cols == 0 || !data.len().is_multiple_of(n_cols) {
            return Err(DataError::InvalidMatrix(format!(
                "dense data of length {} is not a whole number of rows of width {n_cols}",
                data.len()
            )));
        }
        let mut m = Self::empty(n_cols);
        for row in data.chunks_exact(n_cols) {
            for (j, &v) in row.iter().enumerate() {
                if !v.is_finite() {
                    return Err(DataError::InvalidMatrix(format!(
                        "row {}: value {v} at column {j} is not finite",
                        m.n_rows()
                    )));
                }
                if v != S::ZERO {
                    m.indices.push(j as u32);
                    m.values.push(v);
                }
            }
            m.indptr.push(m.indices.len());
        }
        Ok(m)
    }

    /// Append a row given as strictly increasing column indices and finite values.
    ///
    /// ```
    /// use squeeze_problems::data::Csr;
    /// let mut a = Csr::<f32>::empty(4);
    /// a.push_row(&[0, 3], &[1.0, 2.0]).unwrap();
    /// assert!(a.push_row(&[3, 3], &[1.0, 2.0]).is_err());
    /// assert_eq!(a.n_rows(), 1);
    /// ```
    pub fn push_row(&mut self, indices: &[u32], values: &[S]) -> Result<(), DataError> {
        let r = self.n_rows();
        if indices.len() != values.len() {
            return Err(DataError::InvalidMatrix(format!(
                "row {r}: {} indices but {} values",
                indices.len(),
                values.len()
            )));
        }
        for (k, &c) in indices.iter().enumerate() {
            if c as usize >= self.n_cols || (k > 0 && indices[k - 1] >= c) {
                return Err(DataError::InvalidMatrix(format!(
                    "row {r}: column {c} out of range (n_cols = {}) or not strictly increasing",
                    self.n_cols
                )));
            }
        }
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Err(DataError::InvalidMatrix(format!(
                "row {r}: value {v} is not finite"
            )));
        }
        self.indices.extend_from_slice(indices);
        self.values.extend_from_slice(values);
        self.indptr.push(self.indices.len());
        Ok(())
    }

    /// Number of rows.
    #[inline]
    pub fn n_rows(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Number of columns (the feature dimension d).
    #[inline]
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Number of stored entries.
    #[inline]
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Row pointer array (length `n_rows + 1`).
    pub fn indptr(&self) -> &[usize] {
        &self.indptr
    }

    /// All column indices, row after row.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// All values, row after row.
    pub fn values(&self) -> &[S] {
        &self.values
    }

    /// Row `r`. Panics if `r ≥ n_rows` (an index is a programming error, not input).
    #[inline]
    pub fn row(&self, r: usize) -> Row<'_, S> {
        let (a, b) = (self.indptr[r], self.indptr[r + 1]);
        Row {
            indices: &self.indices[a..b],
            values: &self.values[a..b],
        }
    }

    /// Iterator over the rows in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = Row<'_, S>> + '_ {
        self.indptr.windows(2).map(|w| Row {
            indices: &self.indices[w[0]..w[1]],
            values: &self.values[w[0]..w[1]],
        })
    }

    /// The rows `range` as a new matrix (same columns).
    ///
    /// ```
    /// use squeeze_problems::data::Csr;
    /// let a = Csr::from_dense(1, &[1.0f64, 2.0, 3.0]).unwrap();
    /// assert_eq!(a.slice_rows(1..3).unwrap().to_dense(), vec![2.0, 3.0]);
    /// assert!(a.slice_rows(2..4).is_err());
    /// ```
    pub fn slice_rows(&self, range: core::ops::Range<usize>) -> Result<Self, DataError> {
        if range.start > range.end || range.end > self.n_rows() {
            return Err(DataError::InvalidMatrix(format!(
                "row range {range:?} out of 0..{}",
                self.n_rows()
            )));
        }
        let (a, b) = (self.indptr[range.start], self.indptr[range.end]);
        Ok(Self {
            indptr: self.indptr[range.start..=range.end]
                .iter()
                .map(|p| p - a)
                .collect(),
            indices: self.indices[a..b].to_vec(),
            values: self.values[a..b].to_vec(),
            n_cols: self.n_cols,
        })
    }

    /// The rows listed in `rows` (any order, repeats allowed) as a new matrix.
    ///
    /// ```
    /// use squeeze_problems::data::Csr;
    /// let a = Csr::from_dense(1, &[1.0f64, 2.0, 3.0]).unwrap();
    /// assert_eq!(a.select_rows(&[2, 0]).unwrap().to_dense(), vec![3.0, 1.0]);
    /// ```
    pub fn select_rows(&self, rows: &[usize]) -> Result<Self, DataError> {
        if let Some(&r) = rows.iter().find(|&&r| r >= self.n_rows()) {
            return Err(DataError::InvalidMatrix(format!(
                "row {r} out of 0..{}",
                self.n_rows()
            )));
        }
        let nnz: usize = rows.iter().map(|&r| self.row(r).nnz()).sum();
        let mut m = Self {
            indptr: Vec::with_capacity(rows.len() + 1),
            indices: Vec::with_capacity(nnz),
            values: Vec::with_capacity(nnz),
            n_cols: self.n_cols,
        };
        m.indptr.push(0);
        for &r in rows {
            let row = self.row(r);
            m.indices.extend_from_slice(row.indices);
            m.values.extend_from_slice(row.values);
            m.indptr.push(m.indices.len());
        }
        Ok(m)
    }

    /// Widen to `n_cols` columns (e.g. a test file whose largest index is below the training
    /// width). Shrinking is an error if a stored column would fall outside.
    pub fn with_n_cols(mut self, n_cols: usize) -> Result<Self, DataError> {
        let max = self.indices.iter().max().map_or(0, |&c| c as usize + 1);
        if n_cols < max || n_cols > u32::MAX as usize + 1 {
            return Err(DataError::InvalidMatrix(format!(
                "cannot set n_cols = {n_cols}: a stored column needs at least {max}"
            )));
        }
        self.n_cols = n_cols;
        Ok(self)
    }

    /// Dense row-major copy (for tests and small problems).
    pub fn to_dense(&self) -> Vec<S> {
        let mut out = vec![S::ZERO; self.n_rows() * self.n_cols];
        for (r, row) in self.rows().enumerate() {
            for (&c, &v) in row.indices.iter().zip(row.values) {
                out[r * self.n_cols + c as usize] = v;
            }
        }
        out
    }

    /// Convert the values to another scalar type.
    pub fn cast<T: Scalar>(&self) -> Csr<T> {
        Csr {
            indptr: self.indptr.clone(),
            indices: self.indices.clone(),
            values: self
                .values
                .iter()
                .map(|v| T::from_f64(v.to_f64()))
                .collect(),
            n_cols: self.n_cols,
        }
    }
}

/// A labelled binary-classification data set: features (rows a_j) and labels b_j ∈ {−1, +1}.
///
/// ```
/// use squeeze_problems::data::{Csr, Dataset};
/// let x = Csr::from_dense(2, &[1.0f64, 0.0, 0.0, 1.0]).unwrap();
/// let d = Dataset::new("toy", x, vec![1.0, -1.0]).unwrap();
/// assert_eq!((d.n_rows(), d.n_features()), (2, 2));
/// assert_eq!(d.label_counts(), (1, 1));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset<S> {
    /// Feature matrix, one row per sample.
    pub features: Csr<S>,
    /// Labels, one per row, each −1 or +1.
    pub labels: Vec<S>,
    /// Human-readable name (file name, `"breast_cancer"`, ...).
    pub name: String,
}

impl<S: Scalar> Dataset<S> {
    /// Bundle features and labels, checking that there is one label per row and that every
    /// label is −1 or +1.
    pub fn new(
        name: impl Into<String>,
        features: Csr<S>,
        labels: Vec<S>,
    ) -> Result<Self, DataError> {
        if labels.len() != features.n_rows() {
            return Err(DataError::InvalidMatrix(format!(
                "{} labels for {} rows",
                labels.len(),
                features.n_rows()
            )));
        }
        if let Some(k) = labels.iter().position(|&b| b != S::ONE && b != -S::ONE) {
            return Err(DataError::InvalidMatrix(format!(
                "label #{k} is {} (binary labels must be −1 or +1)",
                labels[k]
            )));
        }
        Ok(Self {
            features,
            labels,
            name: name.into(),
        })
    }

    /// Number of samples N.
    pub fn n_rows(&self) -> usize {
        self.features.n_rows()
    }

    /// Feature dimension d.
    pub fn n_features(&self) -> usize {
        self.features.n_cols()
    }

    /// `(#(+1), #(−1))`.
    pub fn label_counts(&self) -> (usize, usize) {
        let pos = self.labels.iter().filter(|&&b| b == S::ONE).count();
        (pos, self.labels.len() - pos)
    }

    /// The rows `rows` (any order) as a new data set with the same name.
    pub fn select_rows(&self, rows: &[usize]) -> Result<Self, DataError> {
        Ok(Self {
            features: self.features.select_rows(rows)?,
            labels: rows.iter().map(|&r| self.labels[r]).collect(),
            name: self.name.clone(),
        })
    }

    /// Convert to another scalar type.
    pub fn cast<T: Scalar>(&self) -> Dataset<T> {
        Dataset {
            features: self.features.cast(),
            labels: self
                .labels
                .iter()
                .map(|v| T::from_f64(v.to_f64()))
                .collect(),
            name: self.name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_rejects_each_broken_invariant() {
        assert!(Csr::<f64>::new(2, vec![1, 1], vec![0], vec![1.0]).is_err());
        assert!(Csr::<f64>::new(2, vec![0, 1], vec![0], vec![]).is_err());
        assert!(Csr::<f64>::new(2, vec![0, 2], vec![0], vec![1.0]).is_err());
        assert!(Csr::<f64>::new(2, vec![0, 1, 0], vec![0], vec![1.0]).is_err());
        assert!(Csr::<f64>::new(2, vec![0, 1], vec![0], vec![f64::NAN]).is_err());
        assert!(Csr::<f64>::new(2, vec![0, 1], vec![1], vec![1.0]).is_ok());
    }

    #[test]
    fn slices_and_selection_agree_with_dense() {
        let dense: Vec<f64> = (0..12)
            .map(|k| if k % 3 == 0 { 0.0 } else { k as f64 })
            .collect();
        let a = Csr::from_dense(4, &dense).unwrap();
        assert_eq!(a.to_dense(), dense);
        assert_eq!(a.slice_rows(1..2).unwrap().to_dense(), dense[4..8].to_vec());
        let s = a.select_rows(&[2, 0]).unwrap();
        assert_eq!(
            s.to_dense(),
            [dense[8..12].to_vec(), dense[0..4].to_vec()].concat()
        );
        assert!(a.select_rows(&[3]).is_err());
        let x = [1.0, 2.0, 3.0, 4.0];
        for r in 0..3 {
            let want: f64 = (0..4).map(|c| dense[r * 4 + c] * x[c]).sum();
            assert_eq!(a.row(r).dot(&x), want);
        }
        assert!(a.clone().with_n_cols(3).is_err());
        assert_eq!(a.with_n_cols(6).unwrap().n_cols(), 6);
    }

    #[test]
    fn dataset_checks_labels() {
        let x = Csr::from_dense(1, &[1.0f64, 2.0]).unwrap();
        assert!(Dataset::new("t", x.clone(), vec![1.0]).is_err());
        assert!(Dataset::new("t", x.clone(), vec![1.0, 0.0]).is_err());
        let d = Dataset::new("t", x, vec![1.0, -1.0]).unwrap();
        assert_eq!(d.cast::<f32>().labels, vec![1.0f32, -1.0]);
    }
}
