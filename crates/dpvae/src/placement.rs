//! Placement in the reference's frame: how the latent of one or more trained dp-VAEs becomes tissue
//! coordinates.
//!
//! A dp-VAE's latent preserves distances, so it matches the tissue only up to a rotation, reflection and
//! translation (and the scale lambda). At training time we keep, for each ensemble member, the latent means
//! of up to [`MAX_ANCHORS`] reference spots beside their true coordinates. A query's latent (reduced to 2-d
//! jointly with those anchors by SMACOF when d > 2) is mapped into the reference's frame by the similarity
//! transform that best maps the anchors' latents onto their coordinates (Procrustes), and the members'
//! placements are averaged there. The result is in the reference's units and frame.

use crate::error::{Context, Result, bail};
use dpvae_geometry::{Method, ReconstructParams};
use ndarray::{Array2, ArrayView2, Axis, concatenate, s};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::auto::{AutoSettings, Selection};
use crate::uncertainty::{Calibration, Difficulty, MemberLatent, Neighbourhood, Uncertainty};

/// Reference spots kept per member to fit the latent -> tissue transform.
pub const MAX_ANCHORS: usize = 5000;

/// How a member's query latent becomes coordinates in the reference's frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Readout {
    /// The similarity transform (Procrustes) that maps the anchors' latents onto their coordinates.
    Procrustes,
    /// The inverse-distance weighted mean of the coordinates of the `k` anchors nearest in the latent.
    Neighbours { k: usize },
}

/// How training prepares for placement, and how many models are trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlacementSettings {
    /// Ensemble members, trained with seeds seed, seed + 1, ...; their placements are averaged.
    pub members: usize,
    /// Train on coordinates centred and divided by their root-mean-square spread per axis, so a fixed
    /// lambda = 1 means the same for every technology's units (pixels, um, array indices).
    pub standardize_coords: bool,
    /// When set, the batch size grows with the reference to about n / this (never below train.batch_size
    /// nor above `max_batch_size`), and an epoch is at most this many steps (`train.steps_per_epoch`), so an
    /// epoch costs about the same at any size above `batches_per_epoch x max_batch_size` spots.
    pub batches_per_epoch: Option<usize>,
    /// Upper bound of the grown batch size: a step's cost grows with it (the DP loss quadratically).
    pub max_batch_size: usize,
    /// Map placements into the reference's frame and units (otherwise the latent itself is the output).
    pub reference_frame: bool,
    /// How the latent is read out in the reference's frame.
    pub readout: Readout,
    /// The per-reference choice of the gene selection by validation ([`crate::auto`]).
    pub auto: AutoSettings,
    /// When the query's median library size (over the genes both share) is below this share of the
    /// reference's, e.g. single cells placed from spots, training sees the reference thinned to the query's
    /// depth ([`crate::depth`]). 0 never thins; only `run` and `train --shared-with` know the query.
    pub thin_below: f64,
    /// With thinning: train on the reference's spots and their thinned copies (the split keeps both versions
    /// of a spot together; radii calibrate on the thinned validation spots), rather than on the thinned spots
    /// alone.
    pub thin_keep_original: bool,
}

impl Default for PlacementSettings {
    fn default() -> Self {
        Self::recommended()
    }
}

impl PlacementSettings {
    /// dpvae's defaults (docs/placement.md has the measurements behind them).
    pub fn recommended() -> Self {
        PlacementSettings {
            members: 5,
            standardize_coords: true,
            batches_per_epoch: Some(16),
            max_batch_size: 512,
            reference_frame: true,
            readout: Readout::Procrustes,
            auto: AutoSettings::recommended(),
            thin_below: 0.5,
            thin_keep_original: true,
        }
    }

    /// The paper's protocol: one model, raw coordinates, the latent read as coordinates.
    pub fn paper() -> Self {
        PlacementSettings {
            members: 1,
            standardize_coords: false,
            batches_per_epoch: None,
            max_batch_size: 512,
            reference_frame: false,
            readout: Readout::Procrustes,
            auto: AutoSettings::off(),
            thin_below: 0.0,
            thin_keep_original: true,
        }
    }

