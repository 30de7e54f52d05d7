//! The grammar of `dpvae run`: its arguments and the settings they fill.

use clap::Args;
use dpvae_geometry::Method;
use std::path::PathBuf;

use super::train::TrainFlags;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Reference with raw counts and coordinates.
    pub reference: PathBuf,
    /// Query to place (raw counts; coordinates, if present, are used only for evaluation).
    pub query: PathBuf,
    /// Output folder: model/, query_dpvae.h5ad, query_coords.csv (barcode, x, y, dpvae_radius_50,
    /// dpvae_radius_90, dpvae_confidence), config.toml, and evaluation files (with the calibration of the
    /// radii) when the query has true coordinates.
    #[arg(long)]
    pub out: PathBuf,
    /// How to turn the latent into coordinates: direct (the 2-d latent itself), smacof (metric SMACOF on
    /// latent distances) or l1 (SMACOF refined on the paper's L1 stress) [default: direct for a 2-d latent,
    /// smacof otherwise].
    #[arg(long, value_name = "METHOD")]
    pub method: Option<Method>,
    /// Carry this reference obs column (a region, layer or cluster label) to the placed query as
    /// obs['dpvae_COLUMN'] with obs['dpvae_COLUMN_prob']: the reference spots around each placement vote,
    /// weighted by a Gaussian whose median radius is the spot's dpvae_radius_50. Repeatable.
    #[arg(long, value_name = "COLUMN")]
    pub transfer_obs: Vec<String>,
    #[command(flatten)]
    pub flags: TrainFlags,
}
