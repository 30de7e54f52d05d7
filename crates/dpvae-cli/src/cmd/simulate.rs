//! `dpvae simulate`: a Visium-like tissue section with known domains, as an h5ad scanpy opens.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dpvae_data::io;
use dpvae_data::simulate::SimulateParams;

use crate::cli::GlobalArgs;
use crate::common::check_output;

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Output h5ad (raw counts in X, microns in obsm['spatial'], obs['domain']).
    #[arg(long)]
    pub out: PathBuf,
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
    /// Seed; the same seed gives the same section.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A near-square block of spots instead of an irregular tissue outline.
    #[arg(long)]
    pub square: bool,
}

pub fn run(global: &GlobalArgs, args: SimulateArgs) -> Result<()> {
    check_output(&args.out, global.force)?;
    let params = SimulateParams {
        n_spots: args.n_spots,
        n_genes: args.n_genes,
        n_domains: args.n_domains,
        noise: args.noise,
        seed: args.seed,
        irregular_outline: !args.square,
    };
    let data = params.simulate()?;
    io::h5ad::write_h5ad(&args.out, &data)?;
    eprintln!(
        "wrote {} ({} spots x {} genes, {} domains)",
        args.out.display(),
        data.n_obs(),
        data.n_vars(),
        args.n_domains
    );
    Ok(())
}
