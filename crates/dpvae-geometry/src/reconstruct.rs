//! One entry point from a latent matrix to coordinates: `ReconstructParams::new(method)` with optional settings
//! and anchors, then `.check()?.run(latent.view())` (the CLI's `dpvae reconstruct` and the placement of query
//! spots both call it this way).
//!
//! Path selection: `Direct` uses a latent of exactly `n_components` dimensions as the coordinates, rotated,
//! scaled and translated onto the anchors by Procrustes when 3+ anchors in general position are given (hard
//! anchors then returned exactly), as it is otherwise. `Smacof` and `L1` use the dense path (n x n distance
//! matrix; SMACOF, L1 refinement, or anchored imputation when anchors are given) while `8 n^2` bytes fit in the
//! memory budget, and the landmark path (landmark MDS, sampled-pair refinement, anchors placed rigidly) above it.

use dpvae_core::distance::euclidean_rows;
use ndarray::{Array2, ArrayView2};
use tracing::{info, warn};

use crate::anchors::{
    AnchorMode, Anchors, Frame, ImputeParams, LatentScale, StressKind, place_on_anchors,
};
use crate::distance::{dense_matrix_bytes, pairwise_distances};
use crate::error::{GeometryError, Result};
use crate::l1::L1Params;
use crate::landmark::{LandmarkParams, SampledLoss};
use crate::procrustes::ProcrustesParams;
use crate::smacof::SmacofParams;
use crate::validate;

/// Default memory budget for the dense path: 2 GiB (n up to about 16 000).
pub const DEFAULT_MEMORY_BUDGET: u64 = 2 << 30;

/// How coordinates are obtained from the latent representation. Parses from (and prints as) `direct`,
/// `smacof` or `l1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum Method {
    /// The latent itself (requires a latent of dimension `n_components`).
    Direct,
    /// Metric SMACOF on latent distances (classical-MDS start).
    Smacof,
    /// SMACOF followed by L1-stress refinement (the paper's objective).
    L1,
}

impl Method {
    /// The name the command line and config files use.
    pub fn name(self) -> &'static str {
        match self {
            Method::Direct => "direct",
            Method::Smacof => "smacof",
            Method::L1 => "l1",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Method {
    type Err = GeometryError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "direct" => Ok(Method::Direct),
            "smacof" => Ok(Method::Smacof),
            "l1" => Ok(Method::L1),
            other => Err(GeometryError::InvalidParameter {
                name: "method",
                reason: format!(
                    "unknown reconstruction method '{other}' (expected direct, smacof or l1)"
                ),
            }),
        }
    }
}

/// Which solver actually ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SolverPath {
    /// The latent was returned (possibly aligned to anchors).
    Direct,
    /// Dense n x n dissimilarities.
    Dense,
    /// Landmark MDS with sampled-pair refinement (n x n over the memory budget).
    Landmark,
}

/// Reconstruction parameters (unchecked).
#[derive(Debug, Clone, PartialEq)]
pub struct ReconstructParams {
    method: Method,
    smacof: SmacofParams,
    l1: L1Params,
    landmarks: LandmarkParams,
    memory_budget: u64,
    anchors: Option<Anchors>,
    anchor_mode: AnchorMode,
    scale: LatentScale,
}

/// Validated reconstruction parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconstructValidParams(ReconstructParams);

/// Reconstructed coordinates and how they were obtained.
#[derive(Debug, Clone)]
pub struct Reconstruction {
    /// `n x n_components` coordinates (anchor units when anchored, latent units otherwise).
    pub coords: Array2<f64>,
    /// Solver path taken.
    pub path: SolverPath,
    /// Stress-1 against the latent distances (dense: exact; landmark: estimated on sampled pairs; direct: 0).
    pub stress1: f64,
    /// Whether `coords` are in the anchors' frame or only up to a similarity transform.
    pub frame: Frame,
    /// The latent scale `lambda` used (1 when no anchors fixed it).
    pub latent_scale: f64,
    /// Solver iterations on the dense path (0 otherwise).
    pub n_iter: usize,
}

