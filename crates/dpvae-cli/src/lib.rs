//! The dpvae command line as a library: the grammar ([`cli`]), one module per command ([`cmd`]), and the
//! plumbing they share (configuration, inputs, evaluation output). The workflow itself is the `dpvae` crate;
//! the `dpvae` binary's `main` parses and dispatches.

pub mod cli;
pub mod cmd;
pub mod common;
pub mod config;
pub mod evaluation;
pub mod progress;
pub mod sources;
pub mod training;
