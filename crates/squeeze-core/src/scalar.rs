//! The floating-point element type of every vector in squeeze.
//!
//! [`Scalar`] is implemented for `f32`, `f64` and the 16-bit [`half::f16`] (IEEE binary16) and
//! [`half::bf16`] (bfloat16) only (the trait is sealed). It carries the IEEE-754 layout
//! constants that the wire format needs (value width, exponent and mantissa widths) and the
//! handful of operations the kernels use, so that compressors are written once and
//! monomorphised for every width.
//!
//! # Half precision
//!
//! | type | `BITS` | `EXP_BITS` | `MANT_BITS` | unit roundoff $u$ | largest finite |
//! |---|---|---|---|---|---|
//! | `f16` | 16 | 5 | 10 | $2^{-11}$ | 65504 |
//! | `bf16` | 16 | 8 | 7 | $2^{-8}$ | ≈ 3.39·10³⁸ |
//!
//! Arithmetic on the 16-bit types is the `half` crate's: each operation (`+ − × ÷`, and
//! [`Scalar::sqrt`] here) is evaluated in `f32` and rounded once to the 16-bit type. Because
//! `f32` carries $24 \ge 2p + 2$ significand bits ($p = 11$ or $8$), this double rounding is
//! innocuous: every operation is correctly rounded, as in native IEEE arithmetic of that
//! width. Reductions that the kernels accumulate in `f64` ([`crate::ops::norm2`],
//! [`crate::ops::norm1`], [`crate::ops::dist2_sq`]) do so for the 16-bit types too, so a norm
//! of a vector of `f16` entries does not overflow at 65504; sums kept in the type itself
//! ([`crate::ops::sum`], [`crate::ops::norm2_sq`], [`crate::ops::dot`]) are `f16`/`bf16`
//! sums and overflow to ∞ beyond the largest finite value, as a hardware half-precision
//! reduction would. [`Scalar::from_i32`] is exact for $\lvert v\rvert \le 2^{11}$ (`f16`) and
//! $2^{8}$ (`bf16`) and rounds to nearest beyond.

use core::fmt::{Debug, Display};
use core::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
}

/// An IEEE-754 binary floating-point type: `f32`, `f64`, [`half::f16`] or [`half::bf16`].
///
/// ```
/// use squeeze_core::Scalar;
/// use squeeze_core::{bf16, f16};
/// assert_eq!(<f32 as Scalar>::BITS, 32);
/// assert_eq!(<f64 as Scalar>::EXP_BITS, 11);
/// assert_eq!(f32::from_f64(0.5).to_f64(), 0.5);
/// assert_eq!((<f16 as Scalar>::BITS, <f16 as Scalar>::EXP_BITS, <f16 as Scalar>::MANT_BITS), (16, 5, 10));
/// assert_eq!((<bf16 as Scalar>::BITS, <bf16 as Scalar>::EXP_BITS, <bf16 as Scalar>::MANT_BITS), (16, 8, 7));
/// // Round to nearest: 1 + 2⁻¹² is not an f16, 1 + 2⁻¹⁰ is.
/// assert_eq!(<f16 as Scalar>::from_f64(1.0 + 2f64.powi(-12)).to_f64(), 1.0);
/// assert_eq!(<f16 as Scalar>::from_f64(1.0 + 2f64.powi(-10)).to_f64(), 1.0 + 2f64.powi(-10));
/// ```
pub trait Scalar:
    sealed::Sealed
    + Copy
    + Default
    + Debug
    + Display
    + PartialEq
    + PartialOrd
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + serde::Serialize
    + serde::de::DeserializeOwned
{
    /// Width of one value on the wire, in bits (32, 64, or 16 for `f16` and `bf16`).
    const BITS: u32;
    /// Width of the biased exponent field (8, 11; 5 for `f16`, 8 for `bf16`).
    const EXP_BITS: u32;
    /// Width of the stored mantissa field (23, 52; 10 for `f16`, 7 for `bf16`).
    const MANT_BITS: u32;
    /// `"f32"`, `"f64"`, `"f16"` or `"bf16"`.
    const NAME: &'static str;
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// Largest finite value.
    const MAX: Self;
    /// Smallest positive normal value.
    const MIN_POSITIVE: Self;

    /// Conversion from `f64` (rounding to nearest, ties to even, for the narrower types).
    fn from_f64(v: f64) -> Self;
    /// Exact widening conversion to `f64`.
    fn to_f64(self) -> f64;
    /// Conversion from a small integer (exact for |v| ≤ 2^(MANT_BITS+1): 2²⁴ for `f32`, 2¹¹ for
    /// `f16`, 2⁸ for `bf16`; rounded to nearest beyond).
    fn from_i32(v: i32) -> Self;
    /// Raw IEEE bits, zero-extended to 64 bits.
    fn to_bits_u64(self) -> u64;
    /// Inverse of [`Scalar::to_bits_u64`] (bits above [`Scalar::BITS`] ignored).
    fn from_bits_u64(bits: u64) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// `true` unless NaN or ±∞.
    fn is_finite(self) -> bool;
    /// Square root (correctly rounded; through `f32` for the 16-bit types).
    fn sqrt(self) -> Self;
    /// `true` if the sign bit is set (also for `-0.0`).
    fn is_sign_negative(self) -> bool;
    /// Maximum of two values (NaN-ignoring, as `f32::max`).
    fn max(self, other: Self) -> Self;
    /// Minimum of two values (NaN-ignoring, as `f32::min`).
    fn min(self, other: Self) -> Self;
    /// This type's kept-values buffer in a [`crate::Scratch`].
    fn scratch_values(scratch: &mut crate::Scratch) -> &mut Vec<Self>;
}

