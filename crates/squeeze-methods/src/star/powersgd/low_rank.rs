//! PowerSGD's view of a vector as matrices, and the products of one power-iteration step.
//!
//! The matrix view and the products are described on [`Layout`].

use squeeze_core::{ParamError, Scalar, SqueezeRng};

/// One matrix of a [`Layout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    /// Rows $m$.
    m: usize,
    /// Columns $n$.
    n: usize,
    /// Rank $r = \min(r_{\max}, m, n)$.
    r: usize,
    /// First coordinate of the block in the vector.
    at: usize,
    /// Coordinates stored in the vector (≤ m·n; less only for the padded single matrix).
    len: usize,
    /// First entry of the block's $P$ factor.
    p_at: usize,
    /// First entry of the block's $Q$ factor.
    q_at: usize,
}

/// How a length-d vector is viewed as matrices: a layout cuts $v \in \mathbb R^d$ into matrices $M_l \in \mathbb R^{m_l \times n_l}$
/// (row-major: entry $(a, b)$ of block $l$ is $v_{o_l + a n_l + b}$), either one
/// `rows` × ⌈d / rows⌉ matrix whose missing trailing entries are zeros that are never
/// stored, or a list of blocks whose sizes sum to $d$. Each block has its rank
/// $r_l = \min(r, m_l, n_l)$; the factors of all blocks are concatenated, $P$ block by block
/// as $m_l \times r_l$ row-major and $Q$ as $n_l \times r_l$ row-major, so that
/// $\lvert P\rvert = \sum_l r_l m_l$ and $\lvert Q\rvert = \sum_l r_l n_l$.
///
/// ```
/// use squeeze_methods::star::powersgd::Layout;
/// let l = Layout::rows(10, 4, 2).unwrap(); // 4 × 3, two entries of padding
/// assert_eq!((l.p_len(), l.q_len()), (8, 6));
/// let l = Layout::layers(10, &[[2, 3], [1, 4]], 2).unwrap(); // ranks 2 and 1
/// assert_eq!((l.p_len(), l.q_len()), (5, 10));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    blocks: Vec<Block>,
    d: usize,
    p_len: usize,
    q_len: usize,
}

impl Layout {
    /// One `rows` × ⌈d / rows⌉ matrix (zero padding), rank ≤ `rank`.
    pub fn rows(d: usize, rows: usize, rank: usize) -> Result<Self, ParamError> {
        check_rank(rank)?;
        if rows == 0 || rows > d {
            return Err(ParamError::new(
                "powersgd",
                "rows",
                rows,
                format!(
                    "the matrix needs 1 ≤ rows ≤ d = {d} (cols = ⌈d / rows⌉, zero padding); \
                     rows near √d = {:.0} sends the fewest values",
                    (d as f64).sqrt()
                ),
            ));
        }
        Ok(Self::of(d, &[(rows, d.div_ceil(rows), d)], rank))
    }

    /// The blocks `shapes` = $[[m_1, n_1], \dots]$ in order; their sizes must sum to d.
    pub fn layers(d: usize, shapes: &[[usize; 2]], rank: usize) -> Result<Self, ParamError> {
        check_rank(rank)?;
        let bad = |why: String| {
            ParamError::new(
                "powersgd",
                "layers",
                format!("{shapes:?}"),
                format!(
                    "{why}; list every parameter block as [rows, cols] (a bias as [1, n]) so \
                     that the sizes sum to d = {d}, or use rows = … for one padded matrix"
                ),
            )
        };
        if shapes.is_empty() {
            return Err(bad("no block".into()));
        }
        if let Some(s) = shapes.iter().find(|s| s[0] == 0 || s[1] == 0) {
            return Err(bad(format!("block {s:?} is empty")));
        }
        let total = shapes
            .iter()
            .try_fold(0usize, |t, s| s[0].checked_mul(s[1])?.checked_add(t));
        match total {
            Some(t) if t == d => {}
            Some(t) => return Err(bad(format!("the blocks hold {t} coordinates"))),
            None => return Err(bad("the block sizes overflow".into())),
        }
        let dims: Vec<_> = shapes.iter().map(|s| (s[0], s[1], s[0] * s[1])).collect();
        Ok(Self::of(d, &dims, rank))
    }

