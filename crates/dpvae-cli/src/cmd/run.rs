//! `dpvae run`: the common case in one command: train on a reference, embed and reconstruct a query, and
//! evaluate when the query's true coordinates are known.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use dpvae_data::io::{self, tables::CoordTable};
use serde_json::json;

use crate::cli::GlobalArgs;
use crate::cmd::evaluate::{evaluate_into, latent_table};
use crate::cmd::reconstruct::{MethodArg, reconstruct_latent};
use crate::cmd::train::TrainFlags;
use crate::common::{check_output, record_in_uns, write_table};
use crate::config;
use crate::pipeline::{embed, to_f64, train_reference};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Reference with raw counts and coordinates.
    pub reference: PathBuf,
    /// Query to place (raw counts; coordinates, if present, are used only for evaluation).
    pub query: PathBuf,
    /// Output folder: model/, query_dpvae.h5ad, query_coords.csv, and evaluation files when possible.
    #[arg(long)]
    pub out: PathBuf,
    /// How to turn the latent into coordinates (default: direct for a 2-d latent, smacof otherwise).
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,
    #[command(flatten)]
    pub flags: TrainFlags,
}

pub fn run(global: &GlobalArgs, args: RunArgs) -> Result<()> {
    let settings = args.flags.resolve(global.quiet)?;
    if args.flags.print_config {
        print!("{}", config::to_toml(&settings)?);
        return Ok(());
    }
    let out_h5ad = args.out.join("query_dpvae.h5ad");
    check_output(&out_h5ad, global.force)?;
    let reference = io::read(&args.reference)
        .with_context(|| format!("could not read the reference {}", args.reference.display()))?;
    let mut query = io::read(&args.query)
        .with_context(|| format!("could not read the query {}", args.query.display()))?;

    let name = args.reference.display().to_string();
    let trained = train_reference(&reference, &settings, &name)?;
    let model_dir = args.out.join("model");
    if model_dir.exists() && global.force {
        std::fs::remove_dir_all(&model_dir)
            .with_context(|| format!("could not replace {}", model_dir.display()))?;
    }
    trained.saved.save(&model_dir)?;
    trained
        .outcome
        .history
        .write_csv(&model_dir.join("history.csv"))?;

    let (_, emb) = embed(&trained.saved, &query, settings.backend)?;
    let latent = to_f64(&emb.mean);
    let rec = reconstruct_latent(&latent, args.method, None, settings.train.seed)?;
    query.obsm.insert("X_dpvae".into(), latent);
    query
        .obsm
        .insert("spatial_dpvae".into(), rec.coords.clone());
    record_in_uns(
        &mut query,
        "run",
        json!({
            "reference": name,
            "settings": serde_json::to_value(&settings)?,
            "solver": format!("{:?}", rec.path),
            "stress1": rec.stress1,
        }),
    );
    io::h5ad::write_h5ad(&out_h5ad, &query)?;
    let coords = CoordTable::new(query.obs_names.clone(), rec.coords)?;
    write_table(&args.out.join("query_coords.csv"), &coords)?;
    eprintln!(
        "wrote {} and {}",
        out_h5ad.display(),
        args.out.join("query_coords.csv").display()
    );

    if let Some(truth) = &query.spatial {
        let truth = CoordTable::new(query.obs_names.clone(), truth.clone())?;
        let latent = latent_table(&query)?;
        let summary = evaluate_into(&truth, &coords, latent.as_ref(), 5, &args.out)?;
        println!(
            "query has true coordinates: Procrustes disparity {:.4}, median per-spot error {:.3} (evaluation.json, error_map.png)",
            summary["procrustes_disparity"].as_f64().unwrap_or(f64::NAN),
            summary["error_median"].as_f64().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}
