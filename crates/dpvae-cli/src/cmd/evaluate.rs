//! `dpvae evaluate`: how good is a reconstruction? Procrustes disparity, per-spot error (the paper's Figure 8),
//! and Moran's I / Geary's C of the latent dimensions on the true positions.

use anyhow::{Context, Result};
use dpvae_data::io::tables::CoordTable;

use crate::cli::evaluate::EvaluateArgs;
use crate::config::{CONFIG_FILE, Invocation};
use crate::sources::{Coverage, read_coord_source};

use crate::evaluation::{estimate_table, evaluate_into, evaluation_outputs, latent_table};

pub fn run(inv: &Invocation, args: EvaluateArgs) -> Result<()> {
    let mut outputs = evaluation_outputs(&args.out);
    outputs.push(args.out.join(CONFIG_FILE));
    let outputs: Vec<&std::path::Path> = outputs.iter().map(|p| p.as_path()).collect();
    let Some(s) = inv.prepare(&args.settings, &outputs)? else {
        return Ok(());
    };
    let data = dpvae_data::io::read(&args.input)
        .with_context(|| format!("could not read {}", args.input.display()))?;
    let truth = match &args.truth {
        Some(p) => read_coord_source(p, "spatial")?,
        None => CoordTable::new(
            data.obs_names.clone(),
            data.require_spatial()
                .context("evaluation needs the true coordinates: give --truth FILE, or an input with obsm['spatial']")?
                .clone(),
        )?,
    };
    let estimate = read_coord_source(&args.input, &s.estimate_key)?;
    // The uncertainty columns describe obsm['spatial_dpvae'], not other estimates.
    let estimate = if s.estimate_key == "spatial_dpvae" {
        estimate_table(&data, estimate)?
    } else {
        estimate
    };
    let latent = latent_table(&data)?;
    let coverage = if s.allow_partial {
        Coverage::Partial
    } else {
        Coverage::Full
    };
    let summary = evaluate_into(&truth, &estimate, latent.as_ref(), s.k, coverage, &args.out)?;
    inv.write_config(&args.out.join(CONFIG_FILE), &s)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