    fn of(d: usize, dims: &[(usize, usize, usize)], rank: usize) -> Self {
        let (mut at, mut p_at, mut q_at) = (0, 0, 0);
        let blocks = dims
            .iter()
            .map(|&(m, n, len)| {
                let r = rank.min(m).min(n);
                let b = Block {
                    m,
                    n,
                    r,
                    at,
                    len,
                    p_at,
                    q_at,
                };
                (at, p_at, q_at) = (at + len, p_at + r * m, q_at + r * n);
                b
            })
            .collect();
        Self {
            blocks,
            d,
            p_len: p_at,
            q_len: q_at,
        }
    }

    /// The vector dimension d.
    pub fn dim(&self) -> usize {
        self.d
    }

    /// Entries of $P$ (all blocks): $\sum_l r_l m_l$.
    pub fn p_len(&self) -> usize {
        self.p_len
    }

    /// Entries of $Q$ (all blocks): $\sum_l r_l n_l$.
    pub fn q_len(&self) -> usize {
        self.q_len
    }

    /// The blocks as `(m, n, r)`.
    pub fn shapes(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        self.blocks.iter().map(|b| (b.m, b.n, b.r))
    }

    /// $P_l = M_l Q_l$ for every block of `v` (`p` is overwritten).
    pub fn project<S: Scalar>(&self, v: &[S], q: &[S], p: &mut [S]) {
        p.fill(S::ZERO);
        for b in &self.blocks {
            let r = b.r;
            for a in 0..b.m {
                let pa = &mut p[b.p_at + a * r..b.p_at + (a + 1) * r];
                for (j, &vab) in row(v, b, a).iter().enumerate() {
                    let qb = &q[b.q_at + j * r..b.q_at + (j + 1) * r];
                    for (pk, &qk) in pa.iter_mut().zip(qb) {
                        *pk += vab * qk;
                    }
                }
            }
        }
    }

    /// $Q_l = M_l^\top P_l$ for every block of `v` (`q` is overwritten).
    pub fn back_project<S: Scalar>(&self, v: &[S], p: &[S], q: &mut [S]) {
        q.fill(S::ZERO);
        for b in &self.blocks {
            let r = b.r;
            for a in 0..b.m {
                let pa = &p[b.p_at + a * r..b.p_at + (a + 1) * r];
                for (j, &vab) in row(v, b, a).iter().enumerate() {
                    let qb = &mut q[b.q_at + j * r..b.q_at + (j + 1) * r];
                    for (qk, &pk) in qb.iter_mut().zip(pa) {
                        *qk += vab * pk;
                    }
                }
            }
        }
    }

    /// $v \leftarrow v - s\thinspace P_l Q_l^\top$ on every block (padding entries are not
    /// stored, so they are skipped).
    pub fn sub_outer<S: Scalar>(&self, v: &mut [S], p: &[S], q: &[S], s: S) {
        for b in &self.blocks {
            let r = b.r;
            for a in 0..b.m {
                let pa = &p[b.p_at + a * r..b.p_at + (a + 1) * r];
                for (j, vab) in row_mut(v, b, a).iter_mut().enumerate() {
                    let qb = &q[b.q_at + j * r..b.q_at + (j + 1) * r];
                    let mut t = S::ZERO;
                    for (&pk, &qk) in pa.iter().zip(qb) {
                        t += pk * qk;
                    }
                    *vab -= s * t;
                }
            }
        }
    }

