//! Readers and writers for every on-disk format dpvae accepts, behind one entry point: [`read`].
//!
//! Each format has its own module; [`detect`] picks one from a path (file extension or folder contents), so
//! every command of the CLI takes any supported input.

pub mod h5ad;
pub(crate) mod hdf;
pub mod mtx;
pub mod spaceranger;
pub mod st;
pub mod tables;
pub mod tenx;
pub mod xenium;

use std::path::{Path, PathBuf};

use crate::dataset::{Format, SpatialData};
use crate::error::{DataError, Result};

/// Which 10x feature types to keep (10x HDF5, Xenium and MatrixMarket inputs with a feature-type column).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FeatureFilter {
    /// Keep `Gene Expression` features only (scanpy's `gex_only=True`): drops antibody capture, CRISPR and
    /// Xenium control probes / blank codewords.
    #[default]
    GeneExpression,
    /// Keep every feature.
    All,
    /// Keep the listed feature types (exact match, e.g. `"Antibody Capture"`).
    Types(Vec<String>),
}

impl FeatureFilter {
    /// Whether a feature of this type is kept.
    pub fn keeps(&self, feature_type: &str) -> bool {
        match self {
            FeatureFilter::GeneExpression => feature_type == "Gene Expression",
            FeatureFilter::All => true,
            FeatureFilter::Types(types) => types.iter().any(|t| t == feature_type),
        }
    }
}

/// Options for [`read_with`]. The defaults read X as stored, keep Gene Expression features and do not
/// require coordinates.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Use `layers[layer]` as the expression matrix instead of `X` (h5ad), e.g. `"counts"`.
    pub layer: Option<String>,
    /// Feature types to keep for 10x inputs.
    pub feature_types: FeatureFilter,
    /// An extra per-spot coordinate table (CSV/TSV/Parquet keyed by barcode) for MatrixMarket folders, legacy
    /// ST tables (an alignment table) or any input whose coordinates should be replaced.
    pub coords: Option<PathBuf>,
    /// Fail with a typed error when the input has no spot coordinates.
    pub require_spatial: bool,
}

impl ReadOptions {
    pub fn layer(mut self, layer: impl Into<String>) -> Self {
        self.layer = Some(layer.into());
        self
    }
    pub fn feature_types(mut self, filter: FeatureFilter) -> Self {
        self.feature_types = filter;
        self
    }
    pub fn coords(mut self, path: impl Into<PathBuf>) -> Self {
        self.coords = Some(path.into());
        self
    }
    pub fn require_spatial(mut self, yes: bool) -> Self {
        self.require_spatial = yes;
        self
    }
}

/// Read any supported input with default options.
pub fn read(path: &Path) -> Result<SpatialData> {
    read_with(path, &ReadOptions::default())
}

/// Read any supported input: detect its format, read it, apply `opts`, validate.
pub fn read_with(path: &Path, opts: &ReadOptions) -> Result<SpatialData> {
    let format = detect(path)?;
    tracing::debug!(path = %path.display(), format = format.as_str(), "reading");
    let mut data = match format {
        Format::H5ad => h5ad::read_h5ad_with(path, opts)?,
        Format::TenxH5 => tenx::read_10x_h5_with(path, &opts.feature_types)?,
        Format::SpaceRanger => spaceranger::read_spaceranger_with(path, &opts.feature_types)?,
        Format::Xenium => xenium::read_xenium_with(path, &opts.feature_types)?,
        Format::MatrixMarket => mtx::read_mtx_dir_with(path, opts)?,
        Format::StTsv => st::read_st_tsv_with(path, opts.coords.as_deref())?,
    };
    // Formats whose reader does not consume `coords` get their coordinates replaced by the table.
    if let Some(coords) = &opts.coords
        && !matches!(format, Format::MatrixMarket | Format::StTsv)
    {
        data = tables::attach_coords(data, coords)?;
    }
    if opts.require_spatial {
        data.require_spatial()?;
    }
    Ok(data)
}

