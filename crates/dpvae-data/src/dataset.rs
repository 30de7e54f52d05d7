//! The one in-memory type for a spatial dataset, whatever file it came from.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use ndarray::Array2;
use polars::prelude::DataFrame;

use crate::error::{DataError, Result};
use crate::matrix::Matrix;

/// The on-disk formats dpvae reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// AnnData `.h5ad`.
    H5ad,
    /// 10x feature-barcode matrix in HDF5 (`filtered_feature_bc_matrix.h5`, Xenium `cell_feature_matrix.h5`).
    TenxH5,
    /// A Space Ranger `outs/` folder (matrix plus `spatial/tissue_positions*`).
    SpaceRanger,
    /// A 10x MatrixMarket folder (`matrix.mtx(.gz)`, features/genes, barcodes).
    MatrixMarket,
    /// A legacy ST count table, spots `XxY` by genes.
    StTsv,
    /// A Xenium output folder (`cell_feature_matrix.h5` plus `cells.csv(.gz)`).
    Xenium,
}

impl Format {
    pub fn as_str(&self) -> &'static str {
        match self {
            Format::H5ad => "h5ad",
            Format::TenxH5 => "10x-h5",
            Format::SpaceRanger => "spaceranger",
            Format::MatrixMarket => "mtx",
            Format::StTsv => "st-tsv",
            Format::Xenium => "xenium",
        }
    }
}

/// Where a dataset came from and how its expression was stored, for `dpvae inspect` and provenance.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceInfo {
    pub path: PathBuf,
    pub format: Format,
    /// Layout of X on disk: "dense", "csr" or "csc".
    pub x_layout: String,
    /// Element type of X on disk, e.g. "float32", "int64".
    pub x_dtype: String,
}

/// A spatial transcriptomics dataset: expression for `n_obs` spots (or cells) by `n_vars` genes, optional
/// coordinates, and per-spot / per-gene metadata.
#[derive(Debug, Clone)]
pub struct SpatialData {
    /// Expression, spots x genes (counts or processed values, see `uns`).
    pub x: Matrix,
    /// Spot / cell identifiers (barcodes), unique.
    pub obs_names: Vec<String>,
    /// Gene names (symbols) as the file gives them.
    pub var_names: Vec<String>,
    /// Gene ids (e.g. Ensembl) when the file has them alongside symbols.
    pub var_ids: Option<Vec<String>>,
    /// Spot coordinates, n x 2 or n x 3 (`obsm['spatial']`).
    pub spatial: Option<Array2<f64>>,
    /// Per-spot metadata (without the index, which is `obs_names`).
    pub obs: DataFrame,
    /// Per-gene metadata (without the index, which is `var_names`).
    pub var: DataFrame,
    /// Other per-spot embeddings (`X_dpvae`, `spatial_dpvae`, `X_pca`, ...), each n_obs rows.
    pub obsm: BTreeMap<String, Array2<f64>>,
    /// Extra matrices of X's shape, e.g. `layers['counts']` when asked for.
    pub layers: BTreeMap<String, Matrix>,
    /// Unstructured metadata as JSON (`uns`), including `uns['dpvae']` and Space Ranger scale factors.
    pub uns: serde_json::Map<String, serde_json::Value>,
    /// Provenance, when read from a file.
    pub source: Option<SourceInfo>,
}

impl SpatialData {
    /// A dataset from its parts, with empty metadata; checked with [`SpatialData::validate`].
    pub fn new(
        x: Matrix,
        obs_names: Vec<String>,
        var_names: Vec<String>,
        spatial: Option<Array2<f64>>,
    ) -> Result<Self> {
        let n_obs = x.n_rows();
        let data = SpatialData {
            x,
            obs_names,
            var_names,
            var_ids: None,
            spatial,
            obs: DataFrame::empty_with_height(n_obs),
            var: DataFrame::empty(),
            obsm: BTreeMap::new(),
            layers: BTreeMap::new(),
            uns: serde_json::Map::new(),
            source: None,
        };
        let mut data = data;
        data.var = DataFrame::empty_with_height(data.var_names.len());
        data.validate()?;
        Ok(data)
    }

