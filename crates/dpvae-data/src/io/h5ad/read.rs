//! The file root (the `anndata` element): X or a layer, obs and var, obsm and uns put together into one
//! [`SpatialData`], plus what every element reader shares.

use std::collections::HashMap;

use hdf5_pure::AttrValue;

use super::dataframe::read_dataframe;
use super::mapping::read_uns_group;
use super::matrix::{read_matrix, read_obsm};
use crate::dataset::{Format, SourceInfo, SpatialData};
use crate::error::{DataError, Result};
use crate::io::ReadOptions;
use crate::io::hdf::{H5, Kind, attr_str};

pub(super) fn read_from(h5: &H5, opts: &ReadOptions) -> Result<SpatialData> {
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
pub(super) fn encoding_of(attrs: &HashMap<String, AttrValue>) -> Option<String> {
    attr_str(attrs, "encoding-type")
}

/// Attach the file and the element path to an in-memory validation error.
pub(super) fn in_element(e: DataError, h5: &H5, object: &str) -> DataError {
    match e {
        DataError::Data { object: o, problem } => h5.invalid(&format!("{object}/{o}"), problem),
        other => other,
    }
}
