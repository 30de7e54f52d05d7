//! The training loop: Adam on `alpha1 * (L_recon + beta * L_KL) + alpha2 * L_DP`.
//!
//! A plain custom loop (forward, loss, backward, `GradientsParams::from_grads`, `optim.step`). Two terms are
//! evaluated on the host with their gradients and fed back through surrogates whose gradient is exactly theirs:
//! the DP loss (`sum(z * dL/dz) + log_lambda * dL/dlog_lambda`, see [`crate::loss::dp`]) and the log-gamma part of
//! the NB likelihood (`sum(theta * dL/dtheta)`). The surrogates' values are not the losses, so the reported
//! losses come from the host computations.
//!
//! All randomness (initialisation, split, shuffling, the reparameterisation noise) comes from ChaCha8 streams of
//! `seed`, generated on the host, so a CPU backend gives bit-identical runs for the same seed.

mod config;
mod data;
mod history;

use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, AdamConfig, AdamW, AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::Array2;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

pub use config::{LambdaMode, TrainConfig, VaeScale, ValidationMetric};
pub use data::{TrainInput, split_indices};
pub use history::{EpochRecord, History, LatentSnapshot, snapshots_to_csv};

use crate::backend::BackendKind;
use crate::encode::{FittedModel, to_vec};
use crate::error::{ModelError, Result};
use crate::loss::{
    SpotMask, dp_loss_grad, gaussian_nll, kl_standard_normal, nb_gamma_terms, nb_nll_differentiable,
};
use crate::model::{DpVae, Likelihood, ModelConfig};
use data::Prepared;

/// Everything a training run produces.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The trained model (the best by validation loss when early stopping is on).
    pub model: FittedModel,
    /// Per-epoch history.
    pub history: History,
    /// Latent snapshots, if requested.
    pub snapshots: Vec<LatentSnapshot>,
    /// Rows of the input used for training (sorted).
    pub train_indices: Vec<usize>,
    /// Rows held out for validation (sorted; empty without a split).
    pub validation_indices: Vec<usize>,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// Epoch whose weights were kept (1-based).
    pub best_epoch: usize,
    /// The backend that trained it.
    pub backend: BackendKind,
}

/// Train a dp-VAE on `input`. `model.n_genes` must equal the number of columns; `model.seed` and
/// `model.lambda_init` are replaced by the training seed and the (given or derived) initial lambda.
pub fn train(
    input: &TrainInput<'_>,
    model: &ModelConfig,
    cfg: &TrainConfig,
    backend: BackendKind,
) -> Result<TrainOutcome> {
    cfg.check()?;
    model.check()?;
    if model.n_genes != input.expression.ncols() {
        return Err(ModelError::InvalidInput(format!(
            "the model expects {} genes but the expression matrix has {}",
            model.n_genes,
            input.expression.ncols()
        )));
    }
    if cfg.alpha2 > 0.0 && input.coords.is_none() {
        return Err(ModelError::InvalidInput(
            "alpha2 > 0 needs spatial coordinates for the distance-preserving loss".into(),
        ));
    }
    backend.ensure_available()?;
    crate::with_backend!(backend, |B, device| train_on::<B>(
        &device, input, model, cfg, backend
    ))
}

/// A ChaCha8 stream of `seed`: stream 1 splits, 2 trains, 3 samples pairs for lambda's initial value.
fn stream(seed: u64, id: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(id);
    rng
}

/// E||z_i - z_j|| for independent z ~ N(0, I_d): 2 Gamma((d+1)/2) / Gamma(d/2).
fn prior_mean_distance(d: usize) -> f64 {
    use crate::loss::special::ln_gamma;
    2.0 * (ln_gamma((d as f64 + 1.0) / 2.0) - ln_gamma(d as f64 / 2.0)).exp()
}

