//! Space Ranger `outs/` folders: `filtered_feature_bc_matrix.h5` plus `spatial/tissue_positions_list.csv`
//! (Space Ranger 1.x, no header), `spatial/tissue_positions.csv` (2.0+, header) or
//! `spatial/tissue_positions.parquet`, and `spatial/scalefactors_json.json`.
//!
//! Spots with `in_tissue == 1` are kept. Coordinates follow scanpy's `read_visium`: `obsm['spatial']` is
//! `[pxl_col_in_fullres, pxl_row_in_fullres]` (x = image column, y = image row, full-resolution pixels); the scale
//! factors go to `uns['spatial'][library_id]['scalefactors']` so low/high-resolution pixels can be recovered.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use polars::prelude::{Column, DataFrame};

use super::FeatureFilter;
use super::tables::{f64_column, read_table, string_column};
use crate::dataset::{Format, SpatialData};
use crate::error::{DataError, Result};

/// Spot positions from a `tissue_positions*` file.
#[derive(Debug, Clone)]
pub struct TissuePositions {
    pub barcodes: Vec<String>,
    pub in_tissue: Vec<i64>,
    pub array_row: Vec<i64>,
    pub array_col: Vec<i64>,
    pub pxl_row_in_fullres: Vec<f64>,
    pub pxl_col_in_fullres: Vec<f64>,
}

/// Read a Space Ranger outs folder keeping Gene Expression features.
pub fn read_spaceranger(dir: &Path) -> Result<SpatialData> {
    read_spaceranger_with(dir, &FeatureFilter::default())
}

/// Read a Space Ranger outs folder keeping the features `filter` accepts.
pub fn read_spaceranger_with(dir: &Path, filter: &FeatureFilter) -> Result<SpatialData> {
    let h5_path = dir.join("filtered_feature_bc_matrix.h5");
    if !h5_path.exists() {
        return Err(DataError::missing(
            dir,
            "filtered_feature_bc_matrix.h5",
            "a Space Ranger outs folder holds the filtered matrix",
        ));
    }
    let positions_path = positions_file(dir)?;
    let positions = read_tissue_positions(&positions_path)?;
    let matrix = super::tenx::read_10x_h5_with(&h5_path, filter)?;

    let lookup = super::index_of(positions.barcodes.iter().map(|s| s.as_str())).map_err(|dup| {
        DataError::invalid(
            &positions_path,
            "barcode",
            format!("'{dup}' occurs more than once"),
        )
    })?;
    let mut keep = Vec::with_capacity(matrix.n_obs());
    let mut rows = Vec::with_capacity(matrix.n_obs());
    let mut unplaced = 0usize;
    for (i, b) in matrix.obs_names.iter().enumerate() {
        match lookup.get(b.as_str()) {
            Some(&r) if positions.in_tissue[r] == 1 => {
                keep.push(i);
                rows.push(r);
            }
            Some(_) => {}
            None => unplaced += 1,
        }
    }
    if unplaced > 0 {
        tracing::warn!(
            positions = %positions_path.display(),
            unplaced,
            "matrix barcodes without a row in the positions file were dropped"
        );
    }
    if keep.is_empty() {
        return Err(DataError::invalid(
            &positions_path,
            "in_tissue",
            "no barcode of the matrix is an in-tissue spot of this positions file (wrong folder?)",
        ));
    }
    let mut data = if keep.len() == matrix.n_obs() {
        matrix
    } else {
        matrix.select_obs(&keep)?
    };
    let n = keep.len();
    let mut spatial = Array2::<f64>::zeros((n, 2));
    for (k, &r) in rows.iter().enumerate() {
        spatial[[k, 0]] = positions.pxl_col_in_fullres[r];
        spatial[[k, 1]] = positions.pxl_row_in_fullres[r];
    }
    data.spatial = Some(spatial);
    let pick = |v: &[i64]| rows.iter().map(|&r| v[r]).collect::<Vec<i64>>();
    data.obs = DataFrame::new(
        n,
        vec![
            Column::new("in_tissue".into(), pick(&positions.in_tissue)),
            Column::new("array_row".into(), pick(&positions.array_row)),
            Column::new("array_col".into(), pick(&positions.array_col)),
        ],
    )
    .map_err(|e| DataError::invalid(&positions_path, "table", e.to_string()))?;

    let library = super::tenx::library_id(&h5_path).unwrap_or_else(|| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "library".into())
    });
    let mut lib = serde_json::Map::new();
    let sf_path = dir.join("spatial/scalefactors_json.json");
    if sf_path.exists() {
        let text = std::fs::read_to_string(&sf_path).map_err(|e| DataError::io(&sf_path, e))?;
        let sf: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            DataError::invalid(&sf_path, "scalefactors", format!("is not valid JSON: {e}"))
        })?;
        lib.insert("scalefactors".into(), sf);
    } else {
        tracing::warn!(dir = %dir.display(), "no spatial/scalefactors_json.json; image scale factors unknown");
    }
    let mut spatial_uns = serde_json::Map::new();
    spatial_uns.insert(library, serde_json::Value::Object(lib));
    data.uns
        .insert("spatial".into(), serde_json::Value::Object(spatial_uns));
    if let Some(src) = data.source.as_mut() {
        src.path = dir.to_path_buf();
        src.format = Format::SpaceRanger;
    }
    data.validate().map_err(|e| e.in_file(dir))?;
    Ok(data)
}

