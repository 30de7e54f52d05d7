//! Compressed sparse row (CSR) structure shared by the data layer and the statistics: the borrowed view
//! [`CsrView`], the structural check every CSR matrix passes ([`check_structure`]), and the transpose
//! ([`transpose`], which is also CSR -> CSC).
//!
//! The owned matrix type stays `dpvae_data::CsrMatrix` (its constructors report the data layer's typed errors,
//! which its readers rely on); it checks its structure with [`check_structure`], transposes with [`transpose`]
//! and lends itself as a [`CsrView`] (`CsrMatrix::view`), the type the evaluation takes.

/// A borrowed CSR matrix, rows (spots) compressed: row `i` holds columns `indices[indptr[i]..indptr[i + 1]]`
/// with values `data[...]` (the layout of `dpvae_data::CsrMatrix`).
#[derive(Debug, Clone, Copy)]
pub struct CsrView<'a> {
    pub n_rows: usize,
    pub n_cols: usize,
    pub indptr: &'a [usize],
    pub indices: &'a [u32],
    pub data: &'a [f32],
}

/// A CSR structure that breaks an invariant: which array (`indptr`, `indices`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object} {problem}")]
pub struct SparseError {
    pub object: String,
    pub problem: String,
}

fn bad(object: &str, problem: String) -> SparseError {
    SparseError {
        object: object.to_string(),
        problem,
    }
}

/// Check CSR invariants: `indptr` has `n_rows + 1` monotone entries starting at 0 and ending at `nnz` (the length
/// of `indices`, which must equal `n_values`), and every column index is below `n_cols`. Values are not looked at.
pub fn check_structure(
    n_rows: usize,
    n_cols: usize,
    indptr: &[usize],
    indices: &[u32],
    n_values: usize,
) -> Result<(), SparseError> {
    if indptr.len() != n_rows + 1 {
        return Err(bad(
            "indptr",
            format!(
                "has {} entries, expected n_rows + 1 = {}",
                indptr.len(),
                n_rows + 1
            ),
        ));
    }
    if indices.len() != n_values {
        return Err(bad(
            "indices",
            format!("has {} entries but data has {n_values}", indices.len()),
        ));
    }
    if indptr[0] != 0 || indptr[n_rows] != n_values {
        return Err(bad(
            "indptr",
            format!(
                "must start at 0 and end at nnz = {n_values} (starts at {}, ends at {})",
                indptr[0], indptr[n_rows]
            ),
        ));
    }
    if let Some(row) = indptr.windows(2).position(|w| w[0] > w[1]) {
        return Err(bad(
            "indptr",
            format!(
                "is not monotone at row {row} ({} > {})",
                indptr[row],
                indptr[row + 1]
            ),
        ));
    }
    if let Some(pos) = indices.iter().position(|&j| j as usize >= n_cols) {
        return Err(bad(
            "indices",
            format!(
                "entry {pos} is {} but there are only {n_cols} columns",
                indices[pos]
            ),
        ));
    }
    Ok(())
}

/// The transpose of a valid CSR structure (`n_rows x n_cols`), as CSR of the `n_cols x n_rows` transpose (which is
/// the CSC form of the input): `(indptr, indices, data)`, row indices sorted within each output row. Values are
/// carried as they are (a counting sort over columns, stable in the input's row order).
pub fn transpose<T: Copy + Default>(
    n_rows: usize,
    n_cols: usize,
    indptr: &[usize],
    indices: &[u32],
    data: &[T],
) -> (Vec<usize>, Vec<u32>, Vec<T>) {
    let mut counts = vec![0usize; n_cols + 1];
    for &j in indices {
        counts[j as usize + 1] += 1;
    }
    for j in 0..n_cols {
        counts[j + 1] += counts[j];
    }
    let out_ptr = counts.clone();
    let mut next = counts;
    let mut out_idx = vec![0u32; data.len()];
    let mut out_val = vec![T::default(); data.len()];
    for i in 0..n_rows {
        for k in indptr[i]..indptr[i + 1] {
            let j = indices[k] as usize;
            let dst = next[j];
            out_idx[dst] = i as u32;
            out_val[dst] = data[k];
            next[j] += 1;
        }
    }
    (out_ptr, out_idx, out_val)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_of_a_small_matrix_and_structure_errors() {
        // [[0, 1, 0], [2, 0, 3]]
        let (ptr, idx, val) = ([0, 1, 3], [1u32, 0, 2], [1.0f32, 2.0, 3.0]);
        check_structure(2, 3, &ptr, &idx, 3).unwrap();
        let (tp, ti, tv) = transpose(2, 3, &ptr, &idx, &val);
        assert_eq!(tp, vec![0, 1, 2, 3]);
        assert_eq!(ti, vec![1, 0, 1]);
        assert_eq!(tv, vec![2.0, 1.0, 3.0]);
        let (bp, bi, bv) = transpose(3, 2, &tp, &ti, &tv);
        assert_eq!(
            (bp.as_slice(), bi.as_slice(), bv.as_slice()),
            (&ptr[..], &idx[..], &val[..])
        );
        assert!(check_structure(2, 2, &[0, 2, 1], &[0, 1], 2).is_err());
        let e = check_structure(1, 2, &[0, 1], &[5], 1).unwrap_err();
        assert_eq!(e.object, "indices");
        assert!(e.problem.contains("only 2 columns"), "{e}");
    }
}
