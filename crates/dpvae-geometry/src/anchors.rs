//! Imputation of coordinates from latent distances with anchor spots whose true coordinates are known
//! (the paper's eq. 6-7 and its penalised relaxation).
//!
//! Latent distances live on another scale than tissue coordinates: the dp loss fits
//! `||z_i - z_j|| ~ lambda ||s_i - s_j||`. We estimate `lambda` from the anchors' pairwise distances
//! (least squares `delta_ab ~ lambda ||s_a - s_b||`) unless it is given, then solve in latent units with the
//! anchors scaled by `lambda`, and divide the result by `lambda`.

use dpvae_core::distance::euclidean_rows;
use ndarray::{Array2, ArrayView2};
use tracing::warn;

use crate::cmds::classical_mds_unchecked;
use crate::distance::stress1;
use crate::error::{GeometryError, Result};
use crate::kernel::{GuttmanLoss, pair_pass};
use crate::l1::L1Params;
use crate::objective::{AnchorPenalty, PairLossKind, PairObjective, minimise_lbfgs};
use crate::procrustes::rigid_fit;
use crate::smacof::run_smacof;
use crate::validate;
use dpvae_data::linalg::svd_square;

/// Spots with known coordinates: row `indices[r]` of the data sits at `coords[r]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Anchors {
    indices: Vec<usize>,
    coords: Array2<f64>,
}

impl Anchors {
    /// Anchors from row indices and their `a x p` coordinates (indices must be distinct).
    pub fn new(indices: Vec<usize>, coords: Array2<f64>) -> Result<Self> {
        if indices.len() != coords.nrows() {
            return Err(GeometryError::InvalidAnchors(format!(
                "{} indices but {} coordinate rows",
                indices.len(),
                coords.nrows()
            )));
        }
        if coords.ncols() == 0 {
            return Err(GeometryError::InvalidAnchors(
                "coordinates have zero columns".into(),
            ));
        }
        validate::finite("anchor coordinates", &coords.view())?;
        let mut sorted = indices.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(GeometryError::InvalidAnchors(format!(
                "index {} appears twice",
                w[0]
            )));
        }
        Ok(Self { indices, coords })
    }
    /// Row indices of the anchors.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }
    /// Anchor coordinates, `a x p`.
    pub fn coords(&self) -> &Array2<f64> {
        &self.coords
    }
    /// Number of anchors.
    pub fn len(&self) -> usize {
        self.indices.len()
    }
    /// Whether there are no anchors.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
    /// Whether the anchors pin down a frame: at least `p + 1` of them in general position (3 non-collinear
    /// points in 2-D). Otherwise a rotation/reflection (and, below 2 anchors, the scale) stays free.
    pub fn determines_frame(&self) -> bool {
        let p = self.coords.ncols();
        if self.len() < p + 1 {
            return false;
        }
        let mean = self.coords.mean_axis(ndarray::Axis(0)).expect("rows > 0");
        let c = &self.coords - &mean;
        let (_u, s, _v) = svd_square(&c.t().dot(&c));
        s[p - 1] > 1e-12 * s[0].max(f64::MIN_POSITIVE)
    }

    fn check_against(&self, n: usize) -> Result<()> {
        if let Some(&i) = self.indices.iter().find(|&&i| i >= n) {
            return Err(GeometryError::InvalidAnchors(format!(
                "index {i} out of range for {n} points"
            )));
        }
        Ok(())
    }
}

/// How anchors constrain the solution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnchorMode {
    /// Anchors are fixed exactly at their coordinates; only the other points move.
    Hard,
    /// All points move; `gamma * sum_a ||s_hat_a - s_a||` (coordinates in anchor units) is added to the stress.
    Penalty { gamma: f64 },
}

impl AnchorMode {
    /// The name the command line and config files use (`hard` or `penalty`; the weight is given apart).
    pub fn name(self) -> &'static str {
        match self {
            AnchorMode::Hard => "hard",
            AnchorMode::Penalty { .. } => "penalty",
        }
    }

    /// The same mode with penalty weight `gamma` (a hard mode stays hard).
    pub fn with_gamma(self, gamma: f64) -> Self {
        match self {
            AnchorMode::Hard => AnchorMode::Hard,
            AnchorMode::Penalty { .. } => AnchorMode::Penalty { gamma },
        }
    }
}