    pub fn check(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.thin_below) {
            bail!(
                "placement.thin_below must be between 0 and 1, got {}",
                self.thin_below
            );
        }
        if self.members == 0 || self.members > 100 {
            bail!(
                "placement.members must be between 1 and 100, got {}",
                self.members
            );
        }
        if self.readout == (Readout::Neighbours { k: 0 }) {
            bail!("placement.readout: k must be positive");
        }
        if self.batches_per_epoch == Some(0) {
            bail!("placement.batches_per_epoch must be positive");
        }
        if self.max_batch_size == 0 {
            bail!("placement.max_batch_size must be positive");
        }
        self.auto.check()
    }

    /// The batch size for `n_train` training spots.
    pub fn batch_size(&self, configured: usize, n_train: usize) -> usize {
        match self.batches_per_epoch {
            Some(k) if configured != 0 => configured
                .max(n_train.div_ceil(k))
                .min(self.max_batch_size.max(configured)),
            _ => configured,
        }
    }
}

/// Centre and scale of the reference's coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoordFrame {
    pub center: Vec<f64>,
    /// Root-mean-square deviation from the centre per axis.
    pub scale: f64,
}

impl CoordFrame {
    pub fn fit(coords: ArrayView2<f64>) -> Result<Self> {
        let center = coords
            .mean_axis(Axis(0))
            .context("no reference coordinates")?;
        let c = &coords - &center;
        let ms = c.iter().map(|v| v * v).sum::<f64>() / (coords.nrows() * coords.ncols()) as f64;
        if !(ms.is_finite() && ms > 0.0) {
            bail!("the reference's coordinates have no spread (every spot at one position)");
        }
        Ok(CoordFrame {
            center: center.to_vec(),
            scale: ms.sqrt(),
        })
    }

    /// Coordinates in frame units.
    pub fn standardize(&self, coords: ArrayView2<f64>) -> Array2<f64> {
        let center = ndarray::Array1::from(self.center.clone());
        (&coords - &center) / self.scale
    }
}

/// What placement needs besides the models' weights: stored as the model directory's placement.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlacementRecord {
    pub settings: PlacementSettings,
    /// The frame the models were trained in (when coordinates were standardised).
    pub frame: Option<CoordFrame>,
    /// True coordinates of the anchor spots (reference units), rows matching every member's latents.
    pub anchor_coords: Vec<Vec<f64>>,
    /// Per member, the anchors' latent means.
    pub anchor_latents: Vec<Vec<Vec<f64>>>,
    /// What the reference's validation spots measured of the placement error (absent in models saved
    /// before uncertainty existed, or when there were too few validation spots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// The automatic choice of the gene selection and every candidate's validation score (absent when no
    /// search ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<Selection>,
    /// The query's depth the reference was thinned to for training (absent when it was not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<crate::depth::DepthMatch>,
}

pub(crate) fn to_rows(a: &Array2<f64>) -> Vec<Vec<f64>> {
    a.rows().into_iter().map(|r| r.to_vec()).collect()
}

pub(crate) fn from_rows(rows: &[Vec<f64>]) -> Result<Array2<f64>> {
    let n = rows.len();
    let d = rows.first().map_or(0, Vec::len);
    Array2::from_shape_vec((n, d), rows.iter().flatten().copied().collect())
        .context("placement.json: rows of unequal length")
}

/// Seeded choice of at most `max` rows out of `candidates` (sorted); `salt` keeps different uses apart.
pub fn seeded_subset(candidates: &[usize], max: usize, seed: u64, salt: u64) -> Vec<usize> {
    let mut rows = candidates.to_vec();
    if rows.len() > max {
        rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ salt));
        rows.truncate(max);
        rows.sort_unstable();
    }
    rows
}

/// Seeded choice of at most [`MAX_ANCHORS`] rows out of `candidates` (sorted).
pub fn anchor_rows(candidates: &[usize], seed: u64) -> Vec<usize> {
    seeded_subset(candidates, MAX_ANCHORS, seed, 0x5eed_a11c)
}

