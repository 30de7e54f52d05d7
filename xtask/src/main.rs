//! Project automation: `cargo xtask <task>`.
//!
//! * `reproduce`: every experiment of the paper on real data, with figures and a report (docs/reproduce.md).
//! * `placement`: the placement benchmark (docs/placement.md).
//! * `bench`: every crate's criterion benchmarks in release mode (`--scale`: and the scale benchmark).
//! * `speed`: training throughput against the PyTorch reference, pinned, alternating (docs/performance.md).
//! * `scale`: `dpvae run`'s steps on simulated single-cell sections of 10^5 and 10^6 cells (docs/performance.md).

mod placement;
mod reproduce;
mod scale;
mod speed;

use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "xtask", about = "dpvae project automation")]
struct Cli {
    /// More log output (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Reproduce the paper's experiments on real sections: figures, CSVs, results.json, report.md.
    Reproduce(reproduce::ReproduceArgs),
    /// Placement benchmark: dpvae against kNN / MLP regression (and Python peers) on held-out and transfer cases.
    Placement(placement::PlacementArgs),
    /// Scale benchmark: time and peak memory of every step of `dpvae run` on 10^5 and 10^6 simulated cells.
    Scale(scale::ScaleArgs),
    /// Training speed against the PyTorch reference: one thread each, pinned to one core, alternating.
    Speed(speed::SpeedArgs),
    /// Run the criterion benchmarks of the library crates (release build).
    Bench {
        /// Only this crate (dpvae-geometry, dpvae-eval, dpvae-model).
        #[arg(long)]
        package: Option<String>,
        /// Then the scale benchmark too (`cargo xtask scale` with its defaults: 10^5 and 10^6 simulated cells,
        /// about 15 minutes on 2 cores).
        #[arg(long)]
        scale: bool,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    dpvae::logging::init_logging(cli.verbose, false);
    let r = match cli.task {
        Task::Reproduce(args) => reproduce::run(args),
        Task::Placement(args) => placement::run(args),
        Task::Scale(args) => scale::run(args),
        Task::Speed(args) => speed::run(args),
        Task::Bench { package, scale } => bench(package.as_deref()).and_then(|()| match scale {
            true => scale::run(scale::ScaleArgs::defaults()),
            false => Ok(()),
        }),
    };
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn bench(package: Option<&str>) -> Result<()> {
    let packages: Vec<&str> = match package {
        Some(p) => vec![p],
        None => vec!["dpvae-data", "dpvae-geometry", "dpvae-eval", "dpvae-model"],
    };
    for p in packages {
        let status = Command::new(env!("CARGO"))
            .args(["bench", "-p", p])
            .status()
            .with_context(|| format!("could not start cargo bench for {p}"))?;
        if !status.success() {
            bail!("cargo bench -p {p} failed ({status})");
        }
    }
    Ok(())
}