    /// Orthonormalise the columns of every block's $P_l$ in place: modified Gram–Schmidt,
    /// column by column in order. A column whose norm after removing the earlier ones is at
    /// most $8\sqrt{m}\thinspace\varepsilon$ times its norm before (it lies in their span up to
    /// rounding, or is zero) becomes zero, so that rank-deficient inputs give no NaN: the
    /// non-zero columns stay orthonormal and $P\hat P^\top$-projections lose nothing.
    ///
    /// ```
    /// use squeeze_methods::star::powersgd::Layout;
    /// let l = Layout::rows(4, 2, 2).unwrap();
    /// let mut p = vec![3.0f64, 1.0, 4.0, 2.0]; // columns (3, 4) and (1, 2)
    /// l.orthonormalise(&mut p);
    /// assert!((p[0] - 0.6).abs() < 1e-15 && (p[2] - 0.8).abs() < 1e-15);
    /// assert!((p[0] * p[1] + p[2] * p[3]).abs() < 1e-15); // orthogonal
    /// ```
    pub fn orthonormalise<S: Scalar>(&self, p: &mut [S]) {
        let eps = (-(S::MANT_BITS as f64)).exp2();
        for b in &self.blocks {
            let (m, r) = (b.m, b.r);
            let block = &mut p[b.p_at..b.p_at + m * r];
            let tol = S::from_f64(8.0 * (m as f64).sqrt() * eps);
            for k in 0..r {
                let before = col_norm(block, r, k);
                for j in 0..k {
                    let mut dot = S::ZERO;
                    for a in 0..m {
                        dot += block[a * r + j] * block[a * r + k];
                    }
                    for a in 0..m {
                        let pj = block[a * r + j];
                        block[a * r + k] -= dot * pj;
                    }
                }
                let after = col_norm(block, r, k);
                let keep = after > before * tol && after > S::ZERO;
                let inv = if keep { S::ONE / after } else { S::ZERO };
                for a in 0..m {
                    block[a * r + k] *= inv;
                }
            }
        }
    }

    /// `q` ← i.i.d. standard normal entries from `rng` (in order).
    pub fn gaussian<S: Scalar>(&self, rng: &mut SqueezeRng, q: &mut Vec<S>) {
        q.clear();
        q.extend((0..self.q_len).map(|_| S::from_f64(rng.normal())));
    }
}

fn check_rank(rank: usize) -> Result<(), ParamError> {
    if rank == 0 {
        return Err(ParamError::new(
            "powersgd",
            "rank",
            rank,
            "the approximation rank must be ≥ 1 (1 is PyTorch's default; min(m, n) is exact)",
        ));
    }
    Ok(())
}

/// The stored entries of row `a` of block `b` of `v` (a short or empty row in the padding).
fn row<'a, S>(v: &'a [S], b: &Block, a: usize) -> &'a [S] {
    let (lo, hi) = row_range(b, a);
    &v[lo..hi]
}

fn row_mut<'a, S>(v: &'a mut [S], b: &Block, a: usize) -> &'a mut [S] {
    let (lo, hi) = row_range(b, a);
    &mut v[lo..hi]
}

fn row_range(b: &Block, a: usize) -> (usize, usize) {
    let lo = (a * b.n).min(b.len);
    let hi = ((a + 1) * b.n).min(b.len);
    (b.at + lo, b.at + hi)
}

