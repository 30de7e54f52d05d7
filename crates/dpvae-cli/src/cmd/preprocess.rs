//! `dpvae preprocess`: scanpy's standard recipe (normalize_total, log1p, highly variable genes) on any input.

use anyhow::{Context, Result};
use dpvae_data::io;
use dpvae_data::preprocess::{HvgParams, Preprocess};

use crate::cli::preprocess::PreprocessArgs;
use crate::config::Invocation;

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
        pre.hvg = Some(HvgParams::new(s.hvg.min(data.n_vars()), s.flavor));
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
