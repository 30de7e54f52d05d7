//! The large-n path: landmark MDS (de Silva & Tenenbaum 2004) from latent points, optionally refined by
//! stochastic stress majorisation on sampled pairs (Zheng, Pawar & Goodman 2018). Memory is O(n k + L^2),
//! time O(n L k) for the triangulation and O(n m k) per refinement epoch; no n x n matrix is formed.

use ndarray::Array2;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use tracing::debug;

use crate::cmds::classical_mds_unchecked;
use crate::error::{GeometryError, Result};
use crate::kernel::row_distance;

/// Landmark-MDS parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct LandmarkParams {
    n_landmarks: usize,
    refine_epochs: usize,
    pairs_per_point: usize,
    seed: u64,
}

impl Default for LandmarkParams {
    fn default() -> Self {
        Self {
            n_landmarks: 1000,
            refine_epochs: 20,
            pairs_per_point: 8,
            seed: 0,
        }
    }
}

/// Which residual the sampled-pair refinement reduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SampledLoss {
    Squared,
    /// Steps clipped to a fraction of the median dissimilarity: a Huber-type stand-in for L1.
    Absolute,
}

/// Result of the landmark path.
#[derive(Debug, Clone)]
pub(crate) struct LandmarkEmbedding {
    pub embedding: Array2<f64>,
    /// Stress-1 estimated on sampled pairs.
    pub stress1_sampled: f64,
}

impl LandmarkParams {
    /// Defaults: 1000 landmarks, 20 refinement epochs of 8 sampled partners per point, seed 0.
    pub fn new() -> Self {
        Self::default()
    }
    /// Number of landmarks `L`.
    pub fn n_landmarks(mut self, l: usize) -> Self {
        self.n_landmarks = l;
        self
    }
    /// Refinement epochs (0 disables the refinement).
    pub fn refine_epochs(mut self, e: usize) -> Self {
        self.refine_epochs = e;
        self
    }
    /// Sampled partners per point and epoch.
    pub fn pairs_per_point(mut self, m: usize) -> Self {
        self.pairs_per_point = m;
        self
    }
    /// Seed for landmark choice and pair sampling.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validate the parameters.
    pub fn check(&self) -> Result<()> {
        if self.n_landmarks < 3 {
            return Err(GeometryError::InvalidParameter {
                name: "n_landmarks",
                reason: format!("must be at least 3, got {}", self.n_landmarks),
            });
        }
        if self.refine_epochs > 0 && self.pairs_per_point == 0 {
            return Err(GeometryError::InvalidParameter {
                name: "pairs_per_point",
                reason: "must be at least 1 when refining".into(),
            });
        }
        Ok(())
    }

    /// Embed `n` latent points (row-major `n x k`) into `p` dimensions.
    pub(crate) fn embed(
        &self,
        latent: &[f64],
        k: usize,
        p: usize,
        loss: SampledLoss,
    ) -> LandmarkEmbedding {
        let n = latent.len() / k;
        let l = self.n_landmarks.min(n);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let landmarks = sample(&mut rng, n, l).into_vec();
        let mut dl = vec![0.0; l * l];
        dl.par_chunks_mut(l).enumerate().for_each(|(a, row)| {
            for (b, v) in row.iter_mut().enumerate() {
                *v = row_distance(latent, k, landmarks[a], landmarks[b]);
            }
        });
        let cmds = classical_mds_unchecked(&dl, l, p, self.seed);
        // Triangulation: x_a = -1/2 L# (delta_a^2 - mean_delta^2), with L# rows v_c / sqrt(lambda_c).
        let mean_sq: Vec<f64> = (0..l)
            .map(|b| (0..l).map(|a| dl[a * l + b] * dl[a * l + b]).sum::<f64>() / l as f64)
            .collect();
        let pinv: Vec<f64> = (0..p)
            .flat_map(|c| {
                let lam = cmds.eigenvalues[c];
                let col = cmds.embedding.column(c).to_owned();
                (0..l).map(move |b| if lam > 0.0 { col[b] / lam } else { 0.0 })
            })
            .collect();
        let mut x = vec![0.0; n * p];
        x.par_chunks_mut(p)
            .enumerate()
            .with_min_len(64)
            .for_each(|(i, xi)| {
                for b in 0..l {
                    let d = row_distance(latent, k, i, landmarks[b]);
                    let t = d * d - mean_sq[b];
                    for c in 0..p {
                        xi[c] += -0.5 * pinv[c * l + b] * t;
                    }
                }
            });
        let before = sampled_stress1(latent, k, &x, p, self.seed ^ 0xabcd);
        let mut best = (x.clone(), before);
        if self.refine_epochs > 0 {
            refine(latent, k, &mut x, p, self, loss, &mut rng);
            let after = sampled_stress1(latent, k, &x, p, self.seed ^ 0xabcd);
            debug!(
                before,
                after, "landmark MDS: sampled stress-1 before/after refinement"
            );
            if after < before {
                best = (x, after);
            }
        }
        LandmarkEmbedding {
            embedding: Array2::from_shape_vec((n, p), best.0).expect("n x p"),
            stress1_sampled: best.1,
        }
    }
}

