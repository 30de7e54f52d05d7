//! The dpvae command line as a library: the `dpvae` binary is a thin `main` over [`cmd::run`], and `xtask
//! reproduce` reuses the same workflow steps ([`pipeline`]) and figures ([`plot`]) instead of repeating them.

pub mod cli;
pub mod cmd;
pub mod common;
pub mod config;
pub mod pipeline;
pub mod placement;
pub mod sources;
pub mod uncertainty;
