//! Arbitrary bytes into every decoder: `Message::<f32>`, `Message::<f64>` and the 16-bit
//! `Message::<f16>`, `Message::<bf16>` at a dimension taken from the input. Decoding must never panic; whatever decodes must be valid, canonical
//! (re-encoding gives the same bytes), report its exact length, and apply cleanly.
//!
//! cargo fuzz run -s none decode -- -max_total_time=60

#![no_main]

use libfuzzer_sys::fuzz_target;
use squeeze_core::{Message, Scalar, bf16, f16};

fn check<S: Scalar>(bytes: &[u8], dim: usize) {
    if let Ok(m) = Message::<S>::decode(bytes, dim) {
        m.validate().expect("decoded messages are valid");
        assert_eq!(m.dim(), dim);
        assert_eq!(m.to_bytes(), bytes, "encoding is canonical");
        assert_eq!(m.bits().div_ceil(8), bytes.len() as u64);
        let mut out = vec![S::ZERO; dim];
        m.add_to(&mut out, S::ONE).expect("valid messages apply");
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let dim = u16::from_le_bytes([data[0], data[1]]) as usize % 2049;
    let bytes = &data[3..];
    match data[2] & 3 {
        0 => check::<f32>(bytes, dim),
        1 => check::<f64>(bytes, dim),
        2 => check::<f16>(bytes, dim),
        _ => check::<bf16>(bytes, dim),
    }
});