    pub fn n_obs(&self) -> usize {
        self.x.n_rows()
    }
    pub fn n_vars(&self) -> usize {
        self.x.n_cols()
    }
    /// What one observation is, for messages: `cells` for single-cell data (Xenium), else `spots`.
    pub fn obs_noun(&self) -> &'static str {
        match self.source.as_ref().map(|s| s.format) {
            Some(Format::Xenium) => "cells",
            _ => "spots",
        }
    }

    pub fn has_spatial(&self) -> bool {
        self.spatial.is_some()
    }

    /// Coordinates, or an error that says where they were expected.
    pub fn require_spatial(&self) -> Result<&Array2<f64>> {
        self.spatial.as_ref().ok_or_else(|| match &self.source {
            Some(src) => DataError::missing(
                &src.path,
                "obsm['spatial']",
                "this operation needs spot coordinates; use an input that has them (an h5ad with obsm['spatial'], a Space Ranger folder, or a matrix plus a coordinates table)",
            ),
            None => DataError::data("obsm['spatial']", "this operation needs spot coordinates"),
        })
    }

    /// Check every invariant: shapes agree, names are unique, values and coordinates are finite, not empty.
    pub fn validate(&self) -> Result<()> {
        let (n, g) = self.x.shape();
        if n == 0 || g == 0 {
            return Err(DataError::data("X", format!("is empty ({n} x {g})")));
        }
        if self.obs_names.len() != n {
            return Err(DataError::data(
                "obs",
                format!("has {} names but X has {n} rows", self.obs_names.len()),
            ));
        }
        if self.var_names.len() != g {
            return Err(DataError::data(
                "var",
                format!("has {} names but X has {g} columns", self.var_names.len()),
            ));
        }
        if let Some(ids) = &self.var_ids
            && ids.len() != g
        {
            return Err(DataError::data(
                "var ids",
                format!("has {} ids but X has {g} columns", ids.len()),
            ));
        }
        if let Some(dup) = first_duplicate(&self.obs_names) {
            return Err(DataError::data(
                "obs_names",
                format!("barcode '{dup}' occurs more than once (spot ids must be unique)"),
            ));
        }
        if let Some((i, j)) = self.x.first_non_finite() {
            return Err(DataError::data(
                "X",
                format!("value at spot {i}, gene {j} is not finite (NaN or infinite)"),
            ));
        }
        if let Some(s) = &self.spatial {
            check_embedding("obsm['spatial']", s, n)?;
            if !(2..=3).contains(&s.ncols()) {
                return Err(DataError::data(
                    "obsm['spatial']",
                    format!(
                        "has {} columns; coordinates must be n x 2 or n x 3",
                        s.ncols()
                    ),
                ));
            }
        }
        for (key, m) in &self.obsm {
            check_embedding(&format!("obsm['{key}']"), m, n)?;
        }
        for (key, m) in &self.layers {
            if m.shape() != (n, g) {
                return Err(DataError::data(
                    format!("layers['{key}']"),
                    format!("has shape {:?} but X is {n} x {g}", m.shape()),
                ));
            }
        }
        if self.obs.width() > 0 && self.obs.height() != n {
            return Err(DataError::data(
                "obs",
                format!("table has {} rows but X has {n}", self.obs.height()),
            ));
        }
        if self.var.width() > 0 && self.var.height() != g {
            return Err(DataError::data(
                "var",
                format!("table has {} rows but X has {g} columns", self.var.height()),
            ));
        }
        Ok(())
    }

    /// Keep the given spots (rows) in the given order, with all per-spot data.
    pub fn select_obs(&self, rows: &[usize]) -> Result<SpatialData> {
        let idx = polars::prelude::IdxCa::from_vec(
            "idx".into(),
            rows.iter()
                .map(|&i| i as polars::prelude::IdxSize)
                .collect(),
        );
        let obs = if self.obs.width() > 0 {
            self.obs
                .take(&idx)
                .map_err(|e| DataError::data("obs", e.to_string()))?
        } else {
            DataFrame::empty_with_height(rows.len())
        };
        Ok(SpatialData {
            x: self.x.select_rows(rows),
            obs_names: rows.iter().map(|&i| self.obs_names[i].clone()).collect(),
            var_names: self.var_names.clone(),
            var_ids: self.var_ids.clone(),
            spatial: self
                .spatial
                .as_ref()
                .map(|s| s.select(ndarray::Axis(0), rows)),
            obs,
            var: self.var.clone(),
            obsm: self
                .obsm
                .iter()
                .map(|(k, m)| (k.clone(), m.select(ndarray::Axis(0), rows)))
                .collect(),
            layers: self
                .layers
                .iter()
                .map(|(k, m)| (k.clone(), m.select_rows(rows)))
                .collect(),
            uns: self.uns.clone(),
            source: self.source.clone(),
        })
    }

    /// Keep the given genes (columns) in the given order, with all per-gene data.
    pub fn select_vars(&self, cols: &[usize]) -> Result<SpatialData> {
        let idx = polars::prelude::IdxCa::from_vec(
            "idx".into(),
            cols.iter()
                .map(|&i| i as polars::prelude::IdxSize)
                .collect(),
        );
        let var = if self.var.width() > 0 {
            self.var
                .take(&idx)
                .map_err(|e| DataError::data("var", e.to_string()))?
        } else {
            DataFrame::empty_with_height(cols.len())
        };
        Ok(SpatialData {
            x: self.x.select_cols(cols),
            obs_names: self.obs_names.clone(),
            var_names: cols.iter().map(|&j| self.var_names[j].clone()).collect(),
            var_ids: self
                .var_ids
                .as_ref()
                .map(|ids| cols.iter().map(|&j| ids[j].clone()).collect()),
            spatial: self.spatial.clone(),
            obs: self.obs.clone(),
            var,
            obsm: self.obsm.clone(),
            layers: self
                .layers
                .iter()
                .map(|(k, m)| (k.clone(), m.select_cols(cols)))
                .collect(),
            uns: self.uns.clone(),
            source: self.source.clone(),
        })
    }
}

