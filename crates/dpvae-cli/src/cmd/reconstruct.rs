//! `dpvae reconstruct` / `dpvae impute`: coordinates from a latent representation, optionally around anchor
//! spots whose positions are known.

use std::path::Path;

use anyhow::{Context, Result, bail};
use dpvae::reconstruct_latent;
use dpvae_data::SpatialData;
use dpvae_data::io::{self, tables::CoordTable};
use dpvae_geometry::Anchors;

use crate::cli::reconstruct::ReconstructArgs;
use crate::config::Invocation;
use crate::sources::parse_obsm_key;

/// Read anchors (barcode,x,y) and find them in the dataset.
pub fn read_anchors(path: &Path, data: &SpatialData) -> Result<Anchors> {
    let table = io::tables::read_coords(path)
        .with_context(|| format!("could not read the anchor file {}", path.display()))?;
    let index = crate::sources::barcode_index(&data.obs_names);
    let mut idx = Vec::new();
    let mut rows = Vec::new();
    let mut unknown = Vec::new();
    for (r, bc) in table.barcodes.iter().enumerate() {
        match index.get(bc.as_str()) {
            Some(&i) => {
                idx.push(i);
                rows.push(r);
            }
            None => unknown.push(bc.clone()),
        }
    }
    if !unknown.is_empty() {
        bail!(
            "{} anchor barcodes in {} are not spots of the input (first: {}); anchors must be spots of the dataset being reconstructed",
            unknown.len(),
            path.display(),
            unknown[0]
        );
    }
    let coords = table.coords.select(ndarray::Axis(0), &rows);
    Ok(Anchors::new(idx, coords)?)
}

/// The uncertainty columns `dpvae embed` wrote describe its placement, not the reconstruction replacing it:
/// they are left out of the output (the input file keeps them).
fn drop_stale_uncertainty(data: &mut SpatialData) {
    let stale: Vec<&str> = dpvae::anndata::OBS_COLUMNS
        .into_iter()
        .filter(|c| data.obs.column(c).is_ok())
        .collect();
    if stale.is_empty() {
        return;
    }
    for c in &stale {
        let _ = data.obs.drop_in_place(c);
    }
    tracing::warn!(
        "the input's obs {} describe the placement of `dpvae embed`, not this reconstruction, and are not \
         copied to the output; `dpvae embed` (or `run`) gives calibrated radii for its own placement",
        stale.join(", ")
    );
}

pub fn run(inv: &Invocation, args: ReconstructArgs, require_anchors: bool) -> Result<()> {
    let table_path = args
        .table
        .clone()
        .unwrap_or_else(|| args.out.with_extension("coords.csv"));
    let Some(s) = inv.prepare(&args.settings, &[&args.out, &table_path])? else {
        return Ok(());
    };
    if require_anchors && args.anchors.is_none() {
        bail!(
            "`dpvae impute` needs --anchors FILE.csv (columns barcode,x,y); without anchors use `dpvae reconstruct`"
        );
    }
    let key = parse_obsm_key(&s.from)?;
    let mut data = io::read(&args.input)
        .with_context(|| format!("could not read {}", args.input.display()))?;
    let latent = data.obsm.get(&key).cloned().with_context(|| {
        format!(
            "{} has no obsm['{key}']; run `dpvae embed MODEL_DIR {}` first, or point --from at the latent",
            args.input.display(),
            args.input.display()
        )
    })?;
    let anchors = match &args.anchors {
        Some(p) => Some((read_anchors(p, &data)?, s.anchor_mode.with_gamma(s.gamma))),
        None => None,
    };
    let n_anchors = anchors.as_ref().map(|a| a.0.len()).unwrap_or(0);
    let rec = reconstruct_latent(&latent, s.method, anchors, s.seed)?;
    if rec.frame == dpvae_geometry::Frame::UpToSimilarity && n_anchors > 0 {
        tracing::warn!(
            "with {n_anchors} anchors the result is only defined up to rotation/reflection/translation"
        );
    }
    data.obsm.insert("spatial_dpvae".into(), rec.coords.clone());
    drop_stale_uncertainty(&mut data);
    let details = serde_json::json!({
        "method": s.method.unwrap_or(dpvae::default_method(latent.ncols())),
        "solver": format!("{:?}", rec.path),
        "stress1": rec.stress1,
        "frame": format!("{:?}", rec.frame),
        "latent_scale": rec.latent_scale,
        "n_iter": rec.n_iter,
        "anchors": args.anchors.as_ref().map(|p| p.display().to_string()),
        "n_anchors": n_anchors,
    });
    inv.record(&mut data, &s, details)?;
    io::h5ad::write_h5ad(&args.out, &data)?;
    let table = CoordTable::new(data.obs_names.clone(), rec.coords)?;
    crate::common::write_table(&table_path, &table)?;
    inv.note(format!(
        "wrote {} (obsm['spatial_dpvae'], {} spots) and {}",
        args.out.display(),
        data.n_obs(),
        table_path.display()
    ));
    Ok(())
}
