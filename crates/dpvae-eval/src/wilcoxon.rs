//! The Wilcoxon signed-rank test for paired samples, as `scipy.stats.wilcoxon` computes it with its defaults:
//! zero differences are dropped (`zero_method="wilcox"`), the exact null distribution is used for up to 50 pairs
//! without ties, and otherwise the normal approximation with the tie-corrected variance (no continuity
//! correction). Used to compare two methods section by section (the paper's Figure 9).

use crate::correlation::{Alternative, rank_in_place};
use crate::error::{EvalError, Result};
use crate::normal::{norm_cdf, norm_sf};

/// Largest number of non-zero differences for which the exact null distribution is used (scipy's rule).
const EXACT_MAX_N: usize = 50;

/// Result of [`wilcoxon`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wilcoxon {
    /// `min(R+, R-)` for the two-sided test, `R+` (the rank sum of positive `x - y`) for one-sided ones, as
    /// scipy reports it.
    pub statistic: f64,
    pub p_value: f64,
    /// Pairs with a non-zero difference (the others are dropped).
    pub n: usize,
    /// Pairs with `x > y` and with `x < y`.
    pub n_positive: usize,
    pub n_negative: usize,
    /// Whether the exact distribution was used (else the normal approximation).
    pub exact: bool,
}

/// Test whether the differences `x - y` are symmetric about zero. `Alternative::Less` asks whether `x` tends to
/// be smaller than `y` (e.g. dp-VAE's disparity smaller than the VAE's).
pub fn wilcoxon(x: &[f64], y: &[f64], alternative: Alternative) -> Result<Wilcoxon> {
    if x.len() != y.len() {
        return Err(EvalError::shape("paired samples x and y", x.len(), y.len()));
    }
    if x.iter().chain(y).any(|v| !v.is_finite()) {
        return Err(EvalError::input(
            "paired samples",
            "contain non-finite values",
        ));
    }
    let d: Vec<f64> = x
        .iter()
        .zip(y)
        .map(|(a, b)| a - b)
        .filter(|v| *v != 0.0)
        .collect();
    let n = d.len();
    if n == 0 {
        return Err(EvalError::input(
            "paired samples",
            "every difference is zero, so the test is undefined",
        ));
    }
    let mut ranks: Vec<f64> = d.iter().map(|v| v.abs()).collect();
    rank_in_place(&mut ranks);
    let r_plus: f64 = d
        .iter()
        .zip(&ranks)
        .filter(|(v, _)| **v > 0.0)
        .map(|(_, r)| r)
        .sum();
    let total = (n * (n + 1)) as f64 / 2.0;
    let r_minus = total - r_plus;
    let n_positive = d.iter().filter(|v| **v > 0.0).count();
    let has_ties = has_ties(&d);
    let exact = n <= EXACT_MAX_N && !has_ties;
    let (less, greater) = if exact {
        // R+ is an integer without ties; P(R+ <= r) and P(R+ >= r).
        let counts = null_counts(n);
        let all: f64 = counts.iter().sum();
        let r = r_plus.round() as usize;
        let le: f64 = counts[..=r].iter().sum::<f64>() / all;
        let ge: f64 = counts[r..].iter().sum::<f64>() / all;
        (le, ge)
    } else {
        let mean = total / 2.0;
        let var = tie_corrected_variance(n, &ranks);
        let z = (r_plus - mean) / var.sqrt();
        (norm_cdf(z), norm_sf(z))
    };
    let (statistic, p) = match alternative {
        Alternative::TwoSided => (r_plus.min(r_minus), (2.0 * less.min(greater)).min(1.0)),
        Alternative::Less => (r_plus, less),
        Alternative::Greater => (r_plus, greater),
    };
    Ok(Wilcoxon {
        statistic,
        p_value: p,
        n,
        n_positive,
        n_negative: n - n_positive,
        exact,
    })
}

fn has_ties(d: &[f64]) -> bool {
    let mut a: Vec<f64> = d.iter().map(|v| v.abs()).collect();
    a.sort_unstable_by(f64::total_cmp);
    a.windows(2).any(|w| w[0] == w[1])
}

/// Number of sign assignments of ranks 1..=n giving each rank sum R+ = 0..=n(n+1)/2 (counted in f64: at
/// n = 50 the total is 2^50, exact in a double).
fn null_counts(n: usize) -> Vec<f64> {
    let max = n * (n + 1) / 2;
    let mut c = vec![0.0; max + 1];
    c[0] = 1.0;
    for k in 1..=n {
        for s in (k..=max).rev() {
            c[s] += c[s - k];
        }
    }
    c
}

/// Variance of R+ under the null, reduced by sum(t^3 - t)/48 over groups of tied |differences|.
fn tie_corrected_variance(n: usize, ranks: &[f64]) -> f64 {
    let nf = n as f64;
    let mut sorted = ranks.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let mut correction = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[i] {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        correction += t * t * t - t;
        i = j + 1;
    }
    nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - correction / 48.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_distribution_sums_to_two_to_the_n() {
        for n in [1, 5, 20, 50] {
            let c = null_counts(n);
            assert_eq!(c.iter().sum::<f64>(), 2f64.powi(n as i32));
            // Symmetric about n(n+1)/4.
            let m = c.len() - 1;
            assert!((0..=m).all(|s| c[s] == c[m - s]));
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(wilcoxon(&[1.0, 2.0], &[1.0], Alternative::TwoSided).is_err());
        assert!(wilcoxon(&[1.0, 2.0], &[1.0, 2.0], Alternative::TwoSided).is_err());
        assert!(wilcoxon(&[1.0, f64::NAN], &[1.0, 2.0], Alternative::TwoSided).is_err());
    }
}
