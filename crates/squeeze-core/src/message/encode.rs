//! Encoding: a message's exact bit-packed form (see the wire-format table in [`super`]).

use super::{
    INDEX_WIDTH_BITS, Levels, Message, TAG_BITS, TAG_COMPOSED, TAG_DENSE, TAG_INDEXED, TAG_NATURAL,
    TAG_PAIR, TAG_QUANTIZED, TAG_SCALED, TAG_SIGN, TAG_SKIP, TAG_SPARSE,
};
use crate::bits::{BitWriter, bits_for_range};
use crate::scalar::Scalar;

#[inline]
fn write_scalar<S: Scalar>(w: &mut BitWriter, v: S) {
    w.write(v.to_bits_u64(), S::BITS);
}

fn write_indices(w: &mut BitWriter, dim: usize, indices: &[u32]) {
    let d = dim as u64;
    w.write(indices.len() as u64, bits_for_range(d + 1));
    let wi = bits_for_range(d);
    for &i in indices {
        w.write(i as u64, wi);
    }
}

impl<S: Scalar> Message<S> {
    /// Append the encoding to `w` (nothing for a top-level `Skip`).
    ///
    /// The message must be valid ([`Message::validate`]); compressors only produce valid ones.
    pub fn encode(&self, w: &mut BitWriter) {
        if !self.is_skip() {
            self.encode_tagged(w);
        }
    }

    /// The encoding as bytes, zero-padded to a whole byte.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = BitWriter::with_capacity_bits(self.bits());
        self.encode(&mut w);
        w.finish().to_vec()
    }

    fn encode_tagged(&self, w: &mut BitWriter) {
        match self {
            Message::Skip { .. } => w.write(TAG_SKIP, TAG_BITS),
            Message::Dense { values } => {
                w.write(TAG_DENSE, TAG_BITS);
                for &v in values {
                    write_scalar(w, v);
                }
            }
            Message::Sparse {
                dim,
                indices,
                values,
            } => {
                w.write(TAG_SPARSE, TAG_BITS);
                write_indices(w, *dim, indices);
                for &v in values {
                    write_scalar(w, v);
                }
            }
            Message::Sign {
                dim,
                scale,
                negative,
            } => {
                w.write(TAG_SIGN, TAG_BITS);
                write_scalar(w, *scale);
                let full = dim / 64;
                for &word in &negative[..full] {
                    w.write(word, 64);
                }
                let rem = (dim % 64) as u32;
                if rem > 0 {
                    w.write(negative[full], rem);
                }
            }
            Message::Quantized {
                norm,
                levels,
                codes,
            } => {
                w.write(TAG_QUANTIZED, TAG_BITS);
                match *levels {
                    Levels::Uniform { s } => {
                        w.write(0, 1);
                        w.write(s as u64, 16);
                    }
                    Levels::Geometric { base, s } => {
                        w.write(1, 1);
                        w.write(s as u64, 16);
                        write_scalar(w, base);
                    }
                }
                write_scalar(w, *norm);
                let width = bits_for_range(levels.s() as u64 + 1);
                for &c in codes {
                    let mag = c.unsigned_abs() as u64;
                    if mag == 0 {
                        w.write(0, width);
                    } else {
                        w.write(mag | (((c < 0) as u64) << width), width + 1);
                    }
                }
            }
            Message::Natural { values } => {
                w.write(TAG_NATURAL, TAG_BITS);
                let shift = S::MANT_BITS;
                let n = 1 + S::EXP_BITS;
                for &v in values {
                    w.write(v.to_bits_u64() >> shift, n);
                }
            }
            Message::Scaled { scale, inner } => {
                w.write(TAG_SCALED, TAG_BITS);
                write_scalar(w, *scale);
                inner.encode_tagged(w);
            }
            Message::Composed {
                dim,
                indices,
                inner,
            } => {
                w.write(TAG_COMPOSED, TAG_BITS);
                write_indices(w, *dim, indices);
                inner.encode_tagged(w);
            }
            Message::Pair(p) => {
                w.write(TAG_PAIR, TAG_BITS);
                p[0].encode_tagged(w);
                p[1].encode_tagged(w);
            }
            Message::Indexed {
                width,
                index,
                inner,
            } => {
                w.write(TAG_INDEXED, TAG_BITS);
                w.write(*width as u64, INDEX_WIDTH_BITS);
                w.write(*index as u64, *width as u32);
                inner.encode_tagged(w);
            }
        }
    }
}
