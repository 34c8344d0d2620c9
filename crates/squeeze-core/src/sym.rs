//! Packed symmetric matrices: the layout that matrix compressors and Newton-type methods share.
//!
//! A symmetric $d\times d$ matrix $H$ travels as its upper triangle, row by row:
//! $D = d(d+1)/2$ values $(h_{00}, h_{01}, …, h_{0,d-1}, h_{11}, …, h_{d-1,d-1})$. Row $r$ starts
//! at [`row_start`]$(d, r) = rd - r(r-1)/2$ and entry $(r, c)$, $r \le c$, sits at
//! `row_start(d, r) + c − r`. The Frobenius norm counts each off-diagonal entry twice:
//! $\lVert H\rVert_F^2 = \sum_j w_j p_j^2$ with $w_j = 1$ on the diagonal and $2$ elsewhere
//! ([`frobenius_sq`]).
//!
//! ```
//! use squeeze_core::sym::{frobenius_sq, pack_upper, tri_len, tri_side, unpack_upper};
//! let h = [1.0, 2.0, 3.0, 2.0, 4.0, 5.0, 3.0, 5.0, 6.0];
//! let mut p = Vec::new();
//! pack_upper(3, &h, &mut p).unwrap();
//! assert_eq!(p, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
//! assert_eq!((tri_len(3), tri_side(6), tri_side(7)), (Some(6), Some(3), None));
//! assert_eq!(frobenius_sq(3, &p), h.iter().map(|v| v * v).sum::<f64>());
//! let mut back = [0.0; 9];
//! unpack_upper(3, &p, &mut back).unwrap();
//! assert_eq!(back, h);
//! ```

use crate::error::LengthMismatch;
use crate::scalar::Scalar;

/// $d(d+1)/2$, or `None` on overflow.
pub fn tri_len(d: usize) -> Option<usize> {
    d.checked_mul(d.checked_add(1)?).map(|v| v / 2)
}

/// The side $d$ with $d(d+1)/2 = $ `len`, or `None` if `len` is not a triangular number.
pub fn tri_side(len: usize) -> Option<usize> {
    // d ≈ (√(8D+1) − 1)/2, corrected by ±1 for rounding.
    let guess = (((8.0 * len as f64 + 1.0).sqrt() - 1.0) / 2.0) as usize;
    (guess.saturating_sub(1)..=guess + 1).find(|&d| tri_len(d) == Some(len))
}

/// The triangular lengths just below and above `len` (for an error's hint): $(D_-, D_+)$ with
/// $D_- \le$ `len` $< D_+$.
pub fn tri_neighbours(len: usize) -> (usize, usize) {
    let guess = (((8.0 * len as f64 + 1.0).sqrt() - 1.0) / 2.0) as usize;
    let mut d = guess.saturating_sub(1);
    while tri_len(d + 1).is_some_and(|t| t <= len) {
        d += 1;
    }
    let lo = tri_len(d).unwrap_or(0);
    (lo, tri_len(d + 1).unwrap_or(usize::MAX))
}

/// Start of row `r` in the packed layout of side `d`: $rd - r(r-1)/2$ (the position of
/// $h_{rr}$).
#[inline]
pub fn row_start(d: usize, r: usize) -> usize {
    r * d - r * r.saturating_sub(1) / 2
}

/// $\lVert H\rVert_F^2 = \sum_j w_j p_j^2$ of the packed `p` of side `d` (diagonal weight 1,
/// off-diagonal 2), in `f64`. Entries beyond the triangle are ignored.
pub fn frobenius_sq<S: Scalar>(d: usize, p: &[S]) -> f64 {
    let mut s = 0.0;
    let mut k = 0;
    for r in 0..d {
        let row = &p[k.min(p.len())..(k + d - r).min(p.len())];
        for (j, v) in row.iter().enumerate() {
            let v = v.to_f64();
            s += if j == 0 { v * v } else { 2.0 * v * v };
        }
        k += d - r;
    }
    s
}

/// Copy the upper triangle of the d × d row-major `h` onto the lower one (exact symmetry).
/// `h` must have length $d^2$.
pub fn mirror_upper<S: Scalar>(d: usize, h: &mut [S]) {
    for r in 1..d {
        for c in 0..r {
            h[r * d + c] = h[c * d + r];
        }
    }
}

fn check_square(d: usize, len: usize) -> Result<(), LengthMismatch> {
    let expected = d.saturating_mul(d);
    if len == expected {
        Ok(())
    } else {
        Err(LengthMismatch { expected, got: len })
    }
}

/// The upper triangle of the symmetric d × d row-major `h`, row by row: $d(d+1)/2$ values
/// (see the [module docs](self)), the vector that matrix compressors act on. `packed` is
/// cleared and refilled (no allocation once it has the capacity).
///
/// # Errors
/// `h` is not of length $d^2$.
pub fn pack_upper<S: Scalar>(d: usize, h: &[S], packed: &mut Vec<S>) -> Result<(), LengthMismatch> {
    check_square(d, h.len())?;
    packed.clear();
    for r in 0..d {
        packed.extend_from_slice(&h[r * d + r..(r + 1) * d]);
    }
    Ok(())
}

/// The inverse of [`pack_upper`]: the symmetric d × d row-major matrix whose upper triangle is
/// `packed` (length $d(d+1)/2$).
///
/// # Errors
/// `packed` is not of length $d(d+1)/2$ or `h` not of length $d^2$.
pub fn unpack_upper<S: Scalar>(d: usize, packed: &[S], h: &mut [S]) -> Result<(), LengthMismatch> {
    check_square(d, h.len())?;
    let tri = d * (d + 1) / 2;
    if packed.len() != tri {
        return Err(LengthMismatch {
            expected: tri,
            got: packed.len(),
        });
    }
    let mut k = 0;
    for r in 0..d {
        let len = d - r;
        h[r * d + r..(r + 1) * d].copy_from_slice(&packed[k..k + len]);
        k += len;
    }
    mirror_upper(d, h);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triangular_numbers() {
        for d in 0..2000usize {
            let t = d * (d + 1) / 2;
            assert_eq!(tri_len(d), Some(t));
            assert_eq!(tri_side(t), Some(d));
            if t > 1 {
                assert_eq!(tri_side(t + 1), None, "{t}");
                assert_eq!(tri_neighbours(t + 1), (t, t + d + 1));
            }
            assert_eq!(tri_neighbours(t).0, t);
            assert_eq!(row_start(d + 1, d), t + d); // the last entry of side d + 1
        }
        assert_eq!(tri_len(usize::MAX), None);
        assert_eq!(tri_side(usize::MAX), None);
        let big = tri_len(1 << 31).unwrap();
        assert_eq!(tri_side(big), Some(1 << 31));
        assert_eq!(tri_side(big - 1), None);
    }

    #[test]
    fn layout_and_errors() {
        let d = 4;
        let h: Vec<f64> = (0..16)
            .map(|k| ((k / 4).min(k % 4) * 10 + (k / 4).max(k % 4)) as f64)
            .collect();
        let mut p = Vec::new();
        pack_upper(d, &h, &mut p).unwrap();
        for r in 0..d {
            for c in r..d {
                assert_eq!(p[row_start(d, r) + c - r], h[r * d + c]);
            }
        }
        assert_eq!(frobenius_sq(d, &p), h.iter().map(|v| v * v).sum::<f64>());
        assert!(pack_upper(d, &h[1..], &mut p).is_err());
        let mut back = vec![0.0; 16];
        assert!(unpack_upper(d, &p[1..], &mut back).is_err());
        assert!(unpack_upper(d, &p, &mut back[1..]).is_err());
    }
}
