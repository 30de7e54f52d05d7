//! Per-spot placement uncertainty: how far from its placement a spot may truly lie, in tissue units.
//!
//! Each placed spot gets a difficulty score `u` computed from the trained ensemble alone (no truth needed):
//! the spread of the true coordinates of the reference spots nearest to it in the latent (where the latent
//! folds distant tissue together, a placement is ambiguous) combined with the disagreement of the ensemble
//! members (see [`Difficulty::score`]). At training time the same score and the true placement error are
//! measured on the reference's validation spots, which no member trained on. The radius at level `q` is
//! `u * t_q`, where `t_q` is the split-conformal quantile of `error / u` over those spots: for a query drawn
//! from the same tissue as the reference (exchangeable with the validation spots), the true position lies
//! within the radius with probability at least `q`. For another section nothing guarantees this; the
//! placement benchmark measures it.

use crate::error::{Context, Result, bail};
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The obs columns (and coordinate-table columns) that hold a placed spot's uncertainty.
pub const OBS_RADIUS_50: &str = "dpvae_radius_50";
pub const OBS_RADIUS_90: &str = "dpvae_radius_90";
pub const OBS_CONFIDENCE: &str = "dpvae_confidence";
pub const OBS_COLUMNS: [&str; 3] = [OBS_RADIUS_50, OBS_RADIUS_90, OBS_CONFIDENCE];

/// Reference spots nearest in the latent whose true coordinates (anchors) or placement errors (calibration
/// spots) describe a spot's neighbourhood.
pub const NEIGHBOURS: usize = 20;
/// The levels of the radii written for every spot.
pub const LEVELS: [f64; 2] = [0.5, 0.9];
/// Fewer calibration spots than this give no calibration (the 90% quantile needs at least 9).
pub const MIN_CALIBRATION: usize = 20;
/// Calibration spots kept in the model directory (a seeded subset beyond this).
pub const MAX_CALIBRATION: usize = 5000;
/// Names of the features of [`Difficulty`], in the order of the error model's coefficients.
pub const FEATURES: [&str; N_FEATURES] = [
    "ensemble_spread",
    "neighbour_spread",
    "neighbour_offset",
    "local_error",
    "posterior_sd",
    "centre_distance",
];
const N_FEATURES: usize = 6;

/// What is known of a placed spot before its truth: the ingredients of its difficulty score.
#[derive(Debug, Clone, PartialEq)]
pub struct Difficulty {
    /// Root-mean-square distance of the members' placements from their mean (tissue units; 0 for one member).
    pub ensemble_spread: Vec<f64>,
    /// Root-mean-square distance of the true coordinates of the [`NEIGHBOURS`] anchors nearest in each
    /// member's latent from their mean (tissue units), averaged in squares over members: large where the
    /// latent folds distant tissue together.
    pub neighbour_spread: Vec<f64>,
    /// Distance of the placement from the mean true coordinates of those anchors (RMS over members): where
    /// the latent is distorted locally, the global transform and the local neighbours disagree.
    pub neighbour_offset: Vec<f64>,
    /// Root-mean-square placement error of the [`NEIGHBOURS`] calibration spots nearest in each member's
    /// latent (tissue units; a calibration spot leaves itself out).
    pub local_error: Vec<f64>,
    /// Square root of the posterior variance, averaged over latent dimensions and members (latent units).
    pub posterior_sd: Vec<f64>,
    /// Distance of the placement from the anchors' centroid (tissue units): ambiguous spots are pulled
    /// towards the middle of the region they could come from.
    pub centre_distance: Vec<f64>,
}

/// One member's view of a set of spots: latent means and variances.
pub struct MemberLatent<'a> {
    pub mean: ArrayView2<'a, f64>,
    pub variance: Option<ArrayView2<'a, f64>>,
}

/// The reference spots a spot is compared with, per member.
pub struct Neighbourhood<'a> {
    pub anchor_latents: &'a [Array2<f64>],
    pub anchor_coords: ArrayView2<'a, f64>,
    /// Calibration spots' latents per member and their errors; `exclude_self` when the spots placed are the
    /// calibration spots themselves (row i of the spots is calibration spot i).
    pub calibration_latents: &'a [Array2<f64>],
    pub calibration_errors: &'a [f64],
    pub exclude_self: bool,
}