/// Scalar methods that are the float type's own method of the same name.
macro_rules! forward_to_inherent {
    ($t:ty; $($name:ident($($arg:ident: $at:ty),*) -> $ret:ty;)*) => {
        $(
            #[inline(always)]
            fn $name(self $(, $arg: $at)*) -> $ret {
                <$t>::$name(self $(, $arg)*)
            }
        )*
    };
}

macro_rules! impl_scalar {
    ($t:ty, $bits:expr, $exp:expr, $mant:expr, $name:expr, $ut:ty, $field:ident) => {
        impl Scalar for $t {
            const BITS: u32 = $bits;
            const EXP_BITS: u32 = $exp;
            const MANT_BITS: u32 = $mant;
            const NAME: &'static str = $name;
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const MAX: Self = <$t>::MAX;
            const MIN_POSITIVE: Self = <$t>::MIN_POSITIVE;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_i32(v: i32) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_bits_u64(self) -> u64 {
                self.to_bits() as u64
            }
            #[inline(always)]
            fn from_bits_u64(bits: u64) -> Self {
                <$t>::from_bits(bits as $ut)
            }
            forward_to_inherent! {
                $t;
                abs() -> Self;
                is_finite() -> bool;
                sqrt() -> Self;
                is_sign_negative() -> bool;
                max(other: Self) -> Self;
                min(other: Self) -> Self;
            }
            fn scratch_values(scratch: &mut crate::Scratch) -> &mut Vec<Self> {
                &mut scratch.$field
            }
        }
    };
}

impl_scalar!(f32, 32, 8, 23, "f32", u32, values_f32);
impl_scalar!(f64, 64, 11, 52, "f64", u64, values_f64);

