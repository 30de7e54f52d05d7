//! How well dpvae's stated uncertainty holds on a case: coverage of the radii, Spearman of radius and error,
//! the same for each ingredient of the difficulty score (to choose it by measurement), and a coverage curve
//! (stated vs observed) for the calibration figure.

use std::collections::BTreeMap;

use anyhow::Result;
use dpvae::placement::PlacementRecord;
use dpvae::uncertainty::{CalibrationSummary, Uncertainty, calibration_summary};
use dpvae_eval::correlation::spearman;
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// Stated levels of the coverage curve.
pub const CURVE_LEVELS: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// The uncertainty measurements of one case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseCalibration {
    pub summary: CalibrationSummary,
    /// Spearman's rho between each candidate score and the true error.
    pub spearman_by_feature: BTreeMap<String, f64>,
    /// (stated level, observed coverage) at [`CURVE_LEVELS`].
    pub curve: Vec<(f64, f64)>,
    /// Seconds of the calibration at training, of training as a whole, and of placing the query with and
    /// without the uncertainty (the same trained model, timed side by side).
    pub seconds: Timing,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Timing {
    pub train: f64,
    pub calibration: f64,
    pub place_with: f64,
    pub place_without: f64,
}

/// A dpvae placement as the benchmark sees it.
pub struct Placement {
    pub coords: Array2<f64>,
    /// What the method chose on the reference's own validation spots.
    pub choice: Option<super::baselines::RecipeChoice>,
    pub uncertainty: Option<Uncertainty>,
    /// The first member's posterior variances.
    pub variance: Option<Array2<f64>>,
    pub record: Option<PlacementRecord>,
    pub timing: Timing,
}

pub fn measure(truth: ArrayView2<f64>, p: &Placement) -> Result<Option<CaseCalibration>> {
    let (Some(u), Some(record)) = (&p.uncertainty, &p.record) else {
        return Ok(None);
    };
    let (Some(cal), Some(d)) = (&record.calibration, &u.difficulty) else {
        return Ok(None);
    };
    let (summary, errors) = calibration_summary(truth, p.coords.view(), u)?;
    let mut by = BTreeMap::new();
    by.insert("score".into(), spearman(&cal.model.score(d), &errors));
    for (name, values) in dpvae::uncertainty::FEATURES.iter().zip(d.columns()) {
        by.insert(name.to_string(), spearman(values, &errors));
    }
    if let Some(v) = &p.variance {
        let total: Vec<f64> = v.rows().into_iter().map(|r| r.sum()).collect();
        by.insert("first_member_variance".into(), spearman(&total, &errors));
    }
    let scores = cal.model.score(d);
    let curve = CURVE_LEVELS
        .iter()
        .map(|&q| {
            let t = cal.factor(q);
            let inside = scores
                .iter()
                .zip(&errors)
                .filter(|(s, e)| **e <= s.max(cal.floor) * t)
                .count();
            (q, inside as f64 / errors.len() as f64)
        })
        .collect();
    Ok(Some(CaseCalibration {
        summary,
        spearman_by_feature: by,
        curve,
        seconds: p.timing,
    }))
}