impl Difficulty {
    /// The difficulty of spots seen by every member (`members[k]`), placed by member `k` at
    /// `member_coords[k]` with mean `placed`.
    pub fn compute(
        members: &[MemberLatent<'_>],
        hood: &Neighbourhood<'_>,
        member_coords: &[Array2<f64>],
        placed: ArrayView2<f64>,
    ) -> Result<Self> {
        let m = members.len();
        if m == 0
            || hood.anchor_latents.len() != m
            || member_coords.len() != m
            || hood.calibration_latents.len() != m
        {
            bail!(
                "uncertainty: members, their anchors, calibration spots and placements differ in number"
            );
        }
        let n = placed.nrows();
        let ensemble_spread = (0..n)
            .map(|i| {
                let ms = member_coords
                    .iter()
                    .map(|c| squared(c.row(i), placed.row(i)))
                    .sum::<f64>()
                    / m as f64;
                ms.sqrt()
            })
            .collect();
        let mut spread_ms = vec![0.0; n];
        let mut offset_ms = vec![0.0; n];
        let mut local_ms = vec![0.0; n];
        let mut var = vec![0.0; n];
        for (k, z) in members.iter().enumerate() {
            let za = &hood.anchor_latents[k];
            let zc = &hood.calibration_latents[k];
            if z.mean.ncols() != za.ncols()
                || za.nrows() != hood.anchor_coords.nrows()
                || zc.nrows() != hood.calibration_errors.len()
            {
                bail!(
                    "uncertainty: a member's anchors or calibration spots do not match its latent"
                );
            }
            let near_anchors = nearest(za.view(), z.mean, NEIGHBOURS, false);
            let near_cal = nearest(zc.view(), z.mean, NEIGHBOURS, hood.exclude_self);
            for i in 0..n {
                let (sp, mean) = spread(&near_anchors[i], hood.anchor_coords);
                spread_ms[i] += sp * sp / m as f64;
                let off: f64 = mean
                    .iter()
                    .zip(placed.row(i))
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                offset_ms[i] += off / m as f64;
                let e = &near_cal[i];
                let ms = e
                    .iter()
                    .map(|&j| hood.calibration_errors[j].powi(2))
                    .sum::<f64>()
                    / e.len().max(1) as f64;
                local_ms[i] += ms / m as f64;
                if let Some(v) = z.variance {
                    var[i] += v.row(i).mean().unwrap_or(0.0) / m as f64;
                }
            }
        }
        let centroid = hood
            .anchor_coords
            .mean_axis(ndarray::Axis(0))
            .context("no anchors")?;
        let centre_distance = placed
            .rows()
            .into_iter()
            .map(|r| squared(r, centroid.view()).sqrt())
            .collect();
        Ok(Difficulty {
            ensemble_spread,
            neighbour_spread: spread_ms.into_iter().map(f64::sqrt).collect(),
            neighbour_offset: offset_ms.into_iter().map(f64::sqrt).collect(),
            local_error: local_ms.into_iter().map(f64::sqrt).collect(),
            posterior_sd: var.into_iter().map(f64::sqrt).collect(),
            centre_distance,
        })
    }

    /// The features in the order of [`FEATURES`].
    pub fn columns(&self) -> [&[f64]; N_FEATURES] {
        [
            &self.ensemble_spread,
            &self.neighbour_spread,
            &self.neighbour_offset,
            &self.local_error,
            &self.posterior_sd,
            &self.centre_distance,
        ]
    }

    pub fn len(&self) -> usize {
        self.ensemble_spread.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn squared(a: ndarray::ArrayView1<f64>, b: ndarray::ArrayView1<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// RMS distance of the coordinates of rows `near` from their mean, and the mean.
fn spread(near: &[usize], coords: ArrayView2<f64>) -> (f64, Vec<f64>) {
    if near.is_empty() {
        return (0.0, vec![0.0; coords.ncols()]);
    }
    let k = near.len() as f64;
    let mut mean = vec![0.0; coords.ncols()];
    for &j in near {
        for (m, c) in mean.iter_mut().zip(coords.row(j)) {
            *m += c / k;
        }
    }
    let ms = near
        .iter()
        .map(|&j| {
            coords
                .row(j)
                .iter()
                .zip(&mean)
                .map(|(c, m)| (c - m) * (c - m))
                .sum::<f64>()
        })
        .sum::<f64>()
        / k;
    (ms.sqrt(), mean)
}

/// For each row of `queries`, the indices of its `k` nearest rows of `points` (Euclidean; with
/// `exclude_self`, query i never matches point i). A kd-tree for 2-d points, a scan otherwise.
pub fn nearest(
    points: ArrayView2<f64>,
    queries: ArrayView2<f64>,
    k: usize,
    exclude_self: bool,
) -> Vec<Vec<usize>> {
    let n = points.nrows();
    let take = (k + usize::from(exclude_self)).min(n);
    if take == 0 {
        return vec![Vec::new(); queries.nrows()];
    }
    let finish = |i: usize, mut found: Vec<(f64, usize)>| -> Vec<usize> {
        found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        found
            .into_iter()
            .map(|x| x.1)
            .filter(|&j| !(exclude_self && j == i))
            .take(k)
            .collect()
    };
    if points.ncols() == 2 {
        use kiddo::{ImmutableKdTree, SquaredEuclidean};
        let pts: Vec<[f64; 2]> = points.rows().into_iter().map(|r| [r[0], r[1]]).collect();
        // The tree refuses some degenerate inputs (e.g. too many identical points); the scan below does not.
        if let Ok(tree) = ImmutableKdTree::<f64, 2>::new_from_slice(&pts) {
            let q = std::num::NonZeroUsize::new(take).expect("take > 0");
            return queries
                .outer_iter()
                .into_par_iter()
                .enumerate()
                .map(|(i, r)| {
                    let found = tree
                        .query(&[r[0], r[1]])
                        .nearest_n::<SquaredEuclidean<f64>>(q)
                        .execute()
                        .iter()
                        .map(|nb| {
                            let j = nb.item as usize;
                            (squared(points.row(j), r), j)
                        })
                        .collect();
                    finish(i, found)
                })
                .collect();
        }
    }
    queries
        .outer_iter()
        .into_par_iter()
        .enumerate()
        .map(|(i, q)| {
            let mut d: Vec<(f64, usize)> = points
                .outer_iter()
                .enumerate()
                .map(|(j, a)| (squared(a, q), j))
                .collect();
            d.select_nth_unstable_by(take - 1, |a, b| a.0.total_cmp(&b.0));
            d.truncate(take);
            finish(i, d)
        })
        .collect()
}

/// How the difficulty features predict the size of the placement error: `log(error)` regressed on the
/// standardised `log(feature + offset)` by ridge least squares on the calibration spots. Its prediction,
/// `exp` of the fit, is the score the radii scale with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorModel {
    /// Per feature: offset inside the log (a twentieth of the calibration median, so zeros are finite).
    pub offsets: Vec<f64>,
    /// Per feature: mean and standard deviation of the logged feature on the calibration spots (sd 0: the
    /// feature is constant and unused).
    pub means: Vec<f64>,
    pub sds: Vec<f64>,
    pub intercept: f64,
    pub coefficients: Vec<f64>,
}

/// Ridge penalty on the standardised coefficients (in units of calibration spots).
const RIDGE: f64 = 1.0;

impl ErrorModel {
    fn design_row(&self, f: [f64; N_FEATURES]) -> [f64; N_FEATURES] {
        std::array::from_fn(|j| {
            if self.sds[j] > 0.0 {
                ((f[j] + self.offsets[j]).ln() - self.means[j]) / self.sds[j]
            } else {
                0.0
            }
        })
    }

    pub fn fit(d: &Difficulty, errors: &[f64]) -> Self {
        let n = d.len();
        let cols = d.columns();
        let median = |v: &[f64]| {
            let mut s = v.to_vec();
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        };
        let offsets: Vec<f64> = cols.iter().map(|c| (median(c) / 20.0).max(1e-12)).collect();
        let logged: Vec<Vec<f64>> = cols
            .iter()
            .zip(&offsets)
            .map(|(c, o)| c.iter().map(|v| (v + o).ln()).collect())
            .collect();
        let mean_sd = |v: &[f64]| {
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
            (m, if var > 1e-18 { var.sqrt() } else { 0.0 })
        };
        let (means, sds): (Vec<f64>, Vec<f64>) = logged.iter().map(|v| mean_sd(v)).unzip();
        let e_off = (median(errors) / 20.0).max(1e-12);
        let y: Vec<f64> = errors.iter().map(|e| (e + e_off).ln()).collect();
        let y_mean = y.iter().sum::<f64>() / n as f64;
        let mut model = ErrorModel {
            offsets,
            means,
            sds,
            intercept: y_mean,
            coefficients: vec![0.0; N_FEATURES],
        };
        // Normal equations of the centred problem with a ridge: (X'X + RIDGE I) b = X'(y - mean y).
        let p = N_FEATURES;
        let mut xtx = Array2::<f64>::zeros((p, p));
        let mut xty = [0.0; N_FEATURES];
        for i in 0..n {
            let x = model.design_row(std::array::from_fn(|j| cols[j][i]));
            for a in 0..p {
                xty[a] += x[a] * (y[i] - y_mean);
                for b in 0..p {
                    xtx[[a, b]] += x[a] * x[b];
                }
            }
        }
        for a in 0..p {
            xtx[[a, a]] += RIDGE;
        }
        let (vals, vecs) = dpvae_data::linalg::symmetric_eigen(&xtx);
        for a in 0..p {
            let proj: f64 = (0..p).map(|b| vecs[[b, a]] * xty[b]).sum::<f64>() / vals[a];
            for b in 0..p {
                model.coefficients[b] += vecs[[b, a]] * proj;
            }
        }
        model
    }

    /// The predicted error size of each spot (tissue units).
    pub fn score(&self, d: &Difficulty) -> Vec<f64> {
        let cols = d.columns();
        (0..d.len())
            .map(|i| {
                let x = self.design_row(std::array::from_fn(|j| cols[j][i]));
                let lin: f64 = x.iter().zip(&self.coefficients).map(|(a, b)| a * b).sum();
                (self.intercept + lin).exp()
            })
            .collect()
    }
}

/// What the validation spots of the reference measured: stored in the model directory's placement.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Calibration spots.
    pub n: usize,
    /// Per member, the calibration spots' latent means (rows match `errors`).
    pub latents: Vec<Vec<Vec<f64>>>,
    /// Their true placement errors (reference units).
    pub errors: Vec<f64>,
    /// The error model fitted on them.
    pub model: ErrorModel,
    /// Scores below this are raised to it, so a spot never gets a zero radius (a thousandth of the median
    /// calibration score).
    pub floor: f64,
    /// The calibration spots' scores, sorted (for the confidence rank).
    pub scores: Vec<f64>,
    /// Their conformity ratios `error / score`, sorted.
    pub ratios: Vec<f64>,
}

impl Calibration {
    /// Refuse a calibration whose parts do not fit together or could not have been measured (placement.json
    /// is read back from disk, where anything may have happened to it).
    pub fn check(&self, members: usize, latent_dim: usize) -> Result<()> {
        let field = |name: &str, problem: String| -> Result<()> {
            bail!(
                "placement.json: calibration.{name} {problem}; the model directory is damaged, retrain it"
            )
        };
        for (name, len) in [
            ("errors", self.errors.len()),
            ("scores", self.scores.len()),
            ("ratios", self.ratios.len()),
        ] {
            if len != self.n {
                field(
                    name,
                    format!("has {len} values but calibration.n is {}", self.n),
                )?;
            }
        }
        if self.n < MIN_CALIBRATION {
            field(
                "n",
                format!(
                    "is {}, below the {MIN_CALIBRATION} a calibration needs",
                    self.n
                ),
            )?;
        }
        if self.latents.len() != members {
            field(
                "latents",
                format!("has {} members but the model {members}", self.latents.len()),
            )?;
        }
        for (k, rows) in self.latents.iter().enumerate() {
            if rows.len() != self.n || rows.iter().any(|r| r.len() != latent_dim) {
                field(
                    "latents",
                    format!(
                        "of member {k} are not {} rows of {latent_dim} values",
                        self.n
                    ),
                )?;
            }
        }
        for (name, v) in [
            ("errors", &self.errors),
            ("scores", &self.scores),
            ("ratios", &self.ratios),
        ] {
            if let Some(bad) = v.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
                field(
                    name,
                    format!("holds {bad}; every value must be finite and >= 0"),
                )?;
            }
        }
        for (name, v) in [("scores", &self.scores), ("ratios", &self.ratios)] {
            if v.windows(2).any(|w| w[0] > w[1]) {
                field(name, "is not sorted".into())?;
            }
        }
        if !(self.floor.is_finite() && self.floor > 0.0) {
            field(
                "floor",
                format!("is {}; it must be finite and positive", self.floor),
            )?;
        }
        self.model.check()
    }
}

impl ErrorModel {
    fn check(&self) -> Result<()> {
        let lens = [
            self.offsets.len(),
            self.means.len(),
            self.sds.len(),
            self.coefficients.len(),
        ];
        if lens.iter().any(|&l| l != N_FEATURES) {
            bail!(
                "placement.json: calibration.model has {lens:?} offsets / means / sds / coefficients, \
                 {N_FEATURES} each expected; the model directory is damaged, retrain it"
            );
        }
        let all = (self
            .offsets
            .iter()
            .chain(&self.means)
            .chain(&self.sds)
            .chain(&self.coefficients))
        .chain(std::iter::once(&self.intercept));
        if all.clone().any(|v| !v.is_finite()) || self.sds.iter().any(|s| *s < 0.0) {
            bail!(
                "placement.json: calibration.model holds a non-finite value or a negative sd; the model \
                 directory is damaged, retrain it"
            );
        }
        Ok(())
    }
}

/// A placed spot's uncertainty (`obs['dpvae_radius_50']`, `obs['dpvae_radius_90']`, `obs['dpvae_confidence']`).
#[derive(Debug, Clone, PartialEq)]
pub struct Uncertainty {
    /// What the radii were computed from (absent when read back from a file).
    pub difficulty: Option<Difficulty>,
    /// Radius (tissue units) within which the true position lies with probability 0.5.
    pub radius_50: Vec<f64>,
    /// The same at probability 0.9.
    pub radius_90: Vec<f64>,
    /// Fraction of the reference's calibration spots that were more uncertain than this spot (1: as certain
    /// as the most certain ones).
    pub confidence: Vec<f64>,
}

/// The one check of the uncertainty columns wherever they are read back (`evaluate`, `plot`, tables): the
/// same lengths, finite non-negative radii with `radius_50 <= radius_90`, and a confidence in [0, 1].
fn check_columns(radius_50: &[f64], radius_90: &[f64], confidence: &[f64]) -> Result<()> {
    if radius_50.len() != radius_90.len() || radius_50.len() != confidence.len() {
        bail!(
            "{OBS_RADIUS_50}, {OBS_RADIUS_90} and {OBS_CONFIDENCE} have {}, {} and {} values",
            radius_50.len(),
            radius_90.len(),
            confidence.len()
        );
    }
    for (name, values) in [(OBS_RADIUS_50, radius_50), (OBS_RADIUS_90, radius_90)] {
        if let Some(i) = values.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
            bail!(
                "{name} at row {i} is {}; a radius is a finite distance >= 0 (missing values are not allowed)",
                values[i]
            );
        }
    }
    if let Some(i) = (0..radius_50.len()).find(|&i| radius_50[i] > radius_90[i] * (1.0 + 1e-9)) {
        bail!(
            "{OBS_RADIUS_50} ({}) is larger than {OBS_RADIUS_90} ({}) at row {i}; the 50% radius can never \
             exceed the 90% one",
            radius_50[i],
            radius_90[i]
        );
    }
    if let Some(i) = confidence.iter().position(|v| !(0.0..=1.0).contains(v)) {
        bail!(
            "{OBS_CONFIDENCE} at row {i} is {}; a confidence is a share in [0, 1]",
            confidence[i]
        );
    }
    Ok(())
}

