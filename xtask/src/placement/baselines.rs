//! The baselines a user would otherwise reach for, written in Rust so every run measures them on the same
//! splits: kNN regression and MLP regression from principal components of log-normalised HVGs to coordinates
//! (scikit-learn's `KNeighborsRegressor` and `MLPRegressor` as ../shared/notes/peers.md ran them).
//!
//! Each baseline is given what a careful user would give it: the better of two gene recipes (the top 2000
//! `seurat` HVGs, or the 2000 genes of highest variance of the log data), chosen per reference by the
//! disparity of its own held-out spots ([`choose_recipe`]), and every input step dpvae's own pipeline uses:
//! `normalize_total` (median reference total) + `log1p`, PCA(30) fitted on the reference, and the query
//! centred on its own gene means before the projection (a per-section correction).

use anyhow::{Context, Result};
use burn::backend::Autodiff;
use burn::module::{AutodiffModule, Param};
use burn::nn::Linear;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::activation::relu;
use dpvae_data::SpatialData;
use dpvae_data::preprocess::{HvgFlavor, HvgParams, PcaParams, Preprocess};
use dpvae_data::split::train_test_split;
use dpvae_model::backend::FlexBackend;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

type Ad = Autodiff<FlexBackend>;

/// The gene recipes a baseline chooses between.
pub const RECIPES: [HvgFlavor; 2] = [HvgFlavor::Seurat, HvgFlavor::Variance];

/// Genes each recipe keeps.
const N_GENES: usize = 2000;

/// Reference spots held out to choose the recipe.
const CHOICE_FRACTION: f64 = 0.1;

/// A baseline regressor: reference features and coordinates, query features -> query coordinates.
pub type Regressor<'a> =
    dyn Fn(ArrayView2<f32>, ArrayView2<f64>, ArrayView2<f32>) -> Result<Array2<f64>> + 'a;

/// Which recipe a baseline used, and every recipe's disparity on the reference's held-out spots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecipeChoice {
    pub chosen: String,
    pub scores: Vec<(String, f64)>,
}

/// PCA scores of reference and query under one gene recipe (genes both have, the query centred on its own
/// gene means when it has 50 spots or more).
pub fn features(
    reference: &SpatialData,
    query: &SpatialData,
    seed: u64,
    recipe: HvgFlavor,
) -> Result<(Array2<f32>, Array2<f32>)> {
    let p = Preprocess {
        hvg: Some(HvgParams::new(N_GENES, recipe)),
        pca: Some(PcaParams {
            n_components: 30,
            seed,
            whiten: false,
        }),
        center_per_section: true,
        ..Preprocess::default()
    };
    let shared = p.align.keys(query, "query")?.to_vec();
    let (r, fitted, _) = p.fit_shared(reference, Some(&shared))?;
    let (q, _) = fitted.apply(query)?;
    Ok((r.x.to_dense(), q.x.to_dense()))
}

/// The recipe under which `regress`, trained on 90% of the reference, places the other 10% best (lowest
/// Procrustes disparity). The query is never used to choose.
pub fn choose_recipe(
    reference: &SpatialData,
    seed: u64,
    regress: &Regressor,
) -> Result<(HvgFlavor, RecipeChoice)> {
    let split = train_test_split(reference.n_obs(), CHOICE_FRACTION, seed)?;
    let fit = reference.select_obs(&split.train)?;
    let held = reference.select_obs(&split.test)?;
    let truth = held.require_spatial()?;
    let coords = fit.require_spatial()?;
    let mut scores = Vec::new();
    for recipe in RECIPES {
        let (r, q) = features(&fit, &held, seed, recipe)?;
        let placed = regress(r.view(), coords.view(), q.view())?;
        let d = dpvae_geometry::procrustes(truth.view(), placed.view())?.disparity;
        scores.push((recipe, d));
    }
    let best = scores
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|s| s.0)
        .context("no recipe")?;
    let choice = RecipeChoice {
        chosen: best.as_str().to_string(),
        scores: scores
            .iter()
            .map(|(f, d)| (f.as_str().to_string(), *d))
            .collect(),
    };
    Ok((best, choice))
}

