//! Mixed sign-magnitude codes on several position chains at once, on one thread or a pool.
//!
//! Where code $j$ starts depends on every code before it (a zero level has no sign bit), so
//! the one-chain reader of [`BitReader::read_sign_magnitude`] is a serial chain: load, level
//! test, add, about six cycles a code. For codes with many zero *and* many non-zero levels
//! (QSGD with $s$ near $\sqrt d$ or above) neither of its shortcuts applies: zero runs are
//! short and groups of non-zero codes rare. Here a *superblock* of $K$ regions of
//! $R$ bits each is read on $K$ independent chains, interleaved so that the CPU overlaps them:
//! chain 0 from the known code start $p$, chain $c$ from the bit $p + cR$, which in general
//! is not a code start. Each chain writes its codes (looked up in a table of the
//! $2^{W+1}$ fields) to its own room, and the bit after each group it read; the rooms lie in
//! the output itself, one after the other, where it has space for them (all but the last
//! superblocks of a message), else in a scratch.
//!
//! Then, left to right, chain $c - 1$'s exact end $x$ (the first code start at or past
//! $p + cR$) is walked code by code until it lands on one of chain $c$'s group ends. A parse
//! is fixed by where it starts, so from a shared code start on the two parses are the same,
//! and chain $c$'s codes after that group are the true codes: they are moved (or copied from
//! the scratch) to their place. Chains meet quickly where codes differ in length at random:
//! about 40 codes at 12-bit levels with half the codes zero, about 200 at 15-bit levels with
//! one in 14 zero. Where they do not meet within half a region (codes of one length, or a run
//! the guess keeps misreading), the walk stops and the caller reads on with the one chain;
//! nothing read is guessed.
//!
//! On a pool (from $2^{19}$ codes, [`super::wire_parallel`]), thread $t$ reads a *stretch* of
//! a few superblocks from a guessed bit, merging its own chains the same way: the parse it
//! walks is a guessed one until it meets the true one, and from there on it is the true one.
//! Thread 0's stretch starts at the known code start and goes straight into `out`; the others'
//! go to scratch. Then the true parse is walked from each stretch's end to a group end of the
//! next stretch's first chain, which places that stretch's codes, and the threads copy them
//! into `out`. The largest level is taken over the codes placed, never over codes read before
//! a meeting.
//!
//! Superblocks go on while the last one's codes had at least one non-zero code in
//! [`MIXED_SHARE`]; sparser codes are faster through the one chain's zero runs.

use super::BitReader;
use super::sign_magnitude::level_starts;
use std::cell::RefCell;

/// Chains read at once ($K$). One thread, 10⁷ codes (Intel Xeon VM, AVX-512, best of 15):
/// 12-bit levels, half zero, K = 3: 9.9 ms, K = 4: 9.9, K = 5: 11.6, K = 6: 12.8 (one chain:
/// 23.2); 15-bit levels, 1 in 14 zero: 12.1, 11.9, 14.6, 16.7 (one chain: 27.0). More chains
/// than registers for their state spill it.
const CHAINS: usize = 4;

/// Codes of room in each chain's scratch; a region is about this many codes.
const ROOM: usize = 8192;

/// Group ends of room per chain: groups hold at least 3 codes (`56 / (W + 1)`, W ≤ 15).
const ENDS: usize = ROOM / 3 + 2;

/// Fewest codes for which [`BitReader::read_sign_magnitude`] samples the density and may
/// read by chains: a few superblocks.
pub(super) const CHAINS_MIN: usize = 1 << 17;

/// Codes the one chain reads before the density is sampled again, after a superblock found
/// the codes too sparse or the chains did not meet.
pub(super) const SAMPLE: usize = 1 << 14;

/// Chains read on while at least one code in this many is non-zero. Where the one chain's zero
/// runs win, 10⁷ codes, one thread, one chain against chains: 10-bit levels, 12 % non-zero,
/// 17.4 against 10.7 ms; 6 %, 11.8 against 10.8; 8-bit, 3.6 % (QSGD s = 255's density), 6.7
/// against 10.0; 12-bit, 3.3 %, 8.1 against 10.3.
pub(super) const MIXED_SHARE: u64 = 16;

