//! Runtime dispatch of hot kernels to copies compiled for AVX2 and AVX-512.
//!
//! squeeze builds for the default target CPU (x86-64 baseline: SSE2, 4 `f32` lanes), so a
//! binary runs everywhere. A hot kernel is written once, as an `#[inline(always)]` function
//! over explicit lanes, and [`dispatch_avx2!`](crate::dispatch_avx2) defines the public entry
//! point: it calls a copy of the kernel compiled with AVX-512 F/BW/DQ/VL enabled (16 `f32`
//! lanes, mask registers, native 64-bit integer ↔ float conversions and rotations) when the
//! CPU has them, else a copy compiled with AVX2 (8 `f32` lanes) when it has AVX2, else the
//! baseline copy. [`level`] says which copy runs on this thread.
//!
//! **Every copy returns the same bits.** IEEE-754 addition, subtraction, multiplication,
//! division, square root, comparison and conversion are correctly rounded whatever the vector
//! width, and Rust never contracts $a\cdot b + c$ into a fused multiply-add nor uses the
//! approximate reciprocal instructions, so a wider instruction set only changes how many lanes
//! one instruction processes. What could differ is the *order* of a reduction; squeeze
//! kernels write their reductions with a fixed number of explicit accumulator lanes, so the
//! order is part of the source, not of the instruction set. The kernels' tests compare the
//! copies with [`at_most`] (and [`portable`], the baseline copy) on the calling thread, and
//! `squeeze-compress`'s `simd_levels` test compares every registered compressor's messages at
//! every level the CPU has.
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

/// Instruction-set levels of dispatched kernels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// The build's target CPU (x86-64 baseline: SSE2).
    Baseline,
    /// AVX2 (8 `f32` lanes).
    Avx2,
    /// AVX-512 F, BW, DQ and VL (16 `f32` lanes, mask registers, 64-bit integer conversions
    /// and rotations).
    Avx512,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 3] = [Level::Baseline, Level::Avx2, Level::Avx512];
}

thread_local! {
    static CAP: Cell<Level> = const { Cell::new(Level::Avx512) };
}

/// The highest level this CPU supports (whatever the cap of [`at_most`]).
pub fn cpu_level() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512dq")
            && std::is_x86_feature_detected!("avx512vl")
        {
            Level::Avx512
        } else if std::is_x86_feature_detected!("avx2") {
            Level::Avx2
        } else {
            Level::Baseline
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Level::Baseline
    }
}

/// The level dispatched kernels on this thread run at: the CPU's, capped by [`at_most`].
#[inline]
pub fn level() -> Level {
    cpu_level().min(CAP.with(Cell::get))
}

/// Whether dispatched kernels on this thread take a copy with AVX2 (or more): the CPU has
/// AVX2 and the thread is not inside [`portable`].
#[inline]
pub fn avx2() -> bool {
    level() >= Level::Avx2
}

/// Whether dispatched kernels on this thread take their AVX-512 copy: the CPU has AVX-512 F,
/// BW, DQ and VL and the thread is not capped below it by [`at_most`].
#[inline]
pub fn avx512() -> bool {
    level() >= Level::Avx512
}

/// Runs `f` with every dispatched kernel on the calling thread capped at `cap` (for tests and
/// benches that compare the copies). Kernels that `f` hands to other threads (a rayon pool)
/// are not affected.
///
/// ```
/// use squeeze_core::simd::{self, Level};
/// assert_eq!(simd::at_most(Level::Baseline, simd::level), Level::Baseline);
/// assert!(simd::at_most(Level::Avx2, simd::level) <= Level::Avx2);
/// ```
pub fn at_most<R>(cap: Level, f: impl FnOnce() -> R) -> R {
    struct Restore(Level);
    impl Drop for Restore {
        fn drop(&mut self) {
            CAP.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CAP.with(|c| c.replace(cap)));
    f()
}

/// Runs `f` with every dispatched kernel on the calling thread forced to its baseline copy:
/// [`at_most`]`(Level::Baseline, f)`.
pub fn portable<R>(f: impl FnOnce() -> R) -> R {
    at_most(Level::Baseline, f)
}

/// Defines a function that runs a kernel body through its AVX-512 copy when [`simd::avx512`]
/// says so, else through its AVX2 copy when [`simd::avx2`] says so, else through the baseline
/// copy (see the [module docs](crate::simd)). The name is historical: it dates from when AVX2
/// was the only wider copy.
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
/// [`simd::avx512`]: crate::simd::avx512
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
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
                fn with_avx512 $(<$($gen: $bound),*>)? ($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                fn with_avx2 $(<$($gen: $bound),*>)? ($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if $crate::simd::avx512() {
                    // SAFETY: `simd::avx512()` checked that this CPU has these features.
                    return unsafe { with_avx512($($arg),*) };
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
    fn every_copy_gives_the_same_bits() {
        let mut rng = crate::SqueezeRng::from_seed_u64(7);
        let x: Vec<f32> = (0..1003)
            .map(|_| rng.next_f64() as f32 * 9.0 - 4.0)
            .collect();
        let y: Vec<f32> = (0..1003).map(|_| rng.next_f64() as f32 * 1e-3).collect();
        let xd: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let run = |cap| {
            at_most(cap, || {
                let mut out = vec![0.0; 1003];
                let s = scaled_diff(1.7, &x, &y, &mut out);
                let bits: Vec<u32> = out.iter().map(|v| v.to_bits()).collect();
                (s.to_bits(), bits, generic(&xd).to_bits())
            })
        };
        let base = run(Level::Baseline);
        for cap in Level::ALL {
            assert_eq!(run(cap), base, "{cap:?}");
        }
    }

    #[test]
    fn caps_are_scoped_to_the_call() {
        let outside = level();
        assert_eq!(outside, cpu_level());
        portable(|| assert!(!avx2() && !avx512()));
        assert_eq!(level(), outside);
        at_most(Level::Avx2, || {
            assert!(!avx512());
            assert_eq!(avx2(), cpu_level() >= Level::Avx2);
            // An inner cap above the outer one lifts it for its own call only.
            at_most(Level::Avx512, || assert_eq!(level(), cpu_level()));
            assert!(level() <= Level::Avx2);
        });
        let nested = portable(|| portable(|| 5) + usize::from(avx2()));
        assert_eq!(nested, 5);
        assert_eq!(level(), outside);
    }
}
