//! The flat loops of [`Message::add_to`](super::Message::add_to), each compiled for AVX-512,
//! AVX2 and the baseline and chosen at run time ([`crate::dispatch_avx2!`]): every entry gets
//! the same IEEE operations in any copy, so the results are the same bit for bit; the wider
//! copies only process more entries per instruction (and shift 64-bit sign words natively).

use crate::scalar::Scalar;

crate::dispatch_avx2! {
    /// `out[j] += a·v[j]` (dense and natural values).
    pub(super) fn add_scaled<S: Scalar>(out: &mut [S], a: S, v: &[S]) => add_scaled_body
}

#[inline(always)]
fn add_scaled_body<S: Scalar>(out: &mut [S], a: S, v: &[S]) {
    for (o, &x) in out.iter_mut().zip(v) {
        *o += a * x;
    }
}

crate::dispatch_avx2! {
    /// `out[j] += −a` where bit j of the packed `negative` words is set, else `+a`.
    pub(super) fn add_signs<S: Scalar>(out: &mut [S], a: S, negative: &[u64]) => add_signs_body
}

#[inline(always)]
fn add_signs_body<S: Scalar>(out: &mut [S], a: S, negative: &[u64]) {
    for (chunk, &word) in out.chunks_mut(64).zip(negative) {
        for (k, o) in chunk.iter_mut().enumerate() {
            *o += if (word >> k) & 1 == 1 { -a } else { a };
        }
    }
}

crate::dispatch_avx2! {
    /// `out[j] += u·c_j` (uniform levels: `u = scale·norm/s`).
    pub(super) fn add_uniform<S: Scalar>(out: &mut [S], u: S, codes: &[i16]) => add_uniform_body
}

#[inline(always)]
fn add_uniform_body<S: Scalar>(out: &mut [S], u: S, codes: &[i16]) {
    for (o, &c) in out.iter_mut().zip(codes) {
        *o += u * S::from_i32(c as i32);
    }
}