/// Where dense blocks do not read the codes (`pdep` slow; else see [`DENSE_ZERO_SHARE`]), the
/// chains are tried only if at least one code in this many is zero too. Nearly all non-zero
/// codes are about one length, so a guessed chain seldom meets the true parse, and the one
/// chain reads them fast (groups of non-zero codes at constant offsets). Review of the twenty-sixth session, 4·10⁶ codes that start with a zero code, the
/// chains against the one chain: 12-bit levels, none zero, 8.4 against 5.8 ms; 8-bit, 1 in 200
/// zero, 5.0 against 3.8 ms; from 1 in 50 zero on, the chains won by 1.4–2.7×.
pub(super) const ZERO_SHARE: u64 = 64;

/// Where dense blocks can read the codes (`pdep` is fast), they do where fewer than one code
/// in this many is zero, and the chains where more are ([`ZERO_SHARE`] without dense blocks):
/// blocks of 64 non-zero codes at constant offsets, a failed block (one with a zero) followed
/// by eight groups on the one chain. 10⁷ codes of 12-bit levels, one thread / two (Intel Xeon VM): dense blocks 3.0 /
/// 3.0 ms with no zero, 7.0 with 0.3 %, 10.1–10.3 with 0.6 %, 13.6–14.1 with 1 %, 17 with
/// 1.5 %; the chains 13.6 / 10.4 ms with 0.6 %, 11.1 / 8.4 with 1 %, 10.9 / 7.5 with 1.5 %.
/// On a pool the calling thread reads such codes by dense blocks too
/// ([`BitReader::read_prefixed`]): the pool's parse cannot split them (a guessed start does not
/// meet the true parse among codes of one length), and took 6.7–7.2 ms with no zero.
pub(super) const DENSE_ZERO_SHARE: u64 = 128;

/// Most samples the one chain reads before the chains are tried again after they did not
/// meet: the wait doubles each time, from one sample.
const MAX_BACKOFF: usize = 64;

/// Fewest level bits for the chains. Narrower mixed codes are short messages (s < 32, so
/// d ≲ s² for non-zero codes to be common); the one chain reads them.
pub(super) const CHAINS_MIN_WIDTH: u32 = 5;

/// Why [`BitReader::read_chains`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ChainsStop {
    /// No further superblock fits in the input or in `out`: read the rest with the one chain.
    Room,
    /// The codes are too sparse: read a sample with the one chain, then try again.
    Sparse,
    /// Chains did not meet: read samples with the one chain, more of them after each time
    /// this happens, then try again.
    Unmet,
    /// Too few zero codes for the chains to beat dense blocks: read on by dense blocks.
    Dense,
}

/// Scratch reused by every call on this thread, grown (never shrunk) to the largest pool it
/// read for, so that a thread allocates only on its first decode of a width (the table) or
/// pool size: per thread, its chains' codes and group ends; per thread but the first, the
/// codes of its stretch and the group ends of the stretch's first chain; per thread, what its
/// stretch read, and where its codes go.
#[derive(Default)]
struct Scratch {
    codes: Vec<i16>,
    ends: Vec<u32>,
    seq: Vec<i16>,
    first: Vec<u32>,
    tips: Vec<Stretch>,
    place: Vec<(usize, usize, usize)>,
    table: Vec<i16>,
    /// The level width and `s` of `table`.
    table_for: Option<(u32, u16)>,
}

impl Scratch {
    /// Room for `threads` threads, each reading `superblocks` superblocks.
    fn fit(&mut self, threads: usize, superblocks: usize) {
        let seq = (threads - 1) * superblocks * CHAINS * ROOM;
        if self.tips.len() < threads || self.seq.len() < seq {
            self.codes.resize(threads * CHAINS * ROOM, 0);
            self.ends.resize(threads * CHAINS * ENDS, 0);
            self.seq.resize(seq, 0);
            self.first.resize(threads * ENDS, 0);
            self.tips.resize(threads, Stretch::default());
            self.place.resize(threads, (0, 0, 0));
        }
    }

