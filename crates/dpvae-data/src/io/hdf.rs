//! A thin layer over `hdf5-pure` shared by the h5ad and 10x readers: typed reads that name the file and the
//! object in every error, integer-width-agnostic index reads, and attribute helpers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hdf5_pure::{AttrValue, DType, Dataset, File, Group};

use crate::error::{DataError, Result};

/// An open HDF5 file and the path used in error messages.
pub(crate) struct H5 {
    pub file: File,
    pub path: PathBuf,
    /// Upper bound on the decoded bytes of any one dataset: a corrupted shape must give an error, not an
    /// allocation that aborts the process. Generous enough for gzip ratios far beyond what count data reaches.
    max_dataset_bytes: u64,
}

impl H5 {
    pub fn open(path: &Path) -> Result<H5> {
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        H5::from_bytes(bytes, path)
    }

    pub fn from_bytes(bytes: Vec<u8>, label: &Path) -> Result<H5> {
        if !hdf5_pure::is_hdf5_bytes(&bytes) {
            return Err(DataError::invalid(
                label,
                "file",
                "is not an HDF5 file (no HDF5 signature)",
            ));
        }
        let len = bytes.len() as u64;
        let file = guard(label, "file", || File::from_bytes(bytes))?;
        Ok(H5 {
            file,
            path: label.to_path_buf(),
            max_dataset_bytes: len.saturating_mul(256).saturating_add(64 << 20),
        })
    }

    pub fn invalid(&self, object: &str, problem: impl Into<String>) -> DataError {
        DataError::invalid(&self.path, object, problem)
    }

    pub fn missing(&self, object: &str, hint: impl Into<String>) -> DataError {
        DataError::missing(&self.path, object, hint)
    }

    pub fn group(&self, object: &str) -> Result<Group> {
        guard(&self.path, object, || self.file.group(object))
    }

    pub fn dataset(&self, object: &str) -> Result<Dataset> {
        guard(&self.path, object, || self.file.dataset(object))
    }

