//! Expression matrices: dense (row-major ndarray) or CSR, always f32, spots in rows and genes in columns.

use ndarray::{Array2, ArrayView2, s};

use crate::error::{DataError, Result};

/// A compressed-sparse-row matrix (spots x genes). Invariants are checked by [`CsrMatrix::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct CsrMatrix {
    n_rows: usize,
    n_cols: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    data: Vec<f32>,
}

impl CsrMatrix {
    /// Build a CSR matrix, checking that `indptr` has `n_rows + 1` monotone entries starting at 0 and ending at
    /// `nnz`, that every column index is in range, and that every value is finite.
    pub fn new(
        n_rows: usize,
        n_cols: usize,
        indptr: Vec<usize>,
        indices: Vec<u32>,
        data: Vec<f32>,
    ) -> Result<Self> {
        dpvae_core::sparse::check_structure(n_rows, n_cols, &indptr, &indices, data.len())
            .map_err(|e| DataError::data(e.object, e.problem))?;
        check_finite("data", &data)?;
        Ok(CsrMatrix {
            n_rows,
            n_cols,
            indptr,
            indices,
            data,
        })
    }

    /// Convert compressed-sparse-column arrays (as h5ad CSC and 10x HDF5 store them) to CSR.
    pub fn from_csc(
        n_rows: usize,
        n_cols: usize,
        indptr: &[usize],
        indices: &[u32],
        data: &[f32],
    ) -> Result<Self> {
        // Validate the CSC arrays with the CSR checker applied to the transpose (columns as rows).
        let csc = CsrMatrix::new(
            n_cols,
            n_rows,
            indptr.to_vec(),
            indices.to_vec(),
            data.to_vec(),
        )
        .map_err(|e| match e {
            DataError::Data { object, problem } => {
                DataError::data(object, format!("{problem} (column-compressed layout)"))
            }
            other => other,
        })?;
        Ok(csc.transpose())
    }

    /// Transpose (CSR of the transpose), keeping column indices sorted within each row.
    pub fn transpose(&self) -> CsrMatrix {
        let (indptr, indices, data) = dpvae_core::sparse::transpose(
            self.n_rows,
            self.n_cols,
            &self.indptr,
            &self.indices,
            &self.data,
        );
        CsrMatrix {
            n_rows: self.n_cols,
            n_cols: self.n_rows,
            indptr,
            indices,
            data,
        }
    }

    /// The matrix as a borrowed [`CsrView`](dpvae_core::sparse::CsrView) (what the statistics take).
    pub fn view(&self) -> dpvae_core::sparse::CsrView<'_> {
        dpvae_core::sparse::CsrView {
            n_rows: self.n_rows,
            n_cols: self.n_cols,
            indptr: &self.indptr,
            indices: &self.indices,
            data: &self.data,
        }
    }

    pub fn from_dense(dense: &Array2<f32>) -> CsrMatrix {
        let (n_rows, n_cols) = dense.dim();
        let mut indptr = Vec::with_capacity(n_rows + 1);
        let mut indices = Vec::new();
        let mut data = Vec::new();
        indptr.push(0);
        for row in dense.rows() {
            for (j, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    indices.push(j as u32);
                    data.push(v);
                }
            }
            indptr.push(data.len());
        }
        CsrMatrix {
            n_rows,
            n_cols,
            indptr,
            indices,
            data,
        }
    }

    pub fn to_dense(&self) -> Array2<f32> {
        let mut out = Array2::<f32>::zeros((self.n_rows, self.n_cols));
        for i in 0..self.n_rows {
            for k in self.indptr[i]..self.indptr[i + 1] {
                out[[i, self.indices[k] as usize]] += self.data[k];
            }
        }
        out
    }

    pub fn n_rows(&self) -> usize {
        self.n_rows
    }
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }
    pub fn nnz(&self) -> usize {
        self.data.len()
    }
    pub fn indptr(&self) -> &[usize] {
        &self.indptr
    }
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }
    pub fn data(&self) -> &[f32] {
        &self.data
    }
    /// Mutable access to the stored values (structure stays fixed, so invariants hold).
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// The column indices and values of row `i`.
    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[a..b], &self.data[a..b])
    }

    /// Keep the given rows, in the given order.
    pub fn select_rows(&self, rows: &[usize]) -> CsrMatrix {
        let mut indptr = Vec::with_capacity(rows.len() + 1);
        let mut indices = Vec::new();
        let mut data = Vec::new();
        indptr.push(0);
        for &i in rows {
            let (idx, val) = self.row(i);
            indices.extend_from_slice(idx);
            data.extend_from_slice(val);
            indptr.push(data.len());
        }
        CsrMatrix {
            n_rows: rows.len(),
            n_cols: self.n_cols,
            indptr,
            indices,
            data,
        }
    }

    /// Keep the given columns, in the given order (a column may not repeat).
    pub fn select_cols(&self, cols: &[usize]) -> CsrMatrix {
        let mut map = vec![u32::MAX; self.n_cols];
        for (new, &old) in cols.iter().enumerate() {
            map[old] = new as u32;
        }
        let mut indptr = Vec::with_capacity(self.n_rows + 1);
        let mut indices = Vec::new();
        let mut data = Vec::new();
        indptr.push(0);
        let mut row_buf: Vec<(u32, f32)> = Vec::new();
        for i in 0..self.n_rows {
            row_buf.clear();
            let (idx, val) = self.row(i);
            for (&j, &v) in idx.iter().zip(val) {
                let m = map[j as usize];
                if m != u32::MAX {
                    row_buf.push((m, v));
                }
            }
            row_buf.sort_unstable_by_key(|p| p.0);
            for &(j, v) in &row_buf {
                indices.push(j);
                data.push(v);
            }
            indptr.push(data.len());
        }
        CsrMatrix {
            n_rows: self.n_rows,
            n_cols: cols.len(),
            indptr,
            indices,
            data,
        }
    }
}

