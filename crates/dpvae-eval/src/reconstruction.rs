//! Reconstruction quality: per-spot error of estimated coordinates after alignment to the truth (the paper's
//! Figure 8 heatmaps), and summary statistics.
//!
//! The alignment is a trait so this crate stays independent of dpvae-geometry: the CLI implements [`Aligner`]
//! for the geometry crate's Procrustes.

use dpvae_core::distance::euclidean_rows;
use dpvae_core::stats::{median, quantile_linear_sorted};
use ndarray::{Array2, ArrayView2};

use crate::error::{EvalError, Result};
use crate::weights::WeightsParams;

/// Maps an estimated embedding into the frame of the true coordinates (e.g. Procrustes: rotation, reflection,
/// uniform scale and translation).
pub trait Aligner {
    type Error: std::error::Error + Send + Sync + 'static;
    /// `estimate` aligned to `truth`; same shape as `truth` (n spots x dimensions).
    fn align(
        &self,
        truth: ArrayView2<f64>,
        estimate: ArrayView2<f64>,
    ) -> std::result::Result<Array2<f64>, Self::Error>;
}

/// No alignment: for estimates already in the truth's frame.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl Aligner for Identity {
    type Error = std::convert::Infallible;
    fn align(
        &self,
        _truth: ArrayView2<f64>,
        estimate: ArrayView2<f64>,
    ) -> std::result::Result<Array2<f64>, Self::Error> {
        Ok(estimate.to_owned())
    }
}

/// Summary of per-spot errors. Percentiles interpolate linearly between order statistics, bit for bit as numpy's
/// default `np.quantile(method="linear")` ([`dpvae_core::stats::quantile_linear_sorted`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorSummary {
    pub mean: f64,
    pub median: f64,
    pub p90: f64,
    pub max: f64,
    /// Root mean squared error.
    pub rmse: f64,
}

impl ErrorSummary {
    /// Summarise non-empty, finite errors.
    pub fn from_errors(errors: &[f64]) -> Result<Self> {
        if errors.is_empty() {
            return Err(EvalError::input("errors", "no spots"));
        }
        if errors.iter().any(|e| !e.is_finite()) {
            return Err(EvalError::input("errors", "contain non-finite values"));
        }
        let n = errors.len() as f64;
        let mut s = errors.to_vec();
        s.sort_unstable_by(f64::total_cmp);
        Ok(ErrorSummary {
            mean: errors.iter().sum::<f64>() / n,
            median: quantile_linear_sorted(&s, 0.5),
            p90: quantile_linear_sorted(&s, 0.9),
            max: s[s.len() - 1],
            rmse: (errors.iter().map(|e| e * e).sum::<f64>() / n).sqrt(),
        })
    }
}

/// Per-spot reconstruction errors and their summary.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconstructionReport {
    /// The estimate after alignment.
    pub aligned: Array2<f64>,
    /// Euclidean distance between each aligned spot and its true position, in the truth's units.
    pub per_spot: Vec<f64>,
    pub summary: ErrorSummary,
    /// Median distance from a true spot to its nearest neighbour (the spot spacing), to express errors in spots.
    pub spacing: f64,
}

/// Align `estimate` to `truth` with `aligner` and measure the per-spot error.
pub fn reconstruction_error<A: Aligner>(
    truth: ArrayView2<f64>,
    estimate: ArrayView2<f64>,
    aligner: &A,
) -> Result<ReconstructionReport> {
    let n = truth.nrows();
    if estimate.nrows() != n {
        return Err(EvalError::shape(
            "spots in estimate vs truth",
            n,
            estimate.nrows(),
        ));
    }
    if n < 2 {
        return Err(EvalError::input(
            "truth",
            format!("need at least 2 spots, got {n}"),
        ));
    }
    if truth.iter().any(|v| !v.is_finite()) {
        return Err(EvalError::input("truth", "contains non-finite values"));
    }
    if estimate.iter().any(|v| !v.is_finite()) {
        return Err(EvalError::input("estimate", "contains non-finite values"));
    }
    let aligned = aligner
        .align(truth, estimate)
        .map_err(|e| EvalError::Alignment(Box::new(e)))?;
    if aligned.dim() != truth.dim() {
        return Err(EvalError::input(
            "aligned estimate",
            format!(
                "aligner returned shape {:?}, truth is {:?}",
                aligned.dim(),
                truth.dim()
            ),
        ));
    }
    let per_spot: Vec<f64> = truth
        .outer_iter()
        .zip(aligned.outer_iter())
        .map(|(t, a)| euclidean_rows(t, a))
        .collect();
    let summary = ErrorSummary::from_errors(&per_spot)?;
    let spacing = nearest_spacing(truth)?;
    Ok(ReconstructionReport {
        aligned,
        per_spot,
        summary,
        spacing,
    })
}

/// The median distance from a spot to its nearest neighbour: the spot spacing.
pub fn nearest_spacing(truth: ArrayView2<f64>) -> Result<f64> {
    let w = WeightsParams::knn(1).build(truth)?;
    let mut d: Vec<f64> = (0..truth.nrows())
        .map(|i| {
            let j = w.row(i).0[0] as usize;
            euclidean_rows(truth.row(i), truth.row(j))
        })
        .collect();
    Ok(median(&mut d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[derive(Debug, thiserror::Error)]
    #[error("refused")]
    struct Refuse;
    struct Failing;
    impl Aligner for Failing {
        type Error = Refuse;
        fn align(
            &self,
            _: ArrayView2<f64>,
            _: ArrayView2<f64>,
        ) -> std::result::Result<Array2<f64>, Refuse> {
            Err(Refuse)
        }
    }

    #[test]
    fn errors_and_summary() {
        let truth = array![[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]];
        let est = array![[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [3.0, 2.0], [4.0, 0.0]];
        let r = reconstruction_error(truth.view(), est.view(), &Identity).unwrap();
        assert_eq!(r.per_spot, vec![0.0, 1.0, 0.0, 2.0, 0.0]);
        assert_eq!(r.summary.mean, 0.6);
        assert_eq!(r.summary.median, 0.0);
        assert_eq!(r.summary.max, 2.0);
        assert!((r.summary.p90 - 1.6).abs() < 1e-12); // numpy.percentile([0,0,0,1,2], 90) = 1.6
        assert!((r.summary.rmse - 1.0).abs() < 1e-12);
        assert_eq!(r.spacing, 1.0);
        assert!(matches!(
            reconstruction_error(truth.view(), est.view(), &Failing),
            Err(EvalError::Alignment(_))
        ));
    }
}
