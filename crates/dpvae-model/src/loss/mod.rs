//! Loss terms: reconstruction (Gaussian, negative binomial), the closed-form KL and the distance-preserving loss
//! with its pair masks.

pub mod dp;
pub mod kl;
pub mod mask;
pub mod recon;
pub mod special;

pub use dp::{BatchMask, DpGrad, dp_loss_autodiff, dp_loss_grad};
pub use kl::{kl_standard_normal, kl_standard_normal_host};
pub use mask::{MaskSpec, SpotMask};
pub use recon::{gaussian_nll, nb_gamma_terms, nb_log_pmf, nb_nll_differentiable};
