//! 10x Genomics feature-barcode matrices in HDF5 (Cell Ranger / Space Ranger >= 3 `matrix/` layout, as in
//! `filtered_feature_bc_matrix.h5` and Xenium `cell_feature_matrix.h5`).
//!
//! `matrix/` holds the features x barcodes matrix in CSC form (`data`, `indices`, `indptr`, `shape`), so read as
//! CSR it is already barcodes x features: spots in rows, as dpvae wants. Features carry `name`, `id` and
//! `feature_type`; [`FeatureFilter`] keeps Gene Expression by default, as scanpy's `read_10x_h5` does.

use std::path::Path;

use super::FeatureFilter;
use super::hdf::{H5, Kind, numpy_name};
use crate::dataset::{Format, SourceInfo, SpatialData};
use crate::error::{DataError, Result};
use crate::matrix::{CsrMatrix, Matrix};

/// Read a 10x HDF5 matrix keeping Gene Expression features.
pub fn read_10x_h5(path: &Path) -> Result<SpatialData> {
    read_10x_h5_with(path, &FeatureFilter::default())
}

/// Read a 10x HDF5 matrix keeping the features `filter` accepts.
pub fn read_10x_h5_with(path: &Path, filter: &FeatureFilter) -> Result<SpatialData> {
    let h5 = H5::open(path)?;
    read_from(&h5, filter)
}

/// Read a 10x HDF5 image held in memory (the entry point of the fuzz target).
pub fn read_10x_h5_bytes(bytes: &[u8]) -> Result<SpatialData> {
    let h5 = H5::from_bytes(bytes.to_vec(), Path::new("<memory>.h5"))?;
    read_from(&h5, &FeatureFilter::default())
}

/// The library id Space Ranger records in the file's `library_ids` attribute, if any.
pub(crate) fn library_id(path: &Path) -> Option<String> {
    let h5 = H5::open(path).ok()?;
    let attrs = h5.group_attrs(&h5.file.root(), "/").ok()?;
    attrs.get("library_ids").and_then(|v| {
        v.as_strings()
            .and_then(|s| s.first().cloned())
            .or_else(|| v.as_str().map(str::to_string))
    })
}

fn read_from(h5: &H5, filter: &FeatureFilter) -> Result<SpatialData> {
    if h5.kind("matrix")? != Kind::Group {
        return Err(h5.missing(
            "matrix",
            "not a 10x feature-barcode HDF5 file (Cell Ranger v3+ layout has a 'matrix' group); Cell Ranger 2 files with per-genome groups are not supported",
        ));
    }
    let (csr, n_features, n_barcodes, dtype) = read_counts(h5)?;
    let barcodes = h5.strings_at("matrix/barcodes")?;
    let (names, ids, types) = read_features(h5)?;
    for (object, len) in [
        ("matrix/barcodes", barcodes.len()),
        ("matrix/features/name", names.len()),
        ("matrix/features/id", ids.len()),
        ("matrix/features/feature_type", types.len()),
    ] {
        let expected = if object == "matrix/barcodes" {
            n_barcodes
        } else {
            n_features
        };
        if len != expected {
            return Err(h5.invalid(
                object,
                format!("has {len} entries but matrix/shape says {expected} (shape mismatch)"),
            ));
        }
    }

    let keep: Vec<usize> = (0..n_features)
        .filter(|&j| filter.keeps(&types[j]))
        .collect();
    if keep.is_empty() {
        let mut present: Vec<&str> = types.iter().map(|s| s.as_str()).collect();
        present.sort_unstable();
        present.dedup();
        return Err(h5.invalid(
            "matrix/features/feature_type",
            format!(
                "no feature passes the feature-type filter {filter:?}; types present: {present:?}"
            ),
        ));
    }
    let x = if keep.len() == n_features {
        csr
    } else {
        csr.select_cols(&keep)
    };
    let var_names: Vec<String> = keep.iter().map(|&j| names[j].clone()).collect();
    let var_ids: Vec<String> = keep.iter().map(|&j| ids[j].clone()).collect();
    let feature_types: Vec<String> = keep.iter().map(|&j| types[j].clone()).collect();

    let mut data = SpatialData::new(Matrix::Csr(x), barcodes, var_names, None)
        .map_err(|e| e.in_file(&h5.path))?;
    super::check_counts(&data, &h5.path)?;
    data.var = polars::prelude::DataFrame::new(
        data.var_names.len(),
        vec![
            polars::prelude::Column::new("gene_ids".into(), &var_ids),
            polars::prelude::Column::new("feature_types".into(), &feature_types),
        ],
    )
    .map_err(|e| h5.invalid("matrix/features", e.to_string()))?;
    data.var_ids = Some(var_ids);
    data.source = Some(SourceInfo {
        path: h5.path.clone(),
        format: Format::TenxH5,
        x_layout: "csc".into(),
        x_dtype: dtype,
    });
    Ok(data)
}

/// The barcode-compressed count matrix under `matrix/` as spots x features CSR, with the shape and numpy dtype.
fn read_counts(h5: &H5) -> Result<(CsrMatrix, usize, usize, String)> {
    let shape_ds = h5.dataset("matrix/shape")?;
    let shape = h5.read_index(&shape_ds, "matrix/shape")?;
    let &[n_features, n_barcodes] = shape.as_slice() else {
        return Err(h5.invalid(
            "matrix/shape",
            format!("has {} entries, expected 2", shape.len()),
        ));
    };
    if n_features > u32::MAX as usize || n_barcodes > u32::MAX as usize {
        return Err(h5.invalid("matrix/shape", format!("{shape:?} is out of range")));
    }
    let data_ds = h5.dataset("matrix/data")?;
    let dtype = numpy_name(&h5.dtype(&data_ds, "matrix/data")?);
    let values = h5.read_f32(&data_ds, "matrix/data")?;
    let indices = h5.read_indices_u32(&h5.dataset("matrix/indices")?, "matrix/indices")?;
    let indptr = h5.read_index(&h5.dataset("matrix/indptr")?, "matrix/indptr")?;
    let csr =
        CsrMatrix::new(n_barcodes, n_features, indptr, indices, values).map_err(|e| match e {
            DataError::Data { object, problem } => h5.invalid(
                &format!("matrix/{object}"),
                format!("{problem} (barcode-compressed layout)"),
            ),
            other => other,
        })?;
    Ok((csr, n_features, n_barcodes, dtype))
}

/// Feature names, ids and types: Cell Ranger 3+'s `matrix/features` group, or the Cell Ranger 2 datasets copied
/// under `matrix/` (all "Gene Expression").
fn read_features(h5: &H5) -> Result<(Vec<String>, Vec<String>, Vec<String>)> {
    let features = if h5.kind("matrix/features")? == Kind::Group {
        let names = h5.strings_at("matrix/features/name")?;
        let ids = h5.strings_at("matrix/features/id")?;
        let types = if h5.kind("matrix/features/feature_type")? == Kind::Dataset {
            h5.strings_at("matrix/features/feature_type")?
        } else {
            vec!["Gene Expression".to_string(); names.len()]
        };
        (names, ids, types)
    } else {
        // Cell Ranger 2 kept genes/gene_names directly under the genome group; some tools copy that into matrix/.
        let names = h5.strings_at("matrix/gene_names")?;
        let ids = h5.strings_at("matrix/genes")?;
        let types = vec!["Gene Expression".to_string(); names.len()];
        (names, ids, types)
    };
    Ok(features)
}
