//! Synthetic spatial data for the tests: spots on a jittered grid whose expression varies smoothly with
//! position, so a 2-D latent space can recover the layout.
#![allow(dead_code)]

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub struct Tissue {
    pub coords: Array2<f64>,
    /// Poisson-like counts.
    pub counts: Array2<f32>,
    /// log1p of counts normalised to the median library size.
    pub lognorm: Array2<f32>,
}

pub fn tissue(side: usize, genes: usize, seed: u64) -> Tissue {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = side * side;
    let mut coords = Array2::<f64>::zeros((n, 2));
    for i in 0..n {
        coords[[i, 0]] = (i % side) as f64 * 100.0 + rng.gen_range(-10.0..10.0);
        coords[[i, 1]] = (i / side) as f64 * 100.0 + rng.gen_range(-10.0..10.0);
    }
    // Each gene peaks somewhere in the tissue.
    let span = side as f64 * 100.0;
    let centres: Vec<(f64, f64)> = (0..genes)
        .map(|_| (rng.gen_range(0.0..span), rng.gen_range(0.0..span)))
        .collect();
    let mut counts = Array2::<f32>::zeros((n, genes));
    for i in 0..n {
        for (g, (cx, cy)) in centres.iter().enumerate() {
            let d2 = (coords[[i, 0]] - cx).powi(2) + (coords[[i, 1]] - cy).powi(2);
            let rate = 0.5 + 20.0 * (-d2 / (2.0 * (0.35 * span).powi(2))).exp();
            // Poisson by inversion (rates are small).
            let (mut k, mut p, u) = (0u32, (-rate).exp(), rng.r#gen::<f64>());
            let mut cdf = p;
            while u > cdf && k < 1000 {
                k += 1;
                p *= rate / k as f64;
                cdf += p;
            }
            counts[[i, g]] = k as f32;
        }
    }
    for i in 0..n {
        if counts.row(i).sum() == 0.0 {
            counts[[i, 0]] = 1.0;
        }
    }
    let lib: Vec<f32> = counts.rows().into_iter().map(|r| r.sum()).collect();
    let mut sorted = lib.clone();
    sorted.sort_by(f32::total_cmp);
    let median = sorted[n / 2];
    let mut lognorm = counts.clone();
    for (i, mut row) in lognorm.rows_mut().into_iter().enumerate() {
        row.mapv_inplace(|v| (v * median / lib[i]).ln_1p());
    }
    Tissue {
        coords,
        counts,
        lognorm,
    }
}

/// scipy.spatial.procrustes disparity: centre both, scale to unit Frobenius norm, best rotation/reflection and
/// scale of the second onto the first; disparity = 1 - (sum of singular values of A^T B)^2. 2-D only.
pub fn procrustes_disparity(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    let norm = |m: &Array2<f64>| {
        let c = m - &m.mean_axis(ndarray::Axis(0)).unwrap();
        let f = c.iter().map(|v| v * v).sum::<f64>().sqrt();
        c / f
    };
    let (a, b) = (norm(a), norm(b));
    let m = a.t().dot(&b);
    // Singular values of a 2x2 matrix in closed form.
    let (p, q, r, s) = (m[[0, 0]], m[[0, 1]], m[[1, 0]], m[[1, 1]]);
    let e = (p + s) / 2.0;
    let f = (p - s) / 2.0;
    let g = (r + q) / 2.0;
    let h = (r - q) / 2.0;
    let qq = (e * e + h * h).sqrt();
    let rr = (f * f + g * g).sqrt();
    let sum_sv = (qq + rr) + (qq - rr).abs();
    1.0 - sum_sv * sum_sv
}
