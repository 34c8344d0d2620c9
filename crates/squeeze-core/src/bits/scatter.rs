//! Sparse payloads written by the places of their few non-zero fields
//! ([`BitWriter::write_scattered`]).

use super::BitWriter;

impl BitWriter {
    /// Append `total` bits that are zero but for a few fields: `place` receives a
    /// [`Scatter`] and ORs each field in at its offset from the start of these bits (fields
    /// must lie inside the `total` bits and not overlap). The cost is a zero fill of the
    /// bytes plus one unaligned read-modify-write per field, whatever the fields' spacing:
    /// for sparse payloads (most QSGD codes zero), where the field loop of
    /// [`BitWriter::write_fields`] would visit every zero.
    #[inline(always)]
    pub(crate) fn write_scattered(&mut self, total: u64, place: impl FnOnce(&mut Scatter<'_>)) {
        let start = self.buf.len();
        let base = self.pending as u64;
        let end = base + total;
        self.buf.resize(start + (end / 8) as usize + 8, 0);
        self.buf[start..start + 8].copy_from_slice(&self.acc.to_le_bytes());
        place(&mut Scatter {
            buf: &mut self.buf[start..],
            base,
        });
        let whole = (end / 8) as usize;
        // The last partial byte's bits (zero above them) become the accumulator.
        self.acc = u64::from(self.buf[start + whole]);
        self.pending = (end % 8) as u32;
        self.buf.truncate(start + whole);
        self.bits += total;
    }
}

/// Where [`BitWriter::write_scattered`] places its fields.
pub(crate) struct Scatter<'a> {
    buf: &'a mut [u8],
    base: u64,
}

impl Scatter<'_> {
    /// OR `value < 2^56` in at bit `at` of the scattered bits.
    #[inline(always)]
    pub(crate) fn or(&mut self, at: u64, value: u64) {
        debug_assert!(value >> 56 == 0);
        let bit = self.base + at;
        let p = (bit / 8) as usize;
        // The buffer ends 8 bytes past the last whole byte, and a field's first byte is at
        // most that byte, so its 8 bytes are there.
        if let Some(dst) = self.buf.get_mut(p..p + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(dst);
            let v = u64::from_le_bytes(word) | value << (bit % 8);
            dst.copy_from_slice(&v.to_le_bytes());
        }
    }
}
