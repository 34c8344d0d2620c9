//! numpy arrays in and out: dtype names, zero-copy read views, new arrays.

use numpy::{
    Element, PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyReadwriteArrayDyn,
    PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::prelude::*;

use crate::error::value_err;

/// The two scalar types the Rust crates implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dtype {
    /// `float32`.
    F32,
    /// `float64`.
    F64,
}

impl Dtype {
    /// The numpy name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
        }
    }

    /// From anything `numpy.dtype(...)` accepts (`"float32"`, `numpy.float64`, a dtype);
    /// `None` is `float32`.
    pub(crate) fn parse(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let Some(obj) = obj else {
            return Ok(Dtype::F32);
        };
        if obj.is_none() {
            return Ok(Dtype::F32);
        }
        let np = obj.py().import("numpy")?;
        let name: String = match np.getattr("dtype")?.call1((obj,)) {
            Ok(d) => d.getattr("name")?.extract()?,
            Err(_) => {
                return Err(value_err(format!(
                    "dtype {obj} is not a numpy dtype; pass \"float32\" or \"float64\""
                )));
            }
        };
        match name.as_str() {
            "float32" => Ok(Dtype::F32),
            "float64" => Ok(Dtype::F64),
            other => Err(value_err(format!(
                "dtype {other} is not supported; pass \"float32\" or \"float64\""
            ))),
        }
    }
}

/// A read-only view of a C-contiguous float32 or float64 numpy array (any shape; read flat).
pub(crate) enum ReadView<'py> {
    /// float32 data.
    F32(PyReadonlyArrayDyn<'py, f32>),
    /// float64 data.
    F64(PyReadonlyArrayDyn<'py, f64>),
}

/// A writable view of a C-contiguous float32 or float64 numpy array.
pub(crate) enum WriteView<'py> {
    /// float32 data.
    F32(PyReadwriteArrayDyn<'py, f32>),
    /// float64 data.
    F64(PyReadwriteArrayDyn<'py, f64>),
}

/// The dtype of `obj` if it is a float32/float64 numpy array, else a `ValueError` saying what
/// to pass (`what` names the argument).
fn array_dtype(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Dtype> {
    let Ok(arr) = obj.cast::<PyUntypedArray>() else {
        let tname = obj.get_type().name()?;
        return Err(value_err(format!(
            "{what} must be a numpy array of float32 or float64, got {tname}; convert with numpy.asarray(x, dtype=numpy.float32) (torch: t.detach().cpu().numpy())"
        )));
    };
    let dt = arr.dtype();
    let name: String = dt.getattr("name")?.extract()?;
    match name.as_str() {
        "float32" => Ok(Dtype::F32),
        "float64" => Ok(Dtype::F64),
        other => Err(value_err(format!(
            "{what} has dtype {other}; squeeze works on float32 or float64 arrays (convert with x.astype(numpy.float32))"
        ))),
    }
}

fn not_contiguous(what: &str) -> PyErr {
    value_err(format!(
        "{what} is not C-contiguous; pass numpy.ascontiguousarray(x) (torch: t.contiguous())"
    ))
}

/// Borrow `obj` (a numpy array of dtype `S`) read-only without copying; it must be
/// C-contiguous.
fn readonly<'py, S: Element>(
    obj: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<PyReadonlyArrayDyn<'py, S>> {
    let a = obj.cast::<PyArrayDyn<S>>().map_err(value_err)?;
    let a = a.try_readonly().map_err(value_err)?;
    if a.as_slice().is_ok() {
        Ok(a)
    } else {
        Err(not_contiguous(what))
    }
}

/// Borrow `obj` (a numpy array of dtype `S`) writable without copying; it must be
/// C-contiguous.
fn readwrite<'py, S: Element>(
    obj: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<PyReadwriteArrayDyn<'py, S>> {
    let a = obj.cast::<PyArrayDyn<S>>().map_err(value_err)?;
    let mut a = a.try_readwrite().map_err(|e| {
        value_err(format!(
            "{what} is not writable or is borrowed elsewhere: {e}"
        ))
    })?;
    if a.as_slice_mut().is_ok() {
        Ok(a)
    } else {
        Err(not_contiguous(what))
    }
}

/// Borrow `obj` read-only without copying.
pub(crate) fn read_view<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<ReadView<'py>> {
    Ok(match array_dtype(obj, what)? {
        Dtype::F32 => ReadView::F32(readonly(obj, what)?),
        Dtype::F64 => ReadView::F64(readonly(obj, what)?),
    })
}

/// Borrow `obj` writable without copying.
pub(crate) fn write_view<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<WriteView<'py>> {
    Ok(match array_dtype(obj, what)? {
        Dtype::F32 => WriteView::F32(readwrite(obj, what)?),
        Dtype::F64 => WriteView::F64(readwrite(obj, what)?),
    })
}

/// A new 1-D numpy array owning `v`.
pub(crate) fn to_numpy<'py, S: numpy::Element>(py: Python<'py>, v: Vec<S>) -> Bound<'py, PyAny> {
    PyArray1::from_vec(py, v).into_any()
}
