//! `dpvae embed`: encode a dataset with a trained model; the posterior means land in obsm['X_dpvae'].

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use dpvae_data::io;
use dpvae_model::{BackendKind, SavedModel};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Invocation;
use crate::pipeline::{PlaceOptions, place};

/// The settings of `dpvae embed`: only the backend (the model directory holds everything else).
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedSettings {
    /// From --backend.
    #[arg(skip)]
    pub backend: BackendKind,
    /// From --seed: SMACOF's random starts for a latent of more than 2 dimensions.
    #[arg(skip)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Model directory written by `dpvae train`.
    pub model: PathBuf,
    /// Dataset to encode (raw counts; processed exactly as the model's reference was).
    pub input: PathBuf,
    /// Output h5ad: the input plus obsm['X_dpvae'] and obsm['spatial_dpvae'] (in the reference's frame for a
    /// model trained with dpvae's defaults; for a bare model only when its latent is 2-d), and for a model
    /// with a calibration the per-spot uncertainty obs['dpvae_radius_50'], obs['dpvae_radius_90'] (reference
    /// units) and obs['dpvae_confidence'] (docs/uncertainty.md).
    #[arg(long)]
    pub out: PathBuf,
    /// Place the query even when more than half of the model's genes are missing from it.
    #[arg(long)]
    pub allow_missing_genes: bool,
    #[command(flatten)]
    pub settings: EmbedSettings,
}

pub fn run(inv: &Invocation, args: EmbedArgs) -> Result<()> {
    let Some(s) = inv.prepare(&args.settings, &[&args.out])? else {
        return Ok(());
    };
    let saved = SavedModel::load(&args.model).with_context(|| {
        format!(
            "could not load the model directory {}",
            args.model.display()
        )
    })?;
    let mut data = io::read(&args.input)
        .with_context(|| format!("could not read {}", args.input.display()))?;
    let opts = PlaceOptions {
        backend: s.backend,
        seed: s.seed,
        allow_missing_genes: args.allow_missing_genes,
        ..Default::default()
    };
    let placed = place(&saved, &data, &opts)?;
    let latent_dim = placed.latent.ncols();
    // A model with a placement record places in the reference's frame at any latent dimension; a bare
    // model's 2-d latent is read as coordinates (`dpvae reconstruct` handles the rest).
    let has_placement = placed.has_coordinates();
    placed.write_into(&mut data)?;
    inv.record(
        &mut data,
        &s,
        json!({
            "model": args.model.display().to_string(),
            "features": saved.genes.len(),
            "latent_dim": latent_dim,
            "members": placed.member_coords.len(),
            "frame": if placed.reference_frame { "reference" } else { "latent" },
            "uncertainty": placed.uncertainty.is_some(),
            "lambda": saved.model.lambda().ok(),
            "train_config": saved.train_config,
            "preprocess": saved.preprocess,
        }),
    )?;
    io::h5ad::write_h5ad(&args.out, &data)?;
    inv.note(format!(
        "wrote {}: obsm['X_dpvae'] ({} spots x {}){}",
        args.out.display(),
        data.n_obs(),
        latent_dim,
        match (has_placement, placed.uncertainty.is_some()) {
            (true, true) => {
                " and obsm['spatial_dpvae'], with obs dpvae_radius_50, dpvae_radius_90, dpvae_confidence"
            }
            (true, false) => " and obsm['spatial_dpvae']",
            _ => "",
        }
    ));
    Ok(())
}
