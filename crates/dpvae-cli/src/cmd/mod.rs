//! One module per subcommand: what it does, given its parsed arguments (their grammar is in `cli`).

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
