//! `dpvae simulate`: a Visium-like tissue section with known domains, as an h5ad scanpy opens.

use anyhow::Result;
use dpvae_data::io;
use dpvae_data::simulate::SimulateParams;
use dpvae_data::simulate_cells::CellSimParams;

use crate::cli::simulate::SimulateArgs;
use crate::config::Invocation;

pub fn run(inv: &Invocation, args: SimulateArgs) -> Result<()> {
    let Some(s) = inv.prepare(&args.settings, &[&args.out])? else {
        return Ok(());
    };
    let mut data = if s.single_cell {
        CellSimParams {
            n_cells: s.n_spots,
            n_genes: s.n_genes,
            n_niches: s.n_domains,
            noise: s.noise,
            seed: s.seed,
        }
        .simulate()?
    } else {
        SimulateParams {
            n_spots: s.n_spots,
            n_genes: s.n_genes,
            n_domains: s.n_domains,
            noise: s.noise,
            seed: s.seed,
            irregular_outline: !s.square,
        }
        .simulate()?
    };
    inv.record(&mut data, &s, serde_json::Value::Null)?;
    io::h5ad::write_h5ad(&args.out, &data)?;
    inv.note(format!(
        "wrote {} ({} {} x {} genes, {} domains)",
        args.out.display(),
        data.n_obs(),
        if s.single_cell { "cells" } else { "spots" },
        data.n_vars(),
        s.n_domains
    ));
    Ok(())
}