/// Mean spatial distance over (up to 4096) random pairs of the given spots.
fn mean_spatial_distance(coords: &[f32], c: usize, spots: &[usize], seed: u64) -> f64 {
    let mut rng = stream(seed, 3);
    let dist = |i: usize, j: usize| -> f64 {
        (0..c)
            .map(|k| f64::from(coords[i * c + k] - coords[j * c + k]).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let (mut sum, mut count) = (0.0, 0usize);
    for _ in 0..4096 {
        let a = spots[rand::Rng::gen_range(&mut rng, 0..spots.len())];
        let b = spots[rand::Rng::gen_range(&mut rng, 0..spots.len())];
        if a != b {
            sum += dist(a, b);
            count += 1;
        }
    }
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// Loss terms of one step or one evaluation.
#[derive(Debug, Clone, Copy, Default)]
struct Terms {
    recon: f64,
    kl: f64,
    dp: f64,
    total: f64,
}

impl Terms {
    fn first_non_finite(&self) -> Option<(&'static str, f64)> {
        [
            ("recon", self.recon),
            ("kl", self.kl),
            ("dp", self.dp),
            ("total", self.total),
        ]
        .into_iter()
        .find(|(_, v)| !v.is_finite())
    }

    fn describe(last: Option<(usize, Terms, f64)>) -> String {
        match last {
            None => "none (the first step failed)".into(),
            Some((epoch, t, lambda)) => format!(
                "epoch {epoch}: recon {}, kl {}, dp {}, total {}, lambda {lambda}",
                t.recon, t.kl, t.dp, t.total
            ),
        }
    }
}

/// The host part of the NB likelihood: its value and dL/dtheta.
type NbHostTerms = (f64, Vec<f32>);

/// Host buffers reused between steps.
#[derive(Default)]
struct Scratch {
    input: Vec<f32>,
    target: Vec<f32>,
    coords: Vec<f32>,
    log_library: Vec<f32>,
    labels: Vec<u32>,
    pairs: Vec<(u32, u32)>,
    position: Vec<u32>,
}

/// Shared, read-only context of a run.
struct Ctx<'a> {
    prep: &'a Prepared,
    mask: Option<&'a SpotMask>,
    likelihood: Likelihood,
    latent_dim: usize,
    alpha1: f64,
}

impl Ctx<'_> {
    /// Gather a batch and build its input/target tensors (and log library sizes for NB).
    fn batch_tensors<B: Backend>(
        &self,
        idx: &[usize],
        s: &mut Scratch,
        device: &B::Device,
    ) -> (Tensor<B, 2>, Tensor<B, 2>, Option<Tensor<B, 2>>) {
        let (b, g) = (idx.len(), self.prep.genes);
        Prepared::gather(&self.prep.input, g, idx, &mut s.input);
        let x = Tensor::<B, 2>::from_data(TensorData::new(s.input.clone(), [b, g]), device);
        let target = match &self.prep.target {
            Some(t) => {
                Prepared::gather(t, g, idx, &mut s.target);
                Tensor::from_data(TensorData::new(s.target.clone(), [b, g]), device)
            }
            None => x.clone(),
        };
        let lib = self.likelihood.uses_counts().then(|| {
            Prepared::gather(&self.prep.log_library, 1, idx, &mut s.log_library);
            Tensor::from_data(TensorData::new(s.log_library.clone(), [b, 1]), device)
        });
        (x, target, lib)
    }

    /// Differentiable reconstruction term, plus the host part of the NB likelihood (value, dL/dtheta).
    fn recon<B: Backend>(
        &self,
        model: &DpVae<B>,
        out: Tensor<B, 2>,
        target: Tensor<B, 2>,
        log_library: Option<Tensor<B, 2>>,
        idx: &[usize],
        s: &mut Scratch,
    ) -> Result<(Tensor<B, 1>, Option<NbHostTerms>)> {
        Ok(match self.likelihood {
            Likelihood::Gaussian => (gaussian_nll(out, target, None), None),
            Likelihood::GaussianLearnedVariance => (
                gaussian_nll(out, target, Some(model.gene_log_param.val())),
                None,
            ),
            Likelihood::NegativeBinomial => {
                let log_theta = model.gene_log_param.val();
                let t = nb_nll_differentiable(
                    out,
                    target,
                    log_library.expect("NB batches carry library sizes"),
                    log_theta.clone(),
                );
                let theta: Vec<f32> = to_vec(log_theta)?.into_iter().map(f32::exp).collect();
                let counts = self.prep.target.as_ref().expect("NB keeps counts");
                Prepared::gather(counts, self.prep.genes, idx, &mut s.target);
                (t, Some(nb_gamma_terms(&s.target, idx.len(), &theta)))
            }
        })
    }

    /// DP value and gradients for a batch whose latent sample is `z_host`.
    fn dp(
        &self,
        z_host: &[f32],
        idx: &[usize],
        lambda: f64,
        s: &mut Scratch,
    ) -> Option<crate::loss::DpGrad> {
        let (coords, mask) = (self.prep.coords.as_ref()?, self.mask?);
        let c = self.prep.coord_dim;
        Prepared::gather(coords, c, idx, &mut s.coords);
        if s.position.len() != self.prep.n {
            s.position = vec![u32::MAX; self.prep.n];
        }
        let bm = mask.for_batch(idx, &mut s.position, &mut s.labels, &mut s.pairs);
        Some(dp_loss_grad(
            z_host,
            self.latent_dim,
            &s.coords,
            c,
            lambda as f32,
            bm,
        ))
    }

    /// Objective terms on `idx` with posterior means (no sampling), without gradients.
    fn evaluate<B: Backend>(
        &self,
        model: &DpVae<B>,
        idx: &[usize],
        beta: f64,
        alpha2: f64,
        device: &B::Device,
        s: &mut Scratch,
    ) -> Result<Terms> {
        let (x, target, lib) = self.batch_tensors::<B>(idx, s, device);
        let (mean, logvar) = model.encoder.forward(x);
        let out = model.decoder.forward(mean.clone());
        let (recon, host) = self.recon(model, out, target, lib, idx, s)?;
        let kl = kl_standard_normal(mean.clone(), logvar);
        let vals = to_vec(Tensor::cat(vec![recon, kl], 0))?;
        let recon = f64::from(vals[0]) + host.map_or(0.0, |h| h.0);
        let kl = f64::from(vals[1]);
        let dp = self
            .dp(&to_vec(mean)?, idx, model.lambda(), s)
            .map_or(0.0, |d| d.loss);
        Ok(Terms {
            recon,
            kl,
            dp,
            total: self.alpha1 * (recon + beta * kl) + alpha2 * dp,
        })
    }

    /// Posterior means of `idx`.
    fn means<B: Backend>(
        &self,
        model: &DpVae<B>,
        idx: &[usize],
        device: &B::Device,
        s: &mut Scratch,
    ) -> Result<Array2<f32>> {
        let mut out = Array2::<f32>::zeros((idx.len(), self.latent_dim));
        for (chunk_no, chunk) in idx.chunks(8192).enumerate() {
            let (x, _, _) = self.batch_tensors::<B>(chunk, s, device);
            let m = to_vec(model.encoder.forward(x).0)?;
            for (r, row) in m.chunks(self.latent_dim).enumerate() {
                for (k, v) in row.iter().enumerate() {
                    out[[chunk_no * 8192 + r, k]] = *v;
                }
            }
        }
        Ok(out)
    }
}

/// Adam, or AdamW when weight decay is asked for (kept apart so weight_decay = 0 stays bit-identical to the
/// plain Adam runs recorded before AdamW existed).
enum Optim<B: AutodiffBackend> {
    Adam(OptimizerAdaptor<Adam, DpVae<B>, B>),
    AdamW(OptimizerAdaptor<AdamW, DpVae<B>, B>),
}

impl<B: AutodiffBackend> Optim<B> {
    fn new(cfg: &TrainConfig) -> Self {
        if cfg.weight_decay > 0.0 {
            Optim::AdamW(
                AdamWConfig::new()
                    .with_epsilon(1e-8)
                    .with_weight_decay(cfg.weight_decay as f32)
                    .init(),
            )
        } else {
            Optim::Adam(AdamConfig::new().with_epsilon(1e-8).init())
        }
    }

    fn step(&mut self, lr: f64, model: DpVae<B>, grads: GradientsParams) -> DpVae<B> {
        match self {
            Optim::Adam(o) => o.step(lr, model, grads),
            Optim::AdamW(o) => o.step(lr, model, grads),
        }
    }
}

/// Inverted-dropout masks for the encoder's hidden layers of a batch of `b` spots (none when p = 0).
fn dropout_masks<B: Backend>(
    hidden: &[usize],
    p: f64,
    b: usize,
    rng: &mut ChaCha8Rng,
    device: &B::Device,
) -> Vec<Tensor<B, 2>> {
    if p <= 0.0 {
        return Vec::new();
    }
    let keep = (1.0 / (1.0 - p)) as f32;
    hidden
        .iter()
        .map(|&w| {
            let m: Vec<f32> = (0..b * w)
                .map(|_| {
                    if rand::Rng::r#gen::<f64>(rng) < p {
                        0.0
                    } else {
                        keep
                    }
                })
                .collect();
            Tensor::from_data(TensorData::new(m, [b, w]), device)
        })
        .collect()
}

