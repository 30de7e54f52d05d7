//! Dataframes (obs, var) and their columns: `dataframe`, `categorical`, `string-array`, `array`,
//! `nullable-integer`, `nullable-boolean` and `nullable-string-array`; reading and writing.

use std::collections::HashMap;

use hdf5_pure::{AttrValue, DType, DatasetBuilder, GroupBuilder};
use polars::prelude::{Column, DataFrame, DataType, NamedFrom, Series};

use super::read::encoding_of;
use super::write::{Node, bool_type, encode, encode_group};
use crate::error::{DataError, Result};
use crate::io::hdf::{H5, Kind, attr_str, is_bool, is_float, is_integer, vstr};

/// Read an anndata dataframe (obs or var): its index and its columns as a polars DataFrame.
pub(super) fn read_dataframe(h5: &H5, object: &str) -> Result<(Vec<String>, DataFrame)> {
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
        Kind::Dataset => read_column_dataset(h5, object, name, legacy_cats),
        Kind::Group => read_column_group(h5, object, name),
        Kind::Absent => Err(h5.missing(object, "listed in column-order but not stored")),
    }
}

/// A column stored as one dataset: `array` or `string-array` (or a legacy categorical's codes).
fn read_column_dataset(
    h5: &H5,
    object: &str,
    name: &str,
    legacy_cats: Option<Vec<String>>,
) -> Result<Series> {
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

/// A column stored as a group: `categorical` or a nullable encoding.
fn read_column_group(h5: &H5, object: &str, name: &str) -> Result<Series> {
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
            read_nullable(h5, object, name, enc)
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

/// A `nullable-integer`, `nullable-boolean` or `nullable-string-array` column: values plus a mask (1 = null).
fn read_nullable(h5: &H5, object: &str, name: &str, enc: &str) -> Result<Series> {
    let mask_obj = format!("{object}/mask");
    let mask = h5.read_i64(&h5.dataset(&mask_obj)?, &mask_obj)?;
    let values_obj = format!("{object}/values");
    let vds = h5.dataset(&values_obj)?;
    let check = |len: usize| {
        if len != mask.len() {
            Err(h5.invalid(
                object,
                format!("values ({len}) and mask ({}) differ in length", mask.len()),
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

fn decode_categorical(
    h5: &H5,
    object: &str,
    name: &str,
    codes: &[i64],
    cats: &[String],
) -> Result<Series> {
    let mut out: Vec<Option<&str>> = Vec::with_capacity(codes.len());
    for (i, &c) in codes.iter().enumerate() {
        if c == -1 {
            // pandas writes -1, and only -1, for a missing value.
            out.push(None);
        } else if c < 0 {
            return Err(h5.invalid(
                &format!("{object}/codes"),
                format!("entry {i} is {c}; a code is a category number or -1 (missing)"),
            ));
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

// Writing

pub(super) fn write_string_array(b: &mut DatasetBuilder, values: &[&str]) {
    b.with_vlen_strings(values);
    encode(b, "string-array", "0.2.0");
}

/// Write an anndata dataframe: `_index` plus one element per column, in `column-order`.
pub(super) fn write_dataframe<N: Node>(
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
