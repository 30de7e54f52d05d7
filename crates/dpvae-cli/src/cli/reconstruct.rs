//! The grammar of `dpvae reconstruct`: its arguments and the settings they fill.

use clap::Args;
use dpvae_geometry::{AnchorMode, Method};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The settings of `dpvae reconstruct` / `dpvae impute` (their flags, their `--config` keys).
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconstructSettings {
    /// Where the latent is: obsm:KEY.
    #[arg(long, default_value = "obsm:X_dpvae")]
    pub from: String,
    /// How to turn the latent into coordinates: direct (the 2-d latent itself), smacof (metric SMACOF on
    /// latent distances) or l1 (SMACOF refined on the paper's L1 stress) [default: direct for a 2-d latent,
    /// smacof otherwise].
    #[arg(long, value_name = "METHOD")]
    pub method: Option<Method>,
    /// How anchors constrain the solution: hard (fixed exactly; needs 3 or more) or penalty (pulled towards
    /// their positions with weight --gamma).
    #[arg(long, default_value = "hard")]
    pub anchor_mode: AnchorMode,
    /// Weight of the anchor penalty (penalty mode).
    #[arg(long, default_value_t = 1.0, value_parser = super::finite_f64)]
    pub gamma: f64,
    /// From --seed: SMACOF's random starts.
    #[arg(skip)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct ReconstructArgs {
    /// A dataset holding the latent representation (e.g. the output of `dpvae embed`).
    pub input: PathBuf,
    /// Output h5ad: the input plus obsm['spatial_dpvae'].
    #[arg(long)]
    pub out: PathBuf,
    /// CSV/Parquet with columns barcode,x,y of spots whose coordinates are known.
    #[arg(long)]
    pub anchors: Option<PathBuf>,
    /// Also write the coordinates as a table keyed by barcode (.csv or .parquet); default OUT with .coords.csv.
    #[arg(long)]
    pub table: Option<PathBuf>,
    #[command(flatten)]
    pub settings: ReconstructSettings,
}