/// `Scalar` for the 16-bit types of the `half` crate: conversions through their own
/// correctly rounded `f64` conversions, bit operations on the `u16` pattern, `sqrt` through
/// `f32` (correctly rounded, see the module docs).
macro_rules! impl_scalar_half {
    ($t:ty, $exp:expr, $mant:expr, $name:expr, $field:ident) => {
        impl Scalar for $t {
            const BITS: u32 = 16;
            const EXP_BITS: u32 = $exp;
            const MANT_BITS: u32 = $mant;
            const NAME: &'static str = $name;
            const ZERO: Self = <$t>::ZERO;
            const ONE: Self = <$t>::ONE;
            const MAX: Self = <$t>::MAX;
            const MIN_POSITIVE: Self = <$t>::MIN_POSITIVE;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                <$t>::from_f64(v)
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                <$t>::to_f64(self)
            }
            #[inline(always)]
            fn from_i32(v: i32) -> Self {
                <$t>::from_f64(v as f64)
            }
            #[inline(always)]
            fn to_bits_u64(self) -> u64 {
                self.to_bits() as u64
            }
            #[inline(always)]
            fn from_bits_u64(bits: u64) -> Self {
                <$t>::from_bits(bits as u16)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::from_bits(self.to_bits() & 0x7fff)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::from_f32(self.to_f32().sqrt())
            }
            forward_to_inherent! {
                $t;
                is_finite() -> bool;
                is_sign_negative() -> bool;
                max(other: Self) -> Self;
                min(other: Self) -> Self;
            }
            fn scratch_values(scratch: &mut crate::Scratch) -> &mut Vec<Self> {
                &mut scratch.$field
            }
        }
    };
}

impl_scalar_half!(half::f16, 5, 10, "f16", values_f16);
impl_scalar_half!(half::bf16, 8, 7, "bf16", values_bf16);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_round_trip_and_layout() {
        for v in [0.0f32, -0.0, 1.5, -3.25e-30, f32::MAX, f32::MIN_POSITIVE] {
            assert_eq!(f32::from_bits_u64(v.to_bits_u64()).to_bits(), v.to_bits());
        }
        assert_eq!(
            1 + <f32 as Scalar>::EXP_BITS + <f32 as Scalar>::MANT_BITS,
            <f32 as Scalar>::BITS
        );
        assert_eq!(
            1 + <f64 as Scalar>::EXP_BITS + <f64 as Scalar>::MANT_BITS,
            <f64 as Scalar>::BITS
        );
        assert!((-0.0f64).is_sign_negative());
    }

    fn layout_and_edges<S: Scalar>(max: f64, min_positive: f64) {
        assert_eq!(1 + S::EXP_BITS + S::MANT_BITS, S::BITS);
        assert_eq!(S::MAX.to_f64(), max);
        assert_eq!(S::MIN_POSITIVE.to_f64(), min_positive);
        // Every 16-bit pattern survives the bit round trip (NaNs keep their payload).
        for b in 0..=u16::MAX as u64 {
            assert_eq!(S::from_bits_u64(b).to_bits_u64(), b);
        }
        // Overflow rounds to ∞, the smallest subnormal survives, half of it rounds to 0.
        assert!(!S::from_f64(max * 2.0).is_finite());
        let tiny = min_positive * 2f64.powi(-(S::MANT_BITS as i32));
        assert_eq!(S::from_f64(tiny).to_f64(), tiny);
        assert_eq!(S::from_f64(tiny / 2.0).to_f64(), 0.0);
        // abs clears the sign of −0 and of negative values; sqrt is correctly rounded.
        assert!(!S::from_f64(-0.0).abs().is_sign_negative());
        assert_eq!(S::from_f64(-2.5).abs().to_f64(), 2.5);
        assert_eq!(S::from_f64(2.25).sqrt().to_f64(), 1.5);
        assert_eq!(
            S::from_f64(2.0).sqrt().to_f64(),
            S::from_f64(2f64.sqrt()).to_f64()
        );
        assert_eq!(S::from_f64(1.0).max(S::from_f64(f64::NAN)).to_f64(), 1.0);
        assert_eq!(S::from_i32(-7).to_f64(), -7.0);
    }

    #[test]
    fn half_types_have_their_layout() {
        layout_and_edges::<half::f16>(65504.0, 2f64.powi(-14));
        layout_and_edges::<half::bf16>((2.0 - 2f64.powi(-7)) * 2f64.powi(127), 2f64.powi(-126));
    }
}
