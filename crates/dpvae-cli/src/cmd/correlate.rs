//! `dpvae correlate`: does expression similarity track physical proximity? (the paper's Figure 2)

use anyhow::{Context, Result};
use dpvae_data::io;
use dpvae_data::preprocess::{HvgFlavor, HvgParams, Preprocess};
use dpvae_eval::DistanceCorrelationParams;
use ndarray::Array2;
use serde_json::json;

use crate::cli::correlate::CorrelateArgs;
use crate::config::Invocation;

pub fn run(inv: &Invocation, args: CorrelateArgs) -> Result<()> {
    let Some(s) = inv.settings(&args.settings)? else {
        return Ok(());
    };
    let data = io::read(&args.input)
        .with_context(|| format!("could not read {}", args.input.display()))?;
    let coords = data.require_spatial()?.clone();
    let pre = Preprocess {
        hvg: Some(HvgParams::new(s.hvg.min(data.n_vars()), HvgFlavor::Seurat)),
        ..Preprocess::default()
    };
    let (processed, _, _) = pre.fit(&data)?;
    let x: Array2<f64> = processed.x.to_dense().mapv(f64::from);
    let res = DistanceCorrelationParams::new()
        .n_perms(s.perms)
        .max_spots(Some(s.max_spots))
        .max_pairs(Some(s.max_pairs))
        .seed(s.seed)
        .run(x.view(), coords.view())?;
    let out = json!({
        "r": res.r,
        "ci_low": res.ci_low,
        "ci_high": res.ci_high,
        "confidence_level": res.confidence_level,
        "n_spots": res.n_spots,
        "n_pairs": res.n_pairs,
        "sampling_se": res.sampling_se,
        "n_genes": processed.n_vars(),
        "spearman": res.spearman,
        "mantel_p": res.mantel_p,
        "n_perms": res.n_perms,
        "n_spots_tested": res.n_spots_tested,
        "config": serde_json::to_value(&s)?,
    });
    if s.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let pairs = match res.sampling_se {
            Some(_) => format!("{} sampled pairs", res.n_pairs),
            None => format!("{} pairs", res.n_pairs),
        };
        println!(
            "Pearson r (expression vs spatial distance, {pairs}, {} genes): {:.4}",
            processed.n_vars(),
            res.r
        );
        if let Some(se) = res.sampling_se {
            println!("Standard error of r from sampling the pairs: {se:.2e}");
        }
        println!(
            "Fisher-Z {:.0}% interval (nominal: pairs are not independent): [{:.4}, {:.4}]",
            res.confidence_level * 100.0,
            res.ci_low,
            res.ci_high
        );
        if let Some(s) = res.spearman {
            println!("Spearman rho ({} spots): {:.4}", res.n_spots_tested, s);
        }
        if let Some(p) = res.mantel_p {
            println!(
                "Mantel permutation p-value ({} permutations): {:.4}",
                res.n_perms, p
            );
        }
    }
    Ok(())
}
