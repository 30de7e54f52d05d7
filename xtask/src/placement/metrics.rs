//! How close a placement is to the truth: Procrustes disparity (scipy's), Pearson r of pairwise distances, and
//! the overlap of each spot's 10 nearest neighbours.

use anyhow::Result;
use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Pairwise-distance correlation and neighbour overlap use at most this many spots (seeded subset).
const MAX_PAIR_SPOTS: usize = 2000;
/// Neighbours compared per spot.
pub const K_NEIGHBOURS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// scipy.spatial.procrustes disparity (0 perfect, 1 no relation).
    pub disparity: f64,
    /// Pearson r between true and placed pairwise distances.
    pub distance_r: f64,
    /// Mean fraction of each spot's 10 nearest true neighbours that are among its 10 nearest placed ones.
    pub knn_overlap: f64,
}

/// What the cross-resolution cases add: errors in tissue units and placements outside the reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CrossMetrics {
    /// Median distance between placed and true positions (tissue units; no alignment: every method places in
    /// the reference's frame).
    pub median_error: f64,
    /// The same in spot pitches.
    pub median_error_pitches: f64,
    /// Share of placements more than two pitches from every reference spot (outside the tissue).
    pub outside: f64,
    pub pitch: f64,
    /// Share of cells whose reference label (the pseudo-spots' [`super::cases::LABEL_COLUMN`]), transferred
    /// through the method's placement (weighted by dpvae's radius), is the label of the spot nearest the
    /// cell's true position. Absent where the section has no label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_accuracy: Option<f64>,
    /// The same for labels transferred by expression alone: the inverse-distance weighted vote of the 10
    /// reference spots nearest in expression (kNN method only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression_label_accuracy: Option<f64>,
}

pub fn cross(
    truth: ArrayView2<f64>,
    placed: ArrayView2<f64>,
    spots: ArrayView2<f64>,
    pitch: f64,
) -> Result<CrossMetrics> {
    let mut err: Vec<f64> = truth
        .rows()
        .into_iter()
        .zip(placed.rows())
        .map(|(t, p)| (t[0] - p[0]).hypot(t[1] - p[1]))
        .collect();
    let median_error = dpvae_core::stats::median(&mut err);
    let far = placed
        .rows()
        .into_iter()
        .filter(|p| {
            spots
                .rows()
                .into_iter()
                .all(|s| (s[0] - p[0]).hypot(s[1] - p[1]) > 2.0 * pitch)
        })
        .count();
    Ok(CrossMetrics {
        median_error,
        median_error_pitches: median_error / pitch,
        outside: far as f64 / placed.nrows().max(1) as f64,
        pitch,
        label_accuracy: None,
        expression_label_accuracy: None,
    })
}

pub fn evaluate(truth: ArrayView2<f64>, placed: ArrayView2<f64>) -> Result<Metrics> {
    let disparity = dpvae_geometry::procrustes(truth, placed)?.disparity;
    let n = truth.nrows();
    let mut rows: Vec<usize> = (0..n).collect();
    if n > MAX_PAIR_SPOTS {
        rows.shuffle(&mut ChaCha8Rng::seed_from_u64(7));
        rows.truncate(MAX_PAIR_SPOTS);
    }
    let t = truth.select(ndarray::Axis(0), &rows);
    let p = placed.select(ndarray::Axis(0), &rows);
    let dt = dpvae_geometry::pairwise_distances(t.view())?;
    let dp = dpvae_geometry::pairwise_distances(p.view())?;
    Ok(Metrics {
        disparity,
        distance_r: pearson_upper(&dt, &dp),
        knn_overlap: knn_overlap(&dt, &dp, K_NEIGHBOURS),
    })
}

fn pearson_upper(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    let n = a.nrows();
    let (mut sa, mut sb, mut saa, mut sbb, mut sab, mut m) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for i in 0..n {
        for j in (i + 1)..n {
            let (x, y) = (a[[i, j]], b[[i, j]]);
            sa += x;
            sb += y;
            saa += x * x;
            sbb += y * y;
            sab += x * y;
            m += 1.0;
        }
    }
    let cov = sab / m - (sa / m) * (sb / m);
    let va = saa / m - (sa / m).powi(2);
    let vb = sbb / m - (sb / m).powi(2);
    if va <= 0.0 || vb <= 0.0 {
        return 0.0;
    }
    cov / (va * vb).sqrt()
}

/// Indices of the `k` smallest entries of `row`, excluding `skip`.
fn nearest(row: ndarray::ArrayView1<f64>, skip: usize, k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..row.len()).filter(|&j| j != skip).collect();
    let k = k.min(idx.len());
    idx.select_nth_unstable_by(k.saturating_sub(1), |&a, &b| row[a].total_cmp(&row[b]));
    idx.truncate(k);
    idx
}

fn knn_overlap(dt: &Array2<f64>, dp: &Array2<f64>, k: usize) -> f64 {
    let n = dt.nrows();
    if n < 2 {
        return 0.0;
    }
    let mut total = 0.0;
    for i in 0..n {
        let a = nearest(dt.row(i), i, k);
        let b = nearest(dp.row(i), i, k);
        let shared = a.iter().filter(|j| b.contains(j)).count();
        total += shared as f64 / a.len() as f64;
    }
    total / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn perfect_and_scrambled_placements() {
        let truth =
            Array2::from_shape_fn((40, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f64 + i as f64);
        let m = evaluate(truth.view(), (truth.clone() * 3.0 + 1.0).view()).unwrap();
        assert!(m.disparity < 1e-12 && (m.distance_r - 1.0).abs() < 1e-12 && m.knn_overlap > 0.999);
        // Rows shuffled: no relation left.
        let order: Vec<usize> = (0..40).map(|i| (i * 17) % 40).collect();
        let rev = truth.select(ndarray::Axis(0), &order);
        let bad = evaluate(truth.view(), rev.view()).unwrap();
        assert!(bad.disparity > 0.3 && bad.knn_overlap < 0.6, "{bad:?}");
        assert!(
            pearson_upper(
                &array![[0.0, 1.0], [1.0, 0.0]],
                &array![[0.0, 1.0], [1.0, 0.0]]
            ) == 0.0
        );
    }
}