/// The positions file of an outs folder, newest layout first.
pub fn positions_file(dir: &Path) -> Result<PathBuf> {
    for name in [
        "tissue_positions.parquet",
        "tissue_positions.csv",
        "tissue_positions_list.csv",
    ] {
        let p = dir.join("spatial").join(name);
        if p.exists() {
            return Ok(p);
        }
    }
    Err(DataError::missing(
        dir,
        "spatial/tissue_positions*.csv|parquet",
        "a Space Ranger outs folder needs spot positions",
    ))
}

/// Read a `tissue_positions*` file: headerless `tissue_positions_list.csv` (columns by position) or a file with
/// the Space Ranger 2.0 header.
pub fn read_tissue_positions(path: &Path) -> Result<TissuePositions> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let headerless = name.ends_with("_list.csv");
    let df = read_table(path, !headerless)?;
    const NAMES: [&str; 6] = [
        "barcode",
        "in_tissue",
        "array_row",
        "array_col",
        "pxl_row_in_fullres",
        "pxl_col_in_fullres",
    ];
    let cols: Vec<String> = if headerless {
        if df.width() < 6 {
            return Err(DataError::invalid(
                path,
                "table",
                format!("has {} columns, expected 6", df.width()),
            ));
        }
        df.get_column_names()
            .iter()
            .take(6)
            .map(|s| s.to_string())
            .collect()
    } else {
        for n in NAMES {
            if df.column(n).is_err() {
                return Err(DataError::missing(
                    path,
                    format!("column '{n}'"),
                    "Space Ranger positions have barcode,in_tissue,array_row,array_col,pxl_row_in_fullres,pxl_col_in_fullres",
                ));
            }
        }
        NAMES.iter().map(|s| s.to_string()).collect()
    };
    let ints = |c: &str| -> Result<Vec<i64>> {
        f64_column(path, &df, c)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                if v.is_finite() && v.fract() == 0.0 {
                    Ok(v as i64)
                } else {
                    Err(DataError::invalid(
                        path,
                        format!("column '{c}'"),
                        format!("row {i} is {v}, expected an integer"),
                    ))
                }
            })
            .collect()
    };
    let floats = |c: &str| -> Result<Vec<f64>> {
        let v = f64_column(path, &df, c)?;
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(DataError::invalid(
                path,
                format!("column '{c}'"),
                format!("row {i} is not a finite number"),
            ));
        }
        Ok(v)
    };
    Ok(TissuePositions {
        barcodes: string_column(path, &df, &cols[0])?,
        in_tissue: ints(&cols[1])?,
        array_row: ints(&cols[2])?,
        array_col: ints(&cols[3])?,
        pxl_row_in_fullres: floats(&cols[4])?,
        pxl_col_in_fullres: floats(&cols[5])?,
    })
}
