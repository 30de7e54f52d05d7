//! Matrices: dense `array` (X, layers, obsm entries), `csr_matrix` and `csc_matrix`; reading and writing.

use std::collections::HashMap;

use hdf5_pure::AttrValue;
use ndarray::Array2;

use super::H5adWriteOptions;
use super::read::{encoding_of, in_element};
use super::write::{Node, compress, encode, encode_group};
use crate::error::Result;
use crate::io::hdf::{H5, Kind, attr_str, is_float, is_integer, numpy_name};
use crate::matrix::{CsrMatrix, Matrix};

/// Read a matrix element (X or a layer): dense `array`, `csr_matrix` or `csc_matrix`, with or without encoding
/// attributes. Returns the matrix, its on-disk layout and its numpy dtype name.
pub(super) fn read_matrix(h5: &H5, object: &str) -> Result<(Matrix, &'static str, String)> {
    match h5.kind(object)? {
        Kind::Dataset => read_dense(h5, object),
        Kind::Group => read_sparse(h5, object),
        Kind::Absent => Err(h5.missing(object, "the file has no such element")),
    }
}

/// A dense `array` dataset.
fn read_dense(h5: &H5, object: &str) -> Result<(Matrix, &'static str, String)> {
    let ds = h5.dataset(object)?;
    let attrs = h5.dataset_attrs(&ds, object)?;
    if let Some(enc) = encoding_of(&attrs)
        && enc != "array"
    {
        return Err(h5.invalid(
            object,
            format!("unknown encoding-type '{enc}' for a matrix dataset (expected 'array')"),
        ));
    }
    let shape = h5.shape(&ds, object)?;
    if shape.len() != 2 {
        return Err(h5.invalid(
            object,
            format!("is a {}-D array, expected 2-D (spots x genes)", shape.len()),
        ));
    }
    let dtype = h5.dtype(&ds, object)?;
    let values = h5.read_f32(&ds, object)?;
    let dense = Array2::from_shape_vec((shape[0], shape[1]), values).map_err(|e| {
        h5.invalid(
            object,
            format!("data does not fill its shape {shape:?}: {e}"),
        )
    })?;
    Ok((Matrix::Dense(dense), "dense", numpy_name(&dtype)))
}

/// A `csr_matrix` or `csc_matrix` group (CSC is converted to CSR).
fn read_sparse(h5: &H5, object: &str) -> Result<(Matrix, &'static str, String)> {
    let g = h5.group(object)?;
    let attrs = h5.group_attrs(&g, object)?;
    let layout = sparse_layout(h5, object, &attrs)?;
    let (n_rows, n_cols) = sparse_shape(h5, object, &attrs)?;
    let data_obj = format!("{object}/data");
    let ds = h5.dataset(&data_obj)?;
    let dtype = h5.dtype(&ds, &data_obj)?;
    let values = h5.read_f32(&ds, &data_obj)?;
    let idx_obj = format!("{object}/indices");
    let indices = h5.read_indices_u32(&h5.dataset(&idx_obj)?, &idx_obj)?;
    let ptr_obj = format!("{object}/indptr");
    let indptr = h5.read_index(&h5.dataset(&ptr_obj)?, &ptr_obj)?;
    let csr = if layout == "csr" {
        CsrMatrix::new(n_rows, n_cols, indptr, indices, values)
    } else {
        CsrMatrix::from_csc(n_rows, n_cols, &indptr, &indices, &values)
    }
    .map_err(|e| in_element(e, h5, object))?;
    Ok((Matrix::Csr(csr), layout, numpy_name(&dtype)))
}

/// The layout of a sparse matrix group: `encoding-type` `csr_matrix` / `csc_matrix`, or the legacy
/// `h5sparse_format` attribute of anndata < 0.7.
fn sparse_layout(
    h5: &H5,
    object: &str,
    attrs: &HashMap<String, AttrValue>,
) -> Result<&'static str> {
    Ok(match encoding_of(attrs).as_deref() {
        Some("csr_matrix") => "csr",
        Some("csc_matrix") => "csc",
        Some(other) => {
            return Err(h5.invalid(
                object,
                format!(
                    "unknown encoding-type '{other}' (dpvae reads array, csr_matrix and csc_matrix)"
                ),
            ));
        }
        // anndata < 0.7 wrote h5sparse groups.
        None => match attr_str(attrs, "h5sparse_format").as_deref() {
            Some("csr") => "csr",
            Some("csc") => "csc",
            _ => {
                return Err(h5.invalid(
                    object,
                    "is a group without encoding-type or h5sparse_format; cannot tell its layout",
                ));
            }
        },
    })
}

/// The `(rows, columns)` a sparse matrix group records in its `shape` (or legacy `h5sparse_shape`) attribute.
fn sparse_shape(
    h5: &H5,
    object: &str,
    attrs: &HashMap<String, AttrValue>,
) -> Result<(usize, usize)> {
    let shape = attrs
        .get("shape")
        .or_else(|| attrs.get("h5sparse_shape"))
        .and_then(|v| {
            v.to_u64s().or_else(|| {
                v.to_i64s()
                    .map(|s| s.into_iter().map(|d| d.max(0) as u64).collect())
            })
        })
        .ok_or_else(|| {
            h5.missing(
                &format!("{object} attribute 'shape'"),
                "a sparse matrix group must record its shape",
            )
        })?;
    if shape.len() != 2 {
        return Err(h5.invalid(object, format!("shape attribute {shape:?} is not 2-D")));
    }
    if shape.iter().any(|&d| d > u32::MAX as u64) {
        return Err(h5.invalid(object, format!("shape attribute {shape:?} is out of range")));
    }
    Ok((shape[0] as usize, shape[1] as usize))
}

