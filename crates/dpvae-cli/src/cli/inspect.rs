//! The grammar of `dpvae inspect`: its arguments and the settings they fill.

use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The settings of `dpvae inspect`. It writes nothing, so they are not stored anywhere.
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectSettings {
    /// Print one JSON object (format, n_obs, n_vars, has_spatial, x_layout, ...) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Input: .h5ad, 10x .h5, Space Ranger outs folder, MatrixMarket folder, Xenium folder or ST .tsv(.gz).
    pub input: PathBuf,
    #[command(flatten)]
    pub settings: InspectSettings,
}
