//! Annotation transfer: a reference `obs` label (a region, layer or cluster) carried to placed query spots or
//! cells, with a probability that reflects where the spot could be.
//!
//! A placed spot's position is uncertain by its calibrated radius: its true position is modelled as a 2-d
//! Gaussian around the placement whose median radius is `dpvae_radius_50` (sigma = radius_50 / sqrt(2 ln 2)).
//! Each reference spot votes for its label with the Gaussian's weight at its position, so a spot placed with a
//! large radius near a boundary gets a low probability, and one deep inside a region a high one. Without radii
//! the width is the reference's median spacing (nearest-neighbour distance).

use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::error::{Result, bail};

/// The transferred label of every query spot and its probability.
#[derive(Debug, Clone, PartialEq)]
pub struct Transferred {
    /// The label with the largest weight (index into `names`).
    pub labels: Vec<usize>,
    /// Its share of the weight, in (0, 1].
    pub probability: Vec<f64>,
    /// Label names, as the reference's column has them (sorted).
    pub names: Vec<String>,
}

impl Transferred {
    /// The labels as names.
    pub fn label_names(&self) -> Vec<String> {
        self.labels.iter().map(|&l| self.names[l].clone()).collect()
    }
}

/// The Gaussian width whose median radius is `radius_50`.
const MEDIAN_RADIUS_PER_SIGMA: f64 = 1.177_410_022_515_474_6; // sqrt(2 ln 2)

/// Transfer `labels` (per reference spot, indices into `names`) at `reference_coords` to spots placed at
/// `placed`, with their `radius_50` when the placement has a calibration.
pub fn transfer_labels(
    reference_coords: ArrayView2<f64>,
    labels: &[usize],
    names: &[String],
    placed: ArrayView2<f64>,
    radius_50: Option<&[f64]>,
) -> Result<Transferred> {
    let n_ref = reference_coords.nrows();
    if labels.len() != n_ref || n_ref == 0 {
        bail!(
            "label transfer needs one label per reference spot: {} labels for {n_ref} spots",
            labels.len()
        );
    }
    if let Some(bad) = labels.iter().find(|&&l| l >= names.len()) {
        bail!("label index {bad} has no name ({} names)", names.len());
    }
    if reference_coords.ncols() != placed.ncols() {
        bail!(
            "the placement has {} coordinates per spot but the reference {}",
            placed.ncols(),
            reference_coords.ncols()
        );
    }
    if let Some(r) = radius_50
        && r.len() != placed.nrows()
    {
        bail!("{} radii for {} placed spots", r.len(), placed.nrows());
    }
    let spacing = dpvae_eval::nearest_spacing(reference_coords)
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(1.0);
    let rows: Vec<(usize, f64)> = (0..placed.nrows())
        .into_par_iter()
        .map(|i| {
            let sigma = radius_50
                .map_or(spacing, |r| r[i] / MEDIAN_RADIUS_PER_SIGMA)
                .max(spacing * 1e-3)
                .max(f64::MIN_POSITIVE);
            vote(reference_coords, labels, names.len(), placed.row(i), sigma)
        })
        .collect();
    Ok(Transferred {
        labels: rows.iter().map(|r| r.0).collect(),
        probability: rows.iter().map(|r| r.1).collect(),
        names: names.to_vec(),
    })
}

/// The label with the largest Gaussian weight around `at`, and its share. Weights are taken relative to the
/// nearest reference spot's, so a spot far from every reference spot still gets its nearest spot's label.
fn vote(
    reference: ArrayView2<f64>,
    labels: &[usize],
    n_labels: usize,
    at: ndarray::ArrayView1<f64>,
    sigma: f64,
) -> (usize, f64) {
    let d2: Vec<f64> = reference
        .rows()
        .into_iter()
        .map(|r| r.iter().zip(at).map(|(a, b)| (a - b) * (a - b)).sum())
        .collect();
    let nearest = d2.iter().copied().fold(f64::INFINITY, f64::min);
    let mut weight = vec![0.0; n_labels];
    for (&d, &l) in d2.iter().zip(labels) {
        weight[l] += (-(d - nearest) / (2.0 * sigma * sigma)).exp();
    }
    let total: f64 = weight.iter().sum();
    let (best, w) = weight
        .iter()
        .enumerate()
        .fold(
            (0, f64::NEG_INFINITY),
            |acc, (l, &w)| if w > acc.1 { (l, w) } else { acc },
        );
    (best, if total > 0.0 { w / total } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// A 20 x 10 grid, label 0 left of x = 10, label 1 right of it.
    fn grid() -> (Array2<f64>, Vec<usize>) {
        let coords = Array2::from_shape_fn((200, 2), |(i, d)| {
            if d == 0 {
                (i % 20) as f64
            } else {
                (i / 20) as f64
            }
        });
        let labels = (0..200).map(|i| usize::from(i % 20 >= 10)).collect();
        (coords, labels)
    }

    #[test]
    fn labels_follow_the_position_and_probability_the_radius() {
        let (coords, labels) = grid();
        let names = vec!["left".to_string(), "right".to_string()];
        let placed = ndarray::array![[2.0, 5.0], [17.0, 5.0], [9.5, 5.0], [2.0, 5.0]];
        let t = transfer_labels(
            coords.view(),
            &labels,
            &names,
            placed.view(),
            Some(&[1.0, 1.0, 1.0, 30.0]),
        )
        .unwrap();
        assert_eq!(t.label_names()[..2], ["left", "right"]);
        assert!(t.probability[0] > 0.99 && t.probability[1] > 0.99);
        // On the boundary: a coin flip.
        assert!(
            (t.probability[2] - 0.5).abs() < 0.05,
            "{}",
            t.probability[2]
        );
        // Deep in the left half but with a radius wider than the tissue: barely more than a coin flip.
        assert!(t.probability[3] < 0.7, "{}", t.probability[3]);
        // Without radii the width is the spacing.
        let plain = transfer_labels(coords.view(), &labels, &names, placed.view(), None).unwrap();
        assert_eq!(plain.labels[..2], [0, 1]);
        assert!(transfer_labels(coords.view(), &labels[..5], &names, placed.view(), None).is_err());
    }
}