/// Place `query` with `regress` under the recipe chosen on the reference.
pub fn place(
    reference: &SpatialData,
    query: &SpatialData,
    seed: u64,
    regress: &Regressor,
) -> Result<(Array2<f64>, RecipeChoice)> {
    let (recipe, choice) = choose_recipe(reference, seed, regress)?;
    let (r, q) = features(reference, query, seed, recipe)?;
    let coords = reference.require_spatial()?;
    Ok((regress(r.view(), coords.view(), q.view())?, choice))
}

/// `KNeighborsRegressor(n_neighbors=k, weights='distance')`: inverse-distance weighted mean of the k nearest
/// reference spots' coordinates (an exact match takes the whole weight, as in scikit-learn).
pub fn knn_regression(
    train: ArrayView2<f32>,
    coords: ArrayView2<f64>,
    query: ArrayView2<f32>,
    k: usize,
) -> Array2<f64> {
    dpvae::placement::neighbour_mean(
        train.mapv(f64::from).view(),
        coords,
        query.mapv(f64::from).view(),
        k,
    )
}

/// `MLPRegressor` options (scikit-learn's names and defaults where they apply).
#[derive(Debug, Clone)]
pub struct MlpParams {
    pub hidden: Vec<usize>,
    /// L2 penalty `alpha` (scikit-learn adds `alpha / 2 * ||W||^2 / batch` to the batch loss).
    pub alpha: f64,
    pub learning_rate: f64,
    pub max_iter: usize,
    pub batch_size: usize,
    pub validation_fraction: f64,
    pub n_iter_no_change: usize,
    pub tol: f64,
    pub seed: u64,
}

impl MlpParams {
    /// `MLPRegressor(hidden_layer_sizes=(128, 64), max_iter=500, early_stopping=True)`.
    pub fn single(seed: u64) -> Self {
        MlpParams {
            hidden: vec![128, 64],
            alpha: 1e-4,
            learning_rate: 1e-3,
            max_iter: 500,
            batch_size: 200,
            validation_fraction: 0.1,
            n_iter_no_change: 10,
            tol: 1e-4,
            seed,
        }
    }

    /// One member of the strong baseline: (256, 128), alpha 1e-2.
    pub fn ensemble_member(seed: u64) -> Self {
        MlpParams {
            hidden: vec![256, 128],
            alpha: 1e-2,
            ..Self::single(seed)
        }
    }
}

#[derive(Module, Debug)]
struct Mlp<B: Backend> {
    layers: Vec<Linear<B>>,
}

impl<B: Backend> Mlp<B> {
    fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(h);
            if i < last {
                h = relu(h);
            }
        }
        h
    }

    fn weight_norm2(&self) -> Tensor<B, 1> {
        let mut s = self.layers[0].weight.val().square().sum();
        for l in &self.layers[1..] {
            s = s + l.weight.val().square().sum();
        }
        s
    }
}

/// Glorot-uniform weights and biases, as scikit-learn initialises them, from a seeded stream.
fn glorot<B: Backend>(
    fan_in: usize,
    fan_out: usize,
    rng: &mut ChaCha8Rng,
    device: &B::Device,
) -> Linear<B> {
    let bound = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    let w: Vec<f32> = (0..fan_in * fan_out)
        .map(|_| rng.gen_range(-bound..bound))
        .collect();
    let b: Vec<f32> = (0..fan_out).map(|_| rng.gen_range(-bound..bound)).collect();
    Linear {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(w, [fan_in, fan_out]),
            device,
        )),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b, [fan_out]),
            device,
        ))),
    }
}

fn tensor<B: Backend>(a: &Array2<f32>, device: &B::Device) -> Tensor<B, 2> {
    let (n, d) = a.dim();
    Tensor::from_data(
        TensorData::new(a.iter().copied().collect::<Vec<_>>(), [n, d]),
        device,
    )
}

