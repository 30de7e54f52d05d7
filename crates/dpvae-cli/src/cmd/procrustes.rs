//! `dpvae procrustes`: how far an estimate is from the truth, up to translation, rotation and scale.

use anyhow::Result;
use serde_json::json;

use crate::cli::procrustes::ProcrustesArgs;
use crate::config::Invocation;
use crate::sources::{Coverage, match_by_barcode, read_coord_source};

pub fn run(inv: &Invocation, args: ProcrustesArgs) -> Result<()> {
    let Some(s) = inv.settings(&args.settings)? else {
        return Ok(());
    };
    let truth = read_coord_source(&args.truth, &s.truth_key)?;
    let estimate = read_coord_source(&args.estimate, &s.estimate_key)?;
    let coverage = if s.allow_partial {
        Coverage::Partial
    } else {
        Coverage::Full
    };
    let m = match_by_barcode(&truth, &estimate, ("truth", "estimate"), coverage)?;
    let fit = dpvae_geometry::ProcrustesParams::new()
        .allow_reflection(!s.no_reflection)
        .fit(m.a.view(), m.b.view())?;
    let r = &fit.residuals;
    let mut sorted: Vec<f64> = r.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = dpvae_core::stats::median_sorted(&sorted);
    let summary = json!({
        "disparity": fit.disparity,
        "n": m.barcodes.len(),
        "only_in_truth": m.only_in_a,
        "only_in_estimate": m.only_in_b,
        "scale": fit.scale,
        "reflection": fit.reflection,
        "unnormalised": fit.unnormalised,
        "residual_mean": r.mean().unwrap_or(f64::NAN),
        "residual_median": median,
        "residual_max": sorted.last().copied().unwrap_or(f64::NAN),
        "config": serde_json::to_value(&s)?,
    });
    if s.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "Procrustes disparity (scipy definition, 0 = identical shape): {:.6}",
            fit.disparity
        );
        println!("spots compared: {}", m.barcodes.len());
        println!(
            "per-spot distance to the truth after alignment (truth units): mean {:.5}, median {:.5}, max {:.5}",
            summary["residual_mean"].as_f64().unwrap_or(f64::NAN),
            median,
            summary["residual_max"].as_f64().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}