    /// What lives at `object`: a group, a dataset, or nothing.
    pub fn kind(&self, object: &str) -> Result<Kind> {
        let (parent, name) = match object.rsplit_once('/') {
            Some((p, n)) => (p, n),
            None => ("", object),
        };
        let parent_group = if parent.is_empty() {
            self.file.root()
        } else {
            match self.kind(parent)? {
                Kind::Group => self.group(parent)?,
                _ => return Ok(Kind::Absent),
            }
        };
        let children =
            self.children(&parent_group, if parent.is_empty() { "/" } else { parent })?;
        Ok(children
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, k)| k)
            .unwrap_or(Kind::Absent))
    }

    /// The groups and datasets directly under `group`, sorted by name.
    pub fn children(&self, group: &Group, object: &str) -> Result<Vec<(String, Kind)>> {
        let mut out: Vec<(String, Kind)> = guard(&self.path, object, || group.groups())?
            .into_iter()
            .map(|n| (n, Kind::Group))
            .collect();
        out.extend(
            guard(&self.path, object, || group.datasets())?
                .into_iter()
                .map(|n| (n, Kind::Dataset)),
        );
        out.sort();
        Ok(out)
    }

    pub fn group_attrs(&self, group: &Group, object: &str) -> Result<HashMap<String, AttrValue>> {
        guard(&self.path, object, || group.attrs())
    }

    pub fn dataset_attrs(&self, ds: &Dataset, object: &str) -> Result<HashMap<String, AttrValue>> {
        guard(&self.path, object, || ds.attrs())
    }

    pub fn shape(&self, ds: &Dataset, object: &str) -> Result<Vec<usize>> {
        let shape = guard(&self.path, object, || ds.shape())?;
        shape
            .into_iter()
            .map(|d| {
                usize::try_from(d)
                    .map_err(|_| self.invalid(object, format!("dimension {d} is too large")))
            })
            .collect()
    }

    pub fn dtype(&self, ds: &Dataset, object: &str) -> Result<DType> {
        let dt = guard(&self.path, object, || ds.dtype())?;
        self.check_size(ds, object)?;
        Ok(dt)
    }

    /// Refuse datasets whose declared size cannot come from this file.
    fn check_size(&self, ds: &Dataset, object: &str) -> Result<()> {
        let shape = guard(&self.path, object, || ds.shape())?;
        let elem = guard(&self.path, object, || ds.element_size())?.max(1);
        let total = shape
            .iter()
            .try_fold(elem, |acc, &d| acc.checked_mul(d))
            .unwrap_or(u64::MAX);
        if total > self.max_dataset_bytes {
            return Err(self.invalid(
                object,
                format!("declares {shape:?} elements ({total} bytes), impossible for a file of this size (corrupt shape)"),
            ));
        }
        Ok(())
    }

    pub fn read_f32(&self, ds: &Dataset, object: &str) -> Result<Vec<f32>> {
        let dt = self.dtype(ds, object)?;
        if !is_numeric(&dt) {
            return Err(self.invalid(object, format!("has type {dt}, expected numbers")));
        }
        guard(&self.path, object, || ds.read_f32())
    }

    pub fn read_f64(&self, ds: &Dataset, object: &str) -> Result<Vec<f64>> {
        let dt = self.dtype(ds, object)?;
        if !is_numeric(&dt) && !is_bool(&dt) {
            return Err(self.invalid(object, format!("has type {dt}, expected numbers")));
        }
        guard(&self.path, object, || ds.read_f64())
    }

    pub fn read_i64(&self, ds: &Dataset, object: &str) -> Result<Vec<i64>> {
        let dt = self.dtype(ds, object)?;
        if !is_integer(&dt) && !is_bool(&dt) {
            return Err(self.invalid(object, format!("has type {dt}, expected integers")));
        }
        guard(&self.path, object, || ds.read_i64())
    }

    pub fn read_strings(&self, ds: &Dataset, object: &str) -> Result<Vec<String>> {
        let dt = self.dtype(ds, object)?;
        if !matches!(dt, DType::String | DType::VariableLengthString) {
            return Err(self.invalid(object, format!("has type {dt}, expected strings")));
        }
        let strings = guard(&self.path, object, || ds.read_string())?;
        // hdf5-pure decodes lossily; a U+FFFD means bytes that were not UTF-8 (anndata refuses such files),
        // and names silently changed would join the wrong genes or spots.
        if let Some(k) = strings.iter().position(|s| s.contains('\u{FFFD}')) {
            return Err(self.invalid(
                object,
                format!("entry {k} ('{}') is not valid UTF-8", strings[k]),
            ));
        }
        Ok(strings)
    }

    /// Read a 1-D string dataset by path.
    pub fn strings_at(&self, object: &str) -> Result<Vec<String>> {
        let ds = self.dataset(object)?;
        self.read_strings(&ds, object)
    }

    /// Read an index array (indptr / indices) of any integer width as `usize`, rejecting negative values.
    pub fn read_index(&self, ds: &Dataset, object: &str) -> Result<Vec<usize>> {
        let dt = self.dtype(ds, object)?;
        let out: Vec<usize> = match dt {
            DType::U8 | DType::U16 | DType::U32 | DType::U64 => {
                guard(&self.path, object, || ds.read_u64())?
                    .into_iter()
                    .map(|v| v as usize)
                    .collect()
            }
            DType::I8 | DType::I16 | DType::I32 => {
                let v = guard(&self.path, object, || ds.read_i32())?;
                if let Some(p) = v.iter().position(|&x| x < 0) {
                    return Err(self.invalid(object, format!("entry {p} is negative ({})", v[p])));
                }
                v.into_iter().map(|x| x as usize).collect()
            }
            DType::I64 => {
                let v = guard(&self.path, object, || ds.read_i64())?;
                if let Some(p) = v.iter().position(|&x| x < 0) {
                    return Err(self.invalid(object, format!("entry {p} is negative ({})", v[p])));
                }
                v.into_iter().map(|x| x as usize).collect()
            }
            other => {
                return Err(self.invalid(object, format!("has type {other}, expected integers")));
            }
        };
        Ok(out)
    }

    /// Read column indices as `u32` (checked against `bound` by the matrix constructor).
    pub fn read_indices_u32(&self, ds: &Dataset, object: &str) -> Result<Vec<u32>> {
        let dt = self.dtype(ds, object)?;
        let too_big = |p: usize, v: i128| {
            self.invalid(
                object,
                format!("entry {p} is {v}, outside 0..2^32 (indices must be non-negative)"),
            )
        };
        match dt {
            DType::I8 | DType::I16 | DType::I32 => {
                let v = guard(&self.path, object, || ds.read_i32())?;
                if let Some(p) = v.iter().position(|&x| x < 0) {
                    return Err(too_big(p, v[p] as i128));
                }
                Ok(v.into_iter().map(|x| x as u32).collect())
            }
            DType::U8 | DType::U16 | DType::U32 => guard(&self.path, object, || ds.read_u32()),
            DType::I64 => {
                let v = guard(&self.path, object, || ds.read_i64())?;
                if let Some(p) = v.iter().position(|&x| !(0..=u32::MAX as i64).contains(&x)) {
                    return Err(too_big(p, v[p] as i128));
                }
                Ok(v.into_iter().map(|x| x as u32).collect())
            }
            DType::U64 => {
                let v = guard(&self.path, object, || ds.read_u64())?;
                if let Some(p) = v.iter().position(|&x| x > u32::MAX as u64) {
                    return Err(too_big(p, v[p] as i128));
                }
                Ok(v.into_iter().map(|x| x as u32).collect())
            }
            other => Err(self.invalid(object, format!("has type {other}, expected integers"))),
        }
    }
}

