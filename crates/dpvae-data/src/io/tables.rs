//! Per-spot tables keyed by barcode (coordinates and per-spot results) in CSV or Parquet, through polars.
//!
//! Written tables have the columns `barcode, x, y[, z]` followed by any extra per-spot f64 columns. Reading is
//! lenient about names so that tables from other tools join too: the key may be `barcode`, `barcodes`,
//! `cell_id`, `spot`, `spot_id` or the first (string) column; coordinates may be `x, y[, z]`,
//! `pxl_col_in_fullres, pxl_row_in_fullres` (Space Ranger), `x_centroid, y_centroid` (Xenium),
//! `imagecol, imagerow` (Seurat) or `pixel_x, pixel_y` (ST alignment tables).

use std::io::Cursor;
use std::path::Path;

use ndarray::Array2;
use polars::prelude::{
    Column, CsvReadOptions, CsvWriter, DataFrame, DataType, ParquetReader, ParquetWriter,
    SerReader, SerWriter,
};

use crate::dataset::SpatialData;
use crate::error::{DataError, Result};

/// A per-spot table: barcodes, coordinates (n x 2 or n x 3) and extra f64 columns.
#[derive(Debug, Clone, PartialEq)]
pub struct CoordTable {
    pub barcodes: Vec<String>,
    pub coords: Array2<f64>,
    /// Extra per-spot columns, each with one value per barcode, in output order.
    pub extra: Vec<(String, Vec<f64>)>,
}

impl CoordTable {
    /// A table from barcodes and coordinates; checks that they agree in length and that coordinates are 2-D or 3-D.
    pub fn new(barcodes: Vec<String>, coords: Array2<f64>) -> Result<Self> {
        if barcodes.len() != coords.nrows() {
            return Err(DataError::data(
                "coordinates",
                format!(
                    "{} barcodes but {} coordinate rows",
                    barcodes.len(),
                    coords.nrows()
                ),
            ));
        }
        if !(2..=3).contains(&coords.ncols()) {
            return Err(DataError::data(
                "coordinates",
                format!(
                    "have {} columns; expected 2 (x, y) or 3 (x, y, z)",
                    coords.ncols()
                ),
            ));
        }
        if let Some(dup) = super::index_of(barcodes.iter().map(|s| s.as_str())).err() {
            return Err(DataError::data(
                "barcode",
                format!("'{dup}' occurs more than once"),
            ));
        }
        Ok(CoordTable {
            barcodes,
            coords,
            extra: Vec::new(),
        })
    }

    /// Add an extra per-spot column (e.g. a held-out error, a cluster score).
    pub fn with_column(mut self, name: impl Into<String>, values: Vec<f64>) -> Result<Self> {
        let name = name.into();
        if values.len() != self.barcodes.len() {
            return Err(DataError::data(
                format!("column '{name}'"),
                format!(
                    "has {} values for {} barcodes",
                    values.len(),
                    self.barcodes.len()
                ),
            ));
        }
        if ["barcode", "x", "y", "z"].contains(&name.as_str())
            || self.extra.iter().any(|(n, _)| n == &name)
        {
            return Err(DataError::data(
                format!("column '{name}'"),
                "name is already used",
            ));
        }
        self.extra.push((name, values));
        Ok(self)
    }

    /// The coordinates of a dataset (`obsm['spatial']`), or a named obsm embedding with 2 or 3 columns.
    pub fn from_spatial(data: &SpatialData, key: Option<&str>) -> Result<Self> {
        let coords = match key {
            None | Some("spatial") => data.require_spatial()?.clone(),
            Some(k) => data
                .obsm
                .get(k)
                .cloned()
                .ok_or_else(|| DataError::data(format!("obsm['{k}']"), "is not present"))?,
        };
        CoordTable::new(data.obs_names.clone(), coords)
    }

    fn to_frame(&self) -> Result<DataFrame> {
        let n = self.barcodes.len();
        let mut cols = vec![Column::new("barcode".into(), &self.barcodes)];
        for (j, name) in ["x", "y", "z"].iter().take(self.coords.ncols()).enumerate() {
            cols.push(Column::new((*name).into(), self.coords.column(j).to_vec()));
        }
        for (name, values) in &self.extra {
            cols.push(Column::new(name.as_str().into(), values));
        }
        DataFrame::new(n, cols).map_err(|e| DataError::data("table", e.to_string()))
    }
}