impl PlacementRecord {
    /// Refuse a record whose parts do not fit the model (`members` members with a `latent_dim`-d latent) or
    /// each other.
    pub fn check(&self, members: usize, latent_dim: usize) -> Result<()> {
        self.settings.check()?;
        let dims = self.anchor_coords.first().map_or(0, Vec::len);
        if self.settings.reference_frame {
            if !(2..=3).contains(&dims) || self.anchor_coords.iter().any(|c| c.len() != dims) {
                bail!(
                    "placement.json: anchor_coords must be rows of 2 or 3 coordinates, all of one length"
                );
            }
            if self.anchor_latents.len() != members {
                bail!(
                    "placement.json: anchor_latents has {} members but the model {members}",
                    self.anchor_latents.len()
                );
            }
            for (k, rows) in self.anchor_latents.iter().enumerate() {
                if rows.len() != self.anchor_coords.len()
                    || rows.iter().any(|r| r.len() != latent_dim)
                {
                    bail!(
                        "placement.json: member {k}'s anchor_latents are not {} rows of {latent_dim} values",
                        self.anchor_coords.len()
                    );
                }
            }
        }
        let values = (self.anchor_coords.iter().flatten())
            .chain(self.anchor_latents.iter().flatten().flatten());
        if values.clone().any(|v| !v.is_finite()) {
            bail!("placement.json: anchor_coords or anchor_latents hold a non-finite value");
        }
        if let Some(f) = &self.frame
            && ((dims > 0 && f.center.len() != dims)
                || f.center.iter().any(|c| !c.is_finite())
                || !(f.scale.is_finite() && f.scale > 0.0))
        {
            bail!(
                "placement.json: frame needs a finite centre of {dims} values and a positive scale"
            );
        }
        match &self.calibration {
            Some(c) => c.check(members, latent_dim),
            None => Ok(()),
        }
    }

