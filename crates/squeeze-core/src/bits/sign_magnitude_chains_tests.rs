//! Tests of the mixed-code chains (`sign_magnitude_chains.rs`): exact codes, flags and
//! positions on one thread and on pools, and the fallbacks.

use super::super::prefix::tests::stream;
use super::*;
use proptest::prelude::*;

/// `n` codes from a seeded stream: code k is zero where `zero(k, r)` (r: its random bits), else
/// a level in 1 ..= `top` (uniform) with a random sign.
fn drawn(n: usize, top: u64, mut seed: u64, zero: impl Fn(usize, u64) -> bool) -> Vec<i16> {
    (0..n)
        .map(|k| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1442695040888963407);
            let r = seed >> 16;
            if zero(k, r) {
                return 0;
            }
            let level = 1 + ((r >> 8) % top) as i16;
            if (r >> 40) & 1 == 1 { -level } else { level }
        })
        .collect()
}

/// `n` codes of `width`-bit levels: zero with probability `zero`/256, else a level in
/// 1 ..= `top` (uniform) with a random sign; runs of `run` codes alternate between that
/// and all-zero codes when `run > 0` (the density changes along the message).
fn codes(n: usize, width: u32, zero: u64, top: u16, run: usize, seed: u64) -> Vec<i16> {
    let top = u64::from(top.min(((1u32 << width) - 1) as u16));
    drawn(n, top, seed, |k, r| {
        run > 0 && (k / run) % 2 == 1 || r % 256 < zero
    })
}

/// Pools the fallback tests read on (0: none).
#[cfg(feature = "parallel")]
const POOLS: &[usize] = &[0, 2];
#[cfg(not(feature = "parallel"))]
const POOLS: &[usize] = &[0];

/// The test counters of this thread.
#[derive(Clone, Copy, Debug)]
struct Counts {
    met: u64,
    sparse: u64,
    unmet: u64,
    to_dense: u64,
    from_dense: u64,
    in_place: u64,
}

impl Counts {
    fn now() -> Self {
        Self {
            met: MET.with(|m| m.get()),
            sparse: SPARSE.with(|m| m.get()),
            unmet: UNMET.with(|m| m.get()),
            to_dense: TO_DENSE.with(|m| m.get()),
            from_dense: FROM_DENSE.with(|m| m.get()),
            in_place: IN_PLACE.with(|m| m.get()),
        }
    }

    fn since(self, before: Self) -> Self {
        Self {
            met: self.met - before.met,
            sparse: self.sparse - before.sparse,
            unmet: self.unmet - before.unmet,
            to_dense: self.to_dense - before.to_dense,
            from_dense: self.from_dense - before.from_dense,
            in_place: self.in_place - before.in_place,
        }
    }
}

/// `n` codes of `width`-bit levels in stretches of `run` codes, stretch k with
/// `zero_per_mille[k % len]`‰ zero codes (the others uniform in 1 ..= 2^W − 2, random sign).
fn stretches(n: usize, width: u32, run: usize, zero_per_mille: &[u64], seed: u64) -> Vec<i16> {
    drawn(n, (1u64 << width) - 2, seed, |k, r| {
        r % 1000 < zero_per_mille[(k / run) % zero_per_mille.len()]
    })
}