/// Write a coordinate table as CSV, atomically.
pub fn write_coords_csv(path: &Path, table: &CoordTable) -> Result<()> {
    let mut df = table.to_frame()?;
    crate::atomic::write_atomic(path, |w| {
        CsvWriter::new(w)
            .finish(&mut df)
            .map_err(|e| DataError::Table {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
    })
}

/// Write a coordinate table as Parquet, atomically.
pub fn write_coords_parquet(path: &Path, table: &CoordTable) -> Result<()> {
    let mut df = table.to_frame()?;
    crate::atomic::write_atomic(path, |w| {
        ParquetWriter::new(w)
            .finish(&mut df)
            .map(|_| ())
            .map_err(|e| DataError::Table {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
    })
}

/// Read a coordinate table (CSV, TSV, optionally gzipped, or Parquet) keyed by barcode.
pub fn read_coords(path: &Path) -> Result<CoordTable> {
    let df = read_table(path, true)?;
    coords_from_frame(path, &df)
}

/// Read any table by extension: `.parquet`, `.csv(.gz)`, `.tsv(.gz)` / `.txt(.gz)` (tab-separated).
pub fn read_table(path: &Path, has_header: bool) -> Result<DataFrame> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let table_err = |e: polars::prelude::PolarsError| DataError::Table {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if name.ends_with(".parquet") || name.ends_with(".pq") {
        let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
        return ParquetReader::new(file).finish().map_err(table_err);
    }
    let bytes = super::read_maybe_gz(path)?;
    let stem = name.trim_end_matches(".gz");
    let sep = if stem.ends_with(".csv") { b',' } else { b'\t' };
    CsvReadOptions::default()
        .with_has_header(has_header)
        .with_infer_schema_length(Some(10_000))
        .map_parse_options(|p| p.with_separator(sep))
        .into_reader_with_file_handle(Cursor::new(bytes))
        .finish()
        .map_err(table_err)
}

const KEY_NAMES: [&str; 8] = [
    "barcode",
    "barcodes",
    "cell_id",
    "spot",
    "spot_id",
    "obs_names",
    "index",
    "",
];
const COORD_NAMES: [[&str; 2]; 5] = [
    ["x", "y"],
    ["pxl_col_in_fullres", "pxl_row_in_fullres"],
    ["x_centroid", "y_centroid"],
    ["imagecol", "imagerow"],
    ["pixel_x", "pixel_y"],
];

/// Interpret a table as barcode + coordinates + extra numeric columns.
pub(crate) fn coords_from_frame(path: &Path, df: &DataFrame) -> Result<CoordTable> {
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let find = |candidates: &[&str]| {
        candidates
            .iter()
            .find_map(|c| names.iter().find(|n| n.eq_ignore_ascii_case(c)).cloned())
    };
    let key = find(&KEY_NAMES)
        .or_else(|| names.first().cloned())
        .ok_or_else(|| DataError::invalid(path, "table", "has no columns"))?;
    let barcodes = string_column(path, df, &key)?;
    let Some([cx, cy]) = COORD_NAMES
        .iter()
        .find(|pair| find(&pair[..1]).is_some() && find(&pair[1..]).is_some())
        .map(|pair| {
            [
                find(&pair[..1]).unwrap_or_default(),
                find(&pair[1..]).unwrap_or_default(),
            ]
        })
    else {
        return Err(DataError::missing(
            path,
            "coordinate columns",
            format!(
                "found columns {names:?}; expected x,y[,z] (or pxl_col_in_fullres/pxl_row_in_fullres, x_centroid/y_centroid, imagecol/imagerow, pixel_x/pixel_y)"
            ),
        ));
    };
    let mut coord_cols = vec![cx.clone(), cy.clone()];
    if cx == "x"
        && let Some(z) = find(&["z"])
    {
        coord_cols.push(z);
    }
    let n = df.height();
    let mut coords = Array2::<f64>::zeros((n, coord_cols.len()));
    for (j, c) in coord_cols.iter().enumerate() {
        let v = f64_column(path, df, c)?;
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(DataError::invalid(
                path,
                format!("column '{c}'"),
                format!("row {i} (barcode '{}') is not a finite number", barcodes[i]),
            ));
        }
        coords.column_mut(j).assign(&ndarray::ArrayView1::from(&v));
    }
    let mut table = CoordTable::new(barcodes, coords).map_err(|e| e.in_file(path))?;
    for col in df.columns() {
        let name = col.name().to_string();
        if name == key || coord_cols.contains(&name) || !col.dtype().is_primitive_numeric() {
            continue;
        }
        let v = f64_column(path, df, &name)?;
        table = table.with_column(name, v).map_err(|e| e.in_file(path))?;
    }
    Ok(table)
}

pub(crate) fn string_column(path: &Path, df: &DataFrame, name: &str) -> Result<Vec<String>> {
    let col = df
        .column(name)
        .map_err(|e| DataError::invalid(path, format!("column '{name}'"), e.to_string()))?;
    let s = col
        .cast(&DataType::String)
        .map_err(|e| DataError::invalid(path, format!("column '{name}'"), e.to_string()))?;
    let ca = s
        .str()
        .map_err(|e| DataError::invalid(path, format!("column '{name}'"), e.to_string()))?;
    ca.iter()
        .enumerate()
        .map(|(i, v)| {
            v.map(str::to_string).ok_or_else(|| {
                DataError::invalid(
                    path,
                    format!("column '{name}'"),
                    format!("row {i} is empty"),
                )
            })
        })
        .collect()
}

pub(crate) fn f64_column(path: &Path, df: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let col = df
        .column(name)
        .map_err(|e| DataError::invalid(path, format!("column '{name}'"), e.to_string()))?;
    let s = col.cast(&DataType::Float64).map_err(|e| {
        DataError::invalid(
            path,
            format!("column '{name}'"),
            format!("is not numeric: {e}"),
        )
    })?;
    let ca = s
        .f64()
        .map_err(|e| DataError::invalid(path, format!("column '{name}'"), e.to_string()))?;
    Ok(ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

/// How the barcodes of a matrix and of a coordinate table matched.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JoinReport {
    /// Spots of the matrix that have coordinates (kept).
    pub matched: usize,
    /// Spots of the matrix without a row in the table (dropped); the first few are listed.
    pub missing_in_table: usize,
    pub missing_examples: Vec<String>,
    /// Rows of the table whose barcode is not in the matrix (ignored).
    pub extra_in_table: usize,
}

/// Join a dataset's spots with a coordinate table on barcode: spots without coordinates are dropped and the
/// mismatch is reported (logged, and stored in `uns['dpvae_io']['coords_join']`); no common barcode is an error.
pub(crate) fn join_coords(
    data: SpatialData,
    table: &CoordTable,
    table_path: &Path,
) -> Result<SpatialData> {
    let lookup = super::index_of(table.barcodes.iter().map(|s| s.as_str())).map_err(|dup| {
        DataError::invalid(
            table_path,
            "barcode",
            format!("'{dup}' occurs more than once"),
        )
    })?;
    let mut keep = Vec::with_capacity(data.n_obs());
    let mut rows = Vec::with_capacity(data.n_obs());
    let mut missing = Vec::new();
    for (i, b) in data.obs_names.iter().enumerate() {
        match lookup.get(b.as_str()) {
            Some(&r) => {
                keep.push(i);
                rows.push(r);
            }
            None => missing.push(b.clone()),
        }
    }
    if keep.is_empty() {
        return Err(DataError::invalid(
            table_path,
            "barcode",
            format!(
                "no barcode in common with the matrix (matrix has e.g. '{}', table has e.g. '{}')",
                data.obs_names.first().map(String::as_str).unwrap_or(""),
                table.barcodes.first().map(String::as_str).unwrap_or("")
            ),
        ));
    }
    let report = JoinReport {
        matched: keep.len(),
        missing_in_table: missing.len(),
        missing_examples: missing.iter().take(5).cloned().collect(),
        extra_in_table: table.barcodes.len() - keep.len(),
    };
    if report.missing_in_table > 0 || report.extra_in_table > 0 {
        tracing::warn!(
            table = %table_path.display(),
            matched = report.matched,
            missing_in_table = report.missing_in_table,
            extra_in_table = report.extra_in_table,
            examples = ?report.missing_examples,
            "barcodes of the matrix and the coordinate table differ; spots without coordinates were dropped"
        );
    }
    let mut data = if keep.len() == data.n_obs() {
        data
    } else {
        data.select_obs(&keep)?
    };
    data.spatial = Some(table.coords.select(ndarray::Axis(0), &rows));
    let n = data.n_obs();
    let mut obs_cols: Vec<Column> = data.obs.columns().to_vec();
    for (name, values) in &table.extra {
        if data.obs.column(name).is_ok() {
            continue;
        }
        let v: Vec<f64> = rows.iter().map(|&r| values[r]).collect();
        obs_cols.push(Column::new(name.as_str().into(), v));
    }
    data.obs = DataFrame::new(n, obs_cols)
        .map_err(|e| DataError::invalid(table_path, "table", e.to_string()))?;
    let io = data
        .uns
        .entry("dpvae_io")
        .or_insert_with(|| serde_json::Value::Object(Default::default()));
    if let serde_json::Value::Object(m) = io {
        m.insert(
            "coords_join".into(),
            serde_json::to_value(&report).unwrap_or(serde_json::Value::Null),
        );
    }
    Ok(data)
}

/// Replace a dataset's coordinates with those of a table (joined on barcode).
pub(crate) fn attach_coords(data: SpatialData, table_path: &Path) -> Result<SpatialData> {
    let table = read_coords(table_path)?;
    join_coords(data, &table, table_path)
}
