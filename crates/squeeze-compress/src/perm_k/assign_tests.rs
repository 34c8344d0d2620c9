//! Tests of the batched block-assignment pass ([`super`]): every instruction-set level against
//! the one-at-a-time reference pass, forced rejections, and the hooks.

use super::super::{PERM_TAG, PermK};
use super::*;
use squeeze_core::{CompressCtx, CompressError, Compressor, Message, Scalar, Scratch};

/// The sequential pass as it was before batching (perm_k.rs at 9e06813), verbatim:
/// `rng.below` per coordinate, index and scaled value written every iteration.
fn old_sparsify(c: &PermK, x: &[f32], worker: usize, round_seed: u64) -> (Vec<u32>, Vec<f32>) {
    let d = x.len();
    let block = c.block(worker, d);
    let b = block.len();
    let scale = f32::from_f64(d as f64 / b as f64);
    let (mut indices, mut values) = (vec![0u32; b], vec![0f32; b]);
    let mut rng = SqueezeRng::from_seed_u64(squeeze_core::rng::mix(round_seed, PERM_TAG, 0));
    let mut before = block.start as u64;
    let mut mine = b as u64;
    let mut cnt = 0usize;
    let mut j = 0usize;
    while mine > 0 && !(before == 0 && mine == (d - j) as u64) {
        let r = rng.below((d - j) as u64);
        let lt = r < before;
        let hit = r.wrapping_sub(before) < mine;
        before -= u64::from(lt);
        mine -= u64::from(hit);
        indices[cnt] = j as u32;
        values[cnt] = x[j] * scale;
        cnt += usize::from(hit);
        j += 1;
    }
    for (k, jj) in (cnt..b).zip(j..d) {
        indices[k] = jj as u32;
        values[k] = x[jj] * scale;
    }
    (indices, values)
}

/// The same pass on any word source, one word at a time, and how many words were rejected
/// (every word Lemire's step draws after its first).
fn reference<R: WordSource>(src: &mut R, d: usize, start: usize, b: usize) -> (Vec<u32>, usize) {
    let mut next = || {
        let mut w = [0u64];
        src.fill(&mut w);
        w[0]
    };
    let mut rejected = 0;
    let mut below = |n: u64| {
        let mut drawn = 0usize;
        let r = below_with(n, || {
            drawn += 1;
            next()
        });
        rejected += drawn.saturating_sub(1);
        r
    };
    let mut indices = vec![0u32; b];
    let (mut before, mut mine, mut cnt, mut j) = (start as u64, b as u64, 0usize, 0usize);
    while mine > 0 && !(before == 0 && mine == (d - j) as u64) {
        let r = below((d - j) as u64);
        let lt = r < before;
        let hit = r.wrapping_sub(before) < mine;
        before -= u64::from(lt);
        mine -= u64::from(hit);
        indices[cnt] = j as u32;
        cnt += usize::from(hit);
        j += 1;
    }
    for (k, jj) in (cnt..b).zip(j..d) {
        indices[k] = jj as u32;
    }
    (indices, rejected)
}

fn new_sparsify(c: &PermK, x: &[f32], worker: usize, round_seed: u64) -> (Vec<u32>, Vec<f32>) {
    let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(1), Scratch::default());
    let mut ctx = CompressCtx::new(&mut rng, &mut scratch)
        .with_worker(worker, c.n())
        .with_round_seed(round_seed);
    match c.compress(x, &mut ctx).unwrap() {
        Message::Sparse {
            dim,
            indices,
            values,
        } => {
            assert_eq!(dim, x.len());
            (indices, values)
        }
        m => panic!("not sparse: {m:?}"),
    }
}

fn check_all_workers(d: usize, n: usize, seeds: &[u64]) {
    let c = PermK::new(n).unwrap();
    let x: Vec<f32> = (0..d)
        .map(|j| (j as f32 * 0.37).sin() * 3.0 + 0.1)
        .collect();
    for &seed in seeds {
        for worker in 0..n {
            let (oi, ov) = old_sparsify(&c, &x, worker, seed);
            let (ni, nv) = new_sparsify(&c, &x, worker, seed);
            assert_eq!(ni, oi, "d={d} n={n} worker={worker} seed={seed}");
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&nv),
                bits(&ov),
                "d={d} n={n} worker={worker} seed={seed}"
            );
        }
    }
}

#[test]
fn messages_equal_the_sequential_pass_small_d() {
    for d in 1..=40 {
        for n in [1, 2, 3, 4, 5, 7, 8, 9, d] {
            if n <= d {
                check_all_workers(d, n, &[0, 1, 2, 0xdead_beef]);
            }
        }
    }
}

