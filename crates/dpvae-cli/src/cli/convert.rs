//! The grammar of `dpvae convert`: its arguments and the settings they fill.

use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `dpvae convert` has no settings of its own; the (empty) record still says which command wrote the output.
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvertSettings {}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Input in any supported format.
    pub input: PathBuf,
    /// Output: `.h5ad` (everything), or `.csv` / `.parquet` (coordinates keyed by barcode).
    pub output: PathBuf,
    #[command(flatten)]
    pub settings: ConvertSettings,
}
