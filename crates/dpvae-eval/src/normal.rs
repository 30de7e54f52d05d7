//! The standard normal distribution (`erf`, `erfc`, CDF, survival function, quantile): re-exported from
//! [`dpvae_core::special::normal`], their one home.

pub use dpvae_core::special::normal::*;
