//! AnnData `.h5ad` files: reading what anndata 0.7 to 0.12 write, and writing files anndata (>= 0.10) reads
//! without warnings.
//!
//! The on-disk layout is the anndata element specification: every group and dataset carries an
//! `encoding-type` / `encoding-version` attribute (`anndata`, `array`, `csr_matrix`, `csc_matrix`,
//! `dataframe`, `categorical`, `string-array`, `nullable-integer`, `nullable-boolean`,
//! `nullable-string-array`, `dict`, `string`, `numeric-scalar`). Files from anndata before 0.8 may lack those
//! attributes; the reader then falls back on the layout (a dataset is dense, a group with `indptr` is sparse with
//! the legacy `h5sparse_format` attribute, a dataframe's index is named by `_index` or is `index`/`_index`,
//! legacy categoricals live under `__categories`).
//!
//! Reading and writing are split by encoding, as anndata's registry is: `read` holds the file root (the `anndata`
//! element) and `write` the builder it is written with; each element kind has one module with
//! its reader and its writer:
//!
//! - `matrix`: `array` (dense X, layers and obsm arrays), `csr_matrix`, `csc_matrix`;
//! - `dataframe`: `dataframe` (obs, var) and its columns: `categorical`, `string-array`, `nullable-*`;
//! - `mapping`: `dict` (uns), `string` and `numeric-scalar`.

mod dataframe;
mod mapping;
mod matrix;
mod read;
mod write;

use std::path::Path;

use super::ReadOptions;
use super::hdf::H5;
use crate::dataset::SpatialData;
use crate::error::{DataError, Result};

/// Read an `.h5ad` file with default options.
pub fn read_h5ad(path: &Path) -> Result<SpatialData> {
    read_h5ad_with(path, &ReadOptions::default())
}

/// Read an `.h5ad` file; `opts.layer` selects `layers[name]` as the expression matrix.
pub fn read_h5ad_with(path: &Path, opts: &ReadOptions) -> Result<SpatialData> {
    let h5 = H5::open(path)?;
    let data = read::read_from(&h5, opts)?;
    if opts.require_spatial {
        data.require_spatial()?;
    }
    Ok(data)
}

/// Read an `.h5ad` image held in memory (the entry point of the fuzz target).
pub fn read_h5ad_bytes(bytes: &[u8]) -> Result<SpatialData> {
    let h5 = H5::from_bytes(bytes.to_vec(), Path::new("<memory>.h5ad"))?;
    read::read_from(&h5, &ReadOptions::default())
}

/// Options for [`write_h5ad_with`].
#[derive(Debug, Clone, Default)]
pub struct H5adWriteOptions {
    /// gzip level (1-9) for X, layers and obsm; `None` (anndata's default) writes uncompressed.
    pub gzip: Option<u32>,
}

/// Write `data` as an `.h5ad` file anndata reads, atomically (temporary file in the target directory, then
/// rename).
pub fn write_h5ad(path: &Path, data: &SpatialData) -> Result<()> {
    write_h5ad_with(path, data, &H5adWriteOptions::default())
}

/// [`write_h5ad`] with options.
pub fn write_h5ad_with(path: &Path, data: &SpatialData, opts: &H5adWriteOptions) -> Result<()> {
    data.validate()?;
    let builder = write::build_h5ad(data, opts)?;
    crate::atomic::write_atomic(path, |w| {
        builder.finish_to(w).map_err(|e| DataError::Hdf5 {
            path: path.to_path_buf(),
            object: "/".into(),
            message: e.to_string(),
        })
    })
}

/// The `.h5ad` image of `data` in memory.
pub fn h5ad_bytes(data: &SpatialData, opts: &H5adWriteOptions) -> Result<Vec<u8>> {
    data.validate()?;
    write::build_h5ad(data, opts)?
        .finish()
        .map_err(|e| DataError::data("h5ad", format!("HDF5 serialisation failed: {e}")))
}
