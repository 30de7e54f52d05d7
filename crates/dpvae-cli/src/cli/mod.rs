//! The command-line grammar, all of it: the global options, the subcommands, and (one module each) every
//! subcommand's arguments and the settings they fill. Nothing here runs a command; `main.rs` dispatches to
//! `cmd/`, which reads these types.

pub mod autocorr;
pub mod convert;
pub mod correlate;
pub mod demo;
pub mod embed;
pub mod evaluate;
pub mod inspect;
pub mod plot;
pub mod preprocess;
pub mod procrustes;
pub mod reconstruct;
pub mod run;
pub mod simulate;
pub mod train;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use dpvae_model::BackendKind;

/// Recover where spots sat in a tissue from their gene expression (dp-VAE, Zhou & Du 2024).
///
/// Inputs may be any format dpvae reads: .h5ad, 10x .h5, a Space Ranger outs folder, a 10x MatrixMarket
/// folder, a Xenium folder or a legacy ST count table; the format is detected from the path.
#[derive(Debug, Parser)]
#[command(name = "dpvae", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Most worker threads: each is an OS thread with its own stack, and far more than the cores only costs memory
/// (100000 used to start, and never finish).
pub const MAX_THREADS: usize = 1024;

/// A number flag that must be finite: NaN or infinity would otherwise reach the settings as JSON null and fail
/// later without naming the flag.
pub fn finite_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) => Err(format!("must be a finite number, got {v}")),
        Err(e) => Err(e.to_string()),
    }
}

/// A kNN neighbour count: at least 1 (k = 0 is a graph with no edges); k below the number of spots is
/// checked where the spots are known.
pub fn neighbours(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(k) if k >= 1 => Ok(k),
        _ => Err("expected a whole number of neighbours, 1 or more".into()),
    }
}

fn parse_threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from 1 to {MAX_THREADS}")),
    }
}

/// Options every command accepts. `--seed` and `--backend` are settings (part of the effective configuration of
/// the commands they affect); the others say how to run, not what to compute.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// More log output (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors; no progress bars.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Worker threads for parallel numerics, 1 to 1024 (default: all cores).
    #[arg(long, global = true, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<usize>,
    /// Replace existing outputs.
    #[arg(long, global = true)]
    pub force: bool,
    /// TOML file of settings, as --print-config prints them; flags given on the command line win over it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the effective settings as TOML (a file --config accepts) and exit without doing the work.
    #[arg(long, global = true)]
    pub print_config: bool,
    /// Seed of everything random (simulation, splits, training, SMACOF starts, permutations) [default: 0].
    #[arg(long, global = true, value_name = "N")]
    pub seed: Option<u64>,
    /// Compute backend for training and encoding: flex (CPU, default), ndarray (CPU), or cuda (NVIDIA GPU; needs a
    /// build with `--features cuda`).
    #[arg(long, global = true, value_name = "BACKEND")]
    pub backend: Option<BackendKind>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole method on a simulated tissue (no download): train VAE and dp-VAE, reconstruct, compare.
    Demo(demo::DemoArgs),
    /// Describe any supported input: format, shape, X layout, coordinates, obs columns, obsm keys.
    Inspect(inspect::InspectArgs),
    /// Convert any readable input to h5ad, or its coordinates to a CSV/Parquet table.
    Convert(convert::ConvertArgs),
    /// Simulate a Visium-like tissue section (raw counts, coordinates, domains) as h5ad.
    Simulate(simulate::SimulateArgs),
    /// normalize_total, log1p and highly variable genes, as scanpy computes them.
    Preprocess(preprocess::PreprocessArgs),
    /// Train a VAE / dp-VAE on a reference with coordinates; writes a model directory.
    Train(train::TrainArgs),
    /// Encode a dataset with a trained model: obsm['X_dpvae'] (and obsm['spatial_dpvae'] for a 2-d latent).
    Embed(embed::EmbedArgs),
    /// Coordinates from the latent representation: directly, by SMACOF, or L1 stress; optional anchors.
    Reconstruct(reconstruct::ReconstructArgs),
    /// Like reconstruct, around anchor spots whose coordinates are known (--anchors is required).
    Impute(reconstruct::ReconstructArgs),
    /// Procrustes disparity between true and estimated coordinates (scipy's definition).
    Procrustes(procrustes::ProcrustesArgs),
    /// Moran's I and Geary's C of genes or latent dimensions on a kNN graph.
    Autocorr(autocorr::AutocorrArgs),
    /// Procrustes, per-spot error map and latent Moran's I / Geary's C of a reconstruction.
    Evaluate(evaluate::EvaluateArgs),
    /// Train on a reference, embed and reconstruct a query, and evaluate when its truth is known.
    Run(run::RunArgs),
    /// Draw spots at true or reconstructed coordinates, coloured by a gene or a label (PNG and SVG).
    Plot(plot::PlotArgs),
    /// Correlation of pairwise expression and spatial distances, with Fisher-Z interval and Mantel test.
    Correlate(correlate::CorrelateArgs),
}