impl ReconstructParams {
    /// Parameters for `method` with 2 components, default SMACOF/L1/landmark settings, a 2 GiB budget and
    /// no anchors.
    pub fn new(method: Method) -> Self {
        Self {
            method,
            smacof: SmacofParams::default(),
            l1: L1Params::default(),
            landmarks: LandmarkParams::default(),
            memory_budget: DEFAULT_MEMORY_BUDGET,
            anchors: None,
            anchor_mode: AnchorMode::Hard,
            scale: LatentScale::FromAnchors,
        }
    }
    /// SMACOF settings (also fixes `n_components`).
    pub fn smacof(mut self, p: SmacofParams) -> Self {
        self.smacof = p;
        self
    }
    /// L1 refinement settings.
    pub fn l1(mut self, p: L1Params) -> Self {
        self.l1 = p;
        self
    }
    /// Landmark-path settings.
    pub fn landmarks(mut self, p: LandmarkParams) -> Self {
        self.landmarks = p;
        self
    }
    /// Bytes the dense n x n path may use before switching to landmarks.
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.memory_budget = bytes;
        self
    }
    /// Anchor spots and how they constrain the solution.
    pub fn anchors(mut self, anchors: Anchors, mode: AnchorMode) -> Self {
        self.anchors = Some(anchors);
        self.anchor_mode = mode;
        self
    }
    /// The latent scale `lambda` (default: estimated from the anchors).
    pub fn latent_scale(mut self, scale: LatentScale) -> Self {
        self.scale = scale;
        self
    }

    /// Validate everything that does not depend on the data.
    pub fn check(self) -> Result<ReconstructValidParams> {
        let smacof = self.smacof.clone().check()?;
        self.l1.check()?;
        self.landmarks.check()?;
        if let Some(a) = &self.anchors {
            if a.coords().ncols() != smacof.params().get_n_components() {
                return Err(GeometryError::InvalidAnchors(format!(
                    "anchors are {}-D but {} components were requested",
                    a.coords().ncols(),
                    smacof.params().get_n_components()
                )));
            }
            self.impute_params().check()?;
        }
        Ok(ReconstructValidParams(self))
    }

    fn impute_params(&self) -> ImputeParams {
        ImputeParams::new()
            .mode(self.anchor_mode)
            .scale(self.scale)
            .stress(if self.method == Method::L1 {
                StressKind::L1
            } else {
                StressKind::Squared
            })
            .l1(self.l1.clone())
    }
}

impl ReconstructValidParams {
    /// Reconstruct coordinates from an `n x k` latent matrix.
    pub fn run(&self, latent: ArrayView2<f64>) -> Result<Reconstruction> {
        let prm = &self.0;
        validate::points("latent", &latent, 3)?;
        let n = latent.nrows();
        let p = prm.smacof.get_n_components();
        if let Some(a) = &prm.anchors
            && let Some(&i) = a.indices().iter().find(|&&i| i >= n)
        {
            return Err(GeometryError::InvalidAnchors(format!(
                "index {i} out of range for {n} points"
            )));
        }
        if prm.method == Method::Direct {
            return self.direct(latent, p);
        }
        if p >= n {
            return Err(GeometryError::InvalidParameter {
                name: "n_components",
                reason: format!("{p} components for {n} points"),
            });
        }
        let needed = dense_matrix_bytes(n);
        if needed <= prm.memory_budget {
            self.dense(latent)
        } else {
            info!(
                n,
                needed_bytes = needed,
                budget_bytes = prm.memory_budget,
                "n x n distances exceed the memory budget: using landmark MDS"
            );
            self.landmark(latent, p)
        }
    }

    fn direct(&self, latent: ArrayView2<f64>, p: usize) -> Result<Reconstruction> {
        let prm = &self.0;
        if latent.ncols() != p {
            return Err(GeometryError::InvalidParameter {
                name: "method",
                reason: format!(
                    "direct needs a {p}-D latent, got {} dimensions",
                    latent.ncols()
                ),
            });
        }
        let mut coords = latent.to_owned();
        let mut frame = Frame::UpToSimilarity;
        let mut latent_scale = 1.0;
        if let Some(a) = &prm.anchors {
            if a.determines_frame() {
                let est = coords.select(ndarray::Axis(0), a.indices());
                let fit = ProcrustesParams::new().fit(a.coords().view(), est.view())?;
                coords = fit.transform(coords.view())?;
                latent_scale = 1.0 / fit.scale;
                frame = Frame::Anchors;
                if prm.anchor_mode == AnchorMode::Hard {
                    for (r, &i) in a.indices().iter().enumerate() {
                        coords.row_mut(i).assign(&a.coords().row(r));
                    }
                }
            } else {
                warn!(
                    "direct: fewer than 3 anchors in general position, latent returned unaligned"
                );
            }
        }
        Ok(Reconstruction {
            coords,
            path: SolverPath::Direct,
            stress1: 0.0,
            frame,
            latent_scale,
            n_iter: 0,
        })
    }

