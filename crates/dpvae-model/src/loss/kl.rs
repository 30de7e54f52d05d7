//! KL(q(z | x) || N(0, I)) in closed form.

use burn::prelude::*;

/// Mean over spots of `sum_k 0.5 (mu_k^2 + sigma_k^2 - 1 - ln sigma_k^2)`, as a one-element tensor.
pub fn kl_standard_normal<B: Backend>(mean: Tensor<B, 2>, logvar: Tensor<B, 2>) -> Tensor<B, 1> {
    let n = mean.dims()[0] as f64;
    let per_elem = mean.square() + logvar.clone().exp() - logvar - 1.0;
    per_elem.sum().mul_scalar(0.5 / n)
}

/// The same divergence for one spot on the host: `mean` and `logvar` of a diagonal Gaussian.
pub fn kl_standard_normal_host(mean: &[f64], logvar: &[f64]) -> f64 {
    mean.iter()
        .zip(logvar)
        .map(|(m, lv)| 0.5 * (m * m + lv.exp() - 1.0 - lv))
        .sum()
}