#[test]
fn messages_equal_the_sequential_pass_around_batch_and_buffer_sizes() {
    for d in [
        63, 64, 65, 255, 256, 257, 511, 512, 513, 1000, 1023, 1024, 1025, 4099,
    ] {
        for n in [1, 2, 3, 4, 7, 10, 64].into_iter().filter(|&n| n <= d) {
            check_all_workers(d, n, &[3, 17]);
        }
        check_all_workers(d, d, &[5]);
    }
}

#[test]
fn messages_equal_the_sequential_pass_large_d() {
    // d mod n ≠ 0, first, middle and last workers all checked (all workers).
    check_all_workers(100_003, 4, &[11, 12]);
    check_all_workers(65_536, 3, &[13]);
    check_all_workers(30_001, 16, &[14]);
    check_all_workers(20_000, 1, &[15]);
}

/// One message and scratch reused across calls of different sizes and workers (stale
/// indices and values left over), and the input's errors wherever the bad entry lies
/// (scanned during the pass, or after it): the same as the sequential pass.
#[test]
fn reused_buffers_and_errors_match_the_sequential_pass() {
    let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(2), Scratch::default());
    let mut m = Message::default();
    for (d, n, worker) in [
        (200_001usize, 4usize, 3usize),
        (70_000, 2, 0),
        (200_001, 4, 0),
        (5000, 3, 1),
        (100_000, 7, 6),
    ] {
        let c = PermK::new(n).unwrap();
        let x: Vec<f32> = (0..d).map(|j| (j as f32 * 0.11).cos() - 0.3).collect();
        let mut ctx = CompressCtx::new(&mut rng, &mut scratch)
            .with_worker(worker, n)
            .with_round_seed(d as u64);
        c.compress_into(&x, &mut ctx, &mut m).unwrap();
        let (oi, ov) = old_sparsify(&c, &x, worker, d as u64);
        let Message::Sparse {
            indices, values, ..
        } = &m
        else {
            panic!("not sparse")
        };
        assert_eq!(indices, &oi, "d={d} worker={worker}");
        let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(values), bits(&ov), "d={d} worker={worker}");
        // A NaN early, in the middle and at the very end; then an overflow (x · n = ∞).
        for at in [0, d / 2, d - 1] {
            let mut y = x.clone();
            y[at] = f32::NAN;
            let e = c.compress_into(&y, &mut ctx, &mut m).unwrap_err();
            assert!(matches!(e, CompressError::NonFinite { index, .. } if index == at));
        }
        let y = vec![f32::MAX; d];
        let e = c.compress_into(&y, &mut ctx, &mut m).unwrap_err();
        assert!(e.to_string().contains("perm_k"), "{e}");
        assert!(!matches!(e, CompressError::NonFinite { .. }), "{e:?}");
    }
}

/// A stream whose every `every`-th word (from word `offset`) is 0: `w = 0` gives
/// $w\thinspace n \bmod 2^{64} = 0 < 2^{64} \bmod n$ for every $n$ that is not a power of two, so
/// Lemire rejects it and draws again; for powers of two it is a near-miss (checked, kept).
#[derive(Clone)]
struct Planted {
    rng: SqueezeRng,
    every: usize,
    pos: usize,
}

impl WordSource for Planted {
    fn fill(&mut self, out: &mut [u64]) {
        for v in out {
            let w = self.rng.next_u64();
            *v = if self.pos.is_multiple_of(self.every) {
                0
            } else {
                w
            };
            self.pos += 1;
        }
    }
}

#[test]
fn rejections_resynchronise_the_stream() {
    let mut total = 0;
    for (d, n, every) in [
        (1000usize, 4usize, 37usize),
        (5000, 3, 101),
        (300, 1, 7),
        (4096, 4, 64),
        (257, 2, 2),
    ] {
        let c = PermK::new(n).unwrap();
        for worker in 0..n {
            let block = c.block(worker, d);
            for offset in [0, 1, 5, 255, 256] {
                let src = Planted {
                    rng: SqueezeRng::from_seed_u64(offset as u64),
                    every,
                    pos: every - offset % every,
                };
                let (want, rejected) = reference(&mut src.clone(), d, block.start, block.len());
                total += rejected;
                // Buffers of 256 words, and of 1000 (not a multiple of LANES: batches
                // that would cross a refill take exact steps).
                for len in [256, 1000] {
                    let mut buf = vec![0u64; len];
                    let (start, b) = (block.start, block.len());
                    let run = |level: Option<u8>, buf: &mut [u64]| {
                        let mut got = vec![0u32; b];
                        let pass = Pass {
                            d,
                            start,
                            b,
                            indices: &mut got,
                            progress: &mut (),
                        };
                        match level {
                            Some(level) => pass.run_at(level, &mut src.clone(), buf),
                            None => pass.run(&mut src.clone(), buf),
                        }
                        got
                    };
                    let ctx = format!("d={d} n={n} worker={worker} offset={offset}");
                    assert_eq!(run(None, &mut buf), want, "{ctx}");
                    let portable = squeeze_core::simd::portable(|| run(None, &mut buf));
                    assert_eq!(portable, want, "{ctx}");
                    for level in [PORTABLE, AVX2, AVX512]
                        .into_iter()
                        .filter(|&l| level_ok(l))
                    {
                        assert_eq!(run(Some(level), &mut buf), want, "{ctx} level {level}");
                    }
                }
            }
        }
    }
    assert!(total > 100, "the stub must force rejections: {total}");
}

