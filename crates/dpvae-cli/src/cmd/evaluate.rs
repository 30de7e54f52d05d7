//! `dpvae evaluate`: how good is a reconstruction? Procrustes disparity, per-spot error (the paper's Figure 8),
//! and Moran's I / Geary's C of the latent dimensions on the true positions.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use dpvae_data::SpatialData;
use dpvae_data::io::tables::CoordTable;
use dpvae_eval::{
    Aligner, AutocorrParams, Features, Transform, WeightsParams, reconstruction_error,
};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::common::write_table;
use crate::config::{CONFIG_FILE, Invocation};
use crate::sources::{match_by_barcode, read_coord_source};
use crate::uncertainty::{Uncertainty, calibration_summary};
use dpvae_plot::{Colouring, Panel, scatter_panels};

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

/// The settings of `dpvae evaluate`; stored in the output folder as config.toml.
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateSettings {
    /// obsm key of the reconstruction.
    #[arg(long, default_value = "spatial_dpvae")]
    pub estimate_key: String,
    /// Neighbours in the kNN graph for Moran's I / Geary's C.
    #[arg(long, default_value_t = 5)]
    pub k: usize,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// A dataset with the reconstruction (obsm['spatial_dpvae']) and the latent (obsm['X_dpvae']).
    pub input: PathBuf,
    /// Where the true coordinates are: a dataset (obsm['spatial']) or a CSV/Parquet barcode,x,y table.
    /// Default: obsm['spatial'] of the input itself.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Output folder: evaluation.json, per_spot_error.csv, latent_autocorr.csv, error_map.png/.svg, config.toml.
    /// When the input has obs['dpvae_radius_50'/'dpvae_radius_90'/'dpvae_confidence'], evaluation.json gains
    /// their calibration (coverage of each radius, Spearman of radius and error).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub settings: EvaluateSettings,
}

/// Evaluate `estimate` (rows matched to `truth` by barcode) and the latent `latent` of the same spots; write
/// the tables and the error map into `out`. Returns the summary written to evaluation.json.
pub fn evaluate_into(
    truth: &CoordTable,
    estimate: &CoordTable,
    latent: Option<&CoordTable>,
    k: usize,
    out: &Path,
) -> Result<Value> {
    let m = match_by_barcode(truth, estimate, ("truth", "reconstruction"))?;
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
    write_table(&out.join("per_spot_error.csv"), &table)?;

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
    if let Some(latent) = latent {
        let lm = match_by_barcode(truth, latent, ("truth", "latent"))?;
        let w = WeightsParams::knn(k)
            .transform(Transform::Binary)
            .build(lm.a.view())?;
        let names: Vec<String> = (0..lm.b.ncols())
            .map(|j| format!("X_dpvae_{}", j + 1))
            .collect();
        let ac = AutocorrParams::new().run(&w, &Features::Dense(lm.b.view()), &names)?;
        let mut buf = Vec::new();
        ac.write_csv(&mut buf)?;
        dpvae_data::atomic::write_bytes_atomic(&out.join("latent_autocorr.csv"), &buf)?;
        summary["latent_morans_i"] =
            json!(ac.rows.iter().map(|r| r.moran.value).collect::<Vec<_>>());
        summary["latent_gearys_c"] =
            json!(ac.rows.iter().map(|r| r.geary.value).collect::<Vec<_>>());
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
        true,
    )?;
    dpvae_data::atomic::write_bytes_atomic(
        &out.join("evaluation.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    Ok(summary)
}

/// The uncertainty columns of `estimate` (dpvae_radius_50, dpvae_radius_90, dpvae_confidence) at `rows`.
fn matched_uncertainty(estimate: &CoordTable, rows: &[usize]) -> Result<Option<Uncertainty>> {
    Uncertainty::from_columns(|name| {
        Ok(estimate
            .extra
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| rows.iter().map(|&i| v[i]).collect()))
    })
}

/// The estimate's coordinates plus, when `data` has them, its uncertainty columns.
fn estimate_table(data: &SpatialData, mut table: CoordTable) -> Result<CoordTable> {
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

pub fn run(inv: &Invocation, args: EvaluateArgs) -> Result<()> {
    let Some(s) = inv.prepare(&args.settings, &[&args.out.join("evaluation.json")])? else {
        return Ok(());
    };
    let data = dpvae_data::io::read(&args.input)
        .with_context(|| format!("could not read {}", args.input.display()))?;
    let truth = match &args.truth {
        Some(p) => read_coord_source(p, "spatial")?,
        None => CoordTable::new(
            data.obs_names.clone(),
            data.require_spatial()
                .context("evaluation needs the true coordinates: give --truth FILE, or an input with obsm['spatial']")?
                .clone(),
        )?,
    };
    let estimate = read_coord_source(&args.input, &s.estimate_key)?;
    // The uncertainty columns describe obsm['spatial_dpvae'], not other estimates.
    let estimate = if s.estimate_key == "spatial_dpvae" {
        estimate_table(&data, estimate)?
    } else {
        estimate
    };
    let latent = latent_table(&data)?;
    let summary = evaluate_into(&truth, &estimate, latent.as_ref(), s.k, &args.out)?;
    inv.write_config(&args.out.join(CONFIG_FILE), &s)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