    /// The diagonal of the anchors' bounding box: a radius that covers the whole reference.
    pub fn anchor_span(&self) -> f64 {
        let dims = self.anchor_coords.first().map_or(0, Vec::len);
        (0..dims)
            .map(|d| {
                let (lo, hi) = self
                    .anchor_coords
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(lo, hi), c| {
                        (lo.min(c[d]), hi.max(c[d]))
                    });
                (hi - lo).powi(2)
            })
            .sum::<f64>()
            .sqrt()
    }

    pub fn anchors(&self) -> Result<Array2<f64>> {
        from_rows(&self.anchor_coords)
    }

    pub fn new(
        settings: PlacementSettings,
        frame: Option<CoordFrame>,
        anchor_coords: &Array2<f64>,
        anchor_latents: &[Array2<f64>],
    ) -> Self {
        PlacementRecord {
            settings,
            frame,
            anchor_coords: to_rows(anchor_coords),
            anchor_latents: anchor_latents.iter().map(to_rows).collect(),
            calibration: None,
            selection: None,
            depth: None,
        }
    }

    /// Every member's placement of its latent `latents[k]` in the reference's frame, and their mean.
    pub fn place_members(
        &self,
        latents: &[Array2<f64>],
        method: Method,
        seed: u64,
    ) -> Result<(Array2<f64>, Vec<Array2<f64>>)> {
        let members = latents
            .iter()
            .enumerate()
            .map(|(k, z)| self.to_reference(k, z.view(), method, seed))
            .collect::<Result<Vec<_>>>()?;
        Ok((average(&members), members))
    }

    /// Map member `k`'s query latent into the reference's frame.
    pub fn to_reference(
        &self,
        k: usize,
        latent: ArrayView2<f64>,
        method: Method,
        seed: u64,
    ) -> Result<Array2<f64>> {
        let anchors = self.anchors()?;
        let anchor_latent = from_rows(
            self.anchor_latents
                .get(k)
                .with_context(|| format!("placement.json has no anchors for member {k}"))?,
        )?;
        if anchor_latent.ncols() != latent.ncols() {
            bail!(
                "placement.json: member {k}'s anchors are {}-d but the latent is {}-d",
                anchor_latent.ncols(),
                latent.ncols()
            );
        }
        if let Readout::Neighbours { k } = self.settings.readout {
            return Ok(neighbour_mean(
                anchor_latent.view(),
                anchors.view(),
                latent,
                k,
            ));
        }
        let n_anchor = anchor_latent.nrows();
        // A 2-d latent is used as it is; otherwise anchors and query are reduced to 2-d together, so the
        // anchors fix the query's frame.
        let (a2, q2) = if latent.ncols() == 2 && method == Method::Direct {
            (anchor_latent, latent.to_owned())
        } else {
            let joint = concatenate(Axis(0), &[anchor_latent.view(), latent.view()])?;
            let rec = ReconstructParams::new(method)
                .smacof(
                    dpvae_geometry::SmacofParams::new()
                        .n_components(2)
                        .seed(seed),
                )
                .check()?
                .run(joint.view())?;
            (
                rec.coords.slice(s![..n_anchor, ..]).to_owned(),
                rec.coords.slice(s![n_anchor.., ..]).to_owned(),
            )
        };
        let fit = dpvae_geometry::procrustes(anchors.view(), a2.view())
            .context("fitting the latent -> tissue transform on the reference's anchor spots")?;
        Ok(fit.transform(q2.view())?)
    }

    /// The anchors' latent means of every member.
    fn anchor_latent_matrices(&self) -> Result<Vec<Array2<f64>>> {
        self.anchor_latents
            .iter()
            .map(|rows| from_rows(rows))
            .collect()
    }

    /// The difficulty of spots seen by the members as `members`, placed at `member_coords` (mean `placed`),
    /// against calibration spots with latents `cal_latents` and errors `cal_errors` (`exclude_self`: the
    /// spots are those calibration spots).
    pub fn difficulty(
        &self,
        members: &[MemberLatent<'_>],
        (cal_latents, cal_errors): (&[Array2<f64>], &[f64]),
        exclude_self: bool,
        member_coords: &[Array2<f64>],
        placed: &Array2<f64>,
    ) -> Result<Difficulty> {
        let anchors = self.anchors()?;
        let anchor_latents = self.anchor_latent_matrices()?;
        let hood = Neighbourhood {
            anchor_latents: &anchor_latents,
            anchor_coords: anchors.view(),
            calibration_latents: cal_latents,
            calibration_errors: cal_errors,
            exclude_self,
        };
        Difficulty::compute(members, &hood, member_coords, placed.view())
    }

    /// Calibrated radii and confidence of placed spots, when the model has a calibration.
    pub fn uncertainty(
        &self,
        members: &[MemberLatent<'_>],
        member_coords: &[Array2<f64>],
        placed: &Array2<f64>,
    ) -> Result<Option<Uncertainty>> {
        let Some(cal) = &self.calibration else {
            return Ok(None);
        };
        let cal_latents = (0..members.len())
            .map(|k| cal.member_latents(k))
            .collect::<Result<Vec<_>>>()?;
        let d = self.difficulty(
            members,
            (&cal_latents, &cal.errors),
            false,
            member_coords,
            placed,
        )?;
        Ok(Some(cal.apply(d)))
    }
}

/// For each query row, the inverse-distance weighted mean of the coordinates of its `k` nearest anchors in
/// the latent (an exact match takes the whole weight): scikit-learn's `KNeighborsRegressor(weights='distance')`,
/// which the placement benchmark's kNN baseline also uses.
pub fn neighbour_mean(
    anchor_latent: ArrayView2<f64>,
    anchor_coords: ArrayView2<f64>,
    latent: ArrayView2<f64>,
    k: usize,
) -> Array2<f64> {
    use rayon::prelude::*;
    let k = k.min(anchor_latent.nrows());
    let rows: Vec<Vec<f64>> = latent
        .outer_iter()
        .into_par_iter()
        .map(|q| {
            let mut d: Vec<(f64, usize)> = anchor_latent
                .outer_iter()
                .enumerate()
                .map(|(j, a)| ((&a - &q).mapv(|v| v * v).sum().sqrt(), j))
                .collect();
            d.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
            let near = &d[..k];
            let exact = near.iter().any(|(x, _)| *x == 0.0);
            let w: Vec<(f64, usize)> = near
                .iter()
                .filter(|(x, _)| !exact || *x == 0.0)
                .map(|(x, j)| (if exact { 1.0 } else { 1.0 / x }, *j))
                .collect();
            let total: f64 = w.iter().map(|x| x.0).sum();
            let mut out = vec![0.0; anchor_coords.ncols()];
            for (wi, j) in w {
                for (o, c) in out.iter_mut().zip(anchor_coords.row(j)) {
                    *o += wi / total * c;
                }
            }
            out
        })
        .collect();
    Array2::from_shape_vec(
        (rows.len(), anchor_coords.ncols()),
        rows.into_iter().flatten().collect(),
    )
    .expect("rows of equal length")
}

/// Mean of the members' placements (all in the same frame).
pub fn average(placements: &[Array2<f64>]) -> Array2<f64> {
    let mut sum = placements[0].clone();
    for p in &placements[1..] {
        sum += p;
    }
    sum / placements.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn batch_size_grows_with_n_within_bounds() {
        let p = PlacementSettings::recommended();
        assert_eq!(p.batch_size(256, 2600), 256);
        assert_eq!(p.batch_size(256, 6_400), 400);
        assert_eq!(p.batch_size(256, 32_000), 512);
        assert_eq!(p.batch_size(256, 800_000), 512);
        assert_eq!(
            p.batch_size(1024, 800_000),
            1024,
            "a larger configured batch is kept"
        );
        assert_eq!(p.batch_size(0, 800_000), 0);
        assert_eq!(PlacementSettings::paper().batch_size(128, 800_000), 128);
    }

    #[test]
    fn frame_standardises_to_unit_rms() {
        let c = array![[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]];
        let f = CoordFrame::fit(c.view()).unwrap();
        assert_eq!(f.center, vec![1.0, 1.0]);
        assert!((f.scale - 1.0).abs() < 1e-12);
        assert!(CoordFrame::fit(array![[1.0, 1.0], [1.0, 1.0]].view()).is_err());
    }

    /// A latent that is the tissue rotated, reflected and shrunk is mapped back exactly.
    #[test]
    fn reference_frame_undoes_a_similarity_transform() {
        let coords = array![[0.0, 0.0], [10.0, 0.0], [0.0, 5.0], [7.0, 9.0], [3.0, 4.0]];
        let to_latent = |c: &Array2<f64>| {
            let r = array![[0.0, 1.0], [1.0, 0.0]]; // a reflection
            c.dot(&r) * 0.1 + 3.0
        };
        let rec = PlacementRecord::new(
            PlacementSettings::recommended(),
            None,
            &coords,
            &[to_latent(&coords)],
        );
        let query = array![[5.0, 5.0], [1.0, 8.0], [9.0, 2.0]];
        let placed = rec
            .to_reference(0, to_latent(&query).view(), Method::Direct, 0)
            .unwrap();
        for (a, b) in placed.iter().zip(query.iter()) {
            assert!((a - b).abs() < 1e-9, "{placed} vs {query}");
        }
    }

    #[test]
    fn neighbour_readout_averages_the_nearest_anchors() {
        let latent = array![[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]];
        let coords = array![[0.0, 0.0], [100.0, 0.0], [1000.0, 0.0]];
        let got = neighbour_mean(
            latent.view(),
            coords.view(),
            array![[0.5, 0.0], [1.0, 0.0]].view(),
            2,
        );
        assert!((got[[0, 0]] - 50.0).abs() < 1e-9, "{got}");
        assert_eq!(got[[1, 0]], 100.0, "an exact match takes the whole weight");
        let mut s = PlacementSettings::recommended();
        s.readout = Readout::Neighbours { k: 0 };
        assert!(s.check().is_err());
    }
}
