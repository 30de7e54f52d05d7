//! The grammar of `dpvae demo`: its arguments and the settings they fill.

use clap::Args;
use dpvae_model::BackendKind;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The settings of `dpvae demo`; stored in the output folder as config.toml.
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSettings {
    /// Simulated spots.
    #[arg(long, default_value_t = 1500)]
    pub n_spots: usize,
    /// Simulated genes (the models see dpvae's default preprocessing of them: HVGs, scaling, PCA).
    #[arg(long, default_value_t = 400)]
    pub n_genes: usize,
    /// Most training epochs for each model (early stopping on the validation spots usually ends sooner).
    #[arg(long, default_value_t = 200)]
    pub epochs: usize,
    /// Weight of the distance-preserving loss for the dp-VAE.
    #[arg(long, default_value_t = dpvae::recommended_train_config().alpha2)]
    pub alpha2: f64,
    /// From --seed: the simulation, the split and training.
    #[arg(skip)]
    pub seed: u64,
    /// From --backend.
    #[arg(skip)]
    pub backend: BackendKind,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output folder for the figures, training curves, results.json and config.toml.
    #[arg(long, default_value = "demo-out")]
    pub out: PathBuf,
    #[command(flatten)]
    pub settings: DemoSettings,
}