impl Uncertainty {
    /// The per-spot columns as (name, values), in the order they are written.
    pub fn columns(&self) -> [(&'static str, &[f64]); 3] {
        [
            (OBS_RADIUS_50, &self.radius_50),
            (OBS_RADIUS_90, &self.radius_90),
            (OBS_CONFIDENCE, &self.confidence),
        ]
    }

    /// The three columns from a lookup by name (`None` for an absent column): `None` when all are absent,
    /// an error when only some are, or when a value is missing or not finite.
    pub fn from_columns(col: impl Fn(&str) -> Result<Option<Vec<f64>>>) -> Result<Option<Self>> {
        match (
            col(OBS_RADIUS_50)?,
            col(OBS_RADIUS_90)?,
            col(OBS_CONFIDENCE)?,
        ) {
            (Some(radius_50), Some(radius_90), Some(confidence)) => {
                check_columns(&radius_50, &radius_90, &confidence)?;
                Ok(Some(Uncertainty {
                    difficulty: None,
                    radius_50,
                    radius_90,
                    confidence,
                }))
            }
            (None, None, None) => Ok(None),
            _ => bail!(
                "only some of {OBS_RADIUS_50}, {OBS_RADIUS_90} and {OBS_CONFIDENCE} are present; the three \
                 are written together by `dpvae embed` and `dpvae run`"
            ),
        }
    }

    /// Read the columns back from a dataset's obs (e.g. for `dpvae evaluate`); `None` when absent.
    pub fn from_obs(obs: &polars::prelude::DataFrame) -> Result<Option<Self>> {
        Self::from_columns(|name| {
            let Ok(c) = obs.column(name) else {
                return Ok(None);
            };
            if !c.dtype().is_primitive_numeric() {
                return Err(crate::Error::invalid(format!(
                    "obs['{name}'] holds {} values, not numbers; dpvae writes it as floats (re-run `dpvae \
                     embed` or `dpvae run`, or drop the column)",
                    c.dtype()
                )));
            }
            let c = c
                .cast(&polars::prelude::DataType::Float64)
                .map_err(|e| crate::Error::invalid(format!("obs['{name}'] is not numeric: {e}")))?;
            let v = c
                .f64()
                .map_err(|e| crate::Error::invalid(format!("obs['{name}']: {e}")))?
                .iter()
                .map(|x| x.unwrap_or(f64::NAN))
                .collect();
            Ok(Some(v))
        })
    }
}

impl Calibration {
    /// Calibrate from the calibration spots' member latents, difficulty and true placement errors.
    pub fn fit(latents: &[Array2<f64>], d: &Difficulty, errors: &[f64]) -> Result<Self> {
        let n = errors.len();
        if d.len() != n {
            bail!("calibration: {} spots but {n} errors", d.len());
        }
        if n < MIN_CALIBRATION {
            bail!(
                "calibration needs at least {MIN_CALIBRATION} validation spots, got {n} (raise the \
                 validation fraction or give a larger reference)"
            );
        }
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite() && *x >= 0.0);
        if !finite(errors) || !d.columns().iter().all(|c| finite(c)) {
            bail!("calibration: features and errors must be finite and non-negative");
        }
        let model = ErrorModel::fit(d, errors);
        let scores = model.score(d);
        let mut sorted = scores.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[n / 2];
        let floor = if median > 0.0 { median * 1e-3 } else { 1e-12 };
        let mut ratios: Vec<f64> = scores
            .iter()
            .zip(errors)
            .map(|(s, e)| e / s.max(floor))
            .collect();
        ratios.sort_by(f64::total_cmp);
        Ok(Calibration {
            n,
            latents: latents.iter().map(crate::placement::to_rows).collect(),
            errors: errors.to_vec(),
            model,
            floor,
            scores: sorted,
            ratios,
        })
    }

