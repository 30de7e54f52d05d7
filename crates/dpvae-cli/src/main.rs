//! `dpvae`: recover where spots sat in a tissue from their gene expression.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use dpvae_cli::{cli, cmd, common};

fn main() -> ExitCode {
    // Keep the raw matches: they tell flags typed on the command line from defaults (see config.rs).
    let matches = cli::Cli::command().get_matches();
    let cli = match cli::Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    common::init_logging(cli.global.verbose, cli.global.quiet);
    if let Some(n) = cli.global.threads
        && let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
    {
        eprintln!("error: could not set up {n} threads: {e}");
        return ExitCode::FAILURE;
    }
    match cmd::run(cli, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", common::error_paragraph(&e));
            ExitCode::FAILURE
        }
    }
}
