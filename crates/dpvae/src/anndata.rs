//! Where dpvae's results live in an AnnData object, as scanpy users look for them (the scvi-tools
//! convention: `obsm` for per-spot matrices, `obs` for per-spot values, `uns` for provenance).

use dpvae_data::SpatialData;

pub use crate::uncertainty::{OBS_COLUMNS, OBS_CONFIDENCE, OBS_RADIUS_50, OBS_RADIUS_90};

/// The true coordinates, as scanpy and squidpy store them.
pub const OBSM_SPATIAL: &str = "spatial";
/// The posterior means of the (first) model's latent.
pub const OBSM_LATENT: &str = "X_dpvae";
/// Their posterior variances.
pub const OBSM_LATENT_VAR: &str = "X_dpvae_var";
/// The placement: coordinates in the reference's frame, or the reconstruction of the latent.
pub const OBSM_PLACED: &str = "spatial_dpvae";
/// The `uns` entry holding what each dpvae step did.
pub const UNS_KEY: &str = "dpvae";

/// Record what a step did under `uns['dpvae'][step]` (with dpvae's version), so results carry their own
/// provenance.
pub fn record_in_uns(data: &mut SpatialData, step: &str, value: serde_json::Value) {
    let entry = data
        .uns
        .entry(UNS_KEY.to_string())
        .or_insert_with(|| serde_json::Value::Object(Default::default()));
    if !entry.is_object() {
        *entry = serde_json::Value::Object(Default::default());
    }
    if let Some(obj) = entry.as_object_mut() {
        obj.insert(step.to_string(), value);
        obj.insert(
            "version".to_string(),
            serde_json::Value::String(env!("CARGO_PKG_VERSION").to_string()),
        );
    }
}

/// Category labels of an obs column (e.g. `domain`), as indices into the sorted distinct names; missing
/// values are labelled "NA". `None` when the column does not exist.
pub fn obs_labels(data: &SpatialData, column: &str) -> Option<(Vec<usize>, Vec<String>)> {
    let col = data.obs.column(column).ok()?;
    let col = col.cast(&polars::prelude::DataType::String).ok()?;
    let values: Vec<String> = col
        .str()
        .ok()?
        .iter()
        .map(|v| v.unwrap_or("NA").to_string())
        .collect();
    let mut names: Vec<String> = values.clone();
    names.sort();
    names.dedup();
    let labels = values
        .iter()
        .map(|v| names.binary_search(v).unwrap_or(0))
        .collect();
    Some((labels, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_accumulates_steps() {
        let mut d = dpvae_data::simulate::SimulateParams {
            n_spots: 60,
            n_genes: 30,
            ..Default::default()
        }
        .simulate()
        .unwrap();
        record_in_uns(&mut d, "train", serde_json::json!({"epochs": 3}));
        record_in_uns(&mut d, "embed", serde_json::json!({"members": 2}));
        let uns = &d.uns[UNS_KEY];
        assert_eq!(uns["train"]["epochs"], 3);
        assert_eq!(uns["embed"]["members"], 2);
        assert_eq!(uns["version"], env!("CARGO_PKG_VERSION"));
        let (labels, names) = obs_labels(&d, "domain").unwrap();
        assert_eq!(labels.len(), 60);
        assert!(labels.iter().all(|&l| l < names.len()));
        assert!(obs_labels(&d, "no-such-column").is_none());
    }
}
