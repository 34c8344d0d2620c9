//! The chunked (multi-thread) forms of the bit packers, a child module of [`crate::bits`]
//! (it uses the writer's and reader's private state): [`BitWriter::write_chunked`] and
//! [`BitReader::read_chunked`]. Below [`super::WIRE_PARALLEL_MIN`] entries, or outside a rayon
//! pool of more than one thread, both are exactly the sequential calls. Above, they allocate a
//! few vectors of one entry per [`super::WIRE_CHUNK`], and a writer allocates its chunk
//! writers the first time (it keeps them); the allocation-free round tests run far below.

use super::{BitReader, BitWriter};
#[cfg(feature = "parallel")]
use super::{WIRE_CHUNK, wire_parallel};
#[cfg(feature = "parallel")]
use core::mem::MaybeUninit;

impl BitWriter {
    /// `kernel(w, items)` — a packer whose bits for `items` do not depend on what was written
    /// before them — on the calling rayon pool when
    /// [`wire_parallel`](super::wire_parallel)`(items.len())`: the same bytes for any thread
    /// count. Returns the OR of the kernel's flags.
    ///
    /// The items are cut into [`WIRE_CHUNK`](super::WIRE_CHUNK)-sized chunks. The first
    /// $\lfloor C/T\rfloor$ of the $C$ chunks ($T$ threads in the pool), the *head*, are packed
    /// by the calling thread straight into this writer, where they start at a known place;
    /// meanwhile the pool packs each of the other chunks into a writer of its own (kept in
    /// this writer between calls, so a reused writer allocates them once). A prefix sum of
    /// their lengths then gives chunk $c$ its bit range $[b_c, b_c + \ell_c)$; in a second
    /// parallel pass each chunk's bits go, shifted by $b_c \bmod 8$, into the whole bytes
    /// $\lfloor b_c/8\rfloor \ldots \lfloor (b_c+\ell_c)/8\rfloor - 1$ (low $b_c \bmod 8$
    /// bits of the first left zero), and its last partial byte is OR-ed into the shared
    /// boundary byte afterwards, in chunk order. Only the chunks after the head are copied a
    /// second time (on two threads, half of them).
    pub(crate) fn write_chunked<T: Sync>(
        &mut self,
        items: &[T],
        kernel: impl Fn(&mut BitWriter, &[T]) -> bool + Sync,
    ) -> bool {
        self.write_chunked_with(items, |_| (), |_, w, items| kernel(w, items))
    }

    /// [`BitWriter::write_chunked`] with a state that runs along the chunks: `start(c)` makes
    /// it for a run of chunks that begins at chunk `c` (of
    /// [`WIRE_CHUNK`](super::WIRE_CHUNK) items; `0` for the whole slice on the sequential
    /// path), and `kernel(state, w, chunk)` packs a chunk, leaving the state as the next
    /// chunk on the same thread continues from. For a packer whose input is made as it packs
    /// from a random generator that would be costly to jump to every chunk.
    pub(crate) fn write_chunked_with<T: Sync, St: Send>(
        &mut self,
        items: &[T],
        start: impl Fn(usize) -> St + Sync,
        kernel: impl Fn(&mut St, &mut BitWriter, &[T]) -> bool + Sync,
    ) -> bool {
        #[cfg(feature = "parallel")]
        if wire_parallel(items.len()) {
            return self.write_par(items, &start, &kernel);
        }
        kernel(&mut start(0), self, items)
    }