    /// The code of each `W + 1`-bit field (level, then the sign bit or the next field's first
    /// bit, which only matters when the level is non-zero), `i16::MIN` for a level above `s`
    /// (never a code: `|c| < 2^15`); built again only for another width or `s`.
    fn fill_table<const W: u32>(&mut self, s: u16) {
        if self.table_for == Some((W, s)) {
            return;
        }
        self.table_for = Some((W, s));
        let mask = (1usize << W) - 1;
        self.table.resize(table_len(W), 0);
        for (sm, t) in self.table.iter_mut().enumerate() {
            let mag = (sm & mask) as i16;
            *t = if mag as u16 > s {
                i16::MIN
            } else if (sm >> W) & 1 == 1 {
                -mag
            } else {
                mag
            };
        }
    }
}

/// Codes in the table for `W`-bit levels: `2^(W + 1)`. A lookup takes fewer steps than the
/// sign arithmetic, and the chains are bound by their steps, not by the lookup's latency,
/// which is off the position chain: 10⁷ codes, one thread, 12-bit levels (QSGD s = 4095's),
/// 9.9 → 8.4–8.8 ms (16 KiB table); 15-bit levels, 1 in 14 zero, 12.3–14.2 → 10.1–10.3 ms
/// (128 KiB, from L2).
const fn table_len(w: u32) -> usize {
    1 << (w + 1)
}

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

/// What every chain reads: the input, the table of codes by field, and the bits per region.
#[derive(Clone, Copy)]
struct Source<'a> {
    bytes: &'a [u8],
    table: &'a [i16],
    region: u64,
}

/// What [`read_stretch`] read: its codes, the bit after them, their largest level, whether
/// every chain met (else it stopped at the first that did not), and the group ends of its
/// first chain.
#[derive(Clone, Copy, Debug, Default)]
struct Stretch {
    codes: usize,
    end: u64,
    top: u16,
    whole: bool,
    first_groups: usize,
}

/// Superblocks each thread reads per stretch on a pool: a few, so that the threads meet
/// about 40 times for 10⁷ codes.
#[cfg(feature = "parallel")]
const STRETCH_SUPERBLOCKS: usize = 4;

/// Most threads that read stretches at once. The calling thread's scratch holds the stretches
/// of the others (256 KiB each), and any thread of a pool may be the calling one, so each keeps
/// up to 1.8 MiB of them after its first decode on a pool.
#[cfg(feature = "parallel")]
const MAX_THREADS: usize = 8;

/// Codes per task when the threads copy their stretches to `out`.
#[cfg(feature = "parallel")]
const COPY_CHUNK: usize = 1 << 14;

/// Bits per region for `W`-bit levels: a region's codes, and the group that overruns it, fit
/// in [`ROOM`] (a code has at least W bits).
const fn region_bits(w: u32) -> u64 {
    (ROOM - 64 - LEAD) as u64 * w as u64
}

/// Codes' worth of bits (`LEAD·W`) each chain but a stretch's first starts before its region,
/// so that it has most often met the true parse by the time the chain before it ends there,
/// and the serial walk to a group end of it is short. 10⁷ codes of 15-bit levels (QSGD
/// s = 32767's), two threads, two alternated probes: 7.7–8.5 ms without, 6.7 ms with 192
/// codes; one thread and 12-bit levels within the noise (128, 256 and 512 tried too).
const LEAD: usize = 192;

/// The 8 bytes at byte `at` as a little-endian word; the caller keeps `at + 8` inside.
#[inline(always)]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(a)
}

