//! log-gamma and digamma on the host, for the negative-binomial terms burn has no kernels for: re-exported from
//! [`dpvae_core::special::gamma`], their one home.

pub use dpvae_core::special::gamma::{digamma, ln_gamma};