    #[cfg(feature = "parallel")]
    fn write_par<T: Sync, St: Send>(
        &mut self,
        items: &[T],
        start: &(impl Fn(usize) -> St + Sync),
        kernel: &(impl Fn(&mut St, &mut BitWriter, &[T]) -> bool + Sync),
    ) -> bool {
        use rayon::prelude::*;
        let chunks = items.len().div_ceil(WIRE_CHUNK);
        let head_chunks = chunks / rayon::current_num_threads();
        let (head, rest) = items.split_at(head_chunks * WIRE_CHUNK);
        let need = chunks - head_chunks;
        let mut kept = std::mem::take(&mut self.parts);
        // Grown only: a writer used from pools of different sizes keeps its chunk writers.
        if kept.len() < need {
            kept.resize_with(need, BitWriter::default);
        }
        let parts = &mut kept[..need];
        let mut packed = vec![(0u64, false); need];
        let head_flag = rayon::join(
            || !head.is_empty() && kernel(&mut start(0), self, head),
            || {
                // Each thread walks a contiguous run of chunks and carries the state from
                // one to the next (rayon's fold over an indexed iterator).
                parts
                    .par_iter_mut()
                    .zip(rest.par_chunks(WIRE_CHUNK))
                    .zip(packed.par_iter_mut())
                    .enumerate()
                    .fold(
                        || None::<(usize, St)>,
                        |cur, (i, ((w, chunk), out))| {
                            let c = head_chunks + i;
                            let mut st = match cur {
                                Some((next, st)) if next == c => st,
                                _ => start(c),
                            };
                            w.clear();
                            let flag = kernel(&mut st, w, chunk);
                            *out = (w.bits, flag);
                            w.finish();
                            Some((c + 1, st))
                        },
                    )
                    .for_each(drop);
            },
        )
        .0;
        // Whole bytes of the accumulator go to the buffer; < 8 bits stay as the head byte.
        let nb = (self.pending / 8) as usize;
        self.buf.extend_from_slice(&self.acc.to_le_bytes()[..nb]);
        let head_byte = self.buf.len();
        let head = self.acc >> (8 * nb);
        let base = head_byte as u64 * 8 + (self.pending % 8) as u64;
        let mut end = base;
        let starts: Vec<u64> = packed
            .iter()
            .map(|&(len, _)| {
                end += len;
                end - len
            })
            .collect();
        let end_byte = (end / 8) as usize;
        self.buf.reserve(end_byte - head_byte);
        let ends = starts
            .iter()
            .zip(&packed)
            .map(|(&s, &(len, _))| ((s + len) / 8) as usize);
        // The regions tile the bytes `head_byte..end_byte`, and `splice` writes every byte of
        // its region: no zero-fill pass first.
        let mut regions = Vec::with_capacity(parts.len());
        let mut rest = &mut self.buf.spare_capacity_mut()[..end_byte - head_byte];
        let mut at = head_byte;
        for e in ends.clone() {
            let (region, tail) = std::mem::take(&mut rest).split_at_mut(e - at);
            regions.push(region);
            rest = tail;
            at = e;
        }
        let tails: Vec<u64> = parts
            .par_iter()
            .zip(regions)
            .zip(&starts)
            .map(|((part, dst), &s)| splice(dst, &part.buf, (s % 8) as u32))
            .collect();
        // SAFETY: the regions, which `splice` wrote in full, tile the spare capacity up to
        // `end_byte`.
        unsafe { self.buf.set_len(end_byte) };
        let mut acc = 0u64;
        for (idx, v) in std::iter::once((head_byte, head)).chain(ends.zip(tails)) {
            match self.buf.get_mut(idx) {
                Some(b) => *b |= v as u8,
                None => acc |= v,
            }
        }
        self.acc = acc;
        self.pending = (end % 8) as u32;
        self.bits += end - base;
        self.parts = kept;
        head_flag || packed.iter().any(|&(_, flag)| flag)
    }
}

