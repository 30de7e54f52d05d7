//! Metric SMACOF (Scaling by MAjorizing a COmplicated Function), optionally weighted and with fixed points.
//!
//! Each iteration replaces `X` by the Guttman transform `V^+ B(X) X`, which never increases the stress
//! `sum_{i<j} w_ij (d_ij(X) - delta_ij)^2`. Unweighted, `V^+` is `1/n` on centred configurations; with fixed
//! points it has a closed form by Sherman-Morrison; with weights the system `V X = B(X) X` is solved by
//! conjugate gradients (warm-started from the previous configuration).

use ndarray::{Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tracing::{debug, warn};

use crate::cmds::classical_mds_unchecked;
use crate::distance::stress1;
use crate::error::{GeometryError, Result};
use crate::kernel::{GuttmanLoss, laplacian_matvec, pair_pass};
use crate::validate;

/// How each SMACOF run starts.
#[derive(Debug, Clone, PartialEq)]
pub enum SmacofInit {
    /// First run from classical MDS, further runs (`n_init > 1`) from random configurations.
    Classical,
    /// Every run from a uniform random configuration in `[0, 1)^p` (scikit-learn's choice).
    Random,
    /// A single run from the given `n x p` configuration (`n_init` is ignored).
    Given(Array2<f64>),
}

/// SMACOF parameters (unchecked); call [`SmacofParams::check`] or [`SmacofParams::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct SmacofParams {
    n_components: usize,
    n_init: usize,
    max_iter: usize,
    eps: f64,
    seed: u64,
    weights: Option<Array2<f64>>,
    init: SmacofInit,
}

/// Validated SMACOF parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct SmacofValidParams(SmacofParams);

/// Outcome of SMACOF: the best of `n_init` runs.
#[derive(Debug, Clone)]
pub struct SmacofResult {
    /// `n x n_components` configuration.
    pub embedding: Array2<f64>,
    /// `sum_{i<j} w_ij (d_ij - delta_ij)^2` (sklearn's raw stress).
    pub raw_stress: f64,
    /// Kruskal's stress-1 `sqrt(raw / sum_{i<j} w_ij d_ij^2)`.
    pub stress1: f64,
    /// Guttman transforms applied in the best run.
    pub n_iter: usize,
    /// Whether the best run stopped on the tolerance rather than `max_iter`.
    pub converged: bool,
}

impl Default for SmacofParams {
    fn default() -> Self {
        Self {
            n_components: 2,
            n_init: 1,
            max_iter: 300,
            eps: 1e-6,
            seed: 0,
            weights: None,
            init: SmacofInit::Classical,
        }
    }
}

impl SmacofParams {
    /// Defaults: 2 components, 1 run from classical MDS, 300 iterations, `eps = 1e-6`, seed 0, no weights
    /// (scikit-learn 1.9's defaults except the classical start).
    pub fn new() -> Self {
        Self::default()
    }
    /// Embedding dimension.
    pub fn n_components(mut self, k: usize) -> Self {
        self.n_components = k;
        self
    }
    /// Number of runs; the lowest stress wins.
    pub fn n_init(mut self, n: usize) -> Self {
        self.n_init = n;
        self
    }
    /// Maximum Guttman transforms per run.
    pub fn max_iter(mut self, n: usize) -> Self {
        self.max_iter = n;
        self
    }
    /// Relative tolerance: stop when `(stress_old - stress) / sum_{i<j} d_ij^2 < eps` (scikit-learn's rule).
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// Seed of the random starts.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Symmetric non-negative `n x n` weights `w_ij`.
    pub fn weights(mut self, w: Option<Array2<f64>>) -> Self {
        self.weights = w;
        self
    }
    /// Starting configuration strategy.
    pub fn init(mut self, init: SmacofInit) -> Self {
        self.init = init;
        self
    }
    /// Current embedding dimension.
    pub fn get_n_components(&self) -> usize {
        self.n_components
    }
    /// Current maximum iterations.
    pub fn max_iter_value(&self) -> usize {
        self.max_iter
    }
    /// Current tolerance.
    pub fn eps_value(&self) -> f64 {
        self.eps
    }
    /// Current seed.
    pub fn seed_value(&self) -> u64 {
        self.seed
    }
    /// Current weights.
    pub fn weights_value(&self) -> Option<&Array2<f64>> {
        self.weights.as_ref()
    }

