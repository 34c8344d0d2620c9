//! `squeeze.Message`: a compressed vector, its exact bit count and its wire bytes.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use squeeze_core::{Message, Scalar};

use crate::array::{Dtype, WriteView, to_numpy, write_view};
use crate::error::{Nat, OrValueError, value_err};

/// A message of either scalar type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnyMessage {
    /// Over float32.
    F32(Message<f32>),
    /// Over float64.
    F64(Message<f64>),
}

impl AnyMessage {
    /// Decode untrusted bytes.
    pub(crate) fn decode(data: &[u8], dim: usize, dtype: Dtype) -> PyResult<Self> {
        Ok(match dtype {
            Dtype::F32 => AnyMessage::F32(Message::decode(data, dim).or_value_err()?),
            Dtype::F64 => AnyMessage::F64(Message::decode(data, dim).or_value_err()?),
        })
    }

    pub(crate) fn dtype(&self) -> Dtype {
        match self {
            AnyMessage::F32(_) => Dtype::F32,
            AnyMessage::F64(_) => Dtype::F64,
        }
    }

    /// Exact encoded length in bits.
    pub(crate) fn bits(&self) -> u64 {
        match self {
            AnyMessage::F32(m) => m.bits(),
            AnyMessage::F64(m) => m.bits(),
        }
    }
}

/// The scalar types of the Python classes, each with its dtype and its variant of
/// [`AnyMessage`].
pub(crate) trait PyScalar: Scalar {
    /// The numpy dtype of `Self`.
    const DTYPE: Dtype;
    /// The message of `m` if it is over `Self`.
    fn message_of(m: &AnyMessage) -> Option<&Message<Self>>;
}

macro_rules! py_scalar {
    ($($s:ty => $v:ident),*) => {$(
        impl PyScalar for $s {
            const DTYPE: Dtype = Dtype::$v;
            fn message_of(m: &AnyMessage) -> Option<&Message<$s>> {
                match m {
                    AnyMessage::$v(m) => Some(m),
                    _ => None,
                }
            }
        }
    )*};
}
py_scalar!(f32 => F32, f64 => F64);

/// Apply `m` to `out` with `scale`, shape-checked first (no panic on hand-built messages).
fn add_checked<S: Scalar>(m: &Message<S>, out: &mut [S], scale: f64) -> PyResult<()> {
    m.validate_shape().or_value_err()?;
    m.add_to(out, S::from_f64(scale)).or_value_err()
}

/// A compressed vector. `bits` is the exact encoded length; `to_bytes()` is what goes on the
/// wire and `Message.decode(data, dim, dtype)` reads it back.
#[pyclass(name = "Message", module = "squeeze._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub struct PyMessage {
    pub(crate) inner: AnyMessage,
}

macro_rules! each {
    ($self:expr, $m:ident => $e:expr) => {
        match &$self.inner {
            AnyMessage::F32($m) => $e,
            AnyMessage::F64($m) => $e,
        }
    };
}

#[pymethods]
impl PyMessage {
    /// Exact encoded length in bits (`len(to_bytes())` is `ceil(bits / 8)`).
    #[getter]
    fn bits(&self) -> u64 {
        each!(self, m => m.bits())
    }

    /// Number of transmitted entries (values, signs or levels).
    #[getter]
    fn entries(&self) -> u64 {
        each!(self, m => m.entries())
    }

    /// Dimension of the vector it represents.
    #[getter]
    fn dim(&self) -> usize {
        each!(self, m => m.dim())
    }

    /// `"float32"` or `"float64"`.
    #[getter]
    fn dtype(&self) -> &'static str {
        self.inner.dtype().name()
    }

    /// Whether the message is a skip (sends nothing).
    #[getter]
    fn is_skip(&self) -> bool {
        each!(self, m => m.is_skip())
    }

    /// The wire bytes (zero-padded to a whole byte). A skip is `b""`.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = each!(self, m => m.try_to_bytes().or_value_err()?);
        Ok(PyBytes::new(py, &bytes))
    }

    /// Read a message of dimension `dim` from untrusted bytes; malformed bytes are a
    /// `ValueError` saying what is wrong.
    #[staticmethod]
    #[pyo3(signature = (data, dim, dtype = None))]
    fn decode(data: &[u8], dim: Nat, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let dtype = Dtype::parse(dtype)?;
        let dim = dim.usize()?;
        Ok(Self {
            inner: AnyMessage::decode(data, dim, dtype)?,
        })
    }

    /// `out += scale · message` in place (`out`: a C-contiguous array of the message's dtype
    /// and size), without a dense temporary.
    #[pyo3(signature = (out, scale = 1.0))]
    fn add_to(&self, py: Python<'_>, out: &Bound<'_, PyAny>, scale: f64) -> PyResult<()> {
        let mut view = write_view(out, "out")?;
        match (&self.inner, &mut view) {
            (AnyMessage::F32(m), WriteView::F32(a)) => {
                let s = a.as_slice_mut().map_err(value_err)?;
                py.detach(|| add_checked(m, s, scale))
            }
            (AnyMessage::F64(m), WriteView::F64(a)) => {
                let s = a.as_slice_mut().map_err(value_err)?;
                py.detach(|| add_checked(m, s, scale))
            }
            (m, _) => Err(value_err(format!(
                "out has a different dtype than the message ({}); pass an array of that dtype",
                m.dtype().name()
            ))),
        }
    }

    /// The dense vector as a new 1-D numpy array.
    fn to_dense<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match &self.inner {
            AnyMessage::F32(m) => {
                m.validate_shape().or_value_err()?;
                to_numpy(py, m.to_dense().or_value_err()?)
            }
            AnyMessage::F64(m) => {
                m.validate_shape().or_value_err()?;
                to_numpy(py, m.to_dense().or_value_err()?)
            }
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "Message(dim={}, entries={}, bits={}, dtype={})",
            self.dim(),
            self.entries(),
            self.bits(),
            self.dtype()
        )
    }
}