impl BitReader<'_> {
    /// `W`-bit sign-magnitude codes into a prefix of `out`, in groups of `group`: samples of
    /// [`SAMPLE`] codes through `chain` (the one-chain reader: codes read, a level above `s`
    /// seen), and superblocks by [`BitReader::read_chains`] while the last sample or
    /// superblock had at least one non-zero code in [`MIXED_SHARE`]. Returns the codes read,
    /// whether a level above `s` was seen, and whether it stopped because, where `dense`, a
    /// sample or a round of superblocks had too few zero codes for the chains (fewer than one
    /// in [`DENSE_ZERO_SHARE`]): the caller reads on by dense blocks, faster there than the
    /// chains or the one chain. It stops early too where the one chain stops (near the end of
    /// the input) or no superblock fits, and the caller reads the rest.
    #[inline(always)]
    pub(super) fn read_mixed<const W: u32>(
        &mut self,
        out: &mut [i16],
        s: u16,
        group: usize,
        chain: &impl Fn(&mut Self, &mut [i16]) -> (usize, bool),
        dense: bool,
    ) -> (usize, bool, bool) {
        let sample = SAMPLE / group * group;
        let (mut i, mut bad) = (0, false);
        // Samples left before the chains are tried again, and how many to wait after the next
        // time chains do not meet.
        let (mut wait, mut backoff) = (0usize, 1usize);
        while out.len() - i >= sample {
            let start = self.pos;
            let (d, b) = chain(self, &mut out[i..i + sample]);
            (i, bad) = (i + d, bad | b);
            if d < sample {
                break;
            }
            let n = sample as u64;
            let nonzero = (self.pos - start).saturating_sub(n * u64::from(W));
            // With dense blocks to read on, the chains take the codes with enough zero codes
            // for them to beat dense blocks, and dense blocks the rest.
            let share = if dense { DENSE_ZERO_SHARE } else { ZERO_SHARE };
            let zero = n - nonzero.min(n);
            if dense && zero * share < n {
                return (i, bad, to_dense());
            }
            if wait > 0 || nonzero * MIXED_SHARE < n || zero * share < n {
                wait = wait.saturating_sub(1);
                continue;
            }
            let (d, b, stop) = self.read_chains::<W>(&mut out[i..], s, dense);
            (i, bad) = (i + d, bad | b);
            match stop {
                // On a pool, a round of stretches that no longer fits leaves up to 2.5·10⁵
                // codes (two threads): after a sample, superblocks on this thread read them
                // (`out` is then too short for the pool), not the one chain.
                ChainsStop::Room if d > 0 => {}
                ChainsStop::Room => break,
                ChainsStop::Dense => return (i, bad, to_dense()),
                ChainsStop::Sparse => backoff = 1,
                ChainsStop::Unmet => {
                    // A superblock met before this one did not: not a pattern, start over.
                    if d > 2 * sample {
                        backoff = 1;
                    }
                    wait = backoff;
                    backoff = (2 * backoff).min(MAX_BACKOFF);
                }
            }
        }
        (i, bad, false)
    }

    /// Superblocks of `W`-bit sign-magnitude codes into a prefix of `out` (module docs):
    /// (codes read, a level above `s` among them, why it stopped). The position is after the
    /// codes read. Reads nothing if the scratch is in use (a nested call) or gone (thread
    /// exit).
    #[inline(always)]
    pub(super) fn read_chains<const W: u32>(
        &mut self,
        out: &mut [i16],
        s: u16,
        dense: bool,
    ) -> (usize, bool, ChainsStop) {
        SCRATCH
            .try_with(|cell| {
                let Ok(mut slot) = cell.try_borrow_mut() else {
                    return (0, false, ChainsStop::Room);
                };
                let scratch = slot.get_or_insert_with(Scratch::default);
                self.read_chains_with::<W>(out, s, dense, scratch)
            })
            .unwrap_or((0, false, ChainsStop::Room))
    }

    #[inline(always)]
    fn read_chains_with<const W: u32>(
        &mut self,
        out: &mut [i16],
        s: u16,
        dense: bool,
        scratch: &mut Scratch,
    ) -> (usize, bool, ChainsStop) {
        // On a pool, each thread reads a stretch of a few superblocks.
        #[cfg(feature = "parallel")]
        let (threads, per) = if super::wire_parallel(out.len()) {
            let threads = rayon::current_num_threads().min(MAX_THREADS);
            (threads, STRETCH_SUPERBLOCKS)
        } else {
            (1, 1)
        };
        #[cfg(not(feature = "parallel"))]
        let (threads, per) = (1, 1);
        scratch.fit(threads, per);
        scratch.fill_table::<W>(s);
        let group = (56 / (W + 1)) as usize;
        let region = region_bits(W);
        let stretch = (per * CHAINS) as u64 * region;
        let span = threads as u64 * stretch;
        let bytes = self.bytes;
        // The most codes the stretches can hold: the last chain overruns its region by less
        // than a group (56 bits), and every code has at least W bits.
        let most = ((span + 64) / u64::from(W)) as usize;
        let room = per * CHAINS * ROOM;
        let mut i = 0;
        let mut top = 0u16;
        let stop = loop {
            // The stretches, the last group's overrun and the 8-byte loads inside the input;
            // their codes inside `out`.
            let base = self.pos;
            if base + span + 192 > self.len || out.len() - i < most {
                break ChainsStop::Room;
            }
            let first_code = i;
            let Scratch {
                codes,
                ends,
                seq,
                first,
                tips,
                place,
                table,
                ..
            } = &mut *scratch;
            let src = Source {
                bytes,
                table: &table[..],
                region,
            };
            #[cfg(not(feature = "parallel"))]
            let _ = seq; // only later stretches use it, on a pool
            let fits = room.min(out.len() - i);
            let dst0 = &mut out[i..i + fits];
            if threads == 1 {
                tips[0] = read_stretch::<W>(src, base, per, dst0, codes, ends, first);
            } else {
                #[cfg(feature = "parallel")]
                {
                    use rayon::prelude::*;
                    rayon::iter::once(dst0)
                        .chain(seq[..(threads - 1) * room].par_chunks_mut(room))
                        .zip(codes.par_chunks_mut(CHAINS * ROOM))
                        .zip(ends.par_chunks_mut(CHAINS * ENDS))
                        .zip(first.par_chunks_mut(ENDS))
                        .zip(tips[..threads].par_iter_mut())
                        .enumerate()
                        .for_each(|(t, ((((dst, codes), ends), first), tip))| {
                            let from = base + t as u64 * stretch;
                            // In the copy with the CPU's features (`with_bmi2`): as plain
                            // code here, the two-thread decode of QSGD s = 4095 at d = 10⁷
                            // took 5.7–6.2 ms instead of 4.9–5.2.
                            *tip = super::with_bmi2(
                                #[inline(always)]
                                || read_stretch::<W>(src, from, per, dst, codes, ends, first),
                            );
                        });
                }
            }
            // The first stretch started at a code start: its codes are exact, and in place.
            let head = tips[0];
            top = top.max(head.top);
            i += head.codes;
            let mut x = head.end;
            let mut whole = head.whole;
            // Each later stretch: the exact parse walked from x to a group end of its first
            // chain, its codes after that group placed in `out`.
            let mut placed = 1;
            while whole && placed < threads {
                let t = placed;
                let from = base + t as u64 * stretch;
                let own = &first[t * ENDS..t * ENDS + tips[t].first_groups];
                let Some(k) = walk::<W>(src, &mut x, from, own, out, &mut i, out.len(), &mut top)
                else {
                    whole = false;
                    break;
                };
                let skip = (k + 1) * group;
                place[t] = (skip, i, tips[t].codes - skip);
                // (Not the stretch's own `top`: it counts codes before the meeting.)
                i += tips[t].codes - skip;
                x = tips[t].end;
                whole = tips[t].whole;
                placed += 1;
            }
            #[cfg(feature = "parallel")]
            if placed > 1 {
                top = top.max(copy_stretches(out, &seq[..], room, &place[1..placed]));
            }
            self.pos = x;
            if !whole {
                #[cfg(test)]
                UNMET.with(|m| m.set(m.get() + 1));
                break ChainsStop::Unmet;
            }
            #[cfg(test)]
            MET.with(|m| m.set(m.get() + 1));
            // Too sparse for the chains: fewer than one non-zero code in MIXED_SHARE; or, where
            // dense blocks read on, too few zero codes: fewer than one in DENSE_ZERO_SHARE.
            let read = (i - first_code) as u64;
            let nonzero = (x - base).saturating_sub(read * u64::from(W));
            if nonzero * MIXED_SHARE < read {
                #[cfg(test)]
                SPARSE.with(|m| m.set(m.get() + 1));
                break ChainsStop::Sparse;
            }
            // Not at 15-bit levels, where samples alone hand over: with this test compiled in,
            // the two-thread decode of QSGD s = 32767 (whose codes never meet it) took 8.4–8.6
            // against 6.3–7.0 ms in alternated bench rounds, from code layout alone.
            if W < 15 && dense && (read - nonzero.min(read)) * DENSE_ZERO_SHARE < read {
                break ChainsStop::Dense;
            }
        };
        (i, top > s, stop)
    }
}