impl std::fmt::Display for AnchorMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `hard`, `penalty` (weight 1) or `penalty:GAMMA`.
impl std::str::FromStr for AnchorMode {
    type Err = GeometryError;
    fn from_str(s: &str) -> Result<Self> {
        let (name, gamma) = s.split_once(':').unwrap_or((s, "1"));
        match name.to_ascii_lowercase().as_str() {
            "hard" if gamma == "1" => Ok(AnchorMode::Hard),
            "penalty" => match gamma.parse::<f64>() {
                Ok(g) if g.is_finite() && g > 0.0 => Ok(AnchorMode::Penalty { gamma: g }),
                _ => Err(GeometryError::InvalidParameter {
                    name: "anchor_mode",
                    reason: format!(
                        "anchor mode '{s}': the penalty weight must be a positive number"
                    ),
                }),
            },
            _ => Err(GeometryError::InvalidParameter {
                name: "anchor_mode",
                reason: format!(
                    "unknown anchor mode '{s}' (expected hard, penalty or penalty:GAMMA)"
                ),
            }),
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for AnchorMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for AnchorMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The scale `lambda` with `latent distance ~ lambda * spatial distance`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LatentScale {
    /// Least squares over the anchors' pairwise distances (needs 2+ anchors; 1 is used otherwise).
    FromAnchors,
    /// A known value (e.g. the `lambda` the model learnt).
    Fixed(f64),
}

/// Which stress the imputation minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StressKind {
    /// `sum (d - delta)^2` (SMACOF with fixed points in hard mode).
    Squared,
    /// The paper's `sum |d - delta|` (L-BFGS on a smoothed absolute value).
    L1,
}

/// Where the imputed coordinates live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// In the anchors' frame (3+ anchors in general position): directly comparable to true coordinates.
    Anchors,
    /// Only defined up to a similarity transform (rotation/reflection/translation, and scale with < 2
    /// anchors): align with Procrustes before comparing.
    UpToSimilarity,
}

/// Imputation parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ImputeParams {
    mode: AnchorMode,
    scale: LatentScale,
    stress: StressKind,
    max_iter: usize,
    eps: f64,
    l1: L1Params,
    penalty_smoothing: f64,
    seed: u64,
}

/// Imputed coordinates and diagnostics.
#[derive(Debug, Clone)]
pub struct Imputation {
    /// `n x p` coordinates in the anchors' units.
    pub coords: Array2<f64>,
    /// The `lambda` used (latent distance per unit of spatial distance).
    pub latent_scale: f64,
    /// Whether the result is in the anchors' frame.
    pub frame: Frame,
    /// Squared stress in anchor units: `sum_{i<j} (d_ij - delta_ij / lambda)^2`.
    pub raw_stress: f64,
    /// Kruskal stress-1 of the result.
    pub stress1: f64,
    /// Iterations (Guttman transforms or L-BFGS iterations).
    pub n_iter: usize,
}

impl Default for ImputeParams {
    fn default() -> Self {
        Self {
            mode: AnchorMode::Hard,
            scale: LatentScale::FromAnchors,
            stress: StressKind::Squared,
            max_iter: 300,
            eps: 1e-6,
            l1: L1Params::default(),
            penalty_smoothing: 1e-6,
            seed: 0,
        }
    }
}

