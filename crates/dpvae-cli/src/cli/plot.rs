//! The grammar of `dpvae plot`: its arguments and the settings they fill.

use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The settings of `dpvae plot`; stored beside the figure as OUT.config.toml.
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlotSettings {
    /// Coordinates to draw: obsm:spatial (truth) or obsm:spatial_dpvae (reconstruction).
    #[arg(long, default_value = "obsm:spatial")]
    pub coords: String,
    /// Colour by: a gene name (log1p of the stored value), obs:COLUMN (a label, or a ramp for a numeric
    /// column), confidence (obs:dpvae_confidence, written by `dpvae embed` / `run`), or none.
    #[arg(long, default_value = "none")]
    pub color: String,
    /// Draw each spot's uncertainty radius (obs['dpvae_radius_50'] or obs['dpvae_radius_90']) around it: 50
    /// or 90. Meant for --coords obsm:spatial_dpvae, whose units the radius is in.
    #[arg(long, value_name = "LEVEL")]
    pub radius: Option<u8>,
    /// Draw y upwards. By default y grows downwards for every kind of coordinates, as in tissue images and
    /// scanpy's sc.pl.spatial (and in dpvae's error maps).
    #[arg(long)]
    pub y_up: bool,
    /// Marker radius in pixels [default: from the number of spots: 4 for a few hundred, 1 for tens of
    /// thousands of cells].
    #[arg(long, value_name = "PIXELS", value_parser = clap::value_parser!(u32).range(1..=20))]
    pub point_size: Option<u32>,
}

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// A dataset (e.g. the output of `dpvae reconstruct`).
    pub input: PathBuf,
    /// Output path without extension; writes OUT.png, OUT.svg and OUT.config.toml.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub settings: PlotSettings,
}
