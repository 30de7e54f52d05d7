//! Scalar special functions in f64, shared by the evaluation (normal distribution for p-values and intervals)
//! and the model (log-gamma and digamma for the negative-binomial likelihood on the host).
//!
//! * [`normal`]: `erf`, `erfc`, the standard normal CDF, survival function and quantile, to ~1e-15 relative.
//! * [`gamma`]: `ln_gamma` and `digamma` for positive arguments.
//!
//! The model's tensor (burn) versions of these terms stay in the model; only the scalar ones live here.

pub mod gamma;
pub mod normal;

pub use gamma::{digamma, ln_gamma};
pub use normal::{erf, erfc, norm_cdf, norm_ppf, norm_sf, two_sided_p};