impl ImputeParams {
    /// Defaults: hard anchors, scale from anchors, squared stress, 300 iterations, `eps = 1e-6`.
    pub fn new() -> Self {
        Self::default()
    }
    /// Hard constraints or a penalty.
    pub fn mode(mut self, mode: AnchorMode) -> Self {
        self.mode = mode;
        self
    }
    /// How `lambda` is obtained.
    pub fn scale(mut self, scale: LatentScale) -> Self {
        self.scale = scale;
        self
    }
    /// Squared (SMACOF) or L1 stress.
    pub fn stress(mut self, stress: StressKind) -> Self {
        self.stress = stress;
        self
    }
    /// Maximum SMACOF / L-BFGS iterations.
    pub fn max_iter(mut self, n: usize) -> Self {
        self.max_iter = n;
        self
    }
    /// SMACOF relative tolerance.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// L1 refinement settings (used with [`StressKind::L1`]).
    pub fn l1(mut self, l1: L1Params) -> Self {
        self.l1 = l1;
        self
    }
    /// Seed of the classical-MDS start.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validate the data-independent parameters.
    pub fn check(&self) -> Result<()> {
        if let AnchorMode::Penalty { gamma } = self.mode
            && !(gamma.is_finite() && gamma > 0.0)
        {
            return Err(GeometryError::InvalidParameter {
                name: "gamma",
                reason: format!("must be finite and > 0, got {gamma}"),
            });
        }
        if let LatentScale::Fixed(l) = self.scale
            && !(l.is_finite() && l > 0.0)
        {
            return Err(GeometryError::InvalidParameter {
                name: "latent scale",
                reason: format!("must be finite and > 0, got {l}"),
            });
        }
        if self.max_iter == 0 {
            return Err(GeometryError::InvalidParameter {
                name: "max_iter",
                reason: "must be at least 1".into(),
            });
        }
        self.l1.check()
    }

    /// Impute coordinates for all `n` points from latent dissimilarities (`n x n`) and anchors.
    pub fn fit(&self, dissimilarities: ArrayView2<f64>, anchors: &Anchors) -> Result<Imputation> {
        self.check()?;
        validate::dissimilarities(&dissimilarities, 3)?;
        let n = dissimilarities.nrows();
        anchors.check_against(n)?;
        let p = anchors.coords.ncols();
        if p >= n {
            return Err(GeometryError::InvalidAnchors(format!(
                "{p}-D coordinates for {n} points"
            )));
        }
        let delta = dissimilarities.as_standard_layout();
        let delta = delta.as_slice().expect("standard");

        let lambda = self.latent_scale(delta, n, anchors)?;
        let frame = frame_of(anchors);
        // Work in latent units: anchors scaled by lambda.
        let target = &anchors.coords * lambda;
        let mut x = classical_mds_unchecked(delta, n, p, self.seed).embedding;
        place_on_anchors(&mut x, anchors.indices(), &target);
        let mut fixed = vec![false; n];
        anchors.indices.iter().for_each(|&i| fixed[i] = true);

        let (x, n_iter) = match (self.mode, self.stress) {
            (AnchorMode::Hard, StressKind::Squared) => {
                let fixed_opt = (!anchors.is_empty()).then_some(fixed.as_slice());
                let r = run_smacof(delta, None, x, fixed_opt, self.max_iter, self.eps);
                (r.embedding, r.n_iter)
            }
            (AnchorMode::Hard, StressKind::L1) => {
                let fixed_opt = (!anchors.is_empty()).then_some(fixed.as_slice());
                let start = run_smacof(delta, None, x, fixed_opt, self.max_iter, self.eps);
                let (y, it) = self
                    .l1
                    .refine(delta, None, start.embedding.clone(), fixed_opt)?;
                let better = l1_of(delta, &y) <= l1_of(delta, &start.embedding);
                (
                    if better { y } else { start.embedding },
                    start.n_iter + it as usize,
                )
            }
            (AnchorMode::Penalty { gamma }, kind) => {
                self.fit_penalty(delta, x, anchors, &target, gamma * lambda, kind)?
            }
        };
        let xs = x.as_standard_layout().into_owned();
        let sums = pair_pass(
            delta,
            None,
            xs.as_slice().expect("standard"),
            p,
            None,
            &GuttmanLoss,
        );
        let mut coords = x / lambda;
        if self.mode == AnchorMode::Hard {
            // Undo the rounding of the lambda round trip: hard anchors are returned bit-exact.
            for (r, &i) in anchors.indices.iter().enumerate() {
                coords.row_mut(i).assign(&anchors.coords.row(r));
            }
        }
        Ok(Imputation {
            coords,
            latent_scale: lambda,
            frame,
            raw_stress: sums.loss / (lambda * lambda),
            stress1: stress1(sums.loss, sums.sum_d2),
            n_iter,
        })
    }

