//! `dpvae autocorr`: Moran's I and Geary's C of genes or of an embedding's dimensions.

use anyhow::{Context, Result, bail};
use dpvae_data::{Matrix, io};
use dpvae_eval::{AutocorrParams, CsrView, Features, WeightsParams};

use crate::cli::autocorr::AutocorrArgs;
use crate::config::{Invocation, beside};

pub fn run(inv: &Invocation, args: AutocorrArgs) -> Result<()> {
    let Some(s) = inv.prepare(&args.settings, &[&args.out, &beside(&args.out)])? else {
        return Ok(());
    };
    let mut data = io::read(&args.input)
        .with_context(|| format!("could not read {}", args.input.display()))?;
    let coords = data.require_spatial()?.clone();
    let transform = s.weights;
    let w = WeightsParams::knn(s.k)
        .transform(transform)
        .build(coords.view())?;
    let params = AutocorrParams::new().n_perms(s.perms).seed(s.seed);
    let table = if s.features == "genes" {
        if !s.raw {
            dpvae_data::preprocess::normalize_total(&mut data.x, None)?;
            dpvae_data::preprocess::log1p(&mut data.x);
        }
        match &data.x {
            Matrix::Dense(x) => params.run(&w, &Features::DenseF32(x.view()), &data.var_names)?,
            Matrix::Csr(c) => {
                let view = CsrView {
                    n_rows: c.n_rows(),
                    n_cols: c.n_cols(),
                    indptr: c.indptr(),
                    indices: c.indices(),
                    data: c.data(),
                };
                params.run(&w, &Features::Csr(view), &data.var_names)?
            }
        }
    } else if let Some(key) = s.features.strip_prefix("obsm:") {
        let m = data
            .obsm
            .get(key)
            .with_context(|| format!("{} has no obsm['{key}']", args.input.display()))?;
        let names: Vec<String> = (0..m.ncols()).map(|j| format!("{key}_{}", j + 1)).collect();
        params.run(&w, &Features::Dense(m.view()), &names)?
    } else {
        bail!(
            "--features must be `genes` or `obsm:KEY` (e.g. obsm:X_dpvae), not '{}'",
            s.features
        );
    };
    let mut buf = Vec::new();
    table.write_csv(&mut buf)?;
    dpvae_data::atomic::write_bytes_atomic(&args.out, &buf)?;
    inv.write_config(&beside(&args.out), &s)?;
    inv.note(format!(
        "wrote {} ({} features, {} spots, kNN k = {})",
        args.out.display(),
        table.rows.len(),
        table.n_spots,
        s.k
    ));
    Ok(())
}