/// At most this many validation spots (a seeded subset) are evaluated each epoch: the DP term is quadratic.
const MAX_VALIDATION_DP_SPOTS: usize = 2048;

fn train_on<B: AutodiffBackend>(
    device: &B::Device,
    input: &TrainInput<'_>,
    model_cfg: &ModelConfig,
    cfg: &TrainConfig,
    backend: BackendKind,
) -> Result<TrainOutcome> {
    let prep = Prepared::new(input, model_cfg.likelihood)?;
    let span = tracing::info_span!(
        "train",
        backend = %backend,
        spots = prep.n,
        genes = prep.genes,
        likelihood = model_cfg.likelihood.name()
    );
    let _entered = span.enter();

    let (train_idx, val_idx) = split_indices(
        prep.n,
        cfg.validation_fraction,
        &mut stream(cfg.split_seed.unwrap_or(cfg.seed), 1),
    );
    let n_train = train_idx.len();
    let batch = if cfg.batch_size == 0 || cfg.batch_size >= n_train {
        n_train
    } else {
        cfg.batch_size
    };
    let mask = match input.coords {
        Some(coords) => {
            let enc_input = ndarray::ArrayView2::from_shape((prep.n, prep.genes), &prep.input)
                .expect("prepared input is n x genes");
            let m = cfg.mask.resolve(coords, enc_input, cfg.seed)?;
            tracing::debug!(pairs = m.n_pairs(prep.n), "DP mask resolved");
            Some(m)
        }
        None => None,
    };

    let d = model_cfg.latent_dim;
    let lambda_init = match (cfg.lambda_init, &prep.coords) {
        (Some(l), _) => l,
        (None, Some(c)) => {
            let mean_ds = mean_spatial_distance(c, prep.coord_dim, &train_idx, cfg.seed);
            if mean_ds > 0.0 {
                prior_mean_distance(d) / mean_ds
            } else {
                1.0
            }
        }
        (None, None) => 1.0,
    };
    let model_cfg = ModelConfig {
        seed: cfg.seed,
        lambda_init,
        ..model_cfg.clone()
    };
    model_cfg.check()?;
    tracing::info!(
        n_train,
        n_validation = val_idx.len(),
        batch,
        lambda_init,
        "training"
    );

    // The VAE terms per input feature, or summed as the paper has them.
    let vae_weight = match cfg.vae_scale {
        VaeScale::Sum => cfg.alpha1,
        VaeScale::PerFeature => cfg.alpha1 / prep.genes as f64,
    };
    let ctx = Ctx {
        prep: &prep,
        mask: mask.as_ref(),
        likelihood: model_cfg.likelihood,
        latent_dim: d,
        alpha1: vae_weight,
    };
    let mut model: DpVae<B> = model_cfg.init(device);
    let mut optim = Optim::<B>::new(cfg);
    let mut rng = stream(cfg.seed, 2);
    let mut dropout_rng = stream(cfg.seed, 4);
    let val_dp_idx: Vec<usize> = if val_idx.len() > MAX_VALIDATION_DP_SPOTS {
        let mut v = val_idx.clone();
        v.shuffle(&mut stream(cfg.seed, 5));
        v.truncate(MAX_VALIDATION_DP_SPOTS);
        v.sort_unstable();
        v
    } else {
        val_idx.clone()
    };
    let mut order = train_idx.clone();
    let mut s = Scratch::default();
    let mut eps: Vec<f32> = Vec::new();
    let mut history = History::default();
    let mut snapshots = Vec::new();
    let mut last_finite: Option<(usize, Terms, f64)> = None;
    let mut best: Option<(f64, usize, DpVae<B>)> = None;
    let mut since_best = 0usize;
    let mut stopped_early = false;
    let learn_lambda = cfg.lambda == LambdaMode::Learned;

    let pb = if cfg.quiet {
        ProgressBar::hidden()
    } else {
        let pb = ProgressBar::new(cfg.epochs as u64);
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} epoch {pos}/{len} [{bar:25}] {msg} [{elapsed_precise} < {eta}]",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        pb
    };

    for epoch in 0..cfg.epochs {
        let _span = tracing::debug_span!("epoch", epoch = epoch + 1).entered();
        let started = Instant::now();
        let beta = cfg.beta_at(epoch);
        let alpha2 = cfg.alpha2_at(epoch);
        order.shuffle(&mut rng);
        let mut sum = Terms::default();
        for idx in order.chunks(batch) {
            let b = idx.len();
            let (x, target, lib) = ctx.batch_tensors::<B>(idx, &mut s, device);
            eps.clear();
            eps.extend((0..b * d).map(|_| -> f32 { StandardNormal.sample(&mut rng) }));
            let noise = Tensor::<B, 2>::from_data(TensorData::new(eps.clone(), [b, d]), device);
            let masks = dropout_masks::<B>(
                &model_cfg.hidden,
                model_cfg.dropout,
                b,
                &mut dropout_rng,
                device,
            );
            let fwd = model.forward_masked(x, noise, &masks);
            let (recon, nb_host) = ctx.recon(&model, fwd.out, target, lib, idx, &mut s)?;
            let kl = kl_standard_normal(fwd.mean, fwd.logvar);
            let mut objective =
                (recon.clone() + kl.clone().mul_scalar(beta)).mul_scalar(vae_weight);
            let mut recon_host = 0.0;
            if let Some((value, grad_theta)) = nb_host {
                recon_host = value;
                let g =
                    Tensor::<B, 1>::from_data(TensorData::new(grad_theta, [prep.genes]), device);
                objective = objective
                    + (model.gene_log_param.val().exp() * g)
                        .sum()
                        .mul_scalar(vae_weight);
            }
            let lambda = model.lambda();
            let mut dp_value = 0.0;
            if ctx.mask.is_some() {
                let z_host = to_vec(fwd.z.clone().inner())?;
                if let Some(dp) = ctx.dp(&z_host, idx, lambda, &mut s) {
                    dp_value = dp.loss;
                    if alpha2 > 0.0 {
                        let gz =
                            Tensor::<B, 2>::from_data(TensorData::new(dp.grad_z, [b, d]), device);
                        objective = objective + (fwd.z * gz).sum().mul_scalar(alpha2);
                        if learn_lambda {
                            // dL/dlog(lambda) = lambda * dL/dlambda.
                            objective = objective
                                + model
                                    .log_lambda
                                    .val()
                                    .mul_scalar(alpha2 * dp.grad_lambda * lambda);
                        }
                    }
                }
            }
            let vals = to_vec(Tensor::cat(vec![recon.inner(), kl.inner()], 0))?;
            let recon_v = f64::from(vals[0]) + recon_host;
            let kl_v = f64::from(vals[1]);
            let terms = Terms {
                recon: recon_v,
                kl: kl_v,
                dp: dp_value,
                total: vae_weight * (recon_v + beta * kl_v) + alpha2 * dp_value,
            };
            if let Some((term, value)) = terms.first_non_finite() {
                pb.abandon();
                return Err(ModelError::NonFiniteLoss {
                    epoch: epoch + 1,
                    term,
                    value,
                    last_finite: Terms::describe(last_finite),
                });
            }
            last_finite = Some((epoch + 1, terms, lambda));
            let grads = GradientsParams::from_grads(objective.backward(), &model);
            model = optim.step(cfg.learning_rate, model, grads);
            let w = b as f64;
            sum.recon += terms.recon * w;
            sum.kl += terms.kl * w;
            sum.dp += terms.dp * w;
            sum.total += terms.total * w;
        }
        let nt = n_train as f64;
        let lambda = model.lambda();
        let mut record = EpochRecord {
            epoch: epoch + 1,
            recon: sum.recon / nt,
            kl: sum.kl / nt,
            dp: sum.dp / nt,
            total: sum.total / nt,
            lambda,
            beta,
            alpha2,
            validation: None,
            validation_dp: None,
            seconds: 0.0,
        };
        if !lambda.is_finite() {
            pb.abandon();
            return Err(ModelError::NonFiniteLoss {
                epoch: epoch + 1,
                term: "lambda",
                value: lambda,
                last_finite: Terms::describe(last_finite),
            });
        }
        if !val_idx.is_empty() {
            let valid = model.valid();
            // A capped subset keeps the quadratic DP term affordable at 10^5+ spots.
            let v = ctx.evaluate(&valid, &val_dp_idx, beta, alpha2, device, &mut s)?;
            let watched = match cfg.validation_metric {
                ValidationMetric::Total => v.total,
                ValidationMetric::Dp => v.dp,
            };
            if let Some((_, value)) = v.first_non_finite() {
                pb.abandon();
                return Err(ModelError::NonFiniteLoss {
                    epoch: epoch + 1,
                    term: "validation",
                    value,
                    last_finite: Terms::describe(last_finite),
                });
            }
            record.validation = Some(v.total);
            record.validation_dp = Some(v.dp);
            let improved = best
                .as_ref()
                .is_none_or(|(b, _, _)| watched < *b - cfg.min_delta);
            if improved {
                best = Some((watched, epoch + 1, model.clone()));
                since_best = 0;
            } else {
                since_best += 1;
            }
        }
        if let Some(k) = cfg.snapshot_every
            && (epoch + 1) % k == 0
        {
            let valid = model.valid();
            snapshots.push(LatentSnapshot {
                epoch: epoch + 1,
                mean: ctx.means(&valid, &train_idx, device, &mut s)?,
            });
        }
        record.seconds = started.elapsed().as_secs_f64();
        tracing::debug!(
            recon = record.recon,
            kl = record.kl,
            dp = record.dp,
            total = record.total,
            lambda = record.lambda,
            validation = record.validation,
            "epoch finished"
        );
        pb.set_message(format!(
            "recon {:.3} kl {:.3} dp {:.4} lambda {:.3e}{}",
            record.recon,
            record.kl,
            record.dp,
            record.lambda,
            record
                .validation
                .map(|v| format!(" val {v:.3}"))
                .unwrap_or_default()
        ));
        pb.inc(1);
        history.epochs.push(record);
        if let Some(patience) = cfg.early_stopping_patience
            && since_best >= patience
        {
            tracing::info!(epoch = epoch + 1, "early stopping");
            stopped_early = true;
            break;
        }
    }
    pb.finish_and_clear();

    let best_epoch = match best {
        Some((_, epoch, m)) if cfg.early_stopping_patience.is_some() => {
            model = m;
            epoch
        }
        _ => history.epochs.len(),
    };
    let trained = model.valid();
    ensure_finite_params(&trained)?;
    tracing::info!(
        epochs = history.epochs.len(),
        best_epoch,
        "training finished"
    );
    Ok(TrainOutcome {
        model: FittedModel::from_module(model_cfg, trained)?,
        history,
        snapshots,
        train_indices: train_idx,
        validation_indices: val_idx,
        stopped_early,
        best_epoch,
        backend,
    })
}

/// A last guard against NaN weights that no loss evaluation saw (the final step's update).
fn ensure_finite_params<B: Backend>(model: &DpVae<B>) -> Result<()> {
    if model.flat_params()?.iter().any(|v| !v.is_finite()) {
        return Err(ModelError::NonFiniteLoss {
            epoch: 0,
            term: "parameters",
            value: f64::NAN,
            last_finite: "the final update produced non-finite weights".into(),
        });
    }
    Ok(())
}