/// Reads `codes` (after `prefix` bits) with the one-thread reader, called on a pool of
/// `threads` threads (none for 0), and checks it against them: the flag says whether a
/// level read is above `s`; if none is, the prefix read is exact and the position is that
/// prefix's end (else the reader's codes are unspecified: the decoder re-reads entry by
/// entry). Returns the codes read and, on the thread that read them, how many superblocks
/// (or rounds of stretches) met, stopped as sparse, and stopped where chains did not meet.
fn check(codes: &[i16], width: u32, s: u16, prefix: u32, threads: usize) -> (usize, Counts) {
    let (bytes, starts) = stream(prefix, width, codes);
    let read = || {
        let mut r = BitReader::new(&bytes);
        r.pos = u64::from(prefix);
        let mut out = vec![i16::MAX; codes.len()];
        let before = Counts::now();
        let (done, bad) = r.read_sign_magnitude(&mut out, width, s);
        (done, bad, r.pos, out, Counts::now().since(before))
    };
    #[cfg(feature = "parallel")]
    let (done, bad, pos, out, met) = match threads {
        0 => read(),
        t => super::super::test_pool(t).install(read),
    };
    #[cfg(not(feature = "parallel"))]
    let (done, bad, pos, out, met) = {
        assert_eq!(threads, 0, "pools need the parallel feature");
        read()
    };
    let above = codes[..done].iter().any(|c| c.unsigned_abs() > s);
    assert_eq!(bad, above, "width {width}: level above s = {s}");
    if !bad {
        assert!(out[..done] == codes[..done], "width {width}: codes differ");
        assert_eq!(pos, starts[done], "width {width}: position");
    }
    assert!(
        8 * bytes.len() as u64 - pos < 128 + 2 * 64,
        "width {width}: stopped early at {done}"
    );
    (done, met)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Mixed codes of 5–15-bit levels, from about half to one in 16 zero, after any bit
    /// offset: the chains run and read exactly what was written, to within the last
    /// 8-byte load of the end.
    #[test]
    fn chains_read_the_written_codes(
        width in 5u32..=15,
        zero in prop_oneof![Just(8u64), Just(18), 60..200u64],
        prefix in 0u32..64,
        extra in 0usize..40_000,
        seed in any::<u64>(),
    ) {
        let n = CHAINS_MIN + extra;
        let mut c = codes(n, width, zero, u16::MAX, 0, seed);
        // A zero code first: a message that starts with 64 non-zero codes is read by
        // dense blocks instead (`read_sign_magnitude_w`).
        c[0] = 0;
        let (_, counts) = check(&c, width, u16::MAX >> 1, prefix, 0);
        prop_assert!(counts.met > 0, "no superblock met at width {width}, {zero}/256 zero");
        prop_assert!(counts.in_place > 0, "no superblock in place at width {width}");
        // The path of a message's last superblocks (codes by way of the scratch) everywhere.
        SCRATCH_ONLY.with(|m| m.set(true));
        let (_, counts) = check(&c, width, u16::MAX >> 1, prefix, 0);
        SCRATCH_ONLY.with(|m| m.set(false));
        prop_assert!(counts.met > 0 && counts.in_place == 0, "{counts:?}");
    }

    /// The flag: levels up to 2^W − 1 read with a smaller `s` are flagged exactly when one
    /// of the codes read is above it, chains or not.
    #[test]
    fn levels_above_s_are_flagged(
        width in 5u32..=12,
        top_share in 1u64..16,
        seed in any::<u64>(),
    ) {
        let full = (1u16 << width) - 1;
        let s = full - 1;
        // Level `full` (above s) appears only when top_share is small enough.
        let top = if top_share < 4 { full } else { s };
        let c = codes(CHAINS_MIN + 5000, width, 100, top, 0, seed);
        check(&c, width, s, 3, 0);
    }

    /// Input cut anywhere: the prefix read is exact and ends where the one chain would.
    #[test]
    fn cut_input_reads_an_exact_prefix(
        width in 5u32..=15,
        cut in 0.0f64..1.0,
        seed in any::<u64>(),
    ) {
        let c = codes(CHAINS_MIN + 20_000, width, 110, u16::MAX, 0, seed);
        let (mut bytes, starts) = stream(9, width, &c);
        bytes.truncate((bytes.len() as f64 * cut) as usize);
        let mut r = BitReader::new(&bytes);
        r.pos = 9;
        let mut out = vec![0i16; c.len()];
        let (done, _) = r.read_sign_magnitude(&mut out, width, u16::MAX >> 1);
        prop_assert!(out[..done] == c[..done]);
        prop_assert_eq!(r.pos, starts[done]);
        prop_assert!(r.pos <= 8 * bytes.len() as u64);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Stretches of nearly all non-zero codes (dense blocks where they read) and mixed ones
    /// (the chains), of any length from a sample up, in any order, after any bit offset, on
    /// one thread or a pool: the switches between the reads keep every code exact.
    #[test]
    fn dense_and_mixed_stretches_read_the_written_codes(
        width in 5u32..=15,
        shares in proptest::collection::vec(prop_oneof![Just(0u64), Just(1), Just(4), Just(15), 100..600u64], 2..5),
        run in SAMPLE..4 * SAMPLE,
        first_zero in any::<bool>(),
        prefix in 0u32..64,
        pool in 0usize..POOLS.len(),
        seed in any::<u64>(),
    ) {
        let mut c = stretches(shares.len() * run + 1234, width, run, &shares, seed);
        if first_zero {
            c[0] = 0;
        }
        check(&c, width, u16::MAX >> 1, prefix, POOLS[pool]);
    }
}

#[cfg(feature = "parallel")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// On a pool of 2–3 threads, each reading a stretch of superblocks from a guessed bit,
    /// the codes read are the written ones, levels above `s` are flagged, and a cut input
    /// reads an exact prefix.
    #[test]
    fn stretches_on_a_pool_read_the_written_codes(
        width in 5u32..=15,
        zero in prop_oneof![Just(8u64), 60..200u64],
        prefix in 0u32..64,
        extra in 0usize..300_000,
        threads in 2usize..=3,
        above in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let n = super::super::WIRE_PARALLEL_MIN + extra;
        let mut c = codes(n, width, zero, u16::MAX, 0, seed);
        c[0] = 0;
        // Levels up to s = 2^W − 2, or up to 2^W − 1 (above s): codes read from a guessed
        // bit before the chains meet often hold 2^W − 1, and must not count.
        let full = ((1u32 << width) - 1) as u16;
        let c: Vec<i16> = c
            .iter()
            .map(|&v| if !above && v.unsigned_abs() == full { v.signum() } else { v })
            .collect();
        let (_, counts) = check(&c, width, full - 1, prefix, threads);
        prop_assert!(counts.met > 0, "no stretches met at width {width}, {zero}/256 zero");
    }
}

