//! 10x Xenium output folders: `cell_feature_matrix.h5` (10x HDF5, cells x features including control probes and
//! blank codewords) plus `cells.csv.gz` / `cells.parquet` with per-cell centroids in microns.
//!
//! `obsm['spatial']` is `[x_centroid, y_centroid]`; the other numeric per-cell columns (transcript counts, cell
//! and nucleus areas) become obs columns. Control features are dropped by the default [`FeatureFilter`].

use std::path::Path;

use super::FeatureFilter;
use super::tables::{coords_from_frame, join_coords, read_table};
use crate::dataset::{Format, SpatialData};
use crate::error::{DataError, Result};

/// Read a Xenium folder keeping Gene Expression features.
pub fn read_xenium(dir: &Path) -> Result<SpatialData> {
    read_xenium_with(dir, &FeatureFilter::default())
}

/// Read a Xenium folder keeping the features `filter` accepts.
pub fn read_xenium_with(dir: &Path, filter: &FeatureFilter) -> Result<SpatialData> {
    let h5_path = dir.join("cell_feature_matrix.h5");
    if !h5_path.exists() {
        return Err(DataError::missing(
            dir,
            "cell_feature_matrix.h5",
            "a Xenium output folder holds the cell-feature matrix",
        ));
    }
    let cells_path = ["cells.parquet", "cells.csv.gz", "cells.csv"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
        .ok_or_else(|| {
            DataError::missing(
                dir,
                "cells.csv.gz",
                "Xenium cell centroids (x_centroid, y_centroid)",
            )
        })?;
    let matrix = super::tenx::read_10x_h5_with(&h5_path, filter)?;
    let df = read_table(&cells_path, true)?;
    let table = coords_from_frame(&cells_path, &df)?;
    let mut data = join_coords(matrix, &table, &cells_path)?;
    if let Some(src) = data.source.as_mut() {
        src.path = dir.to_path_buf();
        src.format = Format::Xenium;
    }
    data.validate().map_err(|e| e.in_file(dir))?;
    Ok(data)
}
