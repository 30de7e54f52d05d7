//! The grammar of `dpvae correlate`: its arguments and the settings they fill.

use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The settings of `dpvae correlate`; with --json they are printed with the result, under `config`.
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrelateSettings {
    /// Highly variable genes (seurat flavor) after normalize_total + log1p.
    #[arg(long, default_value_t = 100)]
    pub hvg: usize,
    /// Permutations of the Mantel test.
    #[arg(long, default_value_t = 199)]
    pub perms: usize,
    /// Spots used for Spearman and the Mantel test (subsampled above this; Pearson uses all pairs, or --max-pairs).
    #[arg(long, default_value_t = 1500)]
    pub max_spots: usize,
    /// Pearson r uses every pair up to this many pairs, and this many sampled pairs above it (with the
    /// sampling's standard error reported).
    #[arg(long, default_value_t = 20_000_000)]
    pub max_pairs: usize,
    /// Print one JSON object (with the settings under `config`) instead of text.
    #[arg(long)]
    pub json: bool,
    /// From --seed: subsampling and permutations.
    #[arg(skip)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct CorrelateArgs {
    /// A dataset with raw counts and coordinates.
    pub input: PathBuf,
    #[command(flatten)]
    pub settings: CorrelateSettings,
}
