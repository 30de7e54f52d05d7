//! Project automation: `cargo xtask <task>`.
//!
//! `bench` runs every crate's criterion benchmarks in release mode.

use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "xtask", about = "dpvae project automation")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Run the criterion benchmarks of the library crates (release build).
    Bench {
        /// Only this crate (dpvae-geometry, dpvae-eval, dpvae-model).
        #[arg(long)]
        package: Option<String>,
    },
}

fn main() -> Result<()> {
    match Cli::parse().task {
        Task::Bench { package } => bench(package.as_deref()),
    }
}

fn bench(package: Option<&str>) -> Result<()> {
    let packages: Vec<&str> = match package {
        Some(p) => vec![p],
        None => vec!["dpvae-geometry", "dpvae-eval", "dpvae-model"],
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