/// An expression matrix as it was stored: dense or sparse. Both are f32.
#[derive(Debug, Clone, PartialEq)]
pub enum Matrix {
    Dense(Array2<f32>),
    Csr(CsrMatrix),
}

impl Matrix {
    pub fn shape(&self) -> (usize, usize) {
        match self {
            Matrix::Dense(a) => a.dim(),
            Matrix::Csr(c) => (c.n_rows(), c.n_cols()),
        }
    }
    pub fn n_rows(&self) -> usize {
        self.shape().0
    }
    pub fn n_cols(&self) -> usize {
        self.shape().1
    }
    /// "dense" or "csr", as `dpvae inspect` reports it.
    pub fn layout(&self) -> &'static str {
        match self {
            Matrix::Dense(_) => "dense",
            Matrix::Csr(_) => "csr",
        }
    }
    pub fn to_dense(&self) -> Array2<f32> {
        match self {
            Matrix::Dense(a) => a.clone(),
            Matrix::Csr(c) => c.to_dense(),
        }
    }
    pub fn to_csr(&self) -> CsrMatrix {
        match self {
            Matrix::Dense(a) => CsrMatrix::from_dense(a),
            Matrix::Csr(c) => c.clone(),
        }
    }
    pub fn select_rows(&self, rows: &[usize]) -> Matrix {
        match self {
            Matrix::Dense(a) => Matrix::Dense(a.select(ndarray::Axis(0), rows)),
            Matrix::Csr(c) => Matrix::Csr(c.select_rows(rows)),
        }
    }
    pub fn select_cols(&self, cols: &[usize]) -> Matrix {
        match self {
            Matrix::Dense(a) => Matrix::Dense(a.select(ndarray::Axis(1), cols)),
            Matrix::Csr(c) => Matrix::Csr(c.select_cols(cols)),
        }
    }
    /// Sum of each row (total counts per spot).
    pub fn row_sums(&self) -> Vec<f64> {
        match self {
            Matrix::Dense(a) => a
                .rows()
                .into_iter()
                .map(|r| r.iter().map(|&v| v as f64).sum())
                .collect(),
            Matrix::Csr(c) => (0..c.n_rows())
                .map(|i| c.row(i).1.iter().map(|&v| v as f64).sum())
                .collect(),
        }
    }
    /// The first non-finite value, if any, as (row, col).
    pub fn first_non_finite(&self) -> Option<(usize, usize)> {
        self.first_where(|v| !v.is_finite()).map(|(i, j, _)| (i, j))
    }

    /// The first negative value, if any, as (row, col, value): counts cannot be negative.
    pub fn first_negative(&self) -> Option<(usize, usize, f32)> {
        self.first_where(|v| v < 0.0)
    }

    /// The first stored value (in row order) that `bad` picks out, as (row, col, value).
    fn first_where(&self, bad: impl Fn(f32) -> bool) -> Option<(usize, usize, f32)> {
        match self {
            Matrix::Dense(a) => a
                .indexed_iter()
                .find(|(_, v)| bad(**v))
                .map(|((i, j), v)| (i, j, *v)),
            Matrix::Csr(c) => (0..c.n_rows()).find_map(|i| {
                let (idx, val) = c.row(i);
                val.iter()
                    .position(|&v| bad(v))
                    .map(|k| (i, idx[k] as usize, val[k]))
            }),
        }
    }
}

