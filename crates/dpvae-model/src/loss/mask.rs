//! The pair mask `G` of the DP loss: which spot pairs should keep their spatial distance.

use std::str::FromStr;

use dpvae_core::distance::sq_euclidean_rows;
use dpvae_core::knn::knn_brute;
use linfa::prelude::*;
use linfa_clustering::KMeans;
use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::dp::BatchMask;
use crate::error::{ModelError, Result};

/// How `G` is chosen, as a user states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum MaskSpec {
    /// Every pair (the paper's setting).
    #[default]
    None,
    /// Pairs where either spot is among the other's k nearest spatial neighbours.
    Knn {
        /// Neighbours per spot.
        k: usize,
    },
    /// Pairs closer than `radius` in the coordinate units.
    Radius {
        /// Maximum spatial distance.
        radius: f64,
    },
    /// Pairs in the same k-means cluster of the expression matrix.
    Clusters {
        /// Number of clusters.
        k: usize,
    },
    /// An explicit list of spot pairs (0-based indices into the training matrix; order and duplicates do not
    /// matter).
    Pairs {
        /// The pairs.
        pairs: Vec<(usize, usize)>,
    },
}

impl FromStr for MaskSpec {
    type Err = ModelError;
    /// `none`, `knn:K`, `radius:R`, `clusters:K` (pair lists come from files, not strings).
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| {
            ModelError::InvalidConfig(format!(
                "mask `{s}`: {why} (expected none, knn:K, radius:R or clusters:K)"
            ))
        };
        let (kind, arg) = match s.split_once(':') {
            Some((k, a)) => (k.trim().to_ascii_lowercase(), Some(a.trim())),
            None => (s.trim().to_ascii_lowercase(), None),
        };
        let int = |a: Option<&str>| -> Result<usize> {
            a.ok_or_else(|| bad("missing number"))?
                .parse::<usize>()
                .map_err(|_| bad("not a positive integer"))
        };
        let spec = match kind.as_str() {
            "none" | "all" if arg.is_none() => Self::None,
            "knn" => Self::Knn { k: int(arg)? },
            "clusters" | "kmeans" => Self::Clusters { k: int(arg)? },
            "radius" => Self::Radius {
                radius: arg
                    .ok_or_else(|| bad("missing radius"))?
                    .parse()
                    .map_err(|_| bad("radius is not a number"))?,
            },
            _ => return Err(bad("unknown mask")),
        };
        spec.check()?;
        Ok(spec)
    }
}

impl MaskSpec {
    /// Validate the parameters (not the data).
    pub fn check(&self) -> Result<()> {
        match self {
            Self::Knn { k: 0 } | Self::Clusters { k: 0 } => {
                Err(ModelError::InvalidConfig("mask: k must be positive".into()))
            }
            Self::Radius { radius } if !(radius.is_finite() && *radius > 0.0) => Err(
                ModelError::InvalidConfig(format!("mask: radius must be positive, got {radius}")),
            ),
            _ => Ok(()),
        }
    }

    /// Turn the specification into a mask over the `n` training spots. `coords` are the spot coordinates and
    /// `expression` the encoder input (for clusters).
    pub fn resolve(
        &self,
        coords: ArrayView2<'_, f64>,
        expression: ArrayView2<'_, f32>,
        seed: u64,
    ) -> Result<SpotMask> {
        self.check()?;
        let n = coords.nrows();
        match self {
            Self::None => Ok(SpotMask::All),
            Self::Knn { k } => {
                if *k >= n {
                    return Err(ModelError::InvalidConfig(format!(
                        "mask knn:{k} needs more than {k} spots, got {n}"
                    )));
                }
                Ok(SpotMask::neighbours(n, knn_pairs(coords, *k)))
            }
            Self::Radius { radius } => Ok(SpotMask::neighbours(n, radius_pairs(coords, *radius))),
            Self::Clusters { k } => {
                if *k > n {
                    return Err(ModelError::InvalidConfig(format!(
                        "mask clusters:{k} needs at least {k} spots, got {n}"
                    )));
                }
                let data = expression.mapv(f64::from);
                let dataset = DatasetBase::from(data);
                let model = KMeans::params_with_rng(*k, ChaCha8Rng::seed_from_u64(seed))
                    .max_n_iterations(300)
                    .tolerance(1e-6)
                    .fit(&dataset)
                    .map_err(|e| ModelError::InvalidInput(format!("k-means for the mask: {e}")))?;
                let labels = model.predict(dataset.records());
                Ok(SpotMask::Labels(labels.iter().map(|&l| l as u32).collect()))
            }
            Self::Pairs { pairs } => {
                if let Some(&(i, j)) = pairs.iter().find(|&&(i, j)| i >= n || j >= n) {
                    return Err(ModelError::InvalidInput(format!(
                        "mask pair ({i}, {j}) is out of range for {n} spots"
                    )));
                }
                Ok(SpotMask::neighbours(n, pairs.clone()))
            }
        }
    }
}