/// What an HDF5 path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Group,
    Dataset,
    Absent,
}

/// Run an `hdf5-pure` call, turning its errors and (on malformed files) its panics into typed errors that
/// name the file and object. A corrupted file must never take the process down.
pub(crate) fn guard<T>(
    path: &Path,
    object: &str,
    f: impl FnOnce() -> std::result::Result<T, hdf5_pure::Error>,
) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(DataError::Hdf5 {
            path: path.to_path_buf(),
            object: object.to_string(),
            message: e.to_string(),
        }),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown failure".to_string());
            Err(DataError::Hdf5 {
                path: path.to_path_buf(),
                object: object.to_string(),
                message: format!("malformed HDF5 structure ({msg})"),
            })
        }
    }
}

pub(crate) fn is_integer(dt: &DType) -> bool {
    matches!(
        dt,
        DType::I8
            | DType::I16
            | DType::I32
            | DType::I64
            | DType::U8
            | DType::U16
            | DType::U32
            | DType::U64
    )
}

pub(crate) fn is_float(dt: &DType) -> bool {
    matches!(dt, DType::F32 | DType::F64)
}

pub(crate) fn is_numeric(dt: &DType) -> bool {
    is_integer(dt) || is_float(dt)
}

/// h5py stores numpy booleans as an 8-bit enum {FALSE = 0, TRUE = 1}.
pub(crate) fn is_bool(dt: &DType) -> bool {
    matches!(dt, DType::Enum(names) if names.len() == 2 && names.iter().any(|n| n == "TRUE") && names.iter().any(|n| n == "FALSE"))
}

/// numpy's name for a stored element type, as anndata users know it.
pub(crate) fn numpy_name(dt: &DType) -> String {
    match dt {
        DType::F32 => "float32".into(),
        DType::F64 => "float64".into(),
        DType::I8 => "int8".into(),
        DType::I16 => "int16".into(),
        DType::I32 => "int32".into(),
        DType::I64 => "int64".into(),
        DType::U8 => "uint8".into(),
        DType::U16 => "uint16".into(),
        DType::U32 => "uint32".into(),
        DType::U64 => "uint64".into(),
        d if is_bool(d) => "bool".into(),
        other => other.to_string(),
    }
}

/// A string attribute, whatever its HDF5 string flavour (fixed, variable, ASCII, UTF-8, 1-element array).
pub(crate) fn attr_str(attrs: &HashMap<String, AttrValue>, key: &str) -> Option<String> {
    attrs
        .get(key)
        .and_then(|v| v.as_str())
        .map(|s| s.to_string())
}

/// Variable-length UTF-8 string attribute, as h5py writes Python `str` attributes.
pub(crate) fn vstr(s: &str) -> AttrValue {
    AttrValue::VarLenString(s.to_string())
}