pub(crate) fn check_finite(object: &str, values: &[f32]) -> Result<()> {
    if let Some(pos) = values.iter().position(|v| !v.is_finite()) {
        return Err(DataError::data(
            object,
            format!("entry {pos} is {} (values must be finite)", values[pos]),
        ));
    }
    Ok(())
}

/// Rows handed out a block at a time as dense values, so a computation over every row (a PCA fit, a
/// projection) never holds a dense spots x genes copy of a sparse matrix.
pub trait RowBlocks {
    /// (rows, columns).
    fn dims(&self) -> (usize, usize);
    /// Rows `start..end`, dense.
    fn dense_rows(&self, start: usize, end: usize) -> Array2<f32>;
}

impl RowBlocks for ArrayView2<'_, f32> {
    fn dims(&self) -> (usize, usize) {
        self.dim()
    }
    fn dense_rows(&self, start: usize, end: usize) -> Array2<f32> {
        self.slice(s![start..end, ..]).to_owned()
    }
}

impl<T: RowBlocks> RowBlocks for &T {
    fn dims(&self) -> (usize, usize) {
        (**self).dims()
    }
    fn dense_rows(&self, start: usize, end: usize) -> Array2<f32> {
        (**self).dense_rows(start, end)
    }
}

impl RowBlocks for Matrix {
    fn dims(&self) -> (usize, usize) {
        self.shape()
    }
    fn dense_rows(&self, start: usize, end: usize) -> Array2<f32> {
        match self {
            Matrix::Dense(a) => a.slice(s![start..end, ..]).to_owned(),
            Matrix::Csr(c) => {
                let mut out = Array2::<f32>::zeros((end - start, c.n_cols()));
                for i in start..end {
                    let (idx, val) = c.row(i);
                    for (&j, &v) in idx.iter().zip(val) {
                        out[[i - start, j as usize]] += v;
                    }
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn csr_roundtrips_through_dense_and_transpose() {
        let d = array![[0.0f32, 1.0, 0.0], [2.0, 0.0, 3.0]];
        let c = CsrMatrix::from_dense(&d);
        assert_eq!(c.nnz(), 3);
        assert_eq!(c.to_dense(), d);
        assert_eq!(c.transpose().to_dense(), d.t().to_owned());
        let csc = c.transpose();
        let back = CsrMatrix::from_csc(2, 3, csc.indptr(), csc.indices(), csc.data()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn csr_rejects_bad_structure() {
        assert!(CsrMatrix::new(2, 2, vec![0, 2, 1], vec![0, 1], vec![1.0, 1.0]).is_err());
        let e = CsrMatrix::new(1, 2, vec![0, 1], vec![5], vec![1.0]).unwrap_err();
        assert!(e.to_string().contains("only 2 columns"), "{e}");
        assert!(CsrMatrix::new(1, 2, vec![0, 1], vec![0], vec![f32::NAN]).is_err());
    }

    #[test]
    fn select_rows_and_cols() {
        let d = array![[1.0f32, 0.0, 2.0], [0.0, 3.0, 0.0], [4.0, 5.0, 6.0]];
        let m = Matrix::Csr(CsrMatrix::from_dense(&d));
        let s = m.select_rows(&[2, 0]).select_cols(&[2, 0]);
        assert_eq!(s.to_dense(), array![[6.0f32, 4.0], [2.0, 1.0]]);
        assert_eq!(m.row_sums(), vec![3.0, 3.0, 15.0]);
    }
}
