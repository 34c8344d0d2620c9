//! The floating-point element type of every vector in squeeze.
//!
//! [`Scalar`] is implemented for `f32` and `f64` only (the trait is sealed). It carries the
//! IEEE-754 layout constants that the wire format needs (value width, exponent and mantissa
//! widths) and the handful of operations the kernels use, so that compressors are written once
//! and monomorphised for both widths.

use core::fmt::{Debug, Display};
use core::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// An IEEE-754 binary floating-point type: `f32` or `f64`.
///
/// ```
/// use squeeze_core::Scalar;
/// assert_eq!(<f32 as Scalar>::BITS, 32);
/// assert_eq!(<f64 as Scalar>::EXP_BITS, 11);
/// assert_eq!(f32::from_f64(0.5).to_f64(), 0.5);
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
    /// Width of one value on the wire, in bits (32 or 64).
    const BITS: u32;
    /// Width of the biased exponent field (8 or 11).
    const EXP_BITS: u32;
    /// Width of the stored mantissa field (23 or 52).
    const MANT_BITS: u32;
    /// `"f32"` or `"f64"`.
    const NAME: &'static str;
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// Largest finite value.
    const MAX: Self;
    /// Smallest positive normal value.
    const MIN_POSITIVE: Self;

    /// Conversion from `f64` (rounding to nearest for `f32`).
    fn from_f64(v: f64) -> Self;
    /// Exact widening conversion to `f64`.
    fn to_f64(self) -> f64;
    /// Conversion from a small integer (exact for |v| < 2²⁴).
    fn from_i32(v: i32) -> Self;
    /// Raw IEEE bits, zero-extended to 64 bits.
    fn to_bits_u64(self) -> u64;
    /// Inverse of [`Scalar::to_bits_u64`] (upper bits ignored for `f32`).
    fn from_bits_u64(bits: u64) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// `true` unless NaN or ±∞.
    fn is_finite(self) -> bool;
    /// Square root.
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
}
