//! Pairwise Euclidean distances and the stress measures reported by every solver.

use ndarray::{Array2, ArrayView2};

use crate::error::{GeometryError, Result};
use crate::kernel::{AbsLoss, GuttmanLoss, pair_pass};
use crate::validate;

/// Bytes needed by an `n x n` matrix of `f64`.
pub fn dense_matrix_bytes(n: usize) -> u64 {
    (n as u64) * (n as u64) * 8
}

/// The `n x n` matrix of Euclidean distances between the rows of `points`.
pub fn pairwise_distances(points: ArrayView2<f64>) -> Result<Array2<f64>> {
    validate::points("points", &points, 1)?;
    Ok(dpvae_core::distance::pairwise_distances(points))
}

/// Stress of an embedding against dissimilarities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stress {
    /// Raw stress `sum_{i<j} w_ij (d_ij - delta_ij)^2` (sklearn's `normalized_stress=False` value).
    pub raw: f64,
    /// Kruskal's stress-1 `sqrt(raw / sum_{i<j} w_ij d_ij^2)` (sklearn >= 1.7's normalised stress).
    pub stress1: f64,
}

/// Raw stress and stress-1 of `embedding` against `dissimilarities` (optionally weighted).
pub fn stress(
    embedding: ArrayView2<f64>,
    dissimilarities: ArrayView2<f64>,
    weights: Option<ArrayView2<f64>>,
) -> Result<Stress> {
    let n = check_pair(&embedding, &dissimilarities, weights.as_ref())?;
    let x = embedding.as_standard_layout();
    let d = dissimilarities.as_standard_layout();
    let w = weights.map(|w| w.as_standard_layout().into_owned());
    let sums = pair_pass(
        d.as_slice().expect("standard"),
        w.as_ref().map(|w| w.as_slice().expect("standard")),
        x.as_slice().expect("standard"),
        embedding.ncols(),
        None,
        &GuttmanLoss,
    );
    let _ = n;
    Ok(Stress {
        raw: sums.loss,
        stress1: stress1(sums.loss, sums.sum_d2),
    })
}

/// The paper's L1 stress `sum_{i<j} w_ij |d_ij - delta_ij|`.
pub fn l1_stress(
    embedding: ArrayView2<f64>,
    dissimilarities: ArrayView2<f64>,
    weights: Option<ArrayView2<f64>>,
) -> Result<f64> {
    check_pair(&embedding, &dissimilarities, weights.as_ref())?;
    let x = embedding.as_standard_layout();
    let d = dissimilarities.as_standard_layout();
    let w = weights.map(|w| w.as_standard_layout().into_owned());
    Ok(pair_pass(
        d.as_slice().expect("standard"),
        w.as_ref().map(|w| w.as_slice().expect("standard")),
        x.as_slice().expect("standard"),
        embedding.ncols(),
        None,
        &AbsLoss,
    )
    .loss)
}

pub(crate) fn stress1(raw: f64, sum_d2: f64) -> f64 {
    if sum_d2 > 0.0 {
        (raw / sum_d2).sqrt()
    } else {
        f64::INFINITY
    }
}

fn check_pair(
    embedding: &ArrayView2<f64>,
    dissimilarities: &ArrayView2<f64>,
    weights: Option<&ArrayView2<f64>>,
) -> Result<usize> {
    validate::points("embedding", embedding, 1)?;
    let n = embedding.nrows();
    if dissimilarities.dim() != (n, n) {
        return Err(GeometryError::ShapeMismatch {
            what: "dissimilarity matrix",
            got: dissimilarities.dim(),
            expected: (n, n),
        });
    }
    validate::finite("dissimilarity matrix", dissimilarities)?;
    if let Some(w) = weights {
        validate::weights(w, n)?;
    }
    Ok(n)
}
