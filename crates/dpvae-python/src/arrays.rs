//! NumPy arrays to and from the `ndarray` version the dpvae crates use. rust-numpy is built on a newer
//! `ndarray` than theirs, so matrices cross by their elements in row-major order (one copy, as the
//! conversion to dpvae's precision needs anyway).

use ndarray::Array2;
use numpy::{Element, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2};
use pyo3::prelude::*;

/// A 2-d NumPy array as dpvae's matrix type, converting each element with `f`.
pub fn matrix_in<T: Element + Copy, U>(
    a: &PyReadonlyArray2<'_, T>,
    f: impl Fn(T) -> U,
) -> Array2<U> {
    let view = a.as_array();
    let shape = view.dim();
    Array2::from_shape_vec(shape, view.iter().map(|&v| f(v)).collect())
        .expect("the element count matches the shape")
}

/// dpvae's matrix as a new NumPy array.
pub fn matrix_out<'py>(py: Python<'py>, a: &Array2<f64>) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let flat: Vec<f64> = a.iter().copied().collect();
    PyArray1::from_vec(py, flat).reshape([a.nrows(), a.ncols()])
}
