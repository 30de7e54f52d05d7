//! How a placement is scored against the truth (what `dpvae evaluate` and `dpvae run` write): Procrustes,
//! the per-spot error map and table, the calibration of the radii, and the latent's autocorrelation.

use crate::common::write_table;
use crate::sources::{Coverage, match_by_barcode};
use anyhow::{Context, Result};
use dpvae::evaluate::latent_autocorrelation;
use dpvae::uncertainty::{Uncertainty, calibration_summary};
use dpvae_data::SpatialData;
use dpvae_data::io::tables::CoordTable;
use dpvae_eval::{Aligner, reconstruction_error};
use dpvae_plot::{Colouring, Panel, ScatterStyle, scatter_panels};
use ndarray::{Array2, ArrayView2};
use serde_json::{Value, json};
use std::path::Path;

/// The geometry crate's Procrustes (scipy's definition) as the eval crate's alignment.
struct ProcrustesAligner;

impl Aligner for ProcrustesAligner {
    type Error = dpvae_geometry::GeometryError;
    fn align(
        &self,
        truth: ArrayView2<f64>,
        estimate: ArrayView2<f64>,
    ) -> std::result::Result<Array2<f64>, Self::Error> {
        Ok(dpvae_geometry::procrustes(truth, estimate)?.aligned)
    }
}

/// The files [`evaluate_into`] writes into `out` (checked before anything is written or computed).
pub fn evaluation_outputs(out: &Path) -> Vec<std::path::PathBuf> {
    [
        "evaluation.json",
        "per_spot_error.csv",
        "latent_autocorr.csv",
        "error_map.png",
        "error_map.svg",
    ]
    .iter()
    .map(|f| out.join(f))
    .collect()
}

/// Evaluate `estimate` (rows matched to `truth` by barcode) and the latent `latent` of the same spots; write
/// the tables and the error map into `out`. Returns the summary written to evaluation.json.
pub fn evaluate_into(
    truth: &CoordTable,
    estimate: &CoordTable,
    latent: Option<&CoordTable>,
    k: usize,
    coverage: Coverage,
    out: &Path,
) -> Result<Value> {
    let m = match_by_barcode(truth, estimate, ("truth", "reconstruction"), coverage)?;
    let fit = dpvae_geometry::procrustes(m.a.view(), m.b.view())?;
    let report = reconstruction_error(m.a.view(), m.b.view(), &ProcrustesAligner)?;
    let uncertainty = matched_uncertainty(estimate, &m.rows_b)?;
    let mut table = CoordTable::new(m.barcodes.clone(), m.a.clone())?
        .with_column("x_hat", report.aligned.column(0).to_vec())?
        .with_column("y_hat", report.aligned.column(1).to_vec())?
        .with_column("error", report.per_spot.clone())?
        .with_column(
            "error_in_spots",
            report.per_spot.iter().map(|e| e / report.spacing).collect(),
        )?;
    let calibration = match &uncertainty {
        Some(u) => {
            let (summary, rigid) = calibration_summary(m.a.view(), m.b.view(), u)?;
            table = table
                .with_column("rigid_error", rigid)?
                .with_column("radius_50", u.radius_50.clone())?
                .with_column("radius_90", u.radius_90.clone())?
                .with_column("confidence", u.confidence.clone())?;
            Some(summary)
        }
        None => None,
    };
    let mut summary = json!({
        "n_spots": m.barcodes.len(),
        "procrustes_disparity": fit.disparity,
        "procrustes_scale": fit.scale,
        "error_mean": report.summary.mean,
        "error_median": report.summary.median,
        "error_p90": report.summary.p90,
        "error_max": report.summary.max,
        "error_rmse": report.summary.rmse,
        "spot_spacing": report.spacing,
    });
    if let Some(c) = &calibration {
        summary["calibration"] = serde_json::to_value(c)?;
    }
    // Everything that can fail on the input is computed before the first file is written.
    let mut autocorr_csv = None;
    if let Some(latent) = latent {
        let lm = match_by_barcode(truth, latent, ("truth", "latent"), Coverage::Full)?;
        let ac = latent_autocorrelation(lm.a.view(), lm.b.view(), k, "X_dpvae_")?.table;
        let mut buf = Vec::new();
        ac.write_csv(&mut buf)?;
        autocorr_csv = Some(buf);
        summary["latent_morans_i"] =
            json!(ac.rows.iter().map(|r| r.moran.value).collect::<Vec<_>>());
        summary["latent_gearys_c"] =
            json!(ac.rows.iter().map(|r| r.geary.value).collect::<Vec<_>>());
    }
    write_table(&out.join("per_spot_error.csv"), &table)?;
    if let Some(buf) = autocorr_csv {
        dpvae_data::atomic::write_bytes_atomic(&out.join("latent_autocorr.csv"), &buf)?;
    }
    let pts = |a: &Array2<f64>| {
        a.rows()
            .into_iter()
            .map(|r| (r[0], r[1]))
            .collect::<Vec<_>>()
    };
    let err = Colouring::Continuous {
        values: report.per_spot.clone(),
        name: "per-spot error".into(),
    };
    scatter_panels(
        &out.join("error_map"),
        &[
            Panel {
                title: "per-spot error at the true position".into(),
                points: pts(&m.a),
                colouring: err.clone(),
                marked: vec![],
                radii: vec![],
            },
            Panel {
                title: format!("reconstruction (disparity {:.3})", fit.disparity),
                points: pts(&report.aligned),
                colouring: err,
                marked: vec![],
                radii: vec![],
            },
        ],
        &ScatterStyle::tissue(),
    )?;
    dpvae_data::atomic::write_bytes_atomic(
        &out.join("evaluation.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    Ok(summary)
}

/// The uncertainty columns of `estimate` (dpvae_radius_50, dpvae_radius_90, dpvae_confidence) at `rows`.
fn matched_uncertainty(estimate: &CoordTable, rows: &[usize]) -> Result<Option<Uncertainty>> {
    Ok(Uncertainty::from_columns(|name| {
        Ok(estimate
            .extra
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| rows.iter().map(|&i| v[i]).collect()))
    })?)
}

/// The estimate's coordinates plus, when `data` has them, its uncertainty columns.
pub fn estimate_table(data: &SpatialData, mut table: CoordTable) -> Result<CoordTable> {
    if let Some(u) = Uncertainty::from_obs(&data.obs)? {
        let index = crate::sources::barcode_index(&data.obs_names);
        let rows: Vec<usize> = table
            .barcodes
            .iter()
            .map(|b| index.get(b.as_str()).copied())
            .collect::<Option<Vec<_>>>()
            .context("the estimate's barcodes are not the dataset's")?;
        for (name, values) in u.columns() {
            table = table.with_column(name, rows.iter().map(|&i| values[i]).collect())?;
        }
    }
    Ok(table)
}

/// The `X_dpvae` latent of a dataset as a table, when present.
pub fn latent_table(data: &SpatialData) -> Result<Option<CoordTable>> {
    match data.obsm.get("X_dpvae") {
        Some(z) => {
            let t = CoordTable {
                barcodes: data.obs_names.clone(),
                coords: z.clone(),
                extra: vec![],
            };
            Ok(Some(t))
        }
        None => Ok(None),
    }
}
