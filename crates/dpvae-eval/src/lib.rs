//! # dpvae-eval
//!
//! The paper's evaluation, computed exactly and fast, with the inference a statistician expects:
//!
//! * [`weights`]: kNN / radius / Visium-grid spatial weights from coordinates (kd-tree), binary or row-normalised.
//! * [`autocorr`]: Moran's I and Geary's C for many features at once with expectations, analytic variances under
//!   normality (squidpy 1.8.2 / PySAL), z-scores, p-values, seeded permutation p-values and BH FDR.
//! * [`correlation`]: expression-distance vs spatial-distance correlation (Pearson over all pairs, streamed, with
//!   the Fisher-z interval; Spearman; Mantel permutation test).
//! * [`reconstruction`]: per-spot error of reconstructed coordinates after alignment, and summaries.
//! * [`wilcoxon`]: the Wilcoxon signed-rank test for paired per-section comparisons (scipy's definition).
//! * [`normal`]: the standard normal distribution (erfc, CDF, quantile) to ~1e-15.
//!
//! ```
//! use dpvae_eval::{AutocorrParams, Features, WeightsParams, Transform};
//! use ndarray::Array2;
//! let coords = Array2::from_shape_fn((100, 2), |(i, d)| if d == 0 { (i % 10) as f64 } else { (i / 10) as f64 });
//! let x = Array2::from_shape_fn((100, 1), |(i, _)| (i % 10) as f64);
//! let w = WeightsParams::knn(5).transform(Transform::Binary).build(coords.view()).unwrap();
//! let table = AutocorrParams::new().run(&w, &Features::Dense(x.view()), &["gradient".to_string()]).unwrap();
//! assert!(table.rows[0].moran.value > 0.5);
//! ```

pub mod autocorr;
pub mod calibration;
pub mod correlation;
pub mod error;
pub mod features;
pub mod multitest;
pub mod normal;
pub mod reconstruction;
pub mod weights;
pub mod wilcoxon;

pub use autocorr::{AutocorrParams, AutocorrRow, AutocorrTable, StatResult};
pub use calibration::{CalibrationReport, Coverage, calibration};
pub use correlation::{Alternative, DistanceCorrelation, DistanceCorrelationParams};
pub use error::{EvalError, Result};
pub use features::{CsrView, Features};
pub use multitest::benjamini_hochberg;
pub use reconstruction::{
    Aligner, ErrorSummary, Identity, ReconstructionReport, nearest_spacing, reconstruction_error,
};
pub use weights::{Graph, SpatialWeights, Transform, WeightMoments, WeightsParams};
pub use wilcoxon::{Wilcoxon, wilcoxon};
