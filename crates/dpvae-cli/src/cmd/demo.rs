//! `dpvae demo`: the whole method on a simulated tissue, no download needed.
//!
//! Simulate a Visium-like section, train a VAE (alpha2 = 0) and a dp-VAE on 80% of the spots, reconstruct the
//! held-out 20% from expression alone, and compare both with the truth.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use dpvae_data::SpatialData;
use dpvae_data::simulate::SimulateParams;
use dpvae_data::split::train_test_split;
use serde_json::json;

use crate::cli::demo::{DemoArgs, DemoSettings};
use crate::config::{CONFIG_FILE, Invocation};
use dpvae::anndata::obs_labels;
use dpvae::evaluate::latent_autocorrelation;
use dpvae::{PlaceOptions, TrainSettings, train_reference};
use dpvae_plot::{Colouring, Panel, ScatterStyle, Series, line_chart, scatter_panels};

/// What one model achieved on the held-out spots.
struct ModelResult {
    name: &'static str,
    alpha2: f64,
    disparity: f64,
    moran_latent: f64,
    seconds: f64,
    /// The reconstruction mapped onto the truth's frame by the Procrustes fit.
    aligned: ndarray::Array2<f64>,
    history: dpvae_model::History,
}

/// Every file the demo writes into its folder, all checked before any work.
fn demo_outputs(out: &std::path::Path) -> Vec<std::path::PathBuf> {
    [
        "reconstruction.png",
        "reconstruction.svg",
        "training_curves.png",
        "training_curves.svg",
        "history_vae.csv",
        "history_dpvae.csv",
        "results.json",
        CONFIG_FILE,
    ]
    .iter()
    .map(|f| out.join(f))
    .collect()
}