/// The density changes along the message: mixed stretches, then all-zero ones, in turns
/// (10⁵ codes each on one thread, 3·10⁵ on a pool of two, where a round of stretches
/// holds about 2.5·10⁵). Superblocks stop at the sparse ones, and samples through the one
/// chain find the mixed ones again: on one thread, more superblocks meet than the first
/// stretch holds (at most 10⁵ / 7,500 codes per region / 4 regions < 4).
#[test]
fn changing_density_switches_between_chains_and_one_chain() {
    for &threads in POOLS {
        let run = if threads == 0 { 100_000 } else { 300_000 };
        for width in [6u32, 12, 15] {
            let c = codes(6 * run, width, 128, u16::MAX, run, u64::from(width));
            let (done, counts) = check(&c, width, u16::MAX >> 1, 0, threads);
            assert!(done > c.len() - 100);
            let want = if threads == 0 { 5 } else { 2 };
            assert!(
                counts.met >= want,
                "width {width}, {threads} threads: {counts:?}"
            );
            assert!(
                counts.sparse + counts.unmet >= 1,
                "width {width}, {threads} threads: chains never stopped: {counts:?}"
            );
        }
    }
}

/// Nearly all non-zero codes: a zero code (so no dense blocks from the start), then the top
/// level, positive, over and over (W ones and a zero). Parsed from a bit that is not a code
/// start, every level read is non-zero too, so a guessed chain would keep its distance: the
/// chains are not tried (fewer than one code in ZERO_SHARE is zero), and the one chain or,
/// after the first sample, dense blocks read the codes exactly, on one thread or on a pool.
#[test]
fn nearly_all_non_zero_codes_stay_on_one_chain() {
    for &threads in POOLS {
        for width in [5u32, 9, 14] {
            let top = ((1u32 << width) - 1) as i16;
            let mut c = vec![top; 600_000];
            c[0] = 0;
            let (done, counts) = check(&c, width, top as u16, 0, threads);
            assert!(done > c.len() - 100, "width {width}");
            assert_eq!(
                (counts.met, counts.unmet),
                (0, 0),
                "width {width}, {threads} threads"
            );
        }
    }
}

/// Codes that are nearly all non-zero but start with a zero code: the first sample sends them
/// on to dense blocks where those read (`pdep` fast), on one thread and, on a pool,
/// on the calling thread (the pool's parse cannot split codes of one length); the chains
/// never run. One zero in 1,000 codes, and none.
#[test]
fn nearly_all_non_zero_codes_after_a_zero_go_by_dense_blocks() {
    for &threads in POOLS {
        for width in [5u32, 9, 12, 14, 15] {
            for zero in [0u64, 1] {
                let mut c = stretches(700_000, width, 700_000, &[zero], u64::from(width));
                c[0] = 0;
                let (done, counts) = check(&c, width, u16::MAX >> 1, 5, threads);
                assert!(done > c.len() - 100, "width {width}");
                let dense = u64::from(super::super::fast_pext());
                assert_eq!(
                    (counts.met, counts.to_dense.min(1), counts.from_dense),
                    (0, dense, 0),
                    "width {width}, {zero}‰ zero, {threads} threads: {counts:?}"
                );
            }
        }
    }
}

