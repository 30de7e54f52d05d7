//! Input checks shared by every entry point, so each rejects bad input the same way.

use ndarray::ArrayView2;

use crate::error::{GeometryError, Result};

/// Reject NaN and infinities, naming the first offending cell.
pub fn finite(what: &'static str, x: &ArrayView2<f64>) -> Result<()> {
    for ((row, col), v) in x.indexed_iter() {
        if !v.is_finite() {
            return Err(GeometryError::NonFinite { what, row, col });
        }
    }
    Ok(())
}

/// Reject matrices with fewer than `min` rows.
pub fn min_points(what: &'static str, x: &ArrayView2<f64>, min: usize) -> Result<()> {
    if x.nrows() < min {
        return Err(GeometryError::TooFewPoints {
            what,
            got: x.nrows(),
            min,
        });
    }
    if x.ncols() == 0 {
        return Err(GeometryError::InvalidParameter {
            name: what,
            reason: "points have zero dimensions".into(),
        });
    }
    Ok(())
}

/// A point cloud: finite, at least `min` rows, at least one column.
pub fn points(what: &'static str, x: &ArrayView2<f64>, min: usize) -> Result<()> {
    min_points(what, x, min)?;
    finite(what, x)
}

/// A dissimilarity matrix: square, finite, non-negative, symmetric, zero diagonal, at least `min` points.
pub fn dissimilarities(delta: &ArrayView2<f64>, min: usize) -> Result<()> {
    let (n, m) = delta.dim();
    if n != m {
        return Err(GeometryError::ShapeMismatch {
            what: "dissimilarity matrix",
            got: (n, m),
            expected: (n, n),
        });
    }
    if n < min {
        return Err(GeometryError::TooFewPoints {
            what: "dissimilarity matrix",
            got: n,
            min,
        });
    }
    finite("dissimilarity matrix", delta)?;
    let mut scale = 0.0f64;
    for v in delta.iter() {
        scale = scale.max(v.abs());
    }
    let tol = 1e-9 * scale.max(f64::MIN_POSITIVE);
    for i in 0..n {
        if delta[[i, i]].abs() > tol {
            return Err(GeometryError::InvalidDissimilarities(format!(
                "diagonal entry ({i}, {i}) is {} instead of 0",
                delta[[i, i]]
            )));
        }
        for j in (i + 1)..n {
            let (a, b) = (delta[[i, j]], delta[[j, i]]);
            if a < 0.0 {
                return Err(GeometryError::InvalidDissimilarities(format!(
                    "entry ({i}, {j}) is negative ({a})"
                )));
            }
            if (a - b).abs() > tol {
                return Err(GeometryError::InvalidDissimilarities(format!(
                    "not symmetric: ({i}, {j}) = {a} but ({j}, {i}) = {b}"
                )));
            }
        }
    }
    Ok(())
}

/// Weights: same shape as the dissimilarities, finite, non-negative, symmetric.
pub fn weights(w: &ArrayView2<f64>, n: usize) -> Result<()> {
    if w.dim() != (n, n) {
        return Err(GeometryError::ShapeMismatch {
            what: "weight matrix",
            got: w.dim(),
            expected: (n, n),
        });
    }
    finite("weight matrix", w)?;
    for i in 0..n {
        for j in (i + 1)..n {
            let (a, b) = (w[[i, j]], w[[j, i]]);
            if a < 0.0 || (a - b).abs() > 1e-12 * a.abs().max(1.0) {
                return Err(GeometryError::InvalidParameter {
                    name: "weights",
                    reason: format!(
                        "must be symmetric and non-negative; ({i}, {j}) = {a}, ({j}, {i}) = {b}"
                    ),
                });
            }
        }
    }
    Ok(())
}
