//! A dataset built from an AnnData's arrays: X dense or CSR/CSC (read from the NumPy buffers, never
//! densified), obs and var names, and `obsm['spatial']`.

use dpvae::data::{CsrMatrix, Matrix, SpatialData};
use ndarray::Array2;
use numpy::{PyReadonlyArray1, PyReadonlyArray2};

use crate::arrays::matrix_in;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::to_py;

/// Expression, names and coordinates of one section, as dpvae sees them.
#[pyclass(module = "dpvae._dpvae", frozen)]
pub struct Dataset {
    pub(crate) data: SpatialData,
}

#[pymethods]
impl Dataset {
    /// A dataset with a dense X (n_obs x n_vars, any real dtype).
    #[staticmethod]
    #[pyo3(signature = (x, obs_names, var_names, spatial=None))]
    fn dense(
        x: &Bound<'_, PyAny>,
        obs_names: Vec<String>,
        var_names: Vec<String>,
        spatial: Option<PyReadonlyArray2<'_, f64>>,
    ) -> PyResult<Self> {
        let x = dense_f32(x)?;
        Self::build(Matrix::Dense(x), obs_names, var_names, spatial)
    }

    /// A dataset with a sparse X given by its compressed arrays: `format` "csr" or "csc", as scipy stores them.
    #[staticmethod]
    #[pyo3(signature = (format, data, indices, indptr, shape, obs_names, var_names, spatial=None))]
    #[allow(clippy::too_many_arguments)]
    fn sparse(
        format: &str,
        data: &Bound<'_, PyAny>,
        indices: &Bound<'_, PyAny>,
        indptr: &Bound<'_, PyAny>,
        shape: (usize, usize),
        obs_names: Vec<String>,
        var_names: Vec<String>,
        spatial: Option<PyReadonlyArray2<'_, f64>>,
    ) -> PyResult<Self> {
        let (n_rows, n_cols) = shape;
        let values = vec_f32(data, "X.data")?;
        let indices = vec_index(indices, "X.indices")?
            .into_iter()
            .map(|i| u32::try_from(i).map_err(|_| bad("X.indices", "holds an index beyond 2^32")))
            .collect::<PyResult<Vec<u32>>>()?;
        let indptr = vec_index(indptr, "X.indptr")?;
        let csr = match format {
            "csr" => CsrMatrix::new(n_rows, n_cols, indptr, indices, values),
            "csc" => CsrMatrix::from_csc(n_rows, n_cols, &indptr, &indices, &values),
            other => {
                return Err(bad(
                    "X",
                    &format!("has sparse format '{other}'; give csr or csc"),
                ));
            }
        }
        .map_err(|e| to_py(e.into()))?;
        Self::build(Matrix::Csr(csr), obs_names, var_names, spatial)
    }

    /// Spots (cells) x genes.
    #[getter]
    fn shape(&self) -> (usize, usize) {
        self.data.x.shape()
    }
}

impl Dataset {
    fn build(
        x: Matrix,
        obs_names: Vec<String>,
        var_names: Vec<String>,
        spatial: Option<PyReadonlyArray2<'_, f64>>,
    ) -> PyResult<Self> {
        let spatial = spatial.map(|s| matrix_in(&s, |v| v));
        let data =
            SpatialData::new(x, obs_names, var_names, spatial).map_err(|e| to_py(e.into()))?;
        Ok(Dataset { data })
    }
}

fn bad(object: &str, problem: &str) -> PyErr {
    PyValueError::new_err(format!("{object} {problem}"))
}

/// A 2-d array of any real dtype as f32 (the precision dpvae computes in).
fn dense_f32(x: &Bound<'_, PyAny>) -> PyResult<Array2<f32>> {
    if let Ok(a) = x.extract::<PyReadonlyArray2<'_, f32>>() {
        return Ok(matrix_in(&a, |v| v));
    }
    if let Ok(a) = x.extract::<PyReadonlyArray2<'_, f64>>() {
        return Ok(matrix_in(&a, |v| v as f32));
    }
    if let Ok(a) = x.extract::<PyReadonlyArray2<'_, i64>>() {
        return Ok(matrix_in(&a, |v| v as f32));
    }
    if let Ok(a) = x.extract::<PyReadonlyArray2<'_, i32>>() {
        return Ok(matrix_in(&a, |v| v as f32));
    }
    Err(bad(
        "X",
        "must be a 2-d NumPy array of floats or integers (or a scipy CSR/CSC matrix)",
    ))
}

/// A 1-d array of any real dtype as f32.
fn vec_f32(x: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<f32>> {
    if let Ok(a) = x.extract::<PyReadonlyArray1<'_, f32>>() {
        return Ok(a.as_array().to_vec());
    }
    if let Ok(a) = x.extract::<PyReadonlyArray1<'_, f64>>() {
        return Ok(a.as_array().iter().map(|&v| v as f32).collect());
    }
    if let Ok(a) = x.extract::<PyReadonlyArray1<'_, i64>>() {
        return Ok(a.as_array().iter().map(|&v| v as f32).collect());
    }
    if let Ok(a) = x.extract::<PyReadonlyArray1<'_, i32>>() {
        return Ok(a.as_array().iter().map(|&v| v as f32).collect());
    }
    Err(bad(what, "must be a 1-d NumPy array of floats or integers"))
}

/// A 1-d integer array (scipy uses int32 or int64) as indices.
fn vec_index(x: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<usize>> {
    let negative = || bad(what, "holds a negative index");
    if let Ok(a) = x.extract::<PyReadonlyArray1<'_, i32>>() {
        return a
            .as_array()
            .iter()
            .map(|&v| usize::try_from(v).map_err(|_| negative()))
            .collect();
    }
    if let Ok(a) = x.extract::<PyReadonlyArray1<'_, i64>>() {
        return a
            .as_array()
            .iter()
            .map(|&v| usize::try_from(v).map_err(|_| negative()))
            .collect();
    }
    Err(bad(what, "must be a 1-d NumPy array of int32 or int64"))
}
