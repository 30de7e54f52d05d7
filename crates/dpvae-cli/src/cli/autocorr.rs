//! The grammar of `dpvae autocorr`: its arguments and the settings they fill.

use clap::Args;
use dpvae_eval::Transform;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The settings of `dpvae autocorr`; stored beside the table as OUT.config.toml.
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutocorrSettings {
    /// What to test: `genes` (X, log-normalised first unless --raw) or `obsm:KEY` (each column of an embedding).
    #[arg(long, default_value = "genes")]
    pub features: String,
    /// Neighbours per spot in the kNN graph.
    #[arg(long, default_value_t = 5, value_parser = super::neighbours)]
    pub k: usize,
    /// Weight transform: binary (w_ij = 1 for the k nearest neighbours of i, the paper) or row (rows scaled to
    /// sum to 1, squidpy's default).
    #[arg(long, default_value = "binary")]
    #[serde(with = "crate::common::by_name")]
    pub weights: Transform,
    /// Permutations for permutation p-values (0: analytic p-values only).
    #[arg(long, default_value_t = 0)]
    pub perms: usize,
    /// Use X as stored (no normalize_total + log1p) when testing genes.
    #[arg(long)]
    pub raw: bool,
    /// From --seed: the permutations.
    #[arg(skip)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct AutocorrArgs {
    /// A dataset with coordinates.
    pub input: PathBuf,
    /// Output CSV: one row per feature (and the settings beside it, in OUT.config.toml).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub settings: AutocorrSettings,
}
