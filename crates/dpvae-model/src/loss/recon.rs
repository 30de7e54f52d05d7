//! Reconstruction terms: Gaussian (unit or learned per-gene variance) and scVI-style negative binomial.
//!
//! All return the mean over spots of the per-spot negative log-likelihood summed over genes. The NB terms
//! `ln Gamma(x + theta) - ln Gamma(theta) - ln Gamma(x + 1)` need log-gamma, which burn lacks: they are evaluated
//! on the host ([`nb_gamma_terms`]) together with their gradient in theta, and the trainer feeds that gradient back
//! through a surrogate term.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use rayon::prelude::*;

use super::special::{digamma, ln_gamma};

const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// Gaussian negative log-likelihood; `gene_logvar` is `None` for unit variance.
pub fn gaussian_nll<B: Backend>(
    mean: Tensor<B, 2>,
    x: Tensor<B, 2>,
    gene_logvar: Option<Tensor<B, 1>>,
) -> Tensor<B, 1> {
    let [n, g] = mean.dims();
    let sq = (x - mean).square();
    let constant = 0.5 * g as f64 * LN_2PI;
    match gene_logvar {
        None => sq.sum().mul_scalar(0.5 / n as f64).add_scalar(constant),
        Some(lv) => {
            let precision = lv.clone().neg().exp().unsqueeze_dim::<2>(0);
            (sq * precision)
                .sum()
                .mul_scalar(0.5 / n as f64)
                .add(lv.sum().mul_scalar(0.5))
                .add_scalar(constant)
        }
    }
}

/// The part of the NB negative log-likelihood that burn can differentiate:
/// `-sum [theta ln(theta / (theta + mu)) + x ln(mu / (theta + mu))]` with `mu = library * softmax(logits)`,
/// averaged over spots. `log_library` is `[n, 1]`, `log_theta` is `[genes]`.
pub fn nb_nll_differentiable<B: Backend>(
    logits: Tensor<B, 2>,
    x: Tensor<B, 2>,
    log_library: Tensor<B, 2>,
    log_theta: Tensor<B, 1>,
) -> Tensor<B, 1> {
    let n = logits.dims()[0];
    // ln mu from log_softmax, so x * ln mu stays finite where mu would underflow.
    let log_mu = log_softmax(logits, 1) + log_library;
    let mu = log_mu.clone().exp();
    let log_theta = log_theta.unsqueeze_dim::<2>(0);
    let theta = log_theta.clone().exp();
    let log_theta_mu = (theta.clone() + mu).log();
    let ll = theta * (log_theta - log_theta_mu.clone()) + x * (log_mu - log_theta_mu);
    ll.sum().mul_scalar(-1.0 / n as f64)
}

/// Host part of the NB negative log-likelihood, averaged over spots:
/// value `-(1/n) sum [ln Gamma(x + theta) - ln Gamma(theta) - ln Gamma(x + 1)]` and its gradient in each gene's
/// theta, `-(1/n) sum_i [psi(x_i + theta) - psi(theta)]`. `counts` is row-major `[n, genes]`.
pub fn nb_gamma_terms(counts: &[f32], n: usize, theta: &[f32]) -> (f64, Vec<f32>) {
    let g = theta.len();
    debug_assert_eq!(counts.len(), n * g);
    let per_gene: Vec<(f64, f64)> = (0..g)
        .into_par_iter()
        .map(|j| {
            let t = f64::from(theta[j]);
            let (lg_t, psi_t) = (ln_gamma(t), digamma(t));
            let (mut value, mut grad) = (0.0, 0.0);
            for i in 0..n {
                let x = f64::from(counts[i * g + j]);
                if x == 0.0 {
                    continue; // every term vanishes at x = 0
                }
                value += ln_gamma(x + t) - lg_t - ln_gamma(x + 1.0);
                grad += digamma(x + t) - psi_t;
            }
            (value, grad)
        })
        .collect();
    let scale = -1.0 / n as f64;
    let value = per_gene.iter().map(|p| p.0).sum::<f64>() * scale;
    let grad = per_gene.iter().map(|p| (p.1 * scale) as f32).collect();
    (value, grad)
}

/// ln NB(x; mean mu, inverse dispersion theta) on the host, the scVI parameterisation
/// (scipy's `nbinom(n = theta, p = theta / (theta + mu))`).
pub fn nb_log_pmf(x: f64, mu: f64, theta: f64) -> f64 {
    ln_gamma(x + theta) - ln_gamma(theta) - ln_gamma(x + 1.0)
        + theta * (theta / (theta + mu)).ln()
        + if x > 0.0 {
            x * (mu / (theta + mu)).ln()
        } else {
            0.0
        }
}
