//! The grammar of `dpvae simulate`: its arguments and the settings they fill.

use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The settings of `dpvae simulate` (its flags, its `--config` keys).
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulateSettings {
    /// Number of spots.
    #[arg(long, default_value_t = 2000)]
    pub n_spots: usize,
    /// Number of genes.
    #[arg(long, default_value_t = 1000)]
    pub n_genes: usize,
    /// Number of spatial domains (layers and regions).
    #[arg(long, default_value_t = 7)]
    pub n_domains: usize,
    /// Overdispersion and dropout: 0 = Poisson, 1 = typical Visium, 2 = very noisy.
    #[arg(long, default_value_t = 1.0, value_parser = super::finite_f64)]
    pub noise: f64,
    /// A near-square block of spots instead of an irregular tissue outline.
    #[arg(long)]
    pub square: bool,
    /// An imaging-based single-cell section (Xenium-like) instead of Visium spots: --n-spots cells about 12
    /// um apart, each of one cell type (two per niche, --n-domains niches), sparse counts; obs['cell_type'] and
    /// obs['niche'].
    #[arg(long, conflicts_with = "square")]
    pub single_cell: bool,
    /// From --seed: the same seed gives the same section.
    #[arg(skip)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Output h5ad (raw counts in X, microns in obsm['spatial'], obs['domain']).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub settings: SimulateSettings,
}