#[test]
fn buffered_below_is_squeeze_rng_below() {
    for n in [
        0u64,
        1,
        2,
        3,
        7,
        8,
        1 << 20,
        3 << 30,
        u32::MAX as u64,
        (1 << 33) + 1,
        u64::MAX,
    ] {
        let mut a = SqueezeRng::from_seed_u64(n);
        let mut b = a.clone();
        let mut buf = [0u64; 256];
        let mut words = Words::new(&mut b, &mut buf);
        for _ in 0..600 {
            assert_eq!(words.below(n), a.below(n), "n = {n}");
        }
    }
}

#[test]
fn batch_outcome_is_the_sequential_one_or_refused() {
    // Every batch `batch` accepts must equal LANES exact steps from its start, and the
    // AVX2 copy must decide every batch the same way.
    let mut rng = SqueezeRng::from_seed_u64(99);
    let (mut accepted, mut refused) = (0, 0);
    for round in 0..200_000u64 {
        // Small n (the windows matter), and n near 2³² (the split product must be exact).
        let n0 = if round % 2 == 0 {
            70 + rng.below(400)
        } else {
            u32::MAX as u64 - rng.below(1 << 20)
        };
        // mine > LANES and after = n0 − before − mine > LANES, as `drive` guarantees.
        let before = rng.below(n0 - 66);
        let mine = 33 + rng.below(n0 - before - 66);
        let mut w = [0u64; LANES];
        rng.fill_u64(&mut w);
        let got = batch(&w, n0, before, before + mine);
        #[cfg(target_arch = "x86_64")]
        if squeeze_core::simd::avx2() && std::is_x86_feature_detected!("popcnt") {
            // SAFETY: checked just above.
            assert_eq!(unsafe { batch_avx2(&w, n0, before, before + mine) }, got);
        }
        #[cfg(target_arch = "x86_64")]
        if level_ok(AVX512) {
            // SAFETY: checked just above.
            assert_eq!(unsafe { batch_avx512(&w, n0, before, before + mine) }, got);
        }
        let Some((hit, n_lt, n_hit)) = got else {
            refused += 1;
            continue;
        };
        accepted += 1;
        let (mut b, mut m) = (before, mine);
        for (k, &wk) in w.iter().enumerate() {
            let nk = n0 - k as u64;
            let mm = (wk as u128) * (nk as u128);
            assert!((mm as u64) >= nk, "a possible rejection was accepted");
            let r = (mm >> 64) as u64;
            let lt = r < b;
            let h = r.wrapping_sub(b) < m;
            assert_eq!(hit >> k & 1 == 1, h);
            b -= u64::from(lt);
            m -= u64::from(h);
        }
        assert_eq!((before - b, mine - m), (u64::from(n_lt), u64::from(n_hit)));
    }
    assert!(
        accepted > 10_000 && refused > 10_000,
        "{accepted} {refused}"
    );
}

#[test]
fn hit_writers_agree() {
    let mut rng = SqueezeRng::from_seed_u64(7);
    for round in 0..20_000 {
        let hit = match round {
            0 => 0,
            1 => u32::MAX,
            _ => rng.next_u64() as u32 & rng.next_u64() as u32,
        };
        let j = rng.below(1 << 31) as usize;
        let mut want = [0u32; LANES];
        write_hits(&mut want, j, hit);
        let ones = hit.count_ones() as usize;
        let expect: Vec<u32> = (0..32)
            .filter(|k| hit >> k & 1 == 1)
            .map(|k| j as u32 + k)
            .collect();
        assert_eq!(&want[..ones], &expect[..]);
        #[cfg(target_arch = "x86_64")]
        if level_ok(AVX512) {
            let mut got = [0u32; LANES];
            // SAFETY: checked just above.
            unsafe { write_hits_avx512(&mut got, j as u32, hit) };
            assert_eq!(&got[..ones], &expect[..], "hit {hit:#x}");
        }
    }
}

#[test]
fn set_bits_rows_list_the_bits() {
    for (m, row) in SET_BITS.iter().enumerate() {
        let ones = (m as u32).count_ones() as usize;
        for &k in &row[..ones] {
            assert_eq!(m >> k & 1, 1);
        }
        assert!(row[..ones].windows(2).all(|p| p[0] < p[1]));
    }
}