/// `true`, counted in the tests: the mixed read sends the codes on to dense blocks.
#[inline(always)]
fn to_dense() -> bool {
    #[cfg(test)]
    TO_DENSE.with(|m| m.set(m.get() + 1));
    true
}

/// Copies each placed stretch `(skip, at, len)` — stretch t's codes `seq[(t − 1)·room + skip..]`,
/// `len` of them, to `out[at..]` — on the pool, a chunk of `out` per task; returns their
/// largest level.
#[cfg(feature = "parallel")]
fn copy_stretches(
    out: &mut [i16],
    seq: &[i16],
    room: usize,
    place: &[(usize, usize, usize)],
) -> u16 {
    use rayon::prelude::*;
    let (lo, hi) = (
        place[0].1,
        place[place.len() - 1].1 + place[place.len() - 1].2,
    );
    out[lo..hi]
        .par_chunks_mut(COPY_CHUNK)
        .enumerate()
        .map(|(k, chunk)| {
            let at = lo + k * COPY_CHUNK;
            let end = at + chunk.len();
            let mut top = 0u16;
            for (t, &(skip, dst, len)) in place.iter().enumerate() {
                let (a, b) = (dst.max(at), (dst + len).min(end));
                if a < b {
                    let src = &seq[t * room + skip + (a - dst)..][..b - a];
                    chunk[a - at..b - at].copy_from_slice(src);
                    top = largest_level(top, src);
                }
            }
            top
        })
        .max()
        .unwrap_or(0)
}