pub fn run(inv: &Invocation, args: DemoArgs) -> Result<()> {
    let outputs = demo_outputs(&args.out);
    let outputs: Vec<&std::path::Path> = outputs.iter().map(|p| p.as_path()).collect();
    let Some(s) = inv.prepare(&args.settings, &outputs)? else {
        return Ok(());
    };
    let global = inv.global;
    let start = Instant::now();
    let say = |msg: String| {
        if !global.quiet {
            eprintln!("{msg}");
        }
    };
    let sim = SimulateParams {
        n_spots: s.n_spots,
        n_genes: s.n_genes,
        seed: s.seed,
        ..SimulateParams::default()
    };
    say(format!(
        "[1/4] simulating a Visium-like section: {} spots x {} genes, {} domains",
        sim.n_spots, sim.n_genes, sim.n_domains
    ));
    let tissue = sim.simulate()?;
    let split = train_test_split(tissue.n_obs(), 0.2, s.seed)?;
    let reference = tissue.select_obs(&split.train)?;
    let query = tissue.select_obs(&split.test)?;

    let mut results = Vec::new();
    for (step, (name, alpha2)) in [("VAE", 0.0), ("dp-VAE", s.alpha2)].into_iter().enumerate() {
        say(format!(
            "[{}/4] training the {name} (alpha2 = {alpha2}) on {} spots for {} epochs",
            step + 2,
            reference.n_obs(),
            s.epochs
        ));
        results.push(train_and_place(&reference, &query, &s, name, alpha2)?);
    }

    say("[4/4] writing figures and results".to_string());
    let mut files = write_figures(&args.out, &query, &results)?;
    for r in &results {
        let path = args.out.join(format!(
            "history_{}.csv",
            r.name.to_lowercase().replace('-', "")
        ));
        r.history.write_csv(&path)?;
        files.push(path);
    }
    let json = json!({
        "simulation": sim,
        "n_train": reference.n_obs(),
        "n_test": query.n_obs(),
        "epochs": s.epochs,
        "seed": s.seed,
        "backend": s.backend.name(),
        "models": results.iter().map(|r| json!({
            "name": r.name,
            "alpha2": r.alpha2,
            "test_procrustes_disparity": r.disparity,
            "latent_morans_i_mean": r.moran_latent,
            "seconds": r.seconds,
            "final_lambda": r.history.last().map(|e| e.lambda),
        })).collect::<Vec<_>>(),
        "total_seconds": start.elapsed().as_secs_f64(),
    });
    let results_path = args.out.join("results.json");
    dpvae_data::atomic::write_bytes_atomic(
        &results_path,
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    files.push(results_path);
    let config = args.out.join(CONFIG_FILE);
    inv.write_config(&config, &s)?;
    files.push(config);

    print_table(&results, query.n_obs());
    for f in &files {
        println!("wrote {}", f.display());
    }
    println!("total time {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// Train one model (alpha2 = 0 is the plain VAE) on `reference` and measure its placement of `query`.
fn train_and_place(
    reference: &SpatialData,
    query: &SpatialData,
    s: &DemoSettings,
    name: &'static str,
    alpha2: f64,
) -> Result<ModelResult> {
    let truth = query.require_spatial()?;
    let mut settings = TrainSettings::default();
    settings.train.epochs = s.epochs;
    settings.train.alpha2 = alpha2;
    settings.train.seed = s.seed;
    settings.backend = s.backend;
    let t0 = Instant::now();
    let trained = train_reference(reference, &settings, "simulated", None)?;
    let opts = PlaceOptions {
        backend: s.backend,
        seed: s.seed,
        ..Default::default()
    };
    let placed = trained.model.place_with(query, &opts)?;
    let fit = dpvae_geometry::procrustes(truth.view(), placed.coords.view())
        .context("comparing the reconstruction with the truth")?;
    let moran = latent_autocorrelation(truth.view(), placed.latent.view(), 5, "z")?.mean_moran();
    Ok(ModelResult {
        name,
        alpha2,
        disparity: fit.disparity,
        moran_latent: moran,
        seconds: t0.elapsed().as_secs_f64(),
        aligned: fit.aligned,
        history: trained.outcome.history,
    })
}

/// The truth beside each model's aligned placement, coloured by domain, and the training curves.
fn write_figures(out: &Path, query: &SpatialData, results: &[ModelResult]) -> Result<Vec<PathBuf>> {
    let truth = query.require_spatial()?;
    let (labels, names) = obs_labels(query, "domain").unwrap_or((vec![0; query.n_obs()], vec![]));
    let pts = |m: &ndarray::Array2<f64>| -> Vec<(f64, f64)> {
        m.rows().into_iter().map(|r| (r[0], r[1])).collect()
    };
    let colouring = Colouring::Category { labels, names };
    let panel = |title: String, points| Panel {
        title,
        points,
        colouring: colouring.clone(),
        marked: vec![],
        radii: vec![],
    };
    let mut panels = vec![panel("truth (held-out spots)".into(), pts(truth))];
    for r in results {
        panels.push(panel(
            format!("{} (disparity {:.3})", r.name, r.disparity),
            pts(&r.aligned),
        ));
    }
    let mut files = scatter_panels(
        &out.join("reconstruction"),
        &panels,
        &ScatterStyle::tissue(),
    )?;
    let series: Vec<Series> = results
        .iter()
        .map(|r| {
            let first = r.history.epochs.first().map(|e| e.total).unwrap_or(1.0);
            Series {
                name: format!("{} total loss / first epoch", r.name),
                points: r
                    .history
                    .epochs
                    .iter()
                    .map(|e| (e.epoch as f64, e.total / first))
                    .collect(),
            }
        })
        .collect();
    files.extend(line_chart(
        &out.join("training_curves"),
        "Training loss (normalised to the first epoch)",
        "epoch",
        "loss / loss at epoch 1",
        &series,
    )?);
    Ok(files)
}

/// The comparison table on stdout.
fn print_table(results: &[ModelResult], n_test: usize) {
    println!();
    println!(
        "{:<8} {:>8} {:>22} {:>20} {:>9}",
        "model", "alpha2", "Procrustes disparity", "Moran's I (latent)", "time (s)"
    );
    for r in results {
        println!(
            "{:<8} {:>8} {:>22.4} {:>20.4} {:>9.1}",
            r.name, r.alpha2, r.disparity, r.moran_latent, r.seconds
        );
    }
    println!("(disparity on the {n_test} held-out spots: 0 = perfect shape, 1 = no relation)");
    println!();
}