fn col_norm<S: Scalar>(block: &[S], r: usize, k: usize) -> S {
    let mut s = S::ZERO;
    for row in block.chunks_exact(r) {
        s += row[k] * row[k];
    }
    s.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense(l: &Layout, v: &[f64]) -> Vec<Vec<f64>> {
        let (m, n, _) = l.shapes().next().unwrap();
        (0..m)
            .map(|a| {
                (0..n)
                    .map(|b| v.get(a * n + b).copied().unwrap_or(0.0))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn products_match_the_dense_matrices_with_padding() {
        // d = 10 as 4 × 3 (two padded zeros), rank 2.
        let l = Layout::rows(10, 4, 2).unwrap();
        let v: Vec<f64> = (0..10).map(|i| (i as f64) * 0.5 - 2.0).collect();
        let q: Vec<f64> = (0..6).map(|i| 1.0 + i as f64).collect();
        let mut p = vec![0.0; 8];
        l.project(&v, &q, &mut p);
        let m = dense(&l, &v);
        for a in 0..4 {
            for k in 0..2 {
                let want: f64 = (0..3).map(|b| m[a][b] * q[b * 2 + k]).sum();
                assert!((p[a * 2 + k] - want).abs() < 1e-12, "P[{a},{k}]");
            }
        }
        let mut q2 = vec![0.0; 6];
        l.back_project(&v, &p, &mut q2);
        for b in 0..3 {
            for k in 0..2 {
                let want: f64 = (0..4).map(|a| m[a][b] * p[a * 2 + k]).sum();
                assert!((q2[b * 2 + k] - want).abs() < 1e-9, "Q[{b},{k}]");
            }
        }
        let mut w = v.clone();
        l.sub_outer(&mut w, &p, &q, 2.0);
        for (i, wi) in w.iter().enumerate() {
            let (a, b) = (i / 3, i % 3);
            let outer: f64 = (0..2).map(|k| p[a * 2 + k] * q[b * 2 + k]).sum();
            assert!((wi - (v[i] - 2.0 * outer)).abs() < 1e-9, "entry {i}");
        }
    }

    #[test]
    fn orthonormalisation_gives_orthonormal_columns_spanning_the_input() {
        let l = Layout::rows(24, 6, 3).unwrap(); // 6 × 4, rank 3
        let mut rng = SqueezeRng::from_seed_u64(3);
        let p0: Vec<f64> = (0..18).map(|_| rng.normal()).collect();
        let mut p = p0.clone();
        l.orthonormalise(&mut p);
        for i in 0..3 {
            for j in 0..3 {
                let dot: f64 = (0..6).map(|a| p[a * 3 + i] * p[a * 3 + j]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-14, "({i},{j}): {dot}");
            }
        }
        // Same span: projecting the input's columns onto P̂ reproduces them.
        for k in 0..3 {
            let c: Vec<f64> = (0..6).map(|a| p0[a * 3 + k]).collect();
            let coef: Vec<f64> = (0..3)
                .map(|j| (0..6).map(|a| p[a * 3 + j] * c[a]).sum())
                .collect();
            for a in 0..6 {
                let back: f64 = (0..3).map(|j| p[a * 3 + j] * coef[j]).sum();
                assert!((back - c[a]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn rank_deficient_columns_become_zero_without_nan() {
        let l = Layout::rows(12, 4, 3).unwrap(); // 4 × 3, rank 3
        // Column 1 = 2 × column 0, column 2 zero.
        let mut p = vec![
            1.0f32, 2.0, 0.0, 2.0, 4.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0,
        ];
        l.orthonormalise(&mut p);
        assert!(p.iter().all(|v| v.is_finite()));
        let col = |k: usize| -> Vec<f32> { (0..4).map(|a| p[a * 3 + k]).collect() };
        assert_eq!(col(1), [0.0; 4]);
        assert_eq!(col(2), [0.0; 4]);
        let n0: f32 = col(0).iter().map(|v| v * v).sum();
        assert!((n0 - 1.0).abs() < 1e-6);
    }

    #[test]
    fn bad_shapes_are_refused_with_a_hint() {
        let e = Layout::rows(10, 11, 1).unwrap_err();
        assert_eq!(e.param, "rows");
        assert!(e.to_string().contains("1 ≤ rows ≤ d = 10"), "{e}");
        assert_eq!(Layout::rows(10, 0, 1).unwrap_err().param, "rows");
        let e = Layout::layers(10, &[[2, 3], [1, 3]], 1).unwrap_err();
        assert_eq!(e.param, "layers");
        let msg = e.to_string();
        assert!(
            msg.contains("hold 9 coordinates") && msg.contains("d = 10"),
            "{msg}"
        );
        assert!(Layout::layers(10, &[], 1).is_err());
        assert!(
            Layout::layers(0, &[[0, 3]], 1)
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        assert!(Layout::layers(10, &[[usize::MAX, 2]], 1).is_err());
        assert_eq!(Layout::rows(10, 2, 0).unwrap_err().param, "rank");
        assert!(Layout::layers(10, &[[2, 5]], 3).is_ok());
    }
}
