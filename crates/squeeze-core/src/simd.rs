//! Runtime dispatch of hot kernels to a copy compiled for AVX2.
//!
//! squeeze builds for the default target CPU (x86-64 baseline: SSE2, 4 `f32` lanes), so a
//! binary runs everywhere. A hot kernel is written once, as an `#[inline(always)]` function
//! over explicit lanes, and [`dispatch_avx2!`](crate::dispatch_avx2) defines the public entry
//! point: it calls a copy of the kernel compiled with AVX2 enabled (8 `f32` lanes) when the CPU
//! has AVX2, and the baseline copy otherwise.
//!
//! **Both copies return the same bits.** IEEE-754 addition, subtraction, multiplication,
//! division, square root, comparison and conversion are correctly rounded whatever the vector
//! width, and Rust never contracts $a\cdot b + c$ into a fused multiply-add, so enabling AVX2
//! only changes how many lanes one instruction processes. What could differ is the *order* of
//! a reduction; squeeze kernels write their reductions with a fixed number of explicit
//! accumulator lanes, so the order is part of the source, not of the instruction set. The
//! kernels' tests compare the two copies with [`portable`], which forces the baseline copy on
//! the calling thread.
//!
//! ```
//! use squeeze_core::simd;
//!
//! #[inline(always)]
//! fn sum_of_squares_body(x: &[f32]) -> f32 {
//!     let mut lanes = [0.0f32; 8];
//!     for chunk in x.chunks(8) {
//!         for (l, &v) in lanes.iter_mut().zip(chunk) {
//!             *l += v * v;
//!         }
//!     }
//!     lanes.iter().sum()
//! }
//! squeeze_core::dispatch_avx2! {
//!     /// Σ x_j², dispatched.
//!     fn sum_of_squares(x: &[f32]) -> f32 => sum_of_squares_body
//! }
//!
//! let x: Vec<f32> = (0..1000).map(|j| (j as f32).sin()).collect();
//! let fast = sum_of_squares(&x);
//! let baseline = simd::portable(|| sum_of_squares(&x));
//! assert_eq!(fast.to_bits(), baseline.to_bits());
//! ```

use std::cell::Cell;

thread_local! {
    static PORTABLE: Cell<bool> = const { Cell::new(false) };
}

/// Whether dispatched kernels on this thread take their AVX2 copy: the CPU has AVX2 and the
/// thread is not inside [`portable`].
#[inline]
pub fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        !PORTABLE.with(Cell::get) && std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Runs `f` with every dispatched kernel on the calling thread forced to its baseline copy
/// (for tests and benches that compare the two). Kernels that `f` hands to other threads
/// (a rayon pool) are not affected.
pub fn portable<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            PORTABLE.with(|p| p.set(self.0));
        }
    }
    let _restore = Restore(PORTABLE.with(|p| p.replace(true)));
    f()
}

/// Defines a function that runs a kernel body through its AVX2 copy when [`simd::avx2`]
/// says so, else through the baseline copy (see the [module docs](crate::simd)).
///
/// ```text
/// dispatch_avx2! {
///     /// docs
///     pub fn name<S: Scalar>(a: &[S], out: &mut [S]) -> bool => body_fn
/// }
/// ```
/// `body_fn` must be `#[inline(always)]` so that it is compiled into each copy.
///
/// [`simd::avx2`]: crate::simd::avx2
#[macro_export]
macro_rules! dispatch_avx2 {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident $(<$($gen:ident : $bound:path),* $(,)?>)?
            ($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:path
    ) => {
        $(#[$meta])*
        $vis fn $name $(<$($gen: $bound),*>)? ($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn with_avx2 $(<$($gen: $bound),*>)? ($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if $crate::simd::avx2() {
                    // SAFETY: `simd::avx2()` checked that this CPU has AVX2.
                    return unsafe { with_avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(always)]
    fn scaled_diff_body(a: f32, x: &[f32], y: &[f32], out: &mut [f32]) -> f32 {
        let mut lanes = [0.0f32; 8];
        for ((o8, x8), y8) in out.chunks_mut(8).zip(x.chunks(8)).zip(y.chunks(8)) {
            for (((o, &xv), &yv), l) in o8.iter_mut().zip(x8).zip(y8).zip(&mut lanes) {
                let v = a * xv - yv / 3.0;
                *o = v;
                *l += v * v;
            }
        }
        lanes.iter().sum()
    }
    crate::dispatch_avx2! {
        fn scaled_diff(a: f32, x: &[f32], y: &[f32], out: &mut [f32]) -> f32 => scaled_diff_body
    }

    #[inline(always)]
    fn generic_body<S: crate::Scalar>(x: &[S]) -> S {
        x.iter().fold(S::ZERO, |acc, &v| acc + v * v)
    }
    crate::dispatch_avx2! {
        fn generic<S: crate::Scalar>(x: &[S]) -> S => generic_body
    }

    #[test]
    fn both_copies_give_the_same_bits() {
        let mut rng = crate::SqueezeRng::from_seed_u64(7);
        let x: Vec<f32> = (0..1003)
            .map(|_| rng.next_f64() as f32 * 9.0 - 4.0)
            .collect();
        let y: Vec<f32> = (0..1003).map(|_| rng.next_f64() as f32 * 1e-3).collect();
        let (mut fast, mut base) = (vec![0.0; 1003], vec![0.0; 1003]);
        let s_fast = scaled_diff(1.7, &x, &y, &mut fast);
        let s_base = portable(|| scaled_diff(1.7, &x, &y, &mut base));
        assert_eq!(s_fast.to_bits(), s_base.to_bits());
        assert!(
            fast.iter()
                .zip(&base)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        let xd: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        assert_eq!(generic(&xd).to_bits(), portable(|| generic(&xd)).to_bits());
    }

    #[test]
    fn portable_is_scoped_to_the_call() {
        let outside = avx2();
        portable(|| assert!(!avx2()));
        assert_eq!(avx2(), outside);
        let nested = portable(|| portable(|| 5) + usize::from(avx2()));
        assert_eq!(nested, 5);
        assert_eq!(avx2(), outside);
    }
}
