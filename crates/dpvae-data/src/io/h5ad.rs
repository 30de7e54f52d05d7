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

use std::collections::HashMap;
use std::path::Path;

use hdf5_pure::{
    AttrValue, DType, DatasetBuilder, EnumTypeBuilder, FileBuilder, FinishedGroup, GroupBuilder,
};
use ndarray::Array2;
use polars::prelude::{Column, DataFrame, DataType, NamedFrom, Series};

use super::ReadOptions;
use super::hdf::{H5, Kind, attr_str, is_bool, is_float, is_integer, numpy_name, vstr};
use crate::dataset::{Format, SourceInfo, SpatialData};
use crate::error::{DataError, Result};
use crate::matrix::{CsrMatrix, Matrix};

/// uns arrays longer than this (images, large embeddings) are not converted to JSON.
const UNS_MAX_ELEMENTS: usize = 10_000;
/// uns nesting deeper than this is not followed (guards against cyclic or hostile files).
const UNS_MAX_DEPTH: usize = 16;

/// Read an `.h5ad` file with default options.
pub fn read_h5ad(path: &Path) -> Result<SpatialData> {
    read_h5ad_with(path, &ReadOptions::default())
}

/// Read an `.h5ad` file; `opts.layer` selects `layers[name]` as the expression matrix.
pub fn read_h5ad_with(path: &Path, opts: &ReadOptions) -> Result<SpatialData> {
    let h5 = H5::open(path)?;
    let data = read_from(&h5, opts)?;
    if opts.require_spatial {
        data.require_spatial()?;
    }
    Ok(data)
}

/// Read an `.h5ad` image held in memory (the entry point of the fuzz target).
pub fn read_h5ad_bytes(bytes: &[u8]) -> Result<SpatialData> {
    let h5 = H5::from_bytes(bytes.to_vec(), Path::new("<memory>.h5ad"))?;
    read_from(&h5, &ReadOptions::default())
}

fn read_from(h5: &H5, opts: &ReadOptions) -> Result<SpatialData> {
    let root_attrs = h5.group_attrs(&h5.file.root(), "/")?;
    if let Some(enc) = attr_str(&root_attrs, "encoding-type")
        && enc != "anndata"
    {
        return Err(h5.invalid(
            "/",
            format!("unknown encoding-type '{enc}' for the file root (expected 'anndata')"),
        ));
    }
    let (x_object, what) = match &opts.layer {
        Some(layer) => (format!("layers/{layer}"), format!("layers['{layer}']")),
        None => ("X".to_string(), "X".to_string()),
    };
    if h5.kind(&x_object)? == Kind::Absent {
        let hint = match &opts.layer {
            Some(_) => format!(
                "the file has no {what}; layers present: {:?}",
                list_keys(h5, "layers")?
            ),
            None => "the file stores no expression matrix X (anndata allows X=None); pass a layer"
                .to_string(),
        };
        return Err(h5.missing(&what, hint));
    }
    let (x, x_layout, x_dtype) = read_matrix(h5, &x_object)?;
    let (n_obs, n_vars) = x.shape();

    let (obs_names, obs) = read_dataframe(h5, "obs")?;
    let (var_names, var) = read_dataframe(h5, "var")?;
    if obs_names.len() != n_obs {
        return Err(h5.invalid(
            "obs",
            format!(
                "has {} rows but {what} has {n_obs} rows (shape mismatch between X and obs)",
                obs_names.len()
            ),
        ));
    }
    if var_names.len() != n_vars {
        return Err(h5.invalid(
            "var",
            format!(
                "has {} rows but {what} has {n_vars} columns (shape mismatch between X and var)",
                var_names.len()
            ),
        ));
    }

    let mut obsm = read_obsm(h5, n_obs)?;
    let spatial = obsm.remove("spatial");
    let uns = match h5.kind("uns")? {
        Kind::Group => read_uns_group(h5, "uns", 0)?,
        _ => serde_json::Map::new(),
    };
    let var_ids = var
        .column("gene_ids")
        .ok()
        .and_then(|c| c.str().ok())
        .map(|ca| ca.iter().map(|s| s.unwrap_or("").to_string()).collect());

    let data = SpatialData {
        x,
        obs_names,
        var_names,
        var_ids,
        spatial,
        obs,
        var,
        obsm,
        layers: Default::default(),
        uns,
        source: Some(SourceInfo {
            path: h5.path.clone(),
            format: Format::H5ad,
            x_layout: x_layout.to_string(),
            x_dtype,
        }),
    };
    data.validate().map_err(|e| e.in_file(&h5.path))?;
    Ok(data)
}