/// The largest of `top` and the levels of `codes` (`i16::MIN`, the table's mark of a level
/// above s, counts as 2^15: above any s).
#[inline(always)]
fn largest_level(top: u16, codes: &[i16]) -> u16 {
    codes.iter().fold(top, |m, &c| m.max(c.unsigned_abs()))
}

/// The exact parse walked code by code from bit `x` (codes to `out[*i..end]`, their largest
/// level into `top`) until it lands on one of the group ends `own` (bits from `from`); which
/// one, or `None` if it passes them all, walks half a region first or reaches `end`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn walk<const W: u32>(
    src: Source<'_>,
    x: &mut u64,
    from: u64,
    own: &[u32],
    out: &mut [i16],
    i: &mut usize,
    end: usize,
    top: &mut u16,
) -> Option<usize> {
    let table = &src.table[..table_len(W)];
    let mut t = 0;
    #[cfg(not(test))]
    let limit = ROOM / 2;
    #[cfg(test)]
    let limit = WALK_LIMIT.with(|w| w.get());
    for _ in 0..limit {
        let rel = *x - from;
        while t < own.len() && u64::from(own[t]) < rel {
            t += 1;
        }
        if t == own.len() {
            return None;
        }
        if u64::from(own[t]) == rel {
            return Some(t);
        }
        if *i >= end {
            return None;
        }
        let v = word_at(src.bytes, (*x / 8) as usize) >> (*x % 8);
        let code = table[(v as usize) & (table_len(W) - 1)];
        *top = largest_level(*top, &[code]);
        out[*i] = code;
        *i += 1;
        *x += u64::from(W) + u64::from(v & ((1 << W) - 1) != 0);
    }
    None
}

