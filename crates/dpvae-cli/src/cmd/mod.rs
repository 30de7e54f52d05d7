//! One module per subcommand.

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

use anyhow::{Context, Result};
use clap::ArgMatches;

use crate::cli::{Cli, Command};
use crate::config::Invocation;

/// Run the parsed command. `matches` are clap's raw matches of the same command line, from which each command
/// tells the flags typed from their defaults.
pub fn run(cli: Cli, matches: &ArgMatches) -> Result<()> {
    let (name, sub) = matches
        .subcommand()
        .context("no command given; see `dpvae --help`")?;
    let g = Invocation::new(&cli.global, name, sub);
    match cli.command {
        Command::Demo(a) => demo::run(&g, a),
        Command::Inspect(a) => inspect::run(&g, a),
        Command::Convert(a) => convert::run(&g, a),
        Command::Simulate(a) => simulate::run(&g, a),
        Command::Preprocess(a) => preprocess::run(&g, a),
        Command::Train(a) => train::run(&g, a),
        Command::Embed(a) => embed::run(&g, a),
        Command::Reconstruct(a) => reconstruct::run(&g, a, false),
        Command::Impute(a) => reconstruct::run(&g, a, true),
        Command::Procrustes(a) => procrustes::run(&g, a),
        Command::Autocorr(a) => autocorr::run(&g, a),
        Command::Evaluate(a) => evaluate::run(&g, a),
        Command::Run(a) => run::run(&g, a),
        Command::Plot(a) => plot::run(&g, a),
        Command::Correlate(a) => correlate::run(&g, a),
    }
}
