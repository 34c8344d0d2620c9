//! A receiver's steady state allocates nothing: encoding into a reused `BitWriter` and
//! `Message::decode_into` a reused message of the same kind and size, for every flat kind, and
//! `to_bytes` allocates only its result.

use squeeze_core::alloc_count::{CountingAllocator, thread_allocations};
use squeeze_core::message::Levels;
use squeeze_core::{BitWriter, Message};

#[global_allocator]
static COUNTING: CountingAllocator = CountingAllocator;

fn messages(d: usize) -> Vec<Message<f32>> {
    let values: Vec<f32> = (0..d).map(|j| (j as f32 - 400.0) / 8.0).collect();
    let bits = vec![0xdead_beef_u64; d.div_ceil(64)];
    vec![
        Message::Quantized {
            norm: 1.5,
            levels: Levels::Uniform { s: 16 },
            codes: (0..d).map(|j| ((j * 7) % 33) as i16 - 16).collect(),
        },
        Message::Quantized {
            norm: 1.5,
            levels: Levels::Geometric { base: 2.0, s: 8 },
            codes: (0..d).map(|j| ((j * 5) % 17) as i16 - 8).collect(),
        },
        Message::Natural {
            values: (0..d)
                .map(|j| {
                    if j % 3 == 0 {
                        0.0
                    } else {
                        2f32.powi(j as i32 % 20 - 10)
                    }
                })
                .collect(),
        },
        Message::Sign {
            dim: d,
            scale: 0.5,
            negative: bits.clone(),
        },
        Message::Binary {
            dim: d,
            block: 100,
            levels: vec![1.0; 2 * d.div_ceil(100)],
            negative: bits,
        },
        Message::Sparse {
            dim: d,
            indices: (0..d as u32).step_by(10).collect(),
            values: values.iter().step_by(10).copied().collect(),
        },
        Message::Dense { values },
    ]
}

#[test]
fn encode_and_decode_into_allocate_nothing_in_steady_state() {
    let d = 1000;
    for m in messages(d) {
        let mut w = BitWriter::new();
        let mut back = Message::default();
        // Warm-up: the writer and the message grow to size once.
        m.encode(&mut w);
        back.decode_into(w.finish(), d).unwrap();
        let before = thread_allocations();
        for _ in 0..3 {
            w.clear();
            m.encode(&mut w);
            back.decode_into(w.finish(), d).unwrap();
        }
        assert_eq!(thread_allocations(), before, "{m:?}");
        assert_eq!(back, m);
        // `to_bytes` sizes its buffer once: one allocation, no reallocation.
        let before = thread_allocations();
        let bytes = m.to_bytes();
        assert_eq!(thread_allocations(), before + 1, "{m:?}");
        assert_eq!(bytes.len() as u64, m.bits().div_ceil(8));
    }
}
