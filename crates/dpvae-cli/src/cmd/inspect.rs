//! `dpvae inspect`: what a user needs to know about an input before using it.

use anyhow::{Context, Result};
use dpvae_data::{SpatialData, io};
use serde_json::json;

use crate::cli::inspect::InspectArgs;
use crate::config::Invocation;

pub fn run(inv: &Invocation, args: InspectArgs) -> Result<()> {
    let Some(s) = inv.settings(&args.settings)? else {
        return Ok(());
    };
    let data = io::read(&args.input)
        .with_context(|| format!("could not read {}", args.input.display()))?;
    let summary = summarize(&data);
    if s.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_text(&summary);
    }
    Ok(())
}

/// The facts `inspect` reports, as JSON (also the source of the text form).
pub fn summarize(data: &SpatialData) -> serde_json::Value {
    let src = data.source.as_ref();
    let nnz = match &data.x {
        dpvae_data::Matrix::Csr(c) => c.nnz(),
        dpvae_data::Matrix::Dense(a) => a.iter().filter(|v| **v != 0.0).count(),
    };
    let cells = (data.n_obs() * data.n_vars()).max(1) as f64;
    json!({
        "path": src.map(|s| s.path.display().to_string()),
        "format": src.map(|s| s.format.as_str()),
        "n_obs": data.n_obs(),
        "n_vars": data.n_vars(),
        "x_layout": src.map(|s| s.x_layout.clone()).unwrap_or_else(|| data.x.layout().to_string()),
        "x_dtype": src.map(|s| s.x_dtype.clone()),
        "x_in_memory": data.x.layout(),
        "x_density": nnz as f64 / cells,
        "has_spatial": data.has_spatial(),
        "spatial_dims": data.spatial.as_ref().map(|s| s.ncols()),
        "spatial_bounds": data.spatial.as_ref().map(|s| {
            (0..s.ncols()).map(|j| {
                let col = s.column(j);
                let lo = col.iter().cloned().fold(f64::INFINITY, f64::min);
                let hi = col.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                [lo, hi]
            }).collect::<Vec<_>>()
        }),
        "obs_columns": data.obs.get_column_names().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        "var_columns": data.var.get_column_names().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        "obsm_keys": obsm_keys(data),
        "layers": data.layers.keys().cloned().collect::<Vec<_>>(),
        "uns_keys": data.uns.keys().cloned().collect::<Vec<_>>(),
        "first_obs": data.obs_names.iter().take(3).cloned().collect::<Vec<_>>(),
        "first_vars": data.var_names.iter().take(5).cloned().collect::<Vec<_>>(),
    })
}

/// The obsm keys as anndata shows them: the coordinates are held apart in memory but are `obsm['spatial']`.
fn obsm_keys(data: &dpvae_data::SpatialData) -> Vec<String> {
    let mut keys: Vec<String> = data.obsm.keys().cloned().collect();
    if data.has_spatial() {
        keys.push("spatial".into());
        keys.sort();
    }
    keys
}

fn print_text(s: &serde_json::Value) {
    let show = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".to_string(),
        serde_json::Value::Array(a) if a.is_empty() => "(none)".to_string(),
        serde_json::Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    for key in [
        "path",
        "format",
        "n_obs",
        "n_vars",
        "x_layout",
        "x_dtype",
        "x_density",
        "has_spatial",
        "spatial_dims",
        "obs_columns",
        "var_columns",
        "obsm_keys",
        "layers",
        "uns_keys",
        "first_obs",
        "first_vars",
    ] {
        println!("{key:>13}: {}", show(&s[key]));
    }
}
