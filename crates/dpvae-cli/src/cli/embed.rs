//! The grammar of `dpvae embed`: its arguments and the settings they fill.

use clap::Args;
use dpvae_model::BackendKind;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The settings of `dpvae embed`: only the backend (the model directory holds everything else).
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedSettings {
    /// From --backend.
    #[arg(skip)]
    pub backend: BackendKind,
    /// From --seed: SMACOF's random starts for a latent of more than 2 dimensions.
    #[arg(skip)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Model directory written by `dpvae train`.
    pub model: PathBuf,
    /// Dataset to encode (raw counts; processed exactly as the model's reference was).
    pub input: PathBuf,
    /// Output h5ad: the input plus obsm['X_dpvae'] and obsm['spatial_dpvae'] (in the reference's frame for a
    /// model trained with dpvae's defaults; for a bare model only when its latent is 2-d), and for a model
    /// with a calibration the per-spot uncertainty obs['dpvae_radius_50'], obs['dpvae_radius_90'] (reference
    /// units) and obs['dpvae_confidence'] (docs/uncertainty.md).
    #[arg(long)]
    pub out: PathBuf,
    /// Place the query even when more than half of the model's genes are missing from it.
    #[arg(long)]
    pub allow_missing_genes: bool,
    #[command(flatten)]
    pub settings: EmbedSettings,
}