#[cfg(feature = "parallel")]
impl BitWriter {
    /// `regions` runs of exactly `region_bytes · 8` bits, on the calling rayon pool, each
    /// written straight to its place in the buffer (its offset is known): `kernel(c, dst, s)`
    /// writes every byte of `dst` with region `c`'s bits shifted up by `s < 8` (the low `s`
    /// bits of `dst[0]` zero) and returns its last `s` bits (the carry into the next region's
    /// first byte) and a flag. Returns the OR of the flags. For fixed-width fields, where the
    /// chunks of [`BitWriter::write_chunked`] would be copied once more for nothing.
    pub(crate) fn write_regions(
        &mut self,
        regions: usize,
        region_bytes: usize,
        kernel: impl Fn(usize, &mut [MaybeUninit<u8>], u32) -> (u64, bool) + Sync,
    ) -> bool {
        use rayon::prelude::*;
        let total = regions * region_bytes;
        let (start, s) = self.open_region(total);
        let spare = &mut self.buf.spare_capacity_mut()[..total];
        let written: Vec<(u64, bool)> = spare
            .par_chunks_mut(region_bytes.max(1))
            .enumerate()
            .map(|(c, dst)| kernel(c, dst, s))
            .collect();
        let last = written.last().map_or(0, |&(carry, _)| carry);
        // SAFETY: the kernels wrote every byte of the regions, which tile the spare capacity
        // up to `start + total`.
        unsafe { self.close_region(start, total, last) };
        // Each region's carry into the next one's first byte (the pending bits went into the
        // first region's on closing).
        for (c, pair) in written.windows(2).enumerate() {
            if let Some(b) = self.buf.get_mut(start + (c + 1) * region_bytes) {
                *b |= pair[0].0 as u8;
            }
        }
        written.iter().any(|&(_, flag)| flag)
    }
}

/// Write every byte of `dst` with the bytes of `src` (a bit string padded with zeros to whole
/// bytes, `dst.len() ≤ src.len()`) shifted up by `s < 8` bits, the low `s` bits of `dst[0]`
/// zero; returns the shifted string's next byte (the bits past `dst`, to be OR-ed in).
#[cfg(feature = "parallel")]
fn splice(dst: &mut [MaybeUninit<u8>], src: &[u8], s: u32) -> u64 {
    debug_assert!(s < 8 && dst.len() <= src.len());
    let n = dst.len();
    if s == 0 {
        for (d, &b) in dst.iter_mut().zip(src) {
            d.write(b);
        }
    } else {
        // Eight bytes at a time: each word shifted up, the previous word's top bits in.
        let mut prev = 0u64;
        for (d, w) in dst.chunks_exact_mut(8).zip(src.chunks_exact(8)) {
            let v = u64::from_le_bytes(w.try_into().expect("eight bytes"));
            let out = (v << s | prev >> (64 - s)).to_le_bytes();
            // SAFETY: `d` is eight bytes (one store; writing them initialises them).
            unsafe { d.as_mut_ptr().cast::<[u8; 8]>().write_unaligned(out) };
            prev = v;
        }
        for k in n / 8 * 8..n {
            let low = if k == 0 { 0 } else { src[k - 1] >> (8 - s) };
            dst[k].write(src[k] << s | low);
        }
    }
    let last = if n == 0 { 0 } else { u64::from(src[n - 1]) };
    let next = u64::from(src.get(n).copied().unwrap_or(0));
    (next << s | last >> (8 - s)) & 0xff
}