/// Detect the format of `path` from its extension (files) or its contents (folders).
///
/// Files: `.h5ad` is AnnData; `.h5` is a 10x feature-barcode matrix; `.tsv`/`.tsv.gz`/`.txt(.gz)` is a legacy ST
/// count table. Folders: `filtered_feature_bc_matrix.h5` plus `spatial/tissue_positions*` is a Space Ranger outs
/// folder; `cell_feature_matrix.h5` plus `cells.csv(.gz)` / `cells.parquet` is Xenium; `matrix.mtx(.gz)` is a 10x
/// MatrixMarket folder; a single `*.tsv(.gz)` count table (plus an optional `alignment_table*`) is legacy ST.
pub fn detect(path: &Path) -> Result<Format> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if meta.is_dir() {
        return detect_dir(path);
    }
    if !meta.is_file() {
        // Reading a FIFO would block until something writes to it; a device could be endless.
        return Err(DataError::UnknownFormat {
            path: path.to_path_buf(),
            reason: "is not a regular file or a folder (a FIFO, socket or device); give a file or a folder"
                .into(),
        });
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let unknown = |reason: &str| DataError::UnknownFormat {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if name.ends_with(".h5ad") {
        Ok(Format::H5ad)
    } else if name.ends_with(".h5") || name.ends_with(".hdf5") {
        Ok(Format::TenxH5)
    } else if [".tsv", ".tsv.gz", ".txt", ".txt.gz"]
        .iter()
        .any(|ext| name.ends_with(ext))
    {
        Ok(Format::StTsv)
    } else if name.ends_with(".mtx") || name.ends_with(".mtx.gz") {
        Err(unknown(
            "a MatrixMarket file is read as part of its folder: pass the folder that holds matrix.mtx(.gz), features.tsv and barcodes.tsv",
        ))
    } else {
        Err(unknown("unrecognised file extension"))
    }
}

fn detect_dir(dir: &Path) -> Result<Format> {
    let has = |rel: &str| dir.join(rel).exists();
    let any = |rels: &[&str]| rels.iter().any(|r| has(r));
    let positions = [
        "spatial/tissue_positions.csv",
        "spatial/tissue_positions_list.csv",
        "spatial/tissue_positions.parquet",
    ];
    if has("filtered_feature_bc_matrix.h5") && any(&positions) {
        return Ok(Format::SpaceRanger);
    }
    if has("cell_feature_matrix.h5") && any(&["cells.csv.gz", "cells.csv", "cells.parquet"]) {
        return Ok(Format::Xenium);
    }
    if any(&["matrix.mtx", "matrix.mtx.gz"]) {
        return Ok(Format::MatrixMarket);
    }
    if st::find_count_table(dir).is_ok() {
        return Ok(Format::StTsv);
    }
    let reason = if has("filtered_feature_bc_matrix.h5") {
        "a folder with filtered_feature_bc_matrix.h5 but no spatial/tissue_positions*.csv|parquet (pass the .h5 file itself to read it without coordinates)"
    } else {
        "a folder without filtered_feature_bc_matrix.h5 + spatial/, cell_feature_matrix.h5 + cells.csv.gz, matrix.mtx(.gz) or a *.tsv(.gz) count table"
    };
    Err(DataError::UnknownFormat {
        path: dir.to_path_buf(),
        reason: reason.to_string(),
    })
}

/// Open a possibly gzip-compressed text file (by extension `.gz`) and return its full content.
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::invalid(path, "gzip stream", e.to_string()))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// A count format (10x, MatrixMarket, ST table, Xenium) holds counts: a negative value means a corrupt or
/// mislabelled file, and training on it would give silently wrong placements.
pub(crate) fn check_counts(data: &SpatialData, path: &Path) -> Result<()> {
    match data.x.first_negative() {
        Some((i, j, v)) => Err(DataError::invalid(
            path,
            "counts",
            format!(
                "value {v} at spot '{}', gene '{}' is negative (a count matrix holds counts >= 0)",
                data.obs_names[i], data.var_names[j]
            ),
        )),
        None => Ok(()),
    }
}

/// Build a map from name to position, reporting the first duplicate.
pub(crate) fn index_of<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> std::result::Result<std::collections::HashMap<&'a str, usize>, &'a str> {
    let iter = names.into_iter();
    let mut map = std::collections::HashMap::with_capacity(iter.size_hint().0);
    for (i, n) in iter.enumerate() {
        if map.insert(n, i).is_some() {
            return Err(n);
        }
    }
    Ok(map)
}

#[cfg(all(test, unix))]
mod tests {
    #[test]
    fn a_fifo_is_refused_instead_of_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("waiting.h5ad");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let e = super::read(&fifo).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        assert!(e.contains("waiting.h5ad"), "{e}");
    }
}