    fn dense(&self, latent: ArrayView2<f64>) -> Result<Reconstruction> {
        let prm = &self.0;
        let delta = pairwise_distances(latent)?;
        if let Some(a) = &prm.anchors {
            let smacof = prm.smacof.clone().check()?;
            let imp = prm
                .impute_params()
                .max_iter(smacof.params().max_iter_value())
                .eps(smacof.params().eps_value())
                .seed(smacof.params().seed_value())
                .fit(delta.view(), a)?;
            return Ok(Reconstruction {
                coords: imp.coords,
                path: SolverPath::Dense,
                stress1: imp.stress1,
                frame: imp.frame,
                latent_scale: imp.latent_scale,
                n_iter: imp.n_iter,
            });
        }
        let sm = prm.smacof.clone().fit(delta.view())?;
        let (coords, stress1, n_iter) = if prm.method == Method::L1 {
            let weights = prm.smacof.weights_value().map(|w| w.view());
            let r = prm.l1.fit(delta.view(), sm.embedding.view(), weights)?;
            let s = crate::distance::stress(r.embedding.view(), delta.view(), weights)?;
            (r.embedding, s.stress1, sm.n_iter + r.n_iter as usize)
        } else {
            (sm.embedding, sm.stress1, sm.n_iter)
        };
        Ok(Reconstruction {
            coords,
            path: SolverPath::Dense,
            stress1,
            frame: Frame::UpToSimilarity,
            latent_scale: 1.0,
            n_iter,
        })
    }

    fn landmark(&self, latent: ArrayView2<f64>, p: usize) -> Result<Reconstruction> {
        let prm = &self.0;
        if prm.smacof.weights_value().is_some() {
            return Err(GeometryError::OverBudget {
                what: "weighted reconstruction (weights are an n x n matrix)",
                needed_bytes: 2 * dense_matrix_bytes(latent.nrows()),
                budget_bytes: prm.memory_budget,
            });
        }
        let lat = latent.as_standard_layout();
        let loss = if prm.method == Method::L1 {
            SampledLoss::Absolute
        } else {
            SampledLoss::Squared
        };
        let emb = prm
            .landmarks
            .embed(lat.as_slice().expect("standard"), latent.ncols(), p, loss);
        let mut coords = emb.embedding;
        let mut frame = Frame::UpToSimilarity;
        let mut latent_scale = 1.0;
        if let Some(a) = &prm.anchors {
            // Scale from the anchors' latent distances, rigid placement, exact anchors in hard mode.
            latent_scale = match prm.scale {
                LatentScale::Fixed(l) => l,
                LatentScale::FromAnchors => anchor_scale_from_latent(&latent, a),
            };
            coords /= latent_scale;
            let before = coords.clone();
            place_on_anchors(&mut coords, a.indices(), a.coords());
            if prm.anchor_mode != AnchorMode::Hard {
                for &i in a.indices() {
                    coords.row_mut(i).assign(&before.row(i));
                }
            }
            if a.determines_frame() {
                frame = Frame::Anchors;
            } else {
                warn!(
                    "fewer than 3 anchors in general position: result only defined up to a similarity"
                );
            }
        }
        Ok(Reconstruction {
            coords,
            path: SolverPath::Landmark,
            stress1: emb.stress1_sampled,
            frame,
            latent_scale,
            n_iter: 0,
        })
    }
}

/// Least-squares `lambda` from the anchors' latent and spatial pairwise distances (1 if undetermined).
fn anchor_scale_from_latent(latent: &ArrayView2<f64>, a: &Anchors) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    let idx = a.indices();
    for r in 0..idx.len() {
        for s in (r + 1)..idx.len() {
            let dz = euclidean_rows(latent.row(idx[r]), latent.row(idx[s]));
            let ds = euclidean_rows(a.coords().row(r), a.coords().row(s));
            num += dz * ds;
            den += ds * ds;
        }
    }
    if den > 0.0 && num > 0.0 {
        num / den
    } else {
        1.0
    }
}

/// Reconstruct with default parameters for `method` (no anchors).
pub fn reconstruct(latent: ArrayView2<f64>, method: Method) -> Result<Reconstruction> {
    ReconstructParams::new(method).check()?.run(latent)
}