/// A mask resolved over the training spots.
#[derive(Debug, Clone, PartialEq)]
pub enum SpotMask {
    /// Every pair.
    All,
    /// Same label (cluster) pairs.
    Labels(Vec<u32>),
    /// Symmetric adjacency lists (sorted, no self pairs).
    Neighbours(Vec<Vec<u32>>),
}

impl SpotMask {
    fn neighbours(n: usize, pairs: Vec<(usize, usize)>) -> Self {
        let mut adj = vec![Vec::new(); n];
        for (i, j) in pairs {
            if i != j {
                adj[i].push(j as u32);
                adj[j].push(i as u32);
            }
        }
        for a in &mut adj {
            a.sort_unstable();
            a.dedup();
        }
        Self::Neighbours(adj)
    }

    /// Number of unordered pairs among `n` spots that the mask keeps.
    pub fn n_pairs(&self, n: usize) -> usize {
        match self {
            Self::All => n * n.saturating_sub(1) / 2,
            Self::Labels(l) => {
                let mut counts = std::collections::HashMap::<u32, usize>::new();
                for x in l {
                    *counts.entry(*x).or_default() += 1;
                }
                counts.values().map(|c| c * (c - 1) / 2).sum()
            }
            Self::Neighbours(adj) => adj.iter().map(Vec::len).sum::<usize>() / 2,
        }
    }

    /// Restrict the mask to a batch (global spot indices), filling the caller's buffers. `position` must have
    /// one entry per spot, all `u32::MAX`; it is restored before returning.
    pub fn for_batch<'a>(
        &self,
        batch: &[usize],
        position: &mut [u32],
        labels: &'a mut Vec<u32>,
        pairs: &'a mut Vec<(u32, u32)>,
    ) -> BatchMask<'a> {
        match self {
            Self::All => BatchMask::All,
            Self::Labels(l) => {
                labels.clear();
                labels.extend(batch.iter().map(|&i| l[i]));
                BatchMask::Labels(labels)
            }
            Self::Neighbours(adj) => {
                for (p, &i) in batch.iter().enumerate() {
                    position[i] = p as u32;
                }
                pairs.clear();
                for (p, &i) in batch.iter().enumerate() {
                    for &j in &adj[i] {
                        let q = position[j as usize];
                        if q != u32::MAX && (p as u32) < q {
                            pairs.push((p as u32, q));
                        }
                    }
                }
                for &i in batch {
                    position[i] = u32::MAX;
                }
                BatchMask::Pairs(pairs)
            }
        }
    }
}

/// k nearest spatial neighbours of every spot ([`dpvae_core::knn::knn_brute`]: brute force, parallel over spots,
/// ties broken by the lower index).
fn knn_pairs(coords: ArrayView2<'_, f64>, k: usize) -> Vec<(usize, usize)> {
    knn_brute(coords, k)
        .into_iter()
        .enumerate()
        .flat_map(|(i, row)| row.into_iter().map(move |(j, _)| (i, j as usize)))
        .collect()
}

fn radius_pairs(coords: ArrayView2<'_, f64>, radius: f64) -> Vec<(usize, usize)> {
    let n = coords.nrows();
    let r2 = radius * radius;
    (0..n)
        .into_par_iter()
        .flat_map_iter(|i| {
            ((i + 1)..n)
                .filter(move |&j| sq_euclidean_rows(coords.row(i), coords.row(j)) <= r2)
                .map(move |j| (i, j))
        })
        .collect()
}

/// A dense 0/1 `[n, n]` matrix of a batch mask, for the autodiff reference.
pub fn dense_batch_mask(mask: BatchMask<'_>, n: usize) -> Array2<f32> {
    let mut m = Array2::<f32>::zeros((n, n));
    match mask {
        BatchMask::All => m.fill(1.0),
        BatchMask::Labels(l) => {
            for i in 0..n {
                for j in 0..n {
                    if l[i] == l[j] {
                        m[[i, j]] = 1.0;
                    }
                }
            }
        }
        BatchMask::Pairs(p) => {
            for &(i, j) in p {
                m[[i as usize, j as usize]] = 1.0;
                m[[j as usize, i as usize]] = 1.0;
            }
        }
    }
    m
}
