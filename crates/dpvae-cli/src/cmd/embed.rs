//! `dpvae embed`: encode a dataset with a trained model; the posterior means land in obsm['X_dpvae'].

use anyhow::{Context, Result};
use dpvae_data::io;
use serde_json::json;

use crate::cli::embed::EmbedArgs;
use crate::config::Invocation;
use dpvae::{Model, PlaceOptions};

pub fn run(inv: &Invocation, args: EmbedArgs) -> Result<()> {
    let Some(s) = inv.prepare(&args.settings, &[&args.out])? else {
        return Ok(());
    };
    let model = Model::load(&args.model)?;
    let mut data = io::read(&args.input)
        .with_context(|| format!("could not read {}", args.input.display()))?;
    let opts = PlaceOptions {
        backend: s.backend,
        seed: s.seed,
        allow_missing_genes: args.allow_missing_genes,
        ..Default::default()
    };
    let placed = model.place_with(&data, &opts)?;
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
            "features": model.genes().len(),
            "latent_dim": latent_dim,
            "members": placed.member_coords.len(),
            "frame": if placed.reference_frame { "reference" } else { "latent" },
            "uncertainty": placed.uncertainty.is_some(),
            "lambda": model.saved().model.lambda().ok(),
            "train_config": model.saved().train_config,
            "preprocess": model.preprocess(),
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
