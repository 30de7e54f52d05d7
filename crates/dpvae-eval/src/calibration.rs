//! Whether a stated placement uncertainty holds: the fraction of spots whose true error lies inside their
//! stated radius (coverage, to compare with the radius's level), and the rank agreement between the stated
//! radius and the true error.

use crate::correlation::spearman;
use crate::error::{EvalError, Result};

/// Observed coverage of one stated level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coverage {
    /// The level the radius was stated at (e.g. 0.9).
    pub level: f64,
    /// Fraction of spots whose error is at most their radius.
    pub observed: f64,
}

/// How well per-spot radii describe the true errors.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationReport {
    pub n_spots: usize,
    /// One entry per stated level, in the order given.
    pub coverage: Vec<Coverage>,
    /// Spearman's rho between the first level's radius and the true error (1: the radius ranks the errors
    /// perfectly; 0: no relation).
    pub spearman_radius_error: f64,
}

/// Coverage of `radii` (pairs of level and per-spot radius, in the units of `errors`) and the Spearman
/// correlation of the first level's radius with `errors`.
pub fn calibration(errors: &[f64], radii: &[(f64, &[f64])]) -> Result<CalibrationReport> {
    let n = errors.len();
    if n < 2 {
        return Err(EvalError::input(
            "errors",
            format!("need at least 2 spots, got {n}"),
        ));
    }
    if radii.is_empty() {
        return Err(EvalError::param("radii", "no level given"));
    }
    if errors.iter().any(|e| !(e.is_finite() && *e >= 0.0)) {
        return Err(EvalError::input(
            "errors",
            "must be finite and non-negative",
        ));
    }
    let mut coverage = Vec::with_capacity(radii.len());
    for (level, r) in radii {
        if r.len() != n {
            return Err(EvalError::shape("radii per spot", n, r.len()));
        }
        if !(0.0..=1.0).contains(level) {
            return Err(EvalError::param(
                "level",
                format!("must be in [0, 1], got {level}"),
            ));
        }
        if r.iter().any(|v| v.is_nan() || *v < 0.0) {
            return Err(EvalError::input("radii", "must be non-negative numbers"));
        }
        let inside = errors.iter().zip(r.iter()).filter(|(e, r)| e <= r).count();
        coverage.push(Coverage {
            level: *level,
            observed: inside as f64 / n as f64,
        });
    }
    Ok(CalibrationReport {
        n_spots: n,
        coverage,
        spearman_radius_error: spearman(radii[0].1, errors),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_counts_errors_inside_their_radius() {
        let errors = [0.5, 1.5, 2.5, 3.5];
        let r50 = [1.0, 1.0, 3.0, 3.0];
        let r90 = [4.0, 4.0, 4.0, 4.0];
        let rep = calibration(&errors, &[(0.5, &r50), (0.9, &r90)]).unwrap();
        assert_eq!(rep.coverage[0].observed, 0.5);
        assert_eq!(rep.coverage[1].observed, 1.0);
        // Radii rise with the errors, with two ties.
        assert!(rep.spearman_radius_error > 0.8, "{rep:?}");
        assert!(calibration(&errors, &[(0.5, &r50[..3])]).is_err());
        assert!(calibration(&[f64::NAN, 1.0], &[(0.5, &[1.0, 1.0])]).is_err());
        assert!(calibration(&errors, &[(1.5, &r50)]).is_err());
    }
}
