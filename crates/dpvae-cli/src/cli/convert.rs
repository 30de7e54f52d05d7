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
    /// Output: `.h5ad` (everything), or `.csv` / `.parquet` (coordinates keyed by barcode). May also be
    /// given as --out, as every other command takes it.
    #[arg(
        value_name = "OUTPUT",
        required_unless_present = "out",
        conflicts_with = "out"
    )]
    pub output: Option<PathBuf>,
    /// The output, as a flag (the same as the positional OUTPUT).
    #[arg(long, value_name = "OUTPUT")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub settings: ConvertSettings,
}

impl ConvertArgs {
    /// The output path, from OUTPUT or --out (clap requires exactly one).
    pub fn output(&self) -> anyhow::Result<PathBuf> {
        self.out
            .clone()
            .or_else(|| self.output.clone())
            .ok_or_else(|| anyhow::anyhow!("give the output path, as OUTPUT or --out"))
    }
}
