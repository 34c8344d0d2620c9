//! The byte format of `state_dict()`: exact (vectors as raw little-endian IEEE words, random
//! streams as their serde state), versioned, and checked on load.
//!
//! ```text
//! "SQZS" | version u8 = 1 | kind u8 | dtype width u8 (4 or 8) | description (u32 len + UTF-8)
//! | dim, seed, worker, n_workers, round, bits_sent (u64 LE each)
//! | vector count u8 | each vector: dim scalars LE
//! | streams (u32 len + serde_json of Vec<SqueezeRng>)
//! ```

use squeeze_core::{Scalar, SqueezeRng};

/// Magic bytes of a state blob.
const MAGIC: &[u8; 4] = b"SQZS";
/// Format version.
const VERSION: u8 = 1;

/// The header fields besides the vectors and streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    /// Which object (worker kind or aggregator).
    pub kind: u8,
    /// Scalar width in bytes.
    pub width: u8,
    /// Mechanism, hyperparameters and compressor spec: must match on load.
    pub description: String,
    /// Dimension, seed, worker, worker count, round, cumulative bits sent.
    pub numbers: [u64; 6],
}

/// Serialise a state.
pub(crate) fn write<S: Scalar>(h: &Header, vectors: &[&[S]], streams: &[&SqueezeRng]) -> Vec<u8> {
    let dim = h.numbers[0] as usize;
    let mut out = Vec::with_capacity(64 + h.description.len() + vectors.len() * dim * 8);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[VERSION, h.kind, h.width]);
    out.extend_from_slice(&(h.description.len() as u32).to_le_bytes());
    out.extend_from_slice(h.description.as_bytes());
    for n in h.numbers {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.push(vectors.len() as u8);
    for v in vectors {
        for &x in v.iter() {
            if S::BITS == 32 {
                out.extend_from_slice(&(x.to_f64() as f32).to_bits().to_le_bytes());
            } else {
                out.extend_from_slice(&x.to_f64().to_bits().to_le_bytes());
            }
        }
    }
    // Serialising plain integers into JSON cannot fail.
    let json = serde_json::to_vec(streams).unwrap_or_default();
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out
}

/// A parsed state.
#[derive(Debug)]
pub(crate) struct Parsed<S> {
    /// Header.
    pub header: Header,
    /// Vectors, each of length `dim`.
    pub vectors: Vec<Vec<S>>,
    /// Random streams.
    pub streams: Vec<SqueezeRng>,
}

struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(e) => {
                let s = &self.data[self.at..e];
                self.at = e;
                Ok(s)
            }
            None => Err(format!(
                "state bytes truncated while reading {what} at byte {} of {}; pass the bytes state_dict() returned, unchanged",
                self.at,
                self.data.len()
            )),
        }
    }

    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

/// Parse a state of scalar type `S` (the header's width must be `S`'s).
pub(crate) fn read<S: Scalar>(data: &[u8]) -> Result<Parsed<S>, String> {
    let mut c = Cursor { data, at: 0 };
    if c.take(4, "the magic")? != MAGIC {
        return Err("not a squeeze state (bad magic); pass the bytes state_dict() returned".into());
    }
    let version = c.u8("the version")?;
    if version != VERSION {
        return Err(format!(
            "state format version {version} is not supported (this build reads version {VERSION})"
        ));
    }
    let kind = c.u8("the kind")?;
    let width = c.u8("the dtype")?;
    if u32::from(width) * 8 != S::BITS {
        return Err(format!(
            "the state holds {}-byte scalars but this object uses {}-byte scalars; build it with the same dtype",
            width,
            S::BITS / 8
        ));
    }
    let len = c.u32("the description length")? as usize;
    let description = String::from_utf8(c.take(len, "the description")?.to_vec())
        .map_err(|_| "state description is not UTF-8".to_string())?;
    let mut numbers = [0u64; 6];
    for n in &mut numbers {
        *n = c.u64("the header numbers")?;
    }
    let dim = usize::try_from(numbers[0]).map_err(|_| "dimension too large".to_string())?;
    let count = c.u8("the vector count")? as usize;
    let width = width as usize;
    let mut vectors = Vec::with_capacity(count);
    for _ in 0..count {
        let bytes = c.take(
            dim.checked_mul(width).ok_or("dimension too large")?,
            "a state vector",
        )?;
        let v: Vec<S> = bytes
            .chunks_exact(width)
            .map(|b| {
                if width == 4 {
                    S::from_f64(f64::from(f32::from_bits(u32::from_le_bytes([
                        b[0], b[1], b[2], b[3],
                    ]))))
                } else {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    S::from_f64(f64::from_bits(u64::from_le_bytes(a)))
                }
            })
            .collect();
        vectors.push(v);
    }
    let len = c.u32("the stream length")? as usize;
    let streams: Vec<SqueezeRng> = serde_json::from_slice(c.take(len, "the streams")?)
        .map_err(|e| format!("state streams are malformed: {e}"))?;
    if c.at != data.len() {
        return Err(format!(
            "{} trailing bytes after the state; pass the bytes state_dict() returned, unchanged",
            data.len() - c.at
        ));
    }
    Ok(Parsed {
        header: Header {
            kind,
            width: width as u8,
            description,
            numbers,
        },
        vectors,
        streams,
    })
}