    /// The calibration spots' latents of member `k`.
    pub fn member_latents(&self, k: usize) -> Result<Array2<f64>> {
        crate::placement::from_rows(
            self.latents.get(k).with_context(|| {
                format!("placement.json has no calibration latents for member {k}")
            })?,
        )
    }

    /// The split-conformal factor at level `q`: the `ceil((n + 1) q)`-th smallest ratio, which bounds the
    /// ratio of a new exchangeable spot with probability at least `q` (the largest ratio when `(n + 1) q > n`).
    pub fn factor(&self, q: f64) -> f64 {
        let k = ((self.n as f64 + 1.0) * q).ceil() as usize;
        self.ratios[k.clamp(1, self.n) - 1]
    }

    /// Radii and confidence of spots with difficulty `d`.
    pub fn apply(&self, d: Difficulty) -> Uncertainty {
        let mut u = self.apply_scores(&self.model.score(&d));
        u.difficulty = Some(d);
        u
    }

    /// Radii and confidence of spots with difficulty scores `scores`.
    pub fn apply_scores(&self, scores: &[f64]) -> Uncertainty {
        let (t50, t90) = (self.factor(LEVELS[0]), self.factor(LEVELS[1]));
        let radius = |t: f64| scores.iter().map(|s| s.max(self.floor) * t).collect();
        let confidence = scores
            .iter()
            .map(|s| {
                let below_or_equal = self.scores.partition_point(|c| c <= s);
                (self.n - below_or_equal) as f64 / self.n as f64
            })
            .collect();
        Uncertainty {
            difficulty: None,
            radius_50: radius(t50),
            radius_90: radius(t90),
            confidence,
        }
    }
}

