//! `dpvae embed`: encode a dataset with a trained model; the posterior means land in obsm['X_dpvae'].

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use dpvae_data::io;
use dpvae_model::{BackendKind, SavedModel};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Invocation;
use crate::pipeline::{embed, to_f64};

/// The settings of `dpvae embed`: only the backend (the model directory holds everything else).
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedSettings {
    /// From --backend.
    #[arg(skip)]
    pub backend: BackendKind,
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Model directory written by `dpvae train`.
    pub model: PathBuf,
    /// Dataset to encode (raw counts; processed exactly as the model's reference was).
    pub input: PathBuf,
    /// Output h5ad: the input plus obsm['X_dpvae'] (and obsm['spatial_dpvae'] for a 2-d latent).
    #[arg(long)]
    pub out: PathBuf,
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
    let (_, emb) = embed(&saved, &data, s.backend)?;
    let mean = to_f64(&emb.mean);
    data.obsm.insert("X_dpvae".into(), mean.clone());
    data.obsm
        .insert("X_dpvae_var".into(), to_f64(&emb.variance));
    if mean.ncols() == 2 {
        data.obsm.insert("spatial_dpvae".into(), mean);
    }
    inv.record(
        &mut data,
        &s,
        json!({
            "model": args.model.display().to_string(),
            "genes": saved.genes.len(),
            "latent_dim": emb.mean.ncols(),
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
        emb.mean.ncols(),
        if emb.mean.ncols() == 2 {
            " and obsm['spatial_dpvae']"
        } else {
            ""
        }
    ));
    Ok(())
}