/// Dense codes (64 non-zero codes first: dense blocks from the start) that turn mixed half
/// way: a sample of the dense read finds enough zero codes and sends the rest to the chains,
/// which run; then nearly all non-zero again, back to dense blocks (a round of stretches on a
/// pool of two holds about 2.5·10⁵ codes, so the stretches are longer there).
#[test]
fn dense_codes_that_turn_mixed_go_back_to_the_chains() {
    for &threads in POOLS {
        let run = if threads == 0 { 300_000 } else { 800_000 };
        for width in [6u32, 12] {
            let mut c = stretches(3 * run, width, run, &[1, 500, 0], u64::from(width));
            c[..64].fill(1);
            let (done, counts) = check(&c, width, u16::MAX >> 1, 0, threads);
            assert!(done > c.len() - 100, "width {width}");
            if super::super::fast_pext() {
                assert!(
                    counts.from_dense >= 1 && counts.met >= 1 && counts.to_dense >= 1,
                    "width {width}, {threads} threads: {counts:?}"
                );
            }
        }
    }
}

/// A walk that would write at or past its end (in place, the next chain's codes) stops
/// unmet: it writes nothing there and leaves the position where it stopped.
#[test]
fn walks_stop_before_the_codes_they_would_overwrite() {
    let c = codes(4_000, 12, 128, u16::MAX, 0, 7);
    let (bytes, starts) = stream(0, 12, &c);
    let mut table = Scratch::default();
    table.fill_table::<12>(u16::MAX >> 1);
    let src = Source {
        bytes: &bytes,
        table: &table.table,
        region: region_bits(12),
    };
    // Group ends far ahead: only the end stops the walk.
    let own = [u32::try_from(starts[3_000]).unwrap()];
    for end in [0usize, 1, 100] {
        let (mut x, mut i, mut top) = (0u64, 0usize, 0u16);
        let mut out = vec![i16::MAX; 200];
        assert_eq!(
            walk::<12>(src, &mut x, 0, &own, &mut out, &mut i, end, &mut top),
            None
        );
        assert_eq!((i, x), (end, starts[end]), "end {end}");
        assert!(out[..end] == c[..end] && out[end..].iter().all(|&v| v == i16::MAX));
    }
}

/// Chains that do not meet (walks cut to one code here): the one chain reads the codes
/// exactly, and waits twice as many samples after each miss before it tries the chains again,
/// so 600,000 codes (36 samples) see at most 6 misses (after 0, 1, 2, 4, 8 and 16 samples'
/// waits), against 18 without the wait.
#[test]
fn chains_that_miss_each_other_are_tried_less_and_less() {
    for width in [6u32, 12, 15] {
        let mut c = codes(600_000, width, 128, u16::MAX, 0, u64::from(width));
        c[0] = 0;
        WALK_LIMIT.with(|w| w.set(1));
        let (done, counts) = check(&c, width, u16::MAX >> 1, 0, 0);
        WALK_LIMIT.with(|w| w.set(ROOM / 2));
        assert!(done > c.len() - 100, "width {width}");
        assert!((2..=6).contains(&counts.unmet), "width {width}: {counts:?}");
    }
}

/// A whole QSGD message of mixed codes decodes to itself on pools of 1–3 threads (on a
/// pool, mixed codes are read on the calling thread, by chains) and outside any pool.
#[cfg(feature = "parallel")]
#[test]
fn mixed_messages_decode_alike_on_any_pool() {
    use crate::Message;
    use crate::message::Levels;
    for (width, s) in [(12u32, 4095u16), (15, 32_767)] {
        let c = codes(
            super::super::WIRE_PARALLEL_MIN + 112_345,
            width,
            90,
            s,
            0,
            9,
        );
        let m = Message::Quantized {
            norm: 1.5f32,
            levels: Levels::Uniform { s },
            codes: c.clone(),
        };
        let bytes = m.to_bytes();
        let back = Message::<f32>::decode(&bytes, c.len()).expect("decodes");
        assert!(back == m, "width {width}, no pool");
        for threads in 1..=3 {
            let pool = super::super::test_pool(threads);
            let back = pool.install(|| Message::<f32>::decode(&bytes, c.len()));
            assert!(
                back.expect("decodes") == m,
                "width {width}, {threads} threads"
            );
        }
    }
}

/// Below the width or length where the chains are tried, no superblock runs.
#[test]
fn short_or_narrow_codes_stay_on_one_chain() {
    let c = codes(CHAINS_MIN - 1, 12, 128, u16::MAX, 0, 5);
    assert_eq!(check(&c, 12, 4095, 0, 0).1.met, 0);
    let c = codes(CHAINS_MIN + 50_000, 4, 128, u16::MAX, 0, 5);
    assert_eq!(check(&c, 4, 15, 0, 0).1.met, 0);
}