/// How well a placement's stated uncertainty held against the truth (`dpvae evaluate`, `xtask placement`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationSummary {
    pub n_spots: usize,
    /// Fraction of spots whose true error, after the rigid part of the disparity's alignment, is within
    /// dpvae_radius_50; stated: 0.5.
    pub coverage_50: f64,
    /// The same for dpvae_radius_90; stated: 0.9.
    pub coverage_90: f64,
    /// Spearman's rho between dpvae_radius_90 and the true error (higher: the radius ranks the errors).
    pub spearman_radius_error: f64,
    /// Spearman's rho between dpvae_confidence and the true error (negative when confidence is informative).
    pub spearman_confidence_error: f64,
}

/// Per-spot distance between the truth and the estimate moved onto it by the rotation (or reflection) and
/// translation of the Procrustes alignment, without its scale: a radius is stated in tissue units, and the
/// fitted scale would shrink a poor placement towards the centre (and its errors with it).
pub fn rigid_errors(truth: ArrayView2<f64>, estimate: ArrayView2<f64>) -> Result<Vec<f64>> {
    let fit = dpvae_geometry::procrustes(truth, estimate)?;
    let centre = |a: ArrayView2<f64>| a.mean_axis(ndarray::Axis(0)).expect("non-empty");
    let aligned = (&estimate - &centre(estimate)).dot(&fit.rotation) + centre(truth);
    Ok((&aligned - &truth)
        .rows()
        .into_iter()
        .map(|r| r.dot(&r).sqrt())
        .collect())
}

