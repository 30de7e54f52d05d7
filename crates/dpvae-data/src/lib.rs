//! # dpvae-data
//!
//! The data layer of dpvae: one in-memory type for a spatial transcriptomics dataset ([`SpatialData`]),
//! readers for the formats the ecosystem writes (h5ad, 10x HDF5, Space Ranger outs, 10x MatrixMarket,
//! legacy ST tables), writers (h5ad that anndata reads, CSV/Parquet tables), all writes atomic.

pub mod align;
pub mod atomic;
pub mod dataset;
pub mod depth;
pub mod error;
pub mod fetch;
pub mod io;
pub mod linalg;
pub mod matrix;
pub mod preprocess;
pub mod pseudospots;
pub mod simulate;
pub mod simulate_cells;
pub mod split;
pub mod testdata;

pub use dataset::{Format, SourceInfo, SpatialData};
pub use error::{DataError, Result};
pub use matrix::{CsrMatrix, Matrix};
