//! The grammar of `dpvae procrustes`: its arguments and the settings they fill.

use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The settings of `dpvae procrustes`; with --json they are printed with the result, under `config`.
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcrustesSettings {
    /// obsm key of the truth when it is a dataset.
    #[arg(long, default_value = "spatial")]
    pub truth_key: String,
    /// obsm key of the estimate when it is a dataset.
    #[arg(long, default_value = "spatial_dpvae")]
    pub estimate_key: String,
    /// Forbid reflections (proper rotations only). scipy allows them.
    #[arg(long)]
    pub no_reflection: bool,
    /// Print one JSON object (disparity, n, scale, ..., config) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Compare the shared spots even when the truth and the estimate share under 90% of their barcodes
    /// (Visium barcodes repeat across slides, so a partial match can be the wrong section).
    #[arg(long)]
    pub allow_partial: bool,
}

#[derive(Debug, Args)]
pub struct ProcrustesArgs {
    /// True coordinates: a dataset (obsm key from --truth-key) or a CSV/Parquet table with barcode,x,y.
    pub truth: PathBuf,
    /// Estimated coordinates: a dataset (obsm key from --estimate-key) or a table; rows matched by barcode.
    pub estimate: PathBuf,
    #[command(flatten)]
    pub settings: ProcrustesSettings,
}
