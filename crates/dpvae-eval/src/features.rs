//! Feature matrices (spots x features) in the layouts dpvae holds them: dense f64 (embeddings), dense f32 and
//! CSR f32 (expression). Statistics read them a block of features at a time into a column-major f64 buffer, so
//! any memory layout streams well and a sparse matrix is never densified as a whole.

use ndarray::ArrayView2;

use crate::error::{EvalError, Result};

/// A borrowed CSR matrix, spots in rows and features in columns: [`dpvae_core::sparse::CsrView`], the layout of
/// `dpvae_data::CsrMatrix` (`CsrMatrix::view()` lends one).
pub use dpvae_core::sparse::CsrView;

/// Features to test, spots in rows.
#[derive(Debug, Clone, Copy)]
pub enum Features<'a> {
    /// Dense f64, any memory layout (e.g. a latent embedding from `obsm`).
    Dense(ArrayView2<'a, f64>),
    /// Dense f32, any memory layout (dense expression).
    DenseF32(ArrayView2<'a, f32>),
    /// Sparse CSR expression.
    Csr(CsrView<'a>),
}

impl Features<'_> {
    /// `(n_spots, n_features)`.
    pub fn shape(&self) -> (usize, usize) {
        match self {
            Features::Dense(a) => a.dim(),
            Features::DenseF32(a) => a.dim(),
            Features::Csr(c) => (c.n_rows, c.n_cols),
        }
    }
}

/// The features prepared for block reads: views stay borrowed, CSR is transposed once to CSC.
pub(crate) enum Columns<'a> {
    Dense(ArrayView2<'a, f64>),
    DenseF32(ArrayView2<'a, f32>),
    Csc {
        n_rows: usize,
        colptr: Vec<usize>,
        rows: Vec<u32>,
        vals: Vec<f64>,
    },
}

impl<'a> Columns<'a> {
    /// Validate (shape, finiteness, CSR structure) and prepare.
    pub(crate) fn new(f: &Features<'a>) -> Result<Self> {
        match *f {
            Features::Dense(a) => {
                if let Some(((i, j), v)) = a.indexed_iter().find(|(_, v)| !v.is_finite()) {
                    return Err(non_finite(i, j, *v));
                }
                Ok(Columns::Dense(a))
            }
            Features::DenseF32(a) => {
                if let Some(((i, j), v)) = a.indexed_iter().find(|(_, v)| !v.is_finite()) {
                    return Err(non_finite(i, j, *v as f64));
                }
                Ok(Columns::DenseF32(a))
            }
            Features::Csr(c) => csr_to_csc(c),
        }
    }

    /// Write features `start..start + len` column-major into `buf` (`len * n` values).
    pub(crate) fn fill(&self, start: usize, len: usize, n: usize, buf: &mut [f64]) {
        match self {
            Columns::Dense(a) if a.ncols() > 0 && a.column(start).as_slice().is_some() => {
                // Column-major input: each feature is already contiguous.
                for c in 0..len {
                    let col = a.column(start + c);
                    buf[c * n..(c + 1) * n]
                        .copy_from_slice(col.as_slice().expect("contiguous column"));
                }
            }
            Columns::Dense(a) => {
                for (i, row) in a.outer_iter().enumerate() {
                    for c in 0..len {
                        buf[c * n + i] = row[start + c];
                    }
                }
            }
            Columns::DenseF32(a) => {
                for (i, row) in a.outer_iter().enumerate() {
                    for c in 0..len {
                        buf[c * n + i] = row[start + c] as f64;
                    }
                }
            }
            Columns::Csc {
                n_rows,
                colptr,
                rows,
                vals,
            } => {
                debug_assert_eq!(*n_rows, n);
                buf[..len * n].fill(0.0);
                for c in 0..len {
                    let col = &mut buf[c * n..(c + 1) * n];
                    for p in colptr[start + c]..colptr[start + c + 1] {
                        col[rows[p] as usize] = vals[p];
                    }
                }
            }
        }
    }
}

fn non_finite(i: usize, j: usize, v: f64) -> EvalError {
    EvalError::input(
        "features",
        format!("value at spot {i}, feature {j} is {v} (must be finite)"),
    )
}

fn csr_to_csc<'a>(c: CsrView<'_>) -> Result<Columns<'a>> {
    if c.indptr.len() != c.n_rows + 1 {
        return Err(EvalError::shape(
            "CSR indptr length",
            c.n_rows + 1,
            c.indptr.len(),
        ));
    }
    if c.indices.len() != c.data.len() || c.indptr[c.n_rows] != c.data.len() || c.indptr[0] != 0 {
        return Err(EvalError::input(
            "features",
            "CSR indptr/indices/data are inconsistent",
        ));
    }
    if let Some(&j) = c.indices.iter().find(|&&j| j as usize >= c.n_cols) {
        return Err(EvalError::input(
            "features",
            format!(
                "CSR column index {j} out of range for {} features",
                c.n_cols
            ),
        ));
    }
    for i in 0..c.n_rows {
        let (a, b) = (c.indptr[i], c.indptr[i + 1]);
        if b < a {
            return Err(EvalError::input(
                "features",
                format!("CSR indptr decreases at row {i}"),
            ));
        }
        if let Some(p) = (a..b).find(|&p| !c.data[p].is_finite()) {
            return Err(non_finite(i, c.indices[p] as usize, c.data[p] as f64));
        }
    }
    let (colptr, rows, vals) =
        dpvae_core::sparse::transpose(c.n_rows, c.n_cols, c.indptr, c.indices, c.data);
    let vals = vals.into_iter().map(f64::from).collect();
    Ok(Columns::Csc {
        n_rows: c.n_rows,
        colptr,
        rows,
        vals,
    })
}
