//! The paper's L1 stress `sum_{i<j} w_ij |d_ij - delta_ij|`, minimised by L-BFGS (argmin) on the smooth
//! surrogate `sqrt(r^2 + mu^2)` with `mu` shrunk over a few continuation stages, started from SMACOF.

use ndarray::{Array2, ArrayView2};

use crate::distance::l1_stress;
use crate::error::{GeometryError, Result};
use crate::objective::{PairLossKind, PairObjective, minimise_lbfgs};
use crate::validate;

/// L1 refinement parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct L1Params {
    max_iter: u64,
    smoothing: f64,
    stages: usize,
}

/// Outcome of the L1 refinement.
#[derive(Debug, Clone)]
pub struct L1Result {
    /// Refined `n x p` configuration (never worse than the start in exact L1 stress).
    pub embedding: Array2<f64>,
    /// Exact L1 stress of `embedding`.
    pub l1_stress: f64,
    /// Exact L1 stress of the starting configuration.
    pub initial_l1_stress: f64,
    /// L-BFGS iterations over all stages.
    pub n_iter: u64,
}

impl Default for L1Params {
    fn default() -> Self {
        Self {
            max_iter: 200,
            smoothing: 1e-3,
            stages: 3,
        }
    }
}

impl L1Params {
    /// Defaults: 200 L-BFGS iterations per stage, 3 stages, final smoothing `1e-3 * mean(delta)`.
    pub fn new() -> Self {
        Self::default()
    }
    /// L-BFGS iterations per stage.
    pub fn max_iter(mut self, n: u64) -> Self {
        self.max_iter = n;
        self
    }
    /// Final smoothing `mu` relative to the mean dissimilarity; stage `s` of `S` uses `10^(S-1-s)` times it.
    pub fn smoothing(mut self, mu: f64) -> Self {
        self.smoothing = mu;
        self
    }
    /// Number of continuation stages.
    pub fn stages(mut self, s: usize) -> Self {
        self.stages = s;
        self
    }

    /// The smoothing of the last stage, relative to the mean dissimilarity.
    pub fn final_smoothing(&self) -> f64 {
        self.smoothing
    }

    /// Validate the parameters.
    pub fn check(&self) -> Result<()> {
        if self.max_iter == 0 || self.stages == 0 {
            return Err(GeometryError::InvalidParameter {
                name: "l1",
                reason: "max_iter and stages must be at least 1".into(),
            });
        }
        if !(self.smoothing.is_finite() && self.smoothing > 0.0) {
            return Err(GeometryError::InvalidParameter {
                name: "smoothing",
                reason: format!("must be finite and > 0, got {}", self.smoothing),
            });
        }
        Ok(())
    }

    /// Minimise L1 stress from `init` (typically a SMACOF solution).
    pub fn fit(
        &self,
        dissimilarities: ArrayView2<f64>,
        init: ArrayView2<f64>,
        weights: Option<ArrayView2<f64>>,
    ) -> Result<L1Result> {
        self.check()?;
        validate::dissimilarities(&dissimilarities, 3)?;
        let n = dissimilarities.nrows();
        validate::points("initial configuration", &init, 3)?;
        if init.nrows() != n {
            return Err(GeometryError::ShapeMismatch {
                what: "initial configuration",
                got: init.dim(),
                expected: (n, init.ncols()),
            });
        }
        if let Some(w) = &weights {
            validate::weights(w, n)?;
        }
        let delta = dissimilarities.as_standard_layout();
        let w = weights.map(|w| w.as_standard_layout().into_owned());
        let x = self.refine(
            delta.as_slice().expect("standard"),
            w.as_ref().map(|w| w.as_slice().expect("standard")),
            init.as_standard_layout().into_owned(),
            None,
        )?;
        let initial = l1_stress(init, dissimilarities, w.as_ref().map(|w| w.view()))?;
        let (embedding, n_iter) = x;
        let fin = l1_stress(
            embedding.view(),
            dissimilarities,
            w.as_ref().map(|w| w.view()),
        )?;
        // The smoothed optimum can in principle be worse in exact L1 terms; never return a worse result.
        let (embedding, fin) = if fin <= initial {
            (embedding, fin)
        } else {
            (init.to_owned(), initial)
        };
        Ok(L1Result {
            embedding,
            l1_stress: fin,
            initial_l1_stress: initial,
            n_iter,
        })
    }

    /// Continuation stages on validated slices; rows flagged `fixed` do not move.
    pub(crate) fn refine(
        &self,
        delta: &[f64],
        weights: Option<&[f64]>,
        init: Array2<f64>,
        fixed: Option<&[bool]>,
    ) -> Result<(Array2<f64>, u64)> {
        let (n, p) = init.dim();
        let mean_delta = delta.iter().sum::<f64>() / ((n * n - n).max(1) as f64);
        let mut x = init.into_raw_vec_and_offset().0;
        let mut iters = 0;
        for stage in 0..self.stages {
            let mu = self.smoothing * mean_delta * 10f64.powi((self.stages - 1 - stage) as i32);
            let obj = PairObjective::new(
                delta,
                weights,
                p,
                PairLossKind::SmoothAbs { mu },
                fixed,
                None,
            );
            let (next, _cost, it) = minimise_lbfgs(obj, x.clone(), self.max_iter)?;
            iters += it;
            x = next;
        }
        Ok((Array2::from_shape_vec((n, p), x).expect("n x p"), iters))
    }
}
