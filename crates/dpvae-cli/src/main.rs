//! `dpvae`: recover where spots sat in a tissue from their gene expression.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use dpvae_cli::cli::{self, Cli, Command};
use dpvae_cli::config::Invocation;
use dpvae_cli::{cmd, common};

fn main() -> ExitCode {
    quiet_broken_pipe();
    clean_up_on_interrupt();
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
    match dispatch(cli, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", common::error_paragraph(&e));
            ExitCode::FAILURE
        }
    }
}

/// `dpvae procrustes ... | head -1`: when the reader goes away, end quietly as other Unix tools do (the
/// default SIGPIPE action), instead of Rust's panic on a failed print.
fn quiet_broken_pipe() {
    #[cfg(unix)]
    // SAFETY: restores the default disposition of one signal before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Ctrl-C or a SIGTERM used to leave the hidden `.NAME.tmp-PID` files and model directories being written
/// (one of 637 MB). SIGINT and SIGTERM are blocked in every thread (the mask is set here, before any thread
/// starts, and inherited) and taken by one thread, which removes what is being written and then lets the
/// signal end the process as it would have (a SIGKILL cannot be caught: docs/formats.md says what it leaves).
/// The main thread goes on meanwhile, but it creates temporaries and puts outputs in place only under the lock
/// the handler takes (`dpvae_core::atomic::publish`): an exchange that has not started does not start, one that
/// has finishes first, so a model being replaced is never deleted half-written (issue #28).
fn clean_up_on_interrupt() {
    #[cfg(unix)]
    // SAFETY: sigset_t is plain data initialised by sigemptyset; the mask is changed before any other thread
    // exists, so every thread inherits it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let mut sig: libc::c_int = 0;
                if libc::sigwait(&set, &mut sig) != 0 {
                    return;
                }
                dpvae_core::atomic::remove_in_flight(|_| {
                    // Die of the signal itself, so the parent sees what happened (exit status 130 / 143).
                    libc::signal(sig, libc::SIG_DFL);
                    libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                    libc::raise(sig);
                });
            });
        if spawned.is_err() {
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
    }
}

/// Run the parsed command. `matches` are clap's raw matches of the same command line, from which each command
/// tells the flags typed from their defaults.
fn dispatch(cli: Cli, matches: &ArgMatches) -> Result<()> {
    let (name, sub) = matches
        .subcommand()
        .context("no command given; see `dpvae --help`")?;
    let g = Invocation::new(&cli.global, name, sub);
    match cli.command {
        Command::Demo(a) => cmd::demo::run(&g, a),
        Command::Inspect(a) => cmd::inspect::run(&g, a),
        Command::Convert(a) => cmd::convert::run(&g, a),
        Command::Simulate(a) => cmd::simulate::run(&g, a),
        Command::Preprocess(a) => cmd::preprocess::run(&g, a),
        Command::Train(a) => cmd::train::run(&g, a),
        Command::Embed(a) => cmd::embed::run(&g, a),
        Command::Reconstruct(a) => cmd::reconstruct::run(&g, a, false),
        Command::Impute(a) => cmd::reconstruct::run(&g, a, true),
        Command::Procrustes(a) => cmd::procrustes::run(&g, a),
        Command::Autocorr(a) => cmd::autocorr::run(&g, a),
        Command::Evaluate(a) => cmd::evaluate::run(&g, a),
        Command::Run(a) => cmd::run::run(&g, a),
        Command::Plot(a) => cmd::plot::run(&g, a),
        Command::Correlate(a) => cmd::correlate::run(&g, a),
    }
}
