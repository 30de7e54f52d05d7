//! Procrustes analysis with scipy's definition (`scipy.spatial.procrustes`), plus the quantities the
//! evaluation needs: the similarity transform in the reference's units, per-spot residuals and the paper's
//! un-normalised form `min_{A,b,c} ||c A D1 + b - D2||_F`.

use ndarray::{Array1, Array2, ArrayView2, Axis};

use crate::error::{GeometryError, Result};
use crate::validate;
use dpvae_data::linalg::{determinant, svd_square};

/// Options for [`ProcrustesParams::fit`]. The default allows reflections, like scipy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcrustesParams {
    allow_reflection: bool,
}

impl Default for ProcrustesParams {
    fn default() -> Self {
        Self {
            allow_reflection: true,
        }
    }
}

/// The fitted alignment of `estimate` onto `reference`.
///
/// `aligned = scale * estimate . rotation + translation` (rows are points). `disparity` and the two
/// standardised matrices are exactly scipy's three return values.
#[derive(Debug, Clone)]
pub struct ProcrustesResult {
    /// scipy's disparity: sum of squared differences of the standardised, aligned matrices; `1 - s^2`,
    /// symmetric in its arguments, in `[0, 1]`.
    pub disparity: f64,
    /// Orthogonal `d x d` matrix acting on row vectors (determinant -1 when a reflection was used).
    pub rotation: Array2<f64>,
    /// Scale factor in the reference's units.
    pub scale: f64,
    /// Translation in the reference's units.
    pub translation: Array1<f64>,
    /// The estimate mapped into the reference's frame and units.
    pub aligned: Array2<f64>,
    /// Per-point distance between the aligned estimate and the reference (for error maps).
    pub residuals: Array1<f64>,
    /// `min_{A,b,c} ||c A D1 + b - D2||_F` with `D1` the estimate and `D2` the reference: the Frobenius
    /// norm of `aligned - reference` (equals `||reference - mean||_F * sqrt(disparity)`).
    pub unnormalised: f64,
    /// Whether the optimal orthogonal transform is a reflection.
    pub reflection: bool,
    /// scipy's first return value: the reference centred and scaled to unit Frobenius norm.
    pub reference_standardised: Array2<f64>,
    /// scipy's second return value: the standardised estimate after the optimal rotation and scaling.
    pub estimate_standardised: Array2<f64>,
}

impl ProcrustesResult {
    /// Apply the fitted similarity transform to other points given in the estimate's frame.
    pub fn transform(&self, points: ArrayView2<f64>) -> Result<Array2<f64>> {
        let d = self.rotation.nrows();
        if points.ncols() != d {
            return Err(GeometryError::ShapeMismatch {
                what: "points to transform",
                got: points.dim(),
                expected: (points.nrows(), d),
            });
        }
        Ok(points.dot(&self.rotation) * self.scale + &self.translation)
    }
}

impl ProcrustesParams {
    /// Default parameters (reflections allowed, as in scipy).
    pub fn new() -> Self {
        Self::default()
    }

    /// Allow (`true`, scipy's behaviour) or forbid (`false`: proper rotations only) reflections.
    pub fn allow_reflection(mut self, allow: bool) -> Self {
        self.allow_reflection = allow;
        self
    }

    /// Align `estimate` onto `reference` (both `n x d`, rows matched).
    pub fn fit(
        &self,
        reference: ArrayView2<f64>,
        estimate: ArrayView2<f64>,
    ) -> Result<ProcrustesResult> {
        validate::points("reference", &reference, 3)?;
        if estimate.dim() != reference.dim() {
            return Err(GeometryError::ShapeMismatch {
                what: "estimate",
                got: estimate.dim(),
                expected: reference.dim(),
            });
        }
        validate::finite("estimate", &estimate)?;

        let mean_r = reference.mean_axis(Axis(0)).expect("n >= 3");
        let mean_e = estimate.mean_axis(Axis(0)).expect("n >= 3");
        let centred_r = &reference - &mean_r;
        let centred_e = &estimate - &mean_e;
        let norm_r = frobenius(&centred_r);
        let norm_e = frobenius(&centred_e);
        if norm_r == 0.0 {
            return Err(GeometryError::ZeroSpread { what: "reference" });
        }
        if norm_e == 0.0 {
            return Err(GeometryError::ZeroSpread { what: "estimate" });
        }
        let std_r = centred_r / norm_r;
        let std_e = centred_e / norm_e;

        // scipy.linalg.orthogonal_procrustes(std_r, std_e): u w vt = svd(std_r^T std_e), R = u vt.
        let (u, w, v) = svd_square(&std_r.t().dot(&std_e));
        let d = w.len();
        let mut signs = Array1::<f64>::ones(d);
        if !self.allow_reflection && determinant(&u.dot(&v.t())) < 0.0 {
            signs[d - 1] = -1.0;
        }
        let r = (&u * &signs).dot(&v.t());
        let s: f64 = w.iter().zip(signs.iter()).map(|(a, b)| a * b).sum();
        let rotation = r.t().to_owned();
        let estimate_standardised = std_e.dot(&rotation) * s;
        let disparity = (&std_r - &estimate_standardised)
            .iter()
            .map(|x| x * x)
            .sum();

        let scale = s * norm_r / norm_e;
        let translation = &mean_r - &(mean_e.dot(&rotation) * scale);
        let aligned = estimate.dot(&rotation) * scale + &translation;
        let diff = &aligned - &reference;
        let residuals = diff.map_axis(Axis(1), |row| row.dot(&row).sqrt());
        let unnormalised = frobenius(&diff);
        let reflection = determinant(&rotation) < 0.0;
        Ok(ProcrustesResult {
            disparity,
            rotation,
            scale,
            translation,
            aligned,
            residuals,
            unnormalised,
            reflection,
            reference_standardised: std_r,
            estimate_standardised,
        })
    }
}

/// scipy's `procrustes(reference, estimate)` with reflections allowed.
pub fn procrustes(
    reference: ArrayView2<f64>,
    estimate: ArrayView2<f64>,
) -> Result<ProcrustesResult> {
    ProcrustesParams::default().fit(reference, estimate)
}

fn frobenius(x: &Array2<f64>) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// Least-squares orthogonal `Q` (reflections allowed) and translation `b` with `estimate . Q + b ~ reference`,
/// without scaling and without a minimum point count (used to place an MDS start onto 2+ anchors).
pub(crate) fn rigid_fit(
    reference: &Array2<f64>,
    estimate: &Array2<f64>,
) -> (Array2<f64>, Array1<f64>) {
    let mean_r = reference.mean_axis(Axis(0)).expect("rows > 0");
    let mean_e = estimate.mean_axis(Axis(0)).expect("rows > 0");
    let cr = reference - &mean_r;
    let ce = estimate - &mean_e;
    let (u, _w, v) = svd_square(&cr.t().dot(&ce));
    let q = v.dot(&u.t());
    let b = &mean_r - &mean_e.dot(&q);
    (q, b)
}
