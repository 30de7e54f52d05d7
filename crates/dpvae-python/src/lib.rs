//! `dpvae._dpvae`: the Rust half of the `dpvae` Python package. The Python half (`python/dpvae`) turns an
//! AnnData into the arrays taken here and writes the results back into its slots; this module builds a
//! [`dpvae::data::SpatialData`] from those arrays without copying them on the Python side, and calls the
//! `dpvae` facade with the GIL released.

use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError, PyValueError};
use pyo3::prelude::*;

mod arrays;
mod dataset;
mod model;
mod tl;

/// A [`dpvae::Error`] as the Python exception a scanpy user expects: OSError for the file system,
/// KeyboardInterrupt for an interrupted training run, ValueError for everything else, with the whole cause
/// chain as the message.
pub(crate) fn to_py(e: dpvae::Error) -> PyErr {
    let message = format!("{e:#}");
    if e.is_interrupted() {
        PyKeyboardInterrupt::new_err(message)
    } else if e.is_io() {
        PyOSError::new_err(message)
    } else {
        PyValueError::new_err(message)
    }
}

#[pymodule]
fn _dpvae(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<dataset::Dataset>()?;
    m.add_class::<model::Model>()?;
    m.add_function(wrap_pyfunction!(model::fit, m)?)?;
    m.add_function(wrap_pyfunction!(model::load, m)?)?;
    m.add_function(wrap_pyfunction!(tl::procrustes, m)?)?;
    m.add_function(wrap_pyfunction!(tl::transfer_labels, m)?)?;
    m.add_function(wrap_pyfunction!(tl::autocorrelation, m)?)?;
    m.add_function(wrap_pyfunction!(tl::distance_correlation, m)?)?;
    Ok(())
}