/// Sequential (hence deterministic) SGD over sampled pairs with an exponentially decaying step factor.
fn refine(
    latent: &[f64],
    k: usize,
    x: &mut [f64],
    p: usize,
    params: &LandmarkParams,
    loss: SampledLoss,
    rng: &mut ChaCha8Rng,
) {
    let n = latent.len() / k;
    let epochs = params.refine_epochs;
    let (mu_max, mu_min) = (0.1f64, 0.001f64);
    let clip = match loss {
        SampledLoss::Squared => f64::INFINITY,
        SampledLoss::Absolute => 0.05 * median_sampled_delta(latent, k, rng),
    };
    let mut step = vec![0.0; p];
    for e in 0..epochs {
        let t = if epochs > 1 {
            e as f64 / (epochs - 1) as f64
        } else {
            1.0
        };
        let mu = mu_max * (mu_min / mu_max).powf(t);
        for i in 0..n {
            for _ in 0..params.pairs_per_point {
                let j = rng.gen_range(0..n);
                if j == i {
                    continue;
                }
                let delta = row_distance(latent, k, i, j);
                let d = row_distance(x, p, i, j);
                if d == 0.0 {
                    continue;
                }
                let r = ((d - delta) / 2.0).clamp(-clip, clip);
                let f = mu * r / d;
                for c in 0..p {
                    step[c] = f * (x[i * p + c] - x[j * p + c]);
                }
                for c in 0..p {
                    x[i * p + c] -= step[c];
                    x[j * p + c] += step[c];
                }
            }
        }
    }
}

fn median_sampled_delta(latent: &[f64], k: usize, rng: &mut ChaCha8Rng) -> f64 {
    let n = latent.len() / k;
    let mut v: Vec<f64> = (0..1001)
        .map(|_| row_distance(latent, k, rng.gen_range(0..n), rng.gen_range(0..n)))
        .collect();
    // 1001 samples: the median is the middle order statistic.
    dpvae_core::stats::median(&mut v)
}

/// Stress-1 estimated on 200 000 seeded random pairs.
pub(crate) fn sampled_stress1(latent: &[f64], k: usize, x: &[f64], p: usize, seed: u64) -> f64 {
    let n = latent.len() / k;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut num, mut den) = (0.0, 0.0);
    for _ in 0..200_000 {
        let (i, j) = (rng.gen_range(0..n), rng.gen_range(0..n));
        if i == j {
            continue;
        }
        let d = row_distance(x, p, i, j);
        let r = d - row_distance(latent, k, i, j);
        num += r * r;
        den += d * d;
    }
    if den > 0.0 {
        (num / den).sqrt()
    } else {
        f64::INFINITY
    }
}