    /// Validate the parameters that do not depend on the data.
    pub fn check(self) -> Result<SmacofValidParams> {
        let bad = |name, reason: &str| {
            Err(GeometryError::InvalidParameter {
                name,
                reason: reason.to_string(),
            })
        };
        if self.n_components == 0 {
            return bad("n_components", "must be at least 1");
        }
        if self.n_init == 0 {
            return bad("n_init", "must be at least 1");
        }
        if self.max_iter == 0 {
            return bad("max_iter", "must be at least 1");
        }
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return bad("eps", "must be finite and >= 0");
        }
        if let SmacofInit::Given(x) = &self.init {
            if x.ncols() != self.n_components {
                return bad("init", "given configuration must have n_components columns");
            }
            validate::finite("init", &x.view())?;
        }
        Ok(SmacofValidParams(self))
    }

    /// Check and fit in one call.
    pub fn fit(self, dissimilarities: ArrayView2<f64>) -> Result<SmacofResult> {
        self.check()?.fit(dissimilarities)
    }
}

impl SmacofValidParams {
    /// The parameters.
    pub fn params(&self) -> &SmacofParams {
        &self.0
    }

    /// Run SMACOF on an `n x n` dissimilarity matrix.
    pub fn fit(&self, dissimilarities: ArrayView2<f64>) -> Result<SmacofResult> {
        let p = &self.0;
        validate::dissimilarities(&dissimilarities, 3)?;
        let n = dissimilarities.nrows();
        if p.n_components >= n {
            return Err(GeometryError::InvalidParameter {
                name: "n_components",
                reason: format!("{} components for {n} points", p.n_components),
            });
        }
        if let Some(w) = &p.weights {
            validate::weights(&w.view(), n)?;
        }
        if let SmacofInit::Given(x) = &p.init
            && x.nrows() != n
        {
            return Err(GeometryError::ShapeMismatch {
                what: "initial configuration",
                got: x.dim(),
                expected: (n, p.n_components),
            });
        }
        let delta = dissimilarities.as_standard_layout();
        let delta = delta.as_slice().expect("standard");
        let w_owned = p
            .weights
            .as_ref()
            .map(|w| w.as_standard_layout().into_owned());
        let w = w_owned.as_ref().map(|w| w.as_slice().expect("standard"));

        let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
        let runs = match p.init {
            SmacofInit::Given(_) => {
                if p.n_init > 1 {
                    warn!(
                        n_init = p.n_init,
                        "explicit initial configuration: performing a single run"
                    );
                }
                1
            }
            _ => p.n_init,
        };
        let mut best: Option<SmacofResult> = None;
        for run in 0..runs {
            let x0 = match &p.init {
                SmacofInit::Given(x) => x.clone(),
                SmacofInit::Classical if run == 0 => {
                    classical_mds_unchecked(delta, n, p.n_components, p.seed).embedding
                }
                _ => Array2::from_shape_fn((n, p.n_components), |_| rng.r#gen::<f64>()),
            };
            let res = run_smacof(delta, w, x0, None, p.max_iter, p.eps);
            debug!(
                run,
                raw_stress = res.raw_stress,
                n_iter = res.n_iter,
                "smacof run finished"
            );
            if best.as_ref().is_none_or(|b| res.raw_stress < b.raw_stress) {
                best = Some(res);
            }
        }
        Ok(best.expect("at least one run"))
    }
}

/// One SMACOF run from `x0`. Rows flagged in `fixed` never move. Inputs are validated by the caller.
pub(crate) fn run_smacof(
    delta: &[f64],
    weights: Option<&[f64]>,
    x0: Array2<f64>,
    fixed: Option<&[bool]>,
    max_iter: usize,
    eps: f64,
) -> SmacofResult {
    let (n, p) = x0.dim();
    let mut x = x0
        .as_standard_layout()
        .into_owned()
        .into_raw_vec_and_offset()
        .0;
    let fixed = fixed.filter(|f| f.iter().any(|&b| b));
    if fixed.is_none() {
        centre_rows(&mut x, p);
    }
    let mut bx = vec![0.0; n * p];
    let mut prev: Option<f64> = None;
    let mut n_iter = 0;
    let mut last = None;
    let mut converged = false;
    for _ in 0..max_iter {
        let sums = pair_pass(delta, weights, &x, p, Some(&mut bx), &GuttmanLoss);
        if let Some(old) = prev
            && sums.sum_d2 > 0.0
            && (old - sums.loss) / sums.sum_d2 < eps
        {
            last = Some(sums);
            converged = true;
            break;
        }
        prev = Some(sums.loss);
        guttman_update(&mut x, &bx, weights, fixed, p);
        n_iter += 1;
    }
    let sums = match last {
        Some(s) => s,
        None => pair_pass(delta, weights, &x, p, None, &GuttmanLoss),
    };
    SmacofResult {
        embedding: Array2::from_shape_vec((n, p), x).expect("n x p"),
        raw_stress: sums.loss,
        stress1: stress1(sums.loss, sums.sum_d2),
        n_iter,
        converged,
    }
}

/// `X <- V^+ B(X) X` (all points free) or the fixed-point variant `X_f <- V_ff^{-1} (B X - V_fa X_a)_f`.
fn guttman_update(
    x: &mut [f64],
    bx: &[f64],
    weights: Option<&[f64]>,
    fixed: Option<&[bool]>,
    p: usize,
) {
    let n = x.len() / p;
    match (weights, fixed) {
        (None, None) => {
            let inv = 1.0 / n as f64;
            x.iter_mut().zip(bx).for_each(|(xi, b)| *xi = b * inv);
        }
        (None, Some(fixed)) => {
            // V = nI - 11^T, so (V x)_f = n x_f - sum(x): rhs = (BX)_f + sum_a x_a, and
            // V_ff^{-1} = (I + 11^T / a) / n with a the number of fixed points (Sherman-Morrison).
            let a = fixed.iter().filter(|&&f| f).count() as f64;
            let mut anchor_sum = vec![0.0; p];
            for i in (0..n).filter(|&i| fixed[i]) {
                for k in 0..p {
                    anchor_sum[k] += x[i * p + k];
                }
            }
            let mut rhs_sum = vec![0.0; p];
            for i in (0..n).filter(|&i| !fixed[i]) {
                for k in 0..p {
                    rhs_sum[k] += bx[i * p + k] + anchor_sum[k];
                }
            }
            let inv = 1.0 / n as f64;
            for i in (0..n).filter(|&i| !fixed[i]) {
                for k in 0..p {
                    x[i * p + k] = inv * (bx[i * p + k] + anchor_sum[k] + rhs_sum[k] / a);
                }
            }
        }
        (Some(w), fixed) => {
            let mut rhs = bx.to_vec();
            if let Some(fixed) = fixed {
                // Subtract V_fa X_a: V applied to the configuration with free rows zeroed.
                let free: Vec<bool> = fixed.iter().map(|f| !f).collect();
                let mut vfa = vec![0.0; n * p];
                laplacian_matvec(w, x, p, Some(&free), &mut vfa);
                for i in 0..n {
                    for k in 0..p {
                        rhs[i * p + k] = if fixed[i] {
                            0.0
                        } else {
                            rhs[i * p + k] - vfa[i * p + k]
                        };
                    }
                }
            }
            conjugate_gradient(w, &rhs, x, p, fixed);
        }
    }
}

/// Solve `V_ff y = rhs` (or `V y = rhs` on centred vectors when nothing is fixed) by conjugate gradients,
/// starting from and writing into the free rows of `x`.
fn conjugate_gradient(w: &[f64], rhs: &[f64], x: &mut [f64], p: usize, fixed: Option<&[bool]>) {
    let len = x.len();
    let is_fixed = |idx: usize| fixed.is_some_and(|f| f[idx / p]);
    let mut y: Vec<f64> = (0..len)
        .map(|i| if is_fixed(i) { 0.0 } else { x[i] })
        .collect();
    if fixed.is_none() {
        centre_rows(&mut y, p);
    }
    let mut vy = vec![0.0; len];
    laplacian_matvec(w, &y, p, fixed, &mut vy);
    mask_fixed(&mut vy, p, fixed);
    let mut r: Vec<f64> = (0..len)
        .map(|i| if is_fixed(i) { 0.0 } else { rhs[i] - vy[i] })
        .collect();
    if fixed.is_none() {
        centre_rows(&mut r, p);
    }
    let rhs_norm = rhs
        .iter()
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    let mut dir = r.clone();
    let mut rr: f64 = r.iter().map(|v| v * v).sum();
    let mut vd = vec![0.0; len];
    for _ in 0..(len.min(500)) {
        if rr.sqrt() <= 1e-12 * rhs_norm {
            break;
        }
        laplacian_matvec(w, &dir, p, fixed, &mut vd);
        mask_fixed(&mut vd, p, fixed);
        let dvd: f64 = dir.iter().zip(&vd).map(|(a, b)| a * b).sum();
        if dvd <= 0.0 {
            break;
        }
        let alpha = rr / dvd;
        for i in 0..len {
            y[i] += alpha * dir[i];
            r[i] -= alpha * vd[i];
        }
        let rr_new: f64 = r.iter().map(|v| v * v).sum();
        let beta = rr_new / rr;
        rr = rr_new;
        for i in 0..len {
            dir[i] = r[i] + beta * dir[i];
        }
    }
    for i in 0..len {
        if !is_fixed(i) {
            x[i] = y[i];
        }
    }
}

fn centre_rows(x: &mut [f64], p: usize) {
    let n = x.len() / p;
    for k in 0..p {
        let mean = (0..n).map(|i| x[i * p + k]).sum::<f64>() / n as f64;
        (0..n).for_each(|i| x[i * p + k] -= mean);
    }
}

fn mask_fixed(v: &mut [f64], p: usize, fixed: Option<&[bool]>) {
    if let Some(fixed) = fixed {
        for (i, _) in fixed.iter().enumerate().filter(|(_, f)| **f) {
            v[i * p..(i + 1) * p].iter_mut().for_each(|x| *x = 0.0);
        }
    }
}
