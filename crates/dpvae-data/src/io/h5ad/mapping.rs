//! Mappings and scalars: `dict` (uns and its nested dicts), `string`, `numeric-scalar` and small arrays as
//! JSON; reading and writing.

use hdf5_pure::DType;

use super::dataframe::write_string_array;
use super::read::encoding_of;
use super::write::{Node, bool_type, encode, encode_group};
use crate::error::{DataError, Result};
use crate::io::hdf::{H5, Kind, is_bool, is_float, is_integer};

/// uns arrays longer than this (images, large embeddings) are not converted to JSON.
const UNS_MAX_ELEMENTS: usize = 10_000;
/// uns nesting deeper than this is not followed (guards against cyclic or hostile files).
const UNS_MAX_DEPTH: usize = 16;

/// Convert a `dict` group of uns into JSON: nested dicts, strings, numbers, booleans and small arrays. Large
/// arrays (images) and non-JSON elements (dataframes, sparse matrices) are skipped and logged.
pub(super) fn read_uns_group(
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

// Writing

/// Write a JSON object as an anndata `dict`: objects become groups, strings `string`, numbers and booleans
/// `numeric-scalar`, homogeneous arrays `array` / `string-array`. `null` has no anndata encoding and is
/// skipped; arrays mixing types or holding objects are stored as their JSON text.
pub(super) fn write_uns_map<N: Node>(
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