impl BitReader<'_> {
    /// `out.len()` fields of exactly `len ≤ 64` bits each, `(item, bad) = field(bits)` with
    /// the field's bits in the low `len` bits (zero above); on the calling rayon pool when
    /// [`wire_parallel`](super::wire_parallel)`(out.len())`, each [`WIRE_CHUNK`](super::WIRE_CHUNK) of entries at its known offset.
    ///
    /// Returns `true` if any entry was flagged `bad` or the input ended early; the position
    /// and `out` are then unspecified, and the caller re-reads from a saved reader entry by
    /// entry to report the first error exactly.
    pub(crate) fn read_fixed<T: Send>(
        &mut self,
        out: &mut [T],
        len: u32,
        field: impl Fn(u64) -> (T, bool) + Sync,
    ) -> bool {
        debug_assert!((1..=64).contains(&len));
        self.read_chunked(out, len, |r, o| r.read_fixed_run(o, len, &field))
    }

    /// `kernel(r, out)` — a reader of `out.len()` fields of exactly `len` bits, `true` if an
    /// entry was bad or the input ended early — on the calling rayon pool when
    /// [`wire_parallel`](super::wire_parallel)`(out.len())`, each
    /// [`WIRE_CHUNK`](super::WIRE_CHUNK) of entries from its known offset. Returns the OR of
    /// the flags; the position is then past all the fields (or at the end of the input).
    pub(crate) fn read_chunked<T: Send>(
        &mut self,
        out: &mut [T],
        len: u32,
        kernel: impl Fn(&mut Self, &mut [T]) -> bool + Sync,
    ) -> bool {
        #[cfg(feature = "parallel")]
        if wire_parallel(out.len()) {
            use rayon::prelude::*;
            let p0 = self.pos;
            let this = &*self;
            let bad = out
                .par_chunks_mut(WIRE_CHUNK)
                .enumerate()
                .map(|(c, o)| {
                    let mut r = this.clone();
                    r.pos = p0 + (c * WIRE_CHUNK) as u64 * len as u64;
                    kernel(&mut r, o)
                })
                .reduce(|| false, |a, b| a | b);
            self.pos = (p0 + out.len() as u64 * len as u64).min(self.len);
            return bad;
        }
        let _ = len;
        kernel(self, out)
    }

    /// `kernel(r, out)` — a reader of entries of `len` bits or fewer, which returns how many
    /// it read and a flag — on the calling rayon pool, each [`WIRE_CHUNK`](super::WIRE_CHUNK)
    /// of entries read from the offset it has if every entry before it is exactly `len` bits
    /// (as when no quantisation code is zero: power rounding's messages). The guess holds iff
    /// each chunk but the last ends exactly where the next was guessed to start, which is
    /// checked after the parallel pass; then the result is the sequential one, with the flags
    /// OR-ed. `None`, with the position unchanged, if the guess does not hold or
    /// [`wire_parallel`](super::wire_parallel)`(out.len())` does not: the caller reads on its
    /// own thread.
    pub(crate) fn read_guessed<T: Send>(
        &mut self,
        out: &mut [T],
        len: u32,
        kernel: impl Fn(&mut Self, &mut [T]) -> (usize, bool) + Sync,
    ) -> Option<(usize, bool)> {
        #[cfg(feature = "parallel")]
        if wire_parallel(out.len()) {
            use rayon::prelude::*;
            let start = |c: usize| self.pos + (c * WIRE_CHUNK) as u64 * u64::from(len);
            let this = &*self;
            let chunks: Vec<(bool, bool, u64)> = out
                .par_chunks_mut(WIRE_CHUNK)
                .enumerate()
                .map(|(c, o)| {
                    let mut r = this.clone();
                    r.pos = start(c).min(r.len);
                    let (done, flag) = kernel(&mut r, o);
                    (done == o.len(), flag, r.pos)
                })
                .collect();
            let last = chunks.len() - 1;
            let guessed = chunks
                .iter()
                .enumerate()
                .all(|(c, &(whole, _, end))| whole && (c == last || end == start(c + 1)));
            if guessed {
                self.pos = chunks[last].2;
                return Some((out.len(), chunks.iter().any(|&(_, flag, _)| flag)));
            }
        }
        let _ = (out, len, kernel);
        None
    }

    fn read_fixed_run<T>(
        &mut self,
        out: &mut [T],
        len: u32,
        field: &impl Fn(u64) -> (T, bool),
    ) -> bool {
        let (done, mut bad) = if len <= 56 {
            let mask = (1u64 << len) - 1;
            self.read_fields(out, len, |b| {
                let (t, flag) = field(b & mask);
                (t, len, flag)
            })
        } else {
            (0, false)
        };
        for o in &mut out[done..] {
            match self.read(len) {
                Ok(b) => {
                    let (t, flag) = field(b);
                    bad |= flag;
                    *o = t;
                }
                Err(_) => return true,
            }
        }
        bad
    }
}
