//! The chunked (multi-thread) forms of the bit packers, a child module of [`crate::bits`]
//! (it uses the writer's and reader's private state): [`BitWriter::write_fields_chunked`] and
//! [`BitReader::read_fixed`]. Below [`super::WIRE_PARALLEL_MIN`] entries, or outside a rayon pool of
//! more than one thread, both are exactly the sequential calls. Above, they allocate a few
//! vectors of one entry per [`super::WIRE_CHUNK`] (the allocation-free round tests run far below).

use super::{BitReader, BitWriter, GroupBits};
#[cfg(feature = "parallel")]
use super::{WIRE_CHUNK, wire_parallel};

impl BitWriter {
    /// [`BitWriter::write_fields`], on the calling rayon pool when
    /// [`wire_parallel`](super::wire_parallel)`(items.len())`: the same bytes for any thread count.
    ///
    /// `chunk_bits(c)` is the exact number of bits the fields of `c` take. The items are cut
    /// into [`WIRE_CHUNK`](super::WIRE_CHUNK)-sized chunks; a parallel pass measures each, a prefix sum gives
    /// chunk $c$ its bit range $[b_c, b_c + \ell_c)$, and each chunk packs into the whole
    /// bytes $\lfloor b_c/8\rfloor \ldots \lfloor (b_c+\ell_c)/8\rfloor - 1$ (low
    /// $b_c \bmod 8$ bits of its first byte left zero); its last partial byte is returned and
    /// OR-ed into the shared boundary byte afterwards, in chunk order.
    pub(crate) fn write_fields_chunked<T: Copy + Sync>(
        &mut self,
        items: &[T],
        max_len: u32,
        field: impl Fn(T) -> (u64, u32) + Sync,
        group: impl Fn(&[T], u32) -> Option<GroupBits> + Sync,
        chunk_bits: impl Fn(&[T]) -> u64 + Sync,
    ) {
        #[cfg(feature = "parallel")]
        if wire_parallel(items.len()) {
            return self.write_fields_par(items, max_len, &field, &group, &chunk_bits);
        }
        let _ = &chunk_bits;
        self.write_fields(items, max_len, field, group);
    }

    #[cfg(feature = "parallel")]
    fn write_fields_par<T: Copy + Sync>(
        &mut self,
        items: &[T],
        max_len: u32,
        field: &(impl Fn(T) -> (u64, u32) + Sync),
        group: &(impl Fn(&[T], u32) -> Option<GroupBits> + Sync),
        chunk_bits: &(impl Fn(&[T]) -> u64 + Sync),
    ) {
        use rayon::prelude::*;
        debug_assert!((1..=56).contains(&max_len));
        // Whole bytes of the accumulator go to the buffer; < 8 bits stay as the head byte.
        let nb = (self.pending / 8) as usize;
        self.buf.extend_from_slice(&self.acc.to_le_bytes()[..nb]);
        let head_byte = self.buf.len();
        let head = if nb == 0 {
            self.acc
        } else {
            self.acc >> (8 * nb)
        };
        let base = head_byte as u64 * 8 + (self.pending % 8) as u64;
        let lens: Vec<u64> = items.par_chunks(WIRE_CHUNK).map(chunk_bits).collect();
        let mut starts = Vec::with_capacity(lens.len());
        let mut end = base;
        for &l in &lens {
            starts.push(end);
            end += l;
        }
        let end_byte = (end / 8) as usize;
        self.buf.resize(end_byte, 0);
        let mut regions = Vec::with_capacity(lens.len());
        let mut rest = &mut self.buf[head_byte..];
        let mut at = head_byte;
        for (&s, &l) in starts.iter().zip(&lens) {
            let e = ((s + l) / 8) as usize;
            let (region, tail) = std::mem::take(&mut rest).split_at_mut(e - at);
            regions.push(region);
            rest = tail;
            at = e;
        }
        let tails: Vec<u64> = items
            .par_chunks(WIRE_CHUNK)
            .zip(regions)
            .zip(&starts)
            .map(|((chunk, dst), &s)| {
                pack_region(Region {
                    dst,
                    head: (s % 8) as u32,
                    items: chunk,
                    max_len,
                    field,
                    group,
                })
            })
            .collect();
        let mut acc = 0u64;
        let heads = std::iter::once((head_byte, head));
        let ends = starts
            .iter()
            .zip(&lens)
            .map(|(&s, &l)| ((s + l) / 8) as usize);
        for (idx, v) in heads.chain(ends.zip(tails)) {
            match self.buf.get_mut(idx) {
                Some(b) => *b |= v as u8,
                None => acc |= v,
            }
        }
        self.acc = acc;
        self.pending = (end % 8) as u32;
        self.bits += end - base;
    }
}

/// One chunk's packing: `items` into `dst` starting `head` (< 8) bits into its first byte,
/// `dst` being exactly the whole bytes the fields end up filling.
#[cfg(feature = "parallel")]
struct Region<'a, T, F, Z> {
    dst: &'a mut [u8],
    head: u32,
    items: &'a [T],
    max_len: u32,
    field: &'a F,
    group: &'a Z,
}

/// Pack `r`; returns the last partial byte (< 8 bits, the head's bits included if `dst` is
/// empty). Stores are the truncated 8-byte stores of [`BitWriter::write_fields`], so every
/// byte of `dst` gets the same bits.
#[cfg(feature = "parallel")]
fn pack_region<T: Copy, F: Fn(T) -> (u64, u32), Z: Fn(&[T], u32) -> Option<GroupBits>>(
    r: Region<'_, T, F, Z>,
) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if super::bmi2() {
        #[target_feature(enable = "avx2,bmi2")]
        fn with_bmi2<T: Copy, F: Fn(T) -> (u64, u32), Z: Fn(&[T], u32) -> Option<GroupBits>>(
            r: Region<'_, T, F, Z>,
        ) -> u64 {
            r.pack(|v, keep| core::arch::x86_64::_pext_u64(v, keep))
        }
        // SAFETY: `super::bmi2()` checked that this CPU has AVX2 and BMI2.
        return unsafe { with_bmi2(r) };
    }
    r.pack(super::extract_bits)
}

#[cfg(feature = "parallel")]
impl<T: Copy, F: Fn(T) -> (u64, u32), Z: Fn(&[T], u32) -> Option<GroupBits>> Region<'_, T, F, Z> {
    #[inline(always)]
    fn pack(self, pext: impl Fn(u64, u64) -> u64) -> u64 {
        let Region {
            dst,
            head,
            items,
            max_len,
            field,
            group: group_bits,
        } = self;
        // `dst` starts zeroed and ends at the last whole byte: the stores are truncated there.
        let k = super::Packers::new(field, group_bits, &pext);
        let (p, acc, _) = k.pack_fields::<true>(dst, (0, 0, head), items, max_len);
        debug_assert_eq!(p, dst.len());
        acc
    }
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
                    r.read_fixed_run(o, len, &field)
                })
                .reduce(|| false, |a, b| a | b);
            self.pos = (p0 + out.len() as u64 * len as u64).min(self.len);
            return bad;
        }
        self.read_fixed_run(out, len, &field)
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
