//! Smooth stress objectives for argmin's L-BFGS: squared or smoothed-absolute stress over all pairs, with
//! optional fixed rows and an optional anchor penalty `gamma * sum_a sqrt(||x_a - s_a||^2 + mu^2)`.

use std::sync::Mutex;

use argmin::core::{CostFunction, Error as ArgminError, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

use crate::error::{GeometryError, Result};
use crate::kernel::{SmoothAbsGradLoss, SquaredGradLoss, pair_pass};

/// Which per-pair loss the objective sums.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PairLossKind {
    /// `(d - delta)^2`.
    Squared,
    /// `sqrt((d - delta)^2 + mu^2)`, a smooth stand-in for `|d - delta|`.
    SmoothAbs { mu: f64 },
}

/// Soft anchor term: `gamma * sum_a sqrt(||x_a - s_a||^2 + mu^2)`.
#[derive(Debug, Clone)]
pub(crate) struct AnchorPenalty {
    pub indices: Vec<usize>,
    /// Row-major `a x p` anchor coordinates.
    pub coords: Vec<f64>,
    pub gamma: f64,
    pub mu: f64,
}

/// The last evaluation: point, cost, gradient.
type Evaluation = (Vec<f64>, f64, Vec<f64>);

pub(crate) struct PairObjective<'a> {
    pub delta: &'a [f64],
    pub weights: Option<&'a [f64]>,
    pub p: usize,
    pub loss: PairLossKind,
    pub fixed: Option<&'a [bool]>,
    pub penalty: Option<AnchorPenalty>,
    /// argmin asks for cost and gradient separately at the same point; one pair pass gives both.
    cache: Mutex<Option<Evaluation>>,
}

impl<'a> PairObjective<'a> {
    pub fn new(
        delta: &'a [f64],
        weights: Option<&'a [f64]>,
        p: usize,
        loss: PairLossKind,
        fixed: Option<&'a [bool]>,
        penalty: Option<AnchorPenalty>,
    ) -> Self {
        Self {
            delta,
            weights,
            p,
            loss,
            fixed,
            penalty,
            cache: Mutex::new(None),
        }
    }

    /// Objective value and gradient at `x` (row-major `n x p`).
    pub fn evaluate(&self, x: &[f64]) -> (f64, Vec<f64>) {
        if let Some((cx, c, g)) = self.cache.lock().expect("cache lock").as_ref()
            && cx.as_slice() == x
        {
            return (*c, g.clone());
        }
        let mut grad = vec![0.0; x.len()];
        let sums = match self.loss {
            PairLossKind::Squared => pair_pass(
                self.delta,
                self.weights,
                x,
                self.p,
                Some(&mut grad),
                &SquaredGradLoss,
            ),
            PairLossKind::SmoothAbs { mu } => pair_pass(
                self.delta,
                self.weights,
                x,
                self.p,
                Some(&mut grad),
                &SmoothAbsGradLoss { mu },
            ),
        };
        let mut cost = sums.loss;
        // The row sums count each pair from both ends, which is exactly d/dx_i of the i<j sum.
        if let Some(pen) = &self.penalty {
            let p = self.p;
            for (r, &i) in pen.indices.iter().enumerate() {
                let mut sq = 0.0;
                for k in 0..p {
                    let t = x[i * p + k] - pen.coords[r * p + k];
                    sq += t * t;
                }
                let s = (sq + pen.mu * pen.mu).sqrt();
                cost += pen.gamma * s;
                for k in 0..p {
                    grad[i * p + k] += pen.gamma * (x[i * p + k] - pen.coords[r * p + k]) / s;
                }
            }
        }
        if let Some(fixed) = self.fixed {
            for (i, _) in fixed.iter().enumerate().filter(|(_, f)| **f) {
                grad[i * self.p..(i + 1) * self.p]
                    .iter_mut()
                    .for_each(|g| *g = 0.0);
            }
        }
        *self.cache.lock().expect("cache lock") = Some((x.to_vec(), cost, grad.clone()));
        (cost, grad)
    }
}

impl CostFunction for PairObjective<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, x: &Self::Param) -> std::result::Result<f64, ArgminError> {
        Ok(self.evaluate(x).0)
    }
}

impl Gradient for PairObjective<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, x: &Self::Param) -> std::result::Result<Vec<f64>, ArgminError> {
        Ok(self.evaluate(x).1)
    }
}

/// Minimise with L-BFGS (memory 10, More-Thuente line search). Returns the best point and its cost and
/// the iterations used. Fixed rows keep zero gradient, so L-BFGS never moves them.
pub(crate) fn minimise_lbfgs(
    objective: PairObjective<'_>,
    x0: Vec<f64>,
    max_iter: u64,
) -> Result<(Vec<f64>, f64, u64)> {
    let (c0, _) = objective.evaluate(&x0);
    // Relative cost tolerance: stress values range over many orders of magnitude with the units.
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_cost(1e-13 * c0.abs().max(f64::MIN_POSITIVE))
        .and_then(|s| s.with_tolerance_grad(1e-12))
        .map_err(|e| GeometryError::Optimiser(e.to_string()))?;
    let res = Executor::new(objective, solver)
        .configure(|state| state.param(x0.clone()).max_iters(max_iter))
        .run()
        .map_err(|e| GeometryError::Optimiser(e.to_string()))?;
    let state = res.state();
    let iters = state.get_iter();
    match state.get_best_param() {
        Some(best) if state.get_best_cost() <= c0 => {
            Ok((best.clone(), state.get_best_cost(), iters))
        }
        _ => Ok((x0, c0, iters)),
    }
}