    /// The soft-anchor path: minimise the (squared or smoothed L1) stress plus the anchor penalty with L-BFGS from
    /// `x`, in latent units. `gamma_latent` is the user's gamma (per unit of spatial distance) times lambda: in latent
    /// units the same objective (times lambda^2) has gamma * lambda.
    fn fit_penalty(
        &self,
        delta: &[f64],
        x: Array2<f64>,
        anchors: &Anchors,
        target: &Array2<f64>,
        gamma_latent: f64,
        kind: StressKind,
    ) -> Result<(Array2<f64>, usize)> {
        let (n, p) = x.dim();
        let mean_delta = delta.iter().sum::<f64>() / ((n * n - n) as f64);
        let loss = match kind {
            StressKind::Squared => PairLossKind::Squared,
            StressKind::L1 => PairLossKind::SmoothAbs {
                mu: self.l1.final_smoothing() * mean_delta,
            },
        };
        let penalty = AnchorPenalty {
            indices: anchors.indices.clone(),
            coords: target.as_standard_layout().iter().copied().collect(),
            gamma: gamma_latent,
            mu: self.penalty_smoothing * mean_delta,
        };
        let obj = PairObjective::new(delta, None, p, loss, None, Some(penalty));
        let x0 = x.as_standard_layout().iter().copied().collect();
        let (y, _c, it) = minimise_lbfgs(obj, x0, self.max_iter as u64)?;
        Ok((
            Array2::from_shape_vec((n, p), y).expect("n x p"),
            it as usize,
        ))
    }

    fn latent_scale(&self, delta: &[f64], n: usize, anchors: &Anchors) -> Result<f64> {
        match self.scale {
            LatentScale::Fixed(l) => Ok(l),
            LatentScale::FromAnchors => {
                let (mut num, mut den) = (0.0, 0.0);
                let idx = anchors.indices();
                for a in 0..idx.len() {
                    for b in (a + 1)..idx.len() {
                        let d = euclidean_rows(anchors.coords.row(a), anchors.coords.row(b));
                        num += delta[idx[a] * n + idx[b]] * d;
                        den += d * d;
                    }
                }
                if den > 0.0 && num > 0.0 {
                    Ok(num / den)
                } else {
                    warn!(
                        "cannot estimate the latent scale from fewer than 2 distinct anchors: using 1"
                    );
                    Ok(1.0)
                }
            }
        }
    }
}

/// Move a configuration rigidly onto the anchors (least squares over the anchors; 1 anchor: translation
/// only), then put the anchors exactly at their coordinates.
pub(crate) fn place_on_anchors(x: &mut Array2<f64>, indices: &[usize], target: &Array2<f64>) {
    if indices.is_empty() {
        return;
    }
    let est = x.select(ndarray::Axis(0), indices);
    if indices.len() >= 2 {
        let (q, b) = rigid_fit(target, &est);
        *x = x.dot(&q) + &b;
    } else {
        let shift = &target.row(0) - &est.row(0);
        *x += &shift;
    }
    for (r, &i) in indices.iter().enumerate() {
        x.row_mut(i).assign(&target.row(r));
    }
}

fn l1_of(delta: &[f64], x: &Array2<f64>) -> f64 {
    let xs = x.as_standard_layout();
    pair_pass(
        delta,
        None,
        xs.as_slice().expect("standard"),
        x.ncols(),
        None,
        &crate::kernel::AbsLoss,
    )
    .loss
}
/// The frame the anchors fix: all of it for 3+ anchors in general position, otherwise only up to a similarity
/// (warned about, since the imputed coordinates are then not comparable with the anchors' frame).
fn frame_of(anchors: &Anchors) -> Frame {
    if anchors.determines_frame() {
        Frame::Anchors
    } else {
        warn!(
            n_anchors = anchors.len(),
            "fewer than 3 anchors in general position: imputed coordinates are only defined up to \
             rotation/reflection/translation{}",
            if anchors.len() < 2 { " and scale" } else { "" }
        );
        Frame::UpToSimilarity
    }
}
