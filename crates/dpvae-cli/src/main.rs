//! `dpvae`: recover where spots sat in a tissue from their gene expression.

use std::process::ExitCode;

use clap::Parser;
use dpvae_cli::{cli, cmd, common};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    common::init_logging(cli.global.verbose, cli.global.quiet);
    if let Some(n) = cli.global.threads
        && let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
    {
        eprintln!("error: could not set up {n} threads: {e}");
        return ExitCode::FAILURE;
    }
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", common::error_paragraph(&e));
            ExitCode::FAILURE
        }
    }
}
