//! `dpvae simulate`: a Visium-like tissue section with known domains, as an h5ad scanpy opens.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dpvae_data::io;
use dpvae_data::simulate::SimulateParams;
use serde::{Deserialize, Serialize};

use crate::config::Invocation;

/// The settings of `dpvae simulate` (its flags, its `--config` keys).
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulateSettings {
    /// Number of spots.
    #[arg(long, default_value_t = 2000)]
    pub n_spots: usize,
    /// Number of genes.
    #[arg(long, default_value_t = 1000)]
    pub n_genes: usize,
    /// Number of spatial domains (layers and regions).
    #[arg(long, default_value_t = 7)]
    pub n_domains: usize,
    /// Overdispersion and dropout: 0 = Poisson, 1 = typical Visium, 2 = very noisy.
    #[arg(long, default_value_t = 1.0)]
    pub noise: f64,
    /// A near-square block of spots instead of an irregular tissue outline.
    #[arg(long)]
    pub square: bool,
    /// From --seed: the same seed gives the same section.
    #[arg(skip)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Output h5ad (raw counts in X, microns in obsm['spatial'], obs['domain']).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub settings: SimulateSettings,
}

pub fn run(inv: &Invocation, args: SimulateArgs) -> Result<()> {
    let Some(s) = inv.prepare(&args.settings, &[&args.out])? else {
        return Ok(());
    };
    let params = SimulateParams {
        n_spots: s.n_spots,
        n_genes: s.n_genes,
        n_domains: s.n_domains,
        noise: s.noise,
        seed: s.seed,
        irregular_outline: !s.square,
    };
    let mut data = params.simulate()?;
    inv.record(&mut data, &s, serde_json::Value::Null)?;
    io::h5ad::write_h5ad(&args.out, &data)?;
    inv.note(format!(
        "wrote {} ({} spots x {} genes, {} domains)",
        args.out.display(),
        data.n_obs(),
        data.n_vars(),
        s.n_domains
    ));
    Ok(())
}
