//! Log output for programs built on dpvae (the command line, the benchmarks, the Python package): tracing
//! events on stderr at a level chosen by verbosity.

/// Set up tracing on stderr: warnings by default, `-v` info, `-vv` debug, `-q` errors only.
/// `RUST_LOG` overrides. Colour codes only when stderr is a terminal (not in a log file or a notebook cell).
pub fn init_logging(verbose: u8, quiet: bool) {
    use std::io::IsTerminal;
    let level = if quiet {
        "error"
    } else {
        match verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}
