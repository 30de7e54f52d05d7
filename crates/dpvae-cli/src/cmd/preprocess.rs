//! `dpvae preprocess`: scanpy's standard recipe (normalize_total, log1p, highly variable genes) on any input.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use dpvae_data::io;
use dpvae_data::preprocess::{HvgParams, Preprocess};
use serde::{Deserialize, Serialize};

use crate::config::Invocation;

/// The settings of `dpvae preprocess` (its flags, its `--config` keys).
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreprocessSettings {
    /// Highly variable genes to keep (0: all).
    #[arg(long, default_value_t = 100)]
    pub hvg: usize,
    /// HVG flavor: seurat, cell_ranger or seurat_v3.
    #[arg(long, default_value = "seurat")]
    pub flavor: String,
    /// Scale each gene to unit variance (clipped at --max-value).
    #[arg(long)]
    pub scale: bool,
    /// Clip scaled values at this absolute value.
    #[arg(long)]
    pub max_value: Option<f64>,
    /// Drop spots with fewer counts.
    #[arg(long)]
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

pub fn run(inv: &Invocation, args: PreprocessArgs) -> Result<()> {
    let Some(s) = inv.prepare(&args.settings, &[&args.output])? else {
        return Ok(());
    };
    let data = io::read(&args.input)
        .with_context(|| format!("could not read {}", args.input.display()))?;
    let mut pre = Preprocess {
        hvg: None,
        scale: s.scale,
        scale_max_value: s.max_value,
        ..Preprocess::default()
    };
    if s.hvg > 0 {
        let flavor = crate::cmd::train::parse_flavor(&s.flavor)?;
        pre.hvg = Some(HvgParams::new(s.hvg.min(data.n_vars()), flavor));
    }
    pre.qc.min_counts = s.min_counts;
    pre.qc.min_genes = s.min_genes;
    pre.qc.min_cells = s.min_cells;
    let (mut processed, fitted, _) = pre.fit(&data)?;
    inv.record(
        &mut processed,
        &s,
        serde_json::json!({ "fitted": serde_json::to_value(&fitted)? }),
    )?;
    io::h5ad::write_h5ad(&args.output, &processed)?;
    inv.note(format!(
        "wrote {} ({} spots x {} genes)",
        args.output.display(),
        processed.n_obs(),
        processed.n_vars()
    ));
    Ok(())
}