/// `superblocks` superblocks of [`CHAINS`] chains each from bit `from` (a code start or a
/// guess), merged in order into `dst`: the first chain's codes from its start, each later
/// chain's after the parse walked from the one before meets it (module docs). Group ends are
/// bits from `from`; the first chain's go to `first`.
///
/// Where `dst` has room for a superblock's codes at once (all but the last superblocks of a
/// message), its chains write them into `dst` itself, chain c at `c·ROOM` past the codes
/// before it (and [`GAP`] more after the stretch's first superblock, whose first chain is a
/// guess too), and each chain's codes after the meeting are moved down to their place. They
/// stay in cache, and the chains' stores overlap their reads, where a copy from `codes`
/// afterwards waited on every store. A walk then stops (unmet) before it reaches the chain's
/// own codes; that needs `64 + LEAD` more codes for each chain before it than its region
/// holds.
#[inline(always)]
fn read_stretch<const W: u32>(
    src: Source<'_>,
    from: u64,
    superblocks: usize,
    dst: &mut [i16],
    codes: &mut [i16],
    ends: &mut [u32],
    first: &mut [u32],
) -> Stretch {
    let group = (56 / (W + 1)) as usize;
    let mut out = Stretch::default();
    let mut x = from;
    for b in 0..superblocks {
        let start = from + (b * CHAINS) as u64 * src.region;
        // Where this superblock's chains write their codes: `dst` from `base`, or `codes`.
        let base = out.codes + if b > 0 { GAP } else { 0 };
        let in_place = dst.len() >= base + CHAINS * ROOM;
        #[cfg(test)]
        let in_place = in_place && !SCRATCH_ONLY.with(|m| m.get());
        #[cfg(test)]
        IN_PLACE.with(|m| m.set(m.get() + u64::from(in_place)));
        // The stretch's first chain starts at `from` itself: its ends are bits from there.
        let tips = if in_place {
            let room = &mut dst[base..base + CHAINS * ROOM];
            run_chains::<W>(src, from, start, b > 0, room, ends)
        } else {
            run_chains::<W>(src, from, start, b > 0, codes, ends)
        };
        for (c, &(end, n)) in tips.iter().enumerate() {
            let own = &ends[c * ENDS..c * ENDS + n / group];
            // Chain c's codes in place start at `at`: a walk must stay below them.
            let at = base + c * ROOM;
            let skip = if b == 0 && c == 0 {
                first[..own.len()].copy_from_slice(own);
                out.first_groups = own.len();
                0
            } else {
                let limit = if in_place { at } else { dst.len() };
                let (i, top) = (&mut out.codes, &mut out.top);
                let Some(k) = walk::<W>(src, &mut x, from, own, dst, i, limit, top) else {
                    out.end = x;
                    return out;
                };
                (k + 1) * group
            };
            let len = n - skip;
            if in_place {
                dst.copy_within(at + skip..at + n, out.codes);
            } else {
                dst[out.codes..out.codes + len].copy_from_slice(&codes[c * ROOM + skip..][..len]);
            }
            out.top = largest_level(out.top, &dst[out.codes..out.codes + len]);
            out.codes += len;
            x = end;
        }
    }
    out.end = x;
    out.whole = true;
    out
}

/// Codes of room for the walk to a later superblock's first chain, where the chains write
/// their codes in place ([`read_stretch`]): as many as a walk may take. With `64 + LEAD`
/// codes, walks of 15-bit codes (about 200 codes to meet) ran out of room: the two-thread
/// decode of QSGD s = 32767 took 8.3–8.9 ms instead of 6.2.
const GAP: usize = ROOM / 2;