fn list_keys(h5: &H5, object: &str) -> Result<Vec<String>> {
    if h5.kind(object)? != Kind::Group {
        return Ok(Vec::new());
    }
    let g = h5.group(object)?;
    Ok(h5
        .children(&g, object)?
        .into_iter()
        .map(|(n, _)| n)
        .collect())
}

/// The `encoding-type` of the element at `object`.
fn encoding_of(attrs: &HashMap<String, AttrValue>) -> Option<String> {
    attr_str(attrs, "encoding-type")
}

/// Read a matrix element (X or a layer): dense `array`, `csr_matrix` or `csc_matrix`, with or without encoding
/// attributes. Returns the matrix, its on-disk layout and its numpy dtype name.
fn read_matrix(h5: &H5, object: &str) -> Result<(Matrix, &'static str, String)> {
    match h5.kind(object)? {
        Kind::Dataset => {
            let ds = h5.dataset(object)?;
            let attrs = h5.dataset_attrs(&ds, object)?;
            if let Some(enc) = encoding_of(&attrs)
                && enc != "array"
            {
                return Err(h5.invalid(
                    object,
                    format!(
                        "unknown encoding-type '{enc}' for a matrix dataset (expected 'array')"
                    ),
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
        Kind::Group => {
            let g = h5.group(object)?;
            let attrs = h5.group_attrs(&g, object)?;
            let layout = match encoding_of(&attrs).as_deref() {
                Some("csr_matrix") => "csr",
                Some("csc_matrix") => "csc",
                Some(other) => {
                    return Err(h5.invalid(
                        object,
                        format!("unknown encoding-type '{other}' (dpvae reads array, csr_matrix and csc_matrix)"),
                    ));
                }
                // anndata < 0.7 wrote h5sparse groups.
                None => match attr_str(&attrs, "h5sparse_format").as_deref() {
                    Some("csr") => "csr",
                    Some("csc") => "csc",
                    _ => {
                        return Err(h5.invalid(
                            object,
                            "is a group without encoding-type or h5sparse_format; cannot tell its layout",
                        ));
                    }
                },
            };
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
                return Err(
                    h5.invalid(object, format!("shape attribute {shape:?} is out of range"))
                );
            }
            let (n_rows, n_cols) = (shape[0] as usize, shape[1] as usize);
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
        Kind::Absent => Err(h5.missing(object, "the file has no such element")),
    }
}

/// Attach the file and the element path to an in-memory validation error.
fn in_element(e: DataError, h5: &H5, object: &str) -> DataError {
    match e {
        DataError::Data { object: o, problem } => h5.invalid(&format!("{object}/{o}"), problem),
        other => other,
    }
}

/// Read an anndata dataframe (obs or var): its index and its columns as a polars DataFrame.
fn read_dataframe(h5: &H5, object: &str) -> Result<(Vec<String>, DataFrame)> {
    match h5.kind(object)? {
        Kind::Group => {}
        Kind::Dataset => {
            return Err(h5.invalid(
                object,
                "is a compound record array (anndata < 0.7 layout); re-save the file with anndata >= 0.7",
            ));
        }
        Kind::Absent => {
            return Err(h5.missing(object, "every h5ad file has obs and var dataframes"));
        }
    }
    let g = h5.group(object)?;
    let attrs = h5.group_attrs(&g, object)?;
    if let Some(enc) = encoding_of(&attrs)
        && enc != "dataframe"
    {
        return Err(h5.invalid(
            object,
            format!("unknown encoding-type '{enc}' (expected 'dataframe')"),
        ));
    }
    let children = h5.children(&g, object)?;
    let has = |name: &str| children.iter().any(|(n, _)| n == name);
    let index_name = match attr_str(&attrs, "_index") {
        Some(name) => name,
        None if has("_index") => "_index".to_string(),
        None if has("index") => "index".to_string(),
        None => {
            return Err(h5.missing(
                &format!("{object}/_index"),
                "the dataframe names no index (attribute _index)",
            ));
        }
    };
    let index_obj = format!("{object}/{index_name}");
    let index = read_index_strings(h5, &index_obj)?;
    let n = index.len();

    let columns: Vec<String> = match attrs.get("column-order") {
        Some(v) => v.as_strings().map(|s| s.to_vec()).unwrap_or_default(),
        None => children
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|c| c != &index_name && c != "__categories")
            .collect(),
    };
    let legacy_categories = has("__categories");
    let mut cols = Vec::with_capacity(columns.len());
    for name in &columns {
        let col_obj = format!("{object}/{name}");
        let cats = if legacy_categories
            && h5.kind(&format!("{object}/__categories/{name}"))? == Kind::Dataset
        {
            Some(read_index_strings(
                h5,
                &format!("{object}/__categories/{name}"),
            )?)
        } else {
            None
        };
        let series = read_column(h5, &col_obj, name, cats)?;
        if series.len() != n {
            return Err(h5.invalid(
                &col_obj,
                format!("has {} entries but the index has {n}", series.len()),
            ));
        }
        cols.push(Column::from(series));
    }
    let df = DataFrame::new(n, cols).map_err(|e| h5.invalid(object, e.to_string()))?;
    Ok((index, df))
}

/// Read a 1-D dataset of names (strings, or numbers turned into strings).
fn read_index_strings(h5: &H5, object: &str) -> Result<Vec<String>> {
    let ds = h5.dataset(object)?;
    let dt = h5.dtype(&ds, object)?;
    match dt {
        DType::String | DType::VariableLengthString => h5.read_strings(&ds, object),
        d if is_integer(&d) => Ok(h5
            .read_i64(&ds, object)?
            .into_iter()
            .map(|v| v.to_string())
            .collect()),
        d if is_float(&d) => Ok(h5
            .read_f64(&ds, object)?
            .into_iter()
            .map(|v| v.to_string())
            .collect()),
        other => Err(h5.invalid(object, format!("has type {other}, expected strings"))),
    }
}

/// Read one dataframe column into a polars Series (categoricals and strings as String, integers as Int64,
/// floats as Float64, booleans as Boolean; nullable encodings as nulls).
fn read_column(
    h5: &H5,
    object: &str,
    name: &str,
    legacy_cats: Option<Vec<String>>,
) -> Result<Series> {
    match h5.kind(object)? {
        Kind::Dataset => {
            let ds = h5.dataset(object)?;
            let attrs = h5.dataset_attrs(&ds, object)?;
            if let Some(enc) = encoding_of(&attrs)
                && enc != "array"
                && enc != "string-array"
            {
                return Err(h5.invalid(
                    object,
                    format!("unknown encoding-type '{enc}' for a column"),
                ));
            }
            let shape = h5.shape(&ds, object)?;
            if shape.len() != 1 {
                return Err(h5.invalid(
                    object,
                    format!("is a {}-D array; dataframe columns are 1-D", shape.len()),
                ));
            }
            let dt = h5.dtype(&ds, object)?;
            if let Some(cats) = legacy_cats {
                let codes = h5.read_i64(&ds, object)?;
                return decode_categorical(h5, object, name, &codes, &cats);
            }
            Ok(match dt {
                DType::String | DType::VariableLengthString => {
                    Series::new(name.into(), h5.read_strings(&ds, object)?)
                }
                d if is_bool(&d) => {
                    let v: Vec<bool> = h5
                        .read_i64(&ds, object)?
                        .into_iter()
                        .map(|x| x != 0)
                        .collect();
                    Series::new(name.into(), v)
                }
                d if is_integer(&d) => Series::new(name.into(), h5.read_i64(&ds, object)?),
                d if is_float(&d) => Series::new(name.into(), h5.read_f64(&ds, object)?),
                other => return Err(h5.invalid(object, format!("has unsupported type {other}"))),
            })
        }
        Kind::Group => {
            let g = h5.group(object)?;
            let attrs = h5.group_attrs(&g, object)?;
            match encoding_of(&attrs).as_deref() {
                Some("categorical") => {
                    let codes_obj = format!("{object}/codes");
                    let codes = h5.read_i64(&h5.dataset(&codes_obj)?, &codes_obj)?;
                    let cats = read_index_strings(h5, &format!("{object}/categories"))?;
                    decode_categorical(h5, object, name, &codes, &cats)
                }
                Some(enc @ ("nullable-integer" | "nullable-boolean" | "nullable-string-array")) => {
                    let mask_obj = format!("{object}/mask");
                    let mask = h5.read_i64(&h5.dataset(&mask_obj)?, &mask_obj)?;
                    let values_obj = format!("{object}/values");
                    let vds = h5.dataset(&values_obj)?;
                    let check = |len: usize| {
                        if len != mask.len() {
                            Err(h5.invalid(
                                object,
                                format!(
                                    "values ({len}) and mask ({}) differ in length",
                                    mask.len()
                                ),
                            ))
                        } else {
                            Ok(())
                        }
                    };
                    Ok(match enc {
                        "nullable-integer" => {
                            let v = h5.read_i64(&vds, &values_obj)?;
                            check(v.len())?;
                            let v: Vec<Option<i64>> = v
                                .into_iter()
                                .zip(&mask)
                                .map(|(x, &m)| (m == 0).then_some(x))
                                .collect();
                            Series::new(name.into(), v)
                        }
                        "nullable-boolean" => {
                            let v = h5.read_i64(&vds, &values_obj)?;
                            check(v.len())?;
                            let v: Vec<Option<bool>> = v
                                .into_iter()
                                .zip(&mask)
                                .map(|(x, &m)| (m == 0).then_some(x != 0))
                                .collect();
                            Series::new(name.into(), v)
                        }
                        _ => {
                            let v = h5.read_strings(&vds, &values_obj)?;
                            check(v.len())?;
                            let v: Vec<Option<String>> = v
                                .into_iter()
                                .zip(&mask)
                                .map(|(x, &m)| (m == 0).then_some(x))
                                .collect();
                            Series::new(name.into(), v)
                        }
                    })
                }
                Some(other) => Err(h5.invalid(
                    object,
                    format!("unknown encoding-type '{other}' for a column"),
                )),
                None => Err(h5.invalid(
                    object,
                    "is a group without encoding-type; cannot read it as a column",
                )),
            }
        }
        Kind::Absent => Err(h5.missing(object, "listed in column-order but not stored")),
    }
}

fn decode_categorical(
    h5: &H5,
    object: &str,
    name: &str,
    codes: &[i64],
    cats: &[String],
) -> Result<Series> {
    let mut out: Vec<Option<&str>> = Vec::with_capacity(codes.len());
    for (i, &c) in codes.iter().enumerate() {
        if c < 0 {
            out.push(None);
        } else {
            let label = cats.get(c as usize).ok_or_else(|| {
                h5.invalid(
                    &format!("{object}/codes"),
                    format!(
                        "entry {i} is {c} but there are only {} categories",
                        cats.len()
                    ),
                )
            })?;
            out.push(Some(label.as_str()));
        }
    }
    Ok(Series::new(name.into(), out))
}

/// Read every 2-D (or 1-D) numeric dataset under `obsm` as an n_obs-row f64 array. Dataframes and sparse
/// matrices in obsm are skipped (logged): dpvae uses dense embeddings only.
fn read_obsm(h5: &H5, n_obs: usize) -> Result<std::collections::BTreeMap<String, Array2<f64>>> {
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
        if kind != Kind::Dataset {
            tracing::debug!(object, "skipping non-array obsm entry");
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
            tracing::debug!(object, "skipping non-numeric obsm entry");
            continue;
        }
        let shape = h5.shape(&ds, &object)?;
        let (rows, cols) = match shape.as_slice() {
            [r] => (*r, 1),
            [r, c] => (*r, *c),
            _ => {
                tracing::debug!(object, ?shape, "skipping obsm entry that is not 1-D or 2-D");
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

/// Convert a `dict` group of uns into JSON: nested dicts, strings, numbers, booleans and small arrays. Large
/// arrays (images) and non-JSON elements (dataframes, sparse matrices) are skipped and logged.
fn read_uns_group(
    h5: &H5,
    object: &str,
    depth: usize,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut out = serde_json::Map::new();
    if depth > UNS_MAX_DEPTH {
        tracing::debug!(object, "uns nesting too deep; not followed");
        return Ok(out);
    }
    let g = h5.group(object)?;
    for (key, kind) in h5.children(&g, object)? {
        let child = format!("{object}/{key}");
        match kind {
            Kind::Group => {
                let attrs = h5.group_attrs(&h5.group(&child)?, &child)?;
                match encoding_of(&attrs).as_deref() {
                    None | Some("dict") => {
                        out.insert(
                            key,
                            serde_json::Value::Object(read_uns_group(h5, &child, depth + 1)?),
                        );
                    }
                    Some(enc) => tracing::debug!(
                        object = child,
                        enc,
                        "skipping uns element that is not JSON-like"
                    ),
                }
            }
            Kind::Dataset => {
                if let Some(v) = read_uns_dataset(h5, &child)? {
                    out.insert(key, v);
                }
            }
            Kind::Absent => {}
        }
    }
    Ok(out)
}

fn read_uns_dataset(h5: &H5, object: &str) -> Result<Option<serde_json::Value>> {
    use serde_json::Value;
    let ds = h5.dataset(object)?;
    let shape = h5.shape(&ds, object)?;
    let count: usize = shape.iter().product();
    if shape.len() > 2 || count > UNS_MAX_ELEMENTS {
        tracing::debug!(object, ?shape, "skipping large uns array");
        return Ok(None);
    }
    let dt = h5.dtype(&ds, object)?;
    let values: Vec<Value> = match &dt {
        DType::String | DType::VariableLengthString => h5
            .read_strings(&ds, object)?
            .into_iter()
            .map(Value::String)
            .collect(),
        d if is_bool(d) => h5
            .read_i64(&ds, object)?
            .into_iter()
            .map(|v| Value::Bool(v != 0))
            .collect(),
        d if is_integer(d) => h5
            .read_i64(&ds, object)?
            .into_iter()
            .map(Value::from)
            .collect(),
        d if is_float(d) => h5
            .read_f64(&ds, object)?
            .into_iter()
            .map(|v| {
                serde_json::Number::from_f64(v)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            })
            .collect(),
        _ => {
            tracing::debug!(object, %dt, "skipping uns dataset of unsupported type");
            return Ok(None);
        }
    };
    Ok(Some(match shape.as_slice() {
        [] => values.into_iter().next().unwrap_or(Value::Null),
        [_] => Value::Array(values),
        [_, c] => Value::Array(
            values
                .chunks((*c).max(1))
                .map(|r| Value::Array(r.to_vec()))
                .collect(),
        ),
        _ => unreachable!("rank checked above"),
    }))
}

// ---------------------------------------------------------------------------------------------------------
// Writing

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
    let builder = build_h5ad(data, opts)?;
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
    build_h5ad(data, opts)?
        .finish()
        .map_err(|e| DataError::data("h5ad", format!("HDF5 serialisation failed: {e}")))
}

/// Something that holds datasets, groups and attributes: the file root or a group.
trait Node {
    fn dataset(&mut self, name: &str) -> &mut DatasetBuilder;
    fn new_group(&mut self, name: &str) -> GroupBuilder;
    fn add(&mut self, group: FinishedGroup);
}

impl Node for FileBuilder {
    fn dataset(&mut self, name: &str) -> &mut DatasetBuilder {
        self.create_dataset(name)
    }
    fn new_group(&mut self, name: &str) -> GroupBuilder {
        self.create_group(name)
    }
    fn add(&mut self, group: FinishedGroup) {
        self.add_group(group)
    }
}

impl Node for GroupBuilder {
    fn dataset(&mut self, name: &str) -> &mut DatasetBuilder {
        self.create_dataset(name)
    }
    fn new_group(&mut self, name: &str) -> GroupBuilder {
        self.create_group(name)
    }
    fn add(&mut self, group: FinishedGroup) {
        self.add_group(group)
    }
}

fn encode(b: &mut DatasetBuilder, kind: &str, version: &str) {
    b.set_attr("encoding-type", vstr(kind));
    b.set_attr("encoding-version", vstr(version));
}

fn encode_group(g: &mut GroupBuilder, kind: &str, version: &str) {
    g.set_attr("encoding-type", vstr(kind));
    g.set_attr("encoding-version", vstr(version));
}

fn compress(b: &mut DatasetBuilder, opts: &H5adWriteOptions, len: usize) {
    if let Some(level) = opts.gzip
        && len > 0
    {
        b.with_deflate(level.clamp(1, 9));
    }
}

/// numpy's boolean as h5py stores it: an 8-bit enum {FALSE = 0, TRUE = 1}.
fn bool_type() -> Result<hdf5_pure::Datatype> {
    EnumTypeBuilder::with_base(hdf5_pure::make_i8_type())
        .value("FALSE", 0)
        .value("TRUE", 1)
        .build()
        .map_err(|e| DataError::data("bool type", e.to_string()))
}

fn build_h5ad(data: &SpatialData, opts: &H5adWriteOptions) -> Result<FileBuilder> {
    let mut fb = FileBuilder::new();
    fb.set_attr("encoding-type", vstr("anndata"));
    fb.set_attr("encoding-version", vstr("0.1.0"));

    write_matrix(&mut fb, "X", &data.x, opts);

    let mut layers = fb.create_group("layers");
    encode_group(&mut layers, "dict", "0.1.0");
    for (key, m) in &data.layers {
        write_matrix(&mut layers, key, m, opts);
    }
    fb.add_group(layers.finish());

    write_dataframe(&mut fb, "obs", &data.obs_names, &data.obs, None)?;
    let gene_ids = data
        .var_ids
        .as_ref()
        .filter(|_| data.var.column("gene_ids").is_err())
        .map(|ids| ("gene_ids", ids.as_slice()));
    write_dataframe(&mut fb, "var", &data.var_names, &data.var, gene_ids)?;

    let mut obsm = fb.create_group("obsm");
    encode_group(&mut obsm, "dict", "0.1.0");
    if let Some(s) = &data.spatial {
        write_f64_array(&mut obsm, "spatial", s, opts);
    }
    for (key, m) in &data.obsm {
        if key == "spatial" && data.spatial.is_some() {
            continue;
        }
        write_f64_array(&mut obsm, key, m, opts);
    }
    fb.add_group(obsm.finish());

    for empty in ["obsp", "varm", "varp"] {
        let mut g = fb.create_group(empty);
        encode_group(&mut g, "dict", "0.1.0");
        fb.add_group(g.finish());
    }

    let mut uns = fb.create_group("uns");
    encode_group(&mut uns, "dict", "0.1.0");
    write_uns_map(&mut uns, &data.uns)?;
    fb.add_group(uns.finish());
    Ok(fb)
}

fn write_f64_array<N: Node>(node: &mut N, name: &str, a: &Array2<f64>, opts: &H5adWriteOptions) {
    let flat: Vec<f64> = a.iter().copied().collect();
    let b = node.dataset(name);
    b.with_f64_data(&flat)
        .with_shape(&[a.nrows() as u64, a.ncols() as u64]);
    compress(b, opts, flat.len());
    encode(b, "array", "0.2.0");
}

fn write_matrix<N: Node>(node: &mut N, name: &str, m: &Matrix, opts: &H5adWriteOptions) {
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

fn write_string_array(b: &mut DatasetBuilder, values: &[&str]) {
    b.with_vlen_strings(values);
    encode(b, "string-array", "0.2.0");
}

/// Write an anndata dataframe: `_index` plus one element per column, in `column-order`.
fn write_dataframe<N: Node>(
    node: &mut N,
    name: &str,
    index: &[String],
    df: &DataFrame,
    extra: Option<(&str, &[String])>,
) -> Result<()> {
    let mut g = node.new_group(name);
    encode_group(&mut g, "dataframe", "0.2.0");
    g.set_attr("_index", vstr("_index"));
    let index_refs: Vec<&str> = index.iter().map(|s| s.as_str()).collect();
    write_string_array(g.create_dataset("_index"), &index_refs);
    let mut order: Vec<String> = Vec::new();
    for col in df.columns() {
        let col_name = col.name().to_string();
        if col_name == "_index" {
            return Err(DataError::data(
                format!("{name}['_index']"),
                "a column may not be named _index (reserved for the index)",
            ));
        }
        write_column(
            &mut g,
            &format!("{name}['{col_name}']"),
            &col_name,
            col.as_materialized_series(),
        )?;
        order.push(col_name);
    }
    if let Some((col_name, values)) = extra {
        let refs: Vec<&str> = values.iter().map(|s| s.as_str()).collect();
        write_strings_column(
            &mut g,
            col_name,
            &refs.iter().map(|s| Some(*s)).collect::<Vec<_>>(),
        )?;
        order.push(col_name.to_string());
    }
    g.set_attr("column-order", column_order_attr(order));
    node.add(g.finish());
    Ok(())
}

/// h5py writes an empty `column-order` as an empty float64 array; a non-empty one as strings.
fn column_order_attr(order: Vec<String>) -> AttrValue {
    if order.is_empty() {
        AttrValue::F64Array(Vec::new())
    } else {
        AttrValue::VarLenStringArray(order)
    }
}

fn write_column(g: &mut GroupBuilder, what: &str, name: &str, s: &Series) -> Result<()> {
    let err = |e: polars::prelude::PolarsError| DataError::data(what, e.to_string());
    let dt = s.dtype().clone();
    if dt.is_float() {
        let v: Vec<f64> = s
            .cast(&DataType::Float64)
            .map_err(err)?
            .f64()
            .map_err(err)?
            .iter()
            .map(|x| x.unwrap_or(f64::NAN))
            .collect();
        let b = g.create_dataset(name);
        b.with_f64_data(&v);
        encode(b, "array", "0.2.0");
    } else if dt.is_integer() {
        let ca = s.cast(&DataType::Int64).map_err(err)?;
        let ca = ca.i64().map_err(err)?;
        if ca.null_count() == 0 {
            let v: Vec<i64> = ca.no_null_iter().collect();
            let b = g.create_dataset(name);
            b.with_i64_data(&v);
            encode(b, "array", "0.2.0");
        } else {
            let values: Vec<i64> = ca.iter().map(|x| x.unwrap_or(0)).collect();
            let mask: Vec<u8> = ca.iter().map(|x| u8::from(x.is_none())).collect();
            let mut sub = g.create_group(name);
            encode_group(&mut sub, "nullable-integer", "0.1.0");
            encode(
                sub.create_dataset("values").with_i64_data(&values),
                "array",
                "0.2.0",
            );
            encode(
                sub.create_dataset("mask")
                    .with_enum_u8_data(bool_type()?, &mask),
                "array",
                "0.2.0",
            );
            g.add_group(sub.finish());
        }
    } else if dt == DataType::Boolean {
        let ca = s.bool().map_err(err)?;
        let values: Vec<u8> = ca.iter().map(|x| u8::from(x.unwrap_or(false))).collect();
        if ca.null_count() == 0 {
            let b = g.create_dataset(name);
            b.with_enum_u8_data(bool_type()?, &values);
            encode(b, "array", "0.2.0");
        } else {
            let mask: Vec<u8> = ca.iter().map(|x| u8::from(x.is_none())).collect();
            let mut sub = g.create_group(name);
            encode_group(&mut sub, "nullable-boolean", "0.1.0");
            encode(
                sub.create_dataset("values")
                    .with_enum_u8_data(bool_type()?, &values),
                "array",
                "0.2.0",
            );
            encode(
                sub.create_dataset("mask")
                    .with_enum_u8_data(bool_type()?, &mask),
                "array",
                "0.2.0",
            );
            g.add_group(sub.finish());
        }
    } else {
        let s = s.cast(&DataType::String).map_err(err)?;
        let ca = s.str().map_err(err)?;
        let values: Vec<Option<&str>> = ca.iter().collect();
        write_strings_column(g, name, &values)?;
    }
    Ok(())
}

/// Strings with repeats (or missing values) become a categorical, as anndata's `strings_to_categoricals` does
/// on write; unique strings stay a string-array.
fn write_strings_column(g: &mut GroupBuilder, name: &str, values: &[Option<&str>]) -> Result<()> {
    let mut cats: Vec<&str> = values.iter().flatten().copied().collect();
    cats.sort_unstable();
    cats.dedup();
    let has_null = values.iter().any(|v| v.is_none());
    if cats.len() == values.len() && !has_null {
        let refs: Vec<&str> = values.iter().map(|v| v.unwrap_or("")).collect();
        write_string_array(g.create_dataset(name), &refs);
        return Ok(());
    }
    let lookup: HashMap<&str, usize> = cats.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let codes: Vec<i64> = values
        .iter()
        .map(|v| v.map(|s| lookup[s] as i64).unwrap_or(-1))
        .collect();
    let mut sub = g.create_group(name);
    encode_group(&mut sub, "categorical", "0.2.0");
    sub.set_attr("ordered", AttrValue::I8(0));
    write_string_array(sub.create_dataset("categories"), &cats);
    let b = sub.create_dataset("codes");
    if cats.len() < i8::MAX as usize {
        b.with_i8_data(&codes.iter().map(|&c| c as i8).collect::<Vec<_>>());
    } else if cats.len() < i16::MAX as usize {
        b.with_i16_data(&codes.iter().map(|&c| c as i16).collect::<Vec<_>>());
    } else {
        b.with_i32_data(&codes.iter().map(|&c| c as i32).collect::<Vec<_>>());
    }
    encode(b, "array", "0.2.0");
    g.add_group(sub.finish());
    Ok(())
}

/// Write a JSON object as an anndata `dict`: objects become groups, strings `string`, numbers and booleans
/// `numeric-scalar`, homogeneous arrays `array` / `string-array`. `null` has no anndata encoding and is
/// skipped; arrays mixing types or holding objects are stored as their JSON text.
fn write_uns_map<N: Node>(
    node: &mut N,
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    use serde_json::Value;
    for (key, value) in map {
        if key.contains('/') || key.is_empty() || key == "." {
            return Err(DataError::data(
                format!("uns['{key}']"),
                "keys may not be empty or contain '/'",
            ));
        }
        match value {
            Value::Null => tracing::debug!(key, "uns: null has no anndata encoding; skipped"),
            Value::Object(inner) => {
                let mut g = node.new_group(key);
                encode_group(&mut g, "dict", "0.1.0");
                write_uns_map(&mut g, inner)?;
                node.add(g.finish());
            }
            Value::String(s) => {
                let b = node.dataset(key);
                b.with_vlen_strings(&[s.as_str()]).with_shape(&[]);
                encode(b, "string", "0.2.0");
            }
            Value::Bool(v) => {
                let b = node.dataset(key);
                b.with_enum_u8_data(bool_type()?, &[u8::from(*v)])
                    .with_shape(&[]);
                encode(b, "numeric-scalar", "0.2.0");
            }
            Value::Number(n) => {
                let b = node.dataset(key);
                match n.as_i64() {
                    Some(i) => b.with_i64_data(&[i]),
                    None => b.with_f64_data(&[n.as_f64().unwrap_or(f64::NAN)]),
                }
                .with_shape(&[]);
                encode(b, "numeric-scalar", "0.2.0");
            }
            Value::Array(items) => write_uns_array(node, key, items)?,
        }
    }
    Ok(())
}

fn write_uns_array<N: Node>(node: &mut N, key: &str, items: &[serde_json::Value]) -> Result<()> {
    use serde_json::Value;
    if !items.is_empty() && items.iter().all(|v| v.is_string()) {
        let refs: Vec<&str> = items.iter().filter_map(|v| v.as_str()).collect();
        write_string_array(node.dataset(key), &refs);
    } else if items.iter().all(|v| v.is_i64()) {
        let v: Vec<i64> = items.iter().filter_map(|v| v.as_i64()).collect();
        let b = node.dataset(key);
        b.with_i64_data(&v);
        encode(b, "array", "0.2.0");
    } else if items.iter().all(|v| v.is_number()) {
        let v: Vec<f64> = items.iter().filter_map(|v| v.as_f64()).collect();
        let b = node.dataset(key);
        b.with_f64_data(&v);
        encode(b, "array", "0.2.0");
    } else if items.iter().all(|v| v.is_boolean()) {
        let v: Vec<u8> = items
            .iter()
            .map(|v| u8::from(v.as_bool() == Some(true)))
            .collect();
        let b = node.dataset(key);
        b.with_enum_u8_data(bool_type()?, &v);
        encode(b, "array", "0.2.0");
    } else {
        let text = Value::Array(items.to_vec()).to_string();
        let b = node.dataset(key);
        b.with_vlen_strings(&[text.as_str()]).with_shape(&[]);
        encode(b, "string", "0.2.0");
    }
    Ok(())
}
