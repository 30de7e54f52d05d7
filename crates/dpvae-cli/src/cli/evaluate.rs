//! The grammar of `dpvae evaluate`: its arguments and the settings they fill.

use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The settings of `dpvae evaluate`; stored in the output folder as config.toml.
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateSettings {
    /// obsm key of the reconstruction.
    #[arg(long, default_value = "spatial_dpvae")]
    pub estimate_key: String,
    /// Neighbours in the kNN graph for Moran's I / Geary's C.
    #[arg(long, default_value_t = 5, value_parser = super::neighbours)]
    pub k: usize,
    /// Compare the shared spots even when the truth and the estimate share under 90% of their barcodes.
    #[arg(long)]
    pub allow_partial: bool,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// A dataset with the reconstruction (obsm['spatial_dpvae']) and the latent (obsm['X_dpvae']).
    pub input: PathBuf,
    /// Where the true coordinates are: a dataset (obsm['spatial']) or a CSV/Parquet barcode,x,y table.
    /// Default: obsm['spatial'] of the input itself.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Output folder: evaluation.json, per_spot_error.csv, latent_autocorr.csv, error_map.png/.svg, config.toml.
    /// When the input has obs['dpvae_radius_50'/'dpvae_radius_90'/'dpvae_confidence'], evaluation.json gains
    /// their calibration (coverage of each radius, Spearman of radius and error).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub settings: EvaluateSettings,
}
