//! The grammar of `dpvae preprocess`: its arguments and the settings they fill.

use clap::Args;
use dpvae_data::preprocess::HvgFlavor;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The settings of `dpvae preprocess` (its flags, its `--config` keys).
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreprocessSettings {
    /// Highly variable genes to keep (0: all).
    #[arg(long, default_value_t = 100)]
    pub hvg: usize,
    /// HVG flavor: seurat, cell_ranger, seurat_v3 or variance (top variance of the log data).
    #[arg(long, default_value = "seurat")]
    pub flavor: HvgFlavor,
    /// Scale each gene to unit variance (clipped at --max-value).
    #[arg(long)]
    pub scale: bool,
    /// Clip scaled values at this absolute value.
    #[arg(long, value_parser = super::finite_f64)]
    pub max_value: Option<f64>,
    /// Drop spots with fewer counts.
    #[arg(long, value_parser = super::finite_f64)]
    pub min_counts: Option<f64>,
    /// Drop spots with fewer detected genes.
    #[arg(long)]
    pub min_genes: Option<usize>,
    /// Drop genes detected in fewer spots.
    #[arg(long)]
    pub min_cells: Option<usize>,
}

#[derive(Debug, Args)]
pub struct PreprocessArgs {
    /// Input with raw counts.
    pub input: PathBuf,
    /// Output h5ad with the processed expression of the selected genes.
    pub output: PathBuf,
    #[command(flatten)]
    pub settings: PreprocessSettings,
}