fn check_embedding(object: &str, m: &Array2<f64>, n: usize) -> Result<()> {
    if m.nrows() != n {
        return Err(DataError::data(
            object,
            format!("has {} rows but X has {n} spots", m.nrows()),
        ));
    }
    if let Some(((i, j), v)) = m.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(DataError::data(
            object,
            format!("value at row {i}, column {j} is {v} (must be finite)"),
        ));
    }
    Ok(())
}

fn first_duplicate(names: &[String]) -> Option<&str> {
    let mut seen = HashSet::with_capacity(names.len());
    names
        .iter()
        .find(|n| !seen.insert(n.as_str()))
        .map(|s| s.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn small() -> SpatialData {
        SpatialData::new(
            Matrix::Dense(array![[1.0f32, 0.0], [0.0, 2.0], [3.0, 3.0]]),
            vec!["a".into(), "b".into(), "c".into()],
            vec!["g1".into(), "g2".into()],
            Some(array![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]),
        )
        .unwrap()
    }

    #[test]
    fn validate_catches_duplicates_and_shape_errors() {
        let mut d = small();
        d.obs_names[2] = "a".into();
        assert!(d.validate().unwrap_err().to_string().contains("'a'"));
        let mut d = small();
        d.spatial = Some(array![[0.0, 0.0]]);
        assert!(d.validate().is_err());
        let mut d = small();
        d.spatial = Some(array![[0.0, 0.0], [f64::NAN, 0.0], [1.0, 1.0]]);
        assert!(d.validate().is_err());
    }

    #[test]
    fn subsetting_keeps_everything_aligned() {
        let d = small();
        let s = d.select_obs(&[2, 0]).unwrap().select_vars(&[1]).unwrap();
        assert_eq!(s.obs_names, vec!["c", "a"]);
        assert_eq!(s.var_names, vec!["g2"]);
        assert_eq!(s.x.to_dense(), array![[3.0f32], [0.0]]);
        assert_eq!(s.spatial.unwrap(), array![[0.0, 1.0], [0.0, 0.0]]);
    }
}