/// Read every 2-D (or 1-D) numeric dataset under `obsm` as an n_obs-row f64 array. Dataframes and sparse
/// matrices in obsm are skipped (logged): dpvae uses dense embeddings only.
pub(super) fn read_obsm(
    h5: &H5,
    n_obs: usize,
) -> Result<std::collections::BTreeMap<String, Array2<f64>>> {
    let mut out = std::collections::BTreeMap::new();
    match h5.kind("obsm")? {
        Kind::Group => {}
        Kind::Dataset => {
            // anndata < 0.7 stored obsm as one compound array; its coordinates are not recoverable here.
            return Err(h5.invalid(
                "obsm",
                "is a compound record array (anndata < 0.7 layout); re-save with anndata >= 0.7",
            ));
        }
        Kind::Absent => return Ok(out),
    }
    let g = h5.group("obsm")?;
    for (key, kind) in h5.children(&g, "obsm")? {
        let object = format!("obsm/{key}");
        // Other entries that dpvae cannot hold are skipped, but the coordinates are never dropped silently.
        let unusable = |problem: String| -> Result<()> {
            if key == "spatial" {
                return Err(h5.invalid(
                    &object,
                    format!("{problem}; coordinates must be a numeric n x 2 or n x 3 array"),
                ));
            }
            tracing::debug!(object, problem, "skipping obsm entry");
            Ok(())
        };
        if kind != Kind::Dataset {
            unusable("is not an array (a dataframe or sparse matrix?)".into())?;
            continue;
        }
        let ds = h5.dataset(&object)?;
        let attrs = h5.dataset_attrs(&ds, &object)?;
        if let Some(enc) = encoding_of(&attrs)
            && enc != "array"
        {
            return Err(h5.invalid(
                &object,
                format!("unknown encoding-type '{enc}' (expected 'array')"),
            ));
        }
        let dt = h5.dtype(&ds, &object)?;
        if !(is_integer(&dt) || is_float(&dt)) {
            unusable(format!("has type {dt}, not numbers"))?;
            continue;
        }
        let shape = h5.shape(&ds, &object)?;
        let (rows, cols) = match shape.as_slice() {
            [r] => (*r, 1),
            [r, c] => (*r, *c),
            _ => {
                unusable(format!("has shape {shape:?}, not 1-D or 2-D"))?;
                continue;
            }
        };
        if rows != n_obs {
            return Err(h5.invalid(
                &object,
                format!("has {rows} rows but obs has {n_obs} (shape mismatch)"),
            ));
        }
        let values = h5.read_f64(&ds, &object)?;
        let arr = Array2::from_shape_vec((rows, cols), values)
            .map_err(|e| h5.invalid(&object, format!("data does not fill its shape: {e}")))?;
        out.insert(key, arr);
    }
    Ok(out)
}

// Writing

pub(super) fn write_f64_array<N: Node>(
    node: &mut N,
    name: &str,
    a: &Array2<f64>,
    opts: &H5adWriteOptions,
) {
    let flat: Vec<f64> = a.iter().copied().collect();
    let b = node.dataset(name);
    b.with_f64_data(&flat)
        .with_shape(&[a.nrows() as u64, a.ncols() as u64]);
    compress(b, opts, flat.len());
    encode(b, "array", "0.2.0");
}

pub(super) fn write_matrix<N: Node>(node: &mut N, name: &str, m: &Matrix, opts: &H5adWriteOptions) {
    match m {
        Matrix::Dense(a) => {
            let flat: Vec<f32> = match a.as_slice() {
                Some(s) => s.to_vec(),
                None => a.iter().copied().collect(),
            };
            let b = node.dataset(name);
            b.with_f32_data(&flat)
                .with_shape(&[a.nrows() as u64, a.ncols() as u64]);
            compress(b, opts, flat.len());
            encode(b, "array", "0.2.0");
        }
        Matrix::Csr(c) => {
            let mut g = node.new_group(name);
            encode_group(&mut g, "csr_matrix", "0.1.0");
            g.set_attr(
                "shape",
                AttrValue::I64Array(vec![c.n_rows() as i64, c.n_cols() as i64]),
            );
            let b = g.create_dataset("data");
            b.with_f32_data(c.data());
            compress(b, opts, c.nnz());
            let indices: Vec<i32> = c.indices().iter().map(|&j| j as i32).collect();
            let b = g.create_dataset("indices");
            b.with_i32_data(&indices);
            compress(b, opts, indices.len());
            let indptr: Vec<i64> = c.indptr().iter().map(|&p| p as i64).collect();
            g.create_dataset("indptr").with_i64_data(&indptr);
            node.add(g.finish());
        }
    }
}