/// Fit an MLP regressor on coordinates standardised per axis, predict the query, map back.
pub fn mlp_regression(
    train: ArrayView2<f32>,
    coords: ArrayView2<f64>,
    query: ArrayView2<f32>,
    p: &MlpParams,
) -> Result<Array2<f64>> {
    let device = Default::default();
    let mean = coords.mean_axis(Axis(0)).context("no training spots")?;
    let sd: Array1<f64> = coords
        .std_axis(Axis(0), 0.0)
        .mapv(|s| if s > 0.0 { s } else { 1.0 });
    let y = ((&coords - &mean) / &sd).mapv(|v| v as f32);
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let mut widths = vec![train.ncols()];
    widths.extend(&p.hidden);
    widths.push(coords.ncols());
    let mut model = Mlp::<Ad> {
        layers: widths
            .windows(2)
            .map(|w| glorot(w[0], w[1], &mut rng, &device))
            .collect(),
    };
    let mut order: Vec<usize> = (0..train.nrows()).collect();
    order.shuffle(&mut rng);
    let n_val = ((p.validation_fraction * train.nrows() as f64).ceil() as usize).max(1);
    let (val, fit) = order.split_at(n_val);
    let xv = tensor::<FlexBackend>(&train.select(Axis(0), val), &device);
    let yv = y.select(Axis(0), val);
    let yv_mean = yv.mean_axis(Axis(0)).expect("validation spots");
    let ss_tot: f64 = yv
        .iter()
        .zip(yv_mean.iter().cycle())
        .map(|(v, m)| f64::from(v - m).powi(2))
        .sum();
    let mut fit: Vec<usize> = fit.to_vec();
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init::<Ad, Mlp<Ad>>();
    let (mut best, mut best_model, mut stale) = (f64::NEG_INFINITY, model.valid(), 0usize);
    for _epoch in 0..p.max_iter {
        fit.shuffle(&mut rng);
        for idx in fit.chunks(p.batch_size.min(fit.len())) {
            let xb = tensor::<Ad>(&train.select(Axis(0), idx), &device);
            let yb = tensor::<Ad>(&y.select(Axis(0), idx), &device);
            let pred = model.forward(xb);
            let loss = (pred - yb).square().mean().mul_scalar(0.5)
                + model
                    .weight_norm2()
                    .mul_scalar(0.5 * p.alpha / idx.len() as f64);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(p.learning_rate, model, grads);
        }
        // scikit-learn's early stopping: R^2 on the validation spots must beat the best by `tol`.
        let valid = model.valid();
        let pv: Vec<f32> = valid
            .forward(xv.clone())
            .into_data()
            .to_vec()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let ss_res: f64 = pv
            .iter()
            .zip(yv.iter())
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum();
        let r2 = 1.0 - ss_res / ss_tot.max(f64::MIN_POSITIVE);
        if r2 > best + p.tol {
            stale = 0;
        } else {
            stale += 1;
        }
        if r2 > best {
            best = r2;
            best_model = valid;
        }
        if stale >= p.n_iter_no_change {
            break;
        }
    }
    let pq: Vec<f32> = best_model
        .forward(tensor::<FlexBackend>(&query.to_owned(), &device))
        .into_data()
        .to_vec()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let pq = Array2::from_shape_vec((query.nrows(), coords.ncols()), pq)?.mapv(f64::from);
    Ok(pq * &sd + &mean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn knn_weights_by_inverse_distance_and_exact_matches_win() {
        let train = array![[0.0f32], [1.0], [3.0]];
        let coords = array![[0.0, 0.0], [10.0, 0.0], [30.0, 0.0]];
        let got = knn_regression(
            train.view(),
            coords.view(),
            array![[0.5f32], [3.0]].view(),
            2,
        );
        assert!((got[[0, 0]] - 5.0).abs() < 1e-9, "{got}");
        assert_eq!(got[[1, 0]], 30.0);
    }

    #[test]
    fn mlp_learns_a_linear_map() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = Array2::from_shape_fn((300, 3), |_| rng.gen_range(-1.0f32..1.0));
        let coords = x
            .slice(ndarray::s![.., 0..2])
            .mapv(|v| f64::from(v) * 50.0 + 100.0);
        let p = MlpParams::single(0);
        let pred = mlp_regression(x.view(), coords.view(), x.view(), &p).unwrap();
        let err = (&pred - &coords).mapv(f64::abs).mean().unwrap();
        assert!(err < 5.0, "mean abs error {err}");
    }
}