/// [`CHAINS`] chains of `W`-bit codes, chain c from [`LEAD`] codes' bits before
/// `start + c·region` (chain 0 from `start` itself unless `lead_first`) to the first group
/// end at or past `start + (c + 1)·region`, interleaved while all are inside their regions:
/// chain c's codes to `codes[c·ROOM..]` and its group ends (bits from `from`) to
/// `ends[c·ENDS..]`. Returns each chain's (end, codes).
#[inline(always)]
fn run_chains<const W: u32>(
    src: Source<'_>,
    from: u64,
    start: u64,
    lead_first: bool,
    codes: &mut [i16],
    ends: &mut [u32],
) -> [(u64, usize); CHAINS] {
    let group = (56 / (W + 1)) as usize;
    let sm_mask = (1u64 << (W + 1)) - 1;
    let (bytes, region) = (src.bytes, src.region);
    // The table has exactly 2^(W + 1) codes: the index mask (a constant) drops its bounds test.
    let table = &src.table[..table_len(W)];
    let lim: [u64; CHAINS] = core::array::from_fn(|c| start + (c as u64 + 1) * region);
    let lead = LEAD as u64 * u64::from(W);
    let mut p: [u64; CHAINS] = core::array::from_fn(|c| {
        let own = lim[c] - region;
        if c > 0 || lead_first { own - lead } else { own }
    });
    // Group `k` of chain `c` from bit `x`: codes to its scratch, the group's end to its ends;
    // returns that end.
    let mut step = |c: usize, k: usize, x: u64| {
        let word = word_at(bytes, (x / 8) as usize) >> (x % 8);
        let z = level_starts::<W>(word);
        let at = c * ROOM + k * group;
        let mut used = 0u64;
        for o in &mut codes[at..at + group] {
            let v = word >> used;
            *o = table[(v & sm_mask) as usize & (table_len(W) - 1)];
            used += u64::from(W) + ((z >> used) & 1);
        }
        ends[c * ENDS + k] = (x + used - from) as u32;
        x + used
    };
    // Interleaved while every chain is inside its region (each has read `k` groups), then
    // each on its own.
    let mut k = 0;
    while (0..CHAINS).all(|c| p[c] < lim[c]) {
        for (c, x) in p.iter_mut().enumerate() {
            *x = step(c, k, *x);
        }
        k += 1;
    }
    let mut tips = [(0, 0); CHAINS];
    for (c, x) in p.iter_mut().enumerate() {
        let mut groups = k;
        while *x < lim[c] {
            *x = step(c, groups, *x);
            groups += 1;
        }
        tips[c] = (*x, groups * group);
    }
    tips
}

#[cfg(test)]
thread_local! {
    /// Superblocks whose chains all met, on this thread (for the tests: that the chains ran).
    static MET: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
    /// Superblocks that found the codes too sparse, on this thread.
    static SPARSE: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
    /// Codes a walk takes before it gives up, on this thread (a test sets it low to make
    /// chains miss each other).
    static WALK_LIMIT: core::cell::Cell<usize> = const { core::cell::Cell::new(ROOM / 2) };
    /// Walks that gave up before meeting the next chain, on this thread.
    static UNMET: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
    /// Samples of the mixed read that sent the codes on to dense blocks, on this thread.
    static TO_DENSE: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
    /// Samples of the dense read that sent the codes back to the mixed read, on this thread.
    pub(super) static FROM_DENSE: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
    /// Superblocks whose chains wrote their codes in place, on this thread.
    static IN_PLACE: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
    /// Whether the chains write their codes to the scratch always, on this thread (a test
    /// sets it to read by the path of a message's last superblocks everywhere).
    static SCRATCH_ONLY: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

#[cfg(test)]
#[path = "sign_magnitude_chains_tests.rs"]
mod tests;