/// Compare `u` (rows matching `truth` and `estimate`) with the true errors of the estimate.
pub fn calibration_summary(
    truth: ArrayView2<f64>,
    estimate: ArrayView2<f64>,
    u: &Uncertainty,
) -> Result<(CalibrationSummary, Vec<f64>)> {
    let errors = rigid_errors(truth, estimate)?;
    let rep = dpvae_eval::calibration(&errors, &[(0.9, &u.radius_90), (0.5, &u.radius_50)])?;
    let summary = CalibrationSummary {
        n_spots: rep.n_spots,
        coverage_90: rep.coverage[0].observed,
        coverage_50: rep.coverage[1].observed,
        spearman_radius_error: rep.spearman_radius_error,
        spearman_confidence_error: dpvae_eval::correlation::spearman(&u.confidence, &errors),
    };
    Ok((summary, errors))
}

/// The row indices of the calibration spots among `validation` (all of them, or a seeded subset).
pub fn calibration_rows(validation: &[usize], seed: u64) -> Vec<usize> {
    crate::placement::seeded_subset(validation, MAX_CALIBRATION, seed, 0xca11_b8a7)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn difficulty(scale: &[f64]) -> Difficulty {
        Difficulty {
            ensemble_spread: scale.to_vec(),
            neighbour_spread: scale.to_vec(),
            neighbour_offset: scale.to_vec(),
            local_error: scale.to_vec(),
            posterior_sd: vec![1.0; scale.len()],
            centre_distance: vec![1.0; scale.len()],
        }
    }

    #[test]
    fn uncertainty_columns_that_cannot_be_radii_are_refused() {
        use polars::prelude::{Column, DataFrame};
        let obs = |r50: Column, r90: Column, conf: Column| {
            DataFrame::new(2, vec![r50, r90, conf]).unwrap()
        };
        let f = |name: &str, v: &[f64]| Column::new(name.into(), v.to_vec());
        let good = obs(
            f(OBS_RADIUS_50, &[1.0, 2.0]),
            f(OBS_RADIUS_90, &[2.0, 2.0]),
            f(OBS_CONFIDENCE, &[0.0, 1.0]),
        );
        assert!(Uncertainty::from_obs(&good).unwrap().is_some());
        let cases = [
            (
                obs(
                    f(OBS_RADIUS_50, &[3.0, 1.0]),
                    f(OBS_RADIUS_90, &[2.0, 2.0]),
                    f(OBS_CONFIDENCE, &[0.5, 0.5]),
                ),
                "larger than",
            ),
            (
                obs(
                    f(OBS_RADIUS_50, &[-1.0, 1.0]),
                    f(OBS_RADIUS_90, &[2.0, 2.0]),
                    f(OBS_CONFIDENCE, &[0.5, 0.5]),
                ),
                "finite distance >= 0",
            ),
            (
                obs(
                    f(OBS_RADIUS_50, &[1.0, 1.0]),
                    f(OBS_RADIUS_90, &[2.0, 2.0]),
                    f(OBS_CONFIDENCE, &[5.0, 0.5]),
                ),
                "share in [0, 1]",
            ),
            (
                obs(
                    Column::new(OBS_RADIUS_50.into(), vec![true, false]),
                    f(OBS_RADIUS_90, &[2.0, 2.0]),
                    f(OBS_CONFIDENCE, &[0.5, 0.5]),
                ),
                "not numbers",
            ),
            (
                obs(
                    f(OBS_RADIUS_50, &[1.0, 1.0]),
                    Column::new(OBS_RADIUS_90.into(), vec!["2", "3"]),
                    f(OBS_CONFIDENCE, &[0.5, 0.5]),
                ),
                "not numbers",
            ),
        ];
        for (df, expected) in cases {
            let err = Uncertainty::from_obs(&df).unwrap_err().to_string();
            assert!(err.contains(expected), "expected '{expected}' in: {err}");
        }
    }

    #[test]
    fn conformal_factor_is_the_finite_sample_quantile() {
        let errors: Vec<f64> = (1..=20).map(f64::from).collect();
        // Constant features: the error model predicts one size for every spot.
        let c = Calibration::fit(&[], &difficulty(&[1.0; 20]), &errors).unwrap();
        let s = c.model.score(&difficulty(&[1.0]))[0];
        // ceil(21 * 0.5) = 11th and ceil(21 * 0.9) = 19th smallest ratio.
        assert!((c.factor(0.5) * s - 11.0).abs() < 1e-9);
        assert!((c.factor(0.9) * s - 19.0).abs() < 1e-9);
        assert!((c.factor(0.99) * s - 20.0).abs() < 1e-9);
        let u = c.apply_scores(&[2.0 * s, 0.0]);
        assert!((u.radius_90[0] - 38.0).abs() < 1e-9);
        assert!(u.radius_90[1] > 0.0, "a zero score still gets a radius");
        assert_eq!(
            u.confidence[0], 0.0,
            "less certain than every calibration spot"
        );
        assert_eq!(u.confidence[1], 1.0);
        assert!(Calibration::fit(&[], &difficulty(&[1.0; 5]), &errors[..5]).is_err());
    }

    #[test]
    fn error_model_follows_a_feature_that_predicts_the_error() {
        // Errors proportional to the features: the model's score ranks them exactly.
        let f: Vec<f64> = (1..=50).map(|i| f64::from(i) / 10.0).collect();
        let errors: Vec<f64> = f.iter().map(|v| 3.0 * v).collect();
        let d = difficulty(&f);
        let m = ErrorModel::fit(&d, &errors);
        let s = m.score(&d);
        assert!(s.windows(2).all(|w| w[1] > w[0]), "{s:?}");
        assert!(
            (s[25] / errors[25] - 1.0).abs() < 0.3,
            "{} vs {}",
            s[25],
            errors[25]
        );
    }

    #[test]
    fn neighbours_and_spread_see_a_folded_latent() {
        // Four anchors: two far apart in the tissue share one latent position.
        let za = array![[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [5.1, 5.0]];
        let ca = array![[0.0, 0.0], [10.0, 0.0], [3.0, 3.0], [3.0, 3.2]];
        let z = array![[0.1, 0.0], [5.0, 5.1]];
        let near = nearest(za.view(), z.view(), 2, false);
        assert_eq!(near[1], vec![2, 3]);
        assert!((spread(&near[0], ca.view()).0 - 5.0).abs() < 1e-12);
        assert!((spread(&near[1], ca.view()).0 - 0.1).abs() < 1e-12);
        assert_eq!(spread(&near[0], ca.view()).1, vec![5.0, 0.0]);
        // The scan (3-d) and the kd-tree (2-d) agree, and a spot can leave itself out.
        let z3 = array![[0.1, 0.0, 0.0], [5.0, 5.1, 0.0]];
        let za3 = array![
            [0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0],
            [5.0, 5.0, 0.0],
            [5.1, 5.0, 0.0]
        ];
        assert_eq!(nearest(za3.view(), z3.view(), 2, false)[1], vec![2, 3]);
        assert_eq!(nearest(za.view(), za.view(), 1, true)[2], vec![3]);
        assert_eq!(nearest(za3.view(), za3.view(), 1, true)[2], vec![3]);
    }
}
