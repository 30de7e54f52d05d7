//! The training plan: setup ([`Plan::new`]), one mini-batch ([`Plan::step`]), one epoch, one validation pass
//! ([`Plan::validate`]) and the loop ([`Plan::fit`]) that ties them to [`EarlyStopping`] and a
//! [`TrainObserver`].

use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::ctx::{Ctx, Scratch, Terms, dropout_masks};
use super::data::Prepared;
use super::early_stopping::EarlyStopping;
use super::observer::{EpochReport, TrainObserver, TrainStart};
use super::optim::Optim;
use super::{
    EpochRecord, History, LambdaMode, LatentSnapshot, TrainConfig, TrainInput, TrainOutcome,
    VaeScale, ValidationMetric, split_copies,
};
use crate::backend::BackendKind;
use crate::encode::{FittedModel, to_vec};
use crate::error::{ModelError, Result};
use crate::loss::{SpotMask, kl_standard_normal};
use crate::model::{DpVae, ModelConfig};

/// At most this many validation spots (a seeded subset) are evaluated each epoch: the DP term is quadratic.
const MAX_VALIDATION_DP_SPOTS: usize = 2048;

/// A ChaCha8 stream of `seed`: stream 1 splits, 2 shuffles and samples the noise, 3 samples pairs for lambda's
/// initial value, 4 draws dropout masks, 5 picks the evaluated validation spots.
fn stream(seed: u64, id: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(id);
    rng
}

/// Which spots train and which validate.
struct Split {
    /// Training rows (sorted).
    train: Vec<usize>,
    /// Validation rows (sorted; empty without a split).
    validation: Vec<usize>,
    /// The validation rows evaluated each epoch: all, or a seeded subset of [`MAX_VALIDATION_DP_SPOTS`].
    evaluated: Vec<usize>,
}

impl Split {
    fn new(n: usize, copies: usize, cfg: &TrainConfig) -> Self {
        let split_seed = cfg.split_seed.unwrap_or(cfg.seed);
        let (train, validation) = split_copies(
            n,
            copies,
            cfg.validation_fraction,
            &mut stream(split_seed, 1),
        );
        let evaluated = if validation.len() > MAX_VALIDATION_DP_SPOTS {
            let mut v = validation.clone();
            v.shuffle(&mut stream(cfg.seed, 5));
            v.truncate(MAX_VALIDATION_DP_SPOTS);
            v.sort_unstable();
            v
        } else {
            validation.clone()
        };
        Self {
            train,
            validation,
            evaluated,
        }
    }
}

/// The order training visits its spots in: shuffled afresh for every pass over them.
struct SpotOrder {
    order: Vec<usize>,
    /// Where in `order` the next epoch starts (0: reshuffle first).
    cursor: usize,
}

impl SpotOrder {
    fn new(order: Vec<usize>) -> Self {
        Self { order, cursor: 0 }
    }

    /// The next epoch's batches of `batch` spots: a whole pass in a fresh order or, with `steps`, the next
    /// that many batches of the current pass (a pass's last batch may be short; the order is reshuffled once
    /// used up).
    fn next_epoch(
        &mut self,
        batch: usize,
        steps: Option<usize>,
        rng: &mut ChaCha8Rng,
    ) -> Vec<Vec<usize>> {
        if self.cursor == 0 {
            self.order.shuffle(rng);
        }
        let batches: Vec<Vec<usize>> = self.order[self.cursor..]
            .chunks(batch)
            .take(steps.unwrap_or(usize::MAX))
            .map(<[usize]>::to_vec)
            .collect();
        self.cursor += batches.iter().map(Vec::len).sum::<usize>();
        if self.cursor >= self.order.len() {
            self.cursor = 0;
        }
        batches
    }
}

/// Where in the schedule an epoch is.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    /// 1-based epoch.
    epoch: usize,
    beta: f64,
    alpha2: f64,
}

impl Schedule {
    fn of(cfg: &TrainConfig, epoch: usize) -> Self {
        Self {
            epoch,
            beta: cfg.beta_at(epoch - 1),
            alpha2: cfg.alpha2_at(epoch - 1),
        }
    }
}

/// A run in progress: the prepared data, the optimiser, the random streams and host buffers. The model itself
/// is passed through [`Plan::step`] by value, as burn's optimiser takes and returns it.
pub(super) struct Plan<'a, B: AutodiffBackend> {
    cfg: &'a TrainConfig,
    arch: &'a ModelConfig,
    device: &'a B::Device,
    backend: BackendKind,
    ctx: Ctx,
    split: Split,
    batch: usize,
    lambda_init: f64,
    optim: Optim<B>,
    /// Shuffling and the reparameterisation noise.
    rng: ChaCha8Rng,
    dropout_rng: ChaCha8Rng,
    order: SpotOrder,
    scratch: Scratch,
    eps: Vec<f32>,
    /// The last finite step's epoch, terms and lambda, for the error when a later one is not.
    last_finite: Option<(usize, Terms, f64)>,
}

impl<'a, B: AutodiffBackend> Plan<'a, B> {
    /// Setup: prepare the data, split it, resolve the pair mask, fix lambda's initial value and initialise the
    /// network from the training seed. Returns the plan and the untrained model.
    pub fn new(
        device: &'a B::Device,
        input: &TrainInput<'_>,
        arch: &'a ModelConfig,
        cfg: &'a TrainConfig,
        backend: BackendKind,
    ) -> Result<(Self, DpVae<B>)> {
        let prep = Prepared::new(input, arch.likelihood)?;
        let split = Split::new(prep.n, input.copies, cfg);
        let n_train = split.train.len();
        let batch = if cfg.batch_size == 0 || cfg.batch_size >= n_train {
            n_train
        } else {
            cfg.batch_size
        };
        let mask = resolve_mask(input, &prep, cfg)?;
        let lambda_init = initial_lambda(cfg, &prep, &split.train, arch.latent_dim)?;
        // The VAE terms per input feature, or summed as the paper has them.
        let alpha1 = match cfg.vae_scale {
            VaeScale::Sum => cfg.alpha1,
            VaeScale::PerFeature => cfg.alpha1 / prep.genes as f64,
        };
        let ctx = Ctx {
            prep,
            mask,
            likelihood: arch.likelihood,
            latent_dim: arch.latent_dim,
            alpha1,
        };
        let model = arch.init_with::<B>(cfg.seed, lambda_init, device);
        let plan = Self {
            cfg,
            arch,
            device,
            backend,
            ctx,
            order: SpotOrder::new(split.train.clone()),
            split,
            batch,
            lambda_init,
            optim: Optim::new(cfg),
            rng: stream(cfg.seed, 2),
            dropout_rng: stream(cfg.seed, 4),
            scratch: Scratch::default(),
            eps: Vec::new(),
            last_finite: None,
        };
        Ok((plan, model))
    }

    /// What the observer hears before the first epoch.
    pub fn start(&self) -> TrainStart {
        TrainStart {
            epochs: self.cfg.epochs,
            n_train: self.split.train.len(),
            n_validation: self.split.validation.len(),
            batch_size: self.batch,
            lambda_init: self.lambda_init,
        }
    }

    /// The error for `term` becoming `value` in `epoch`, with the last finite values.
    fn diverged(&self, epoch: usize, term: &'static str, value: f64) -> ModelError {
        ModelError::non_finite(epoch, term, value, Terms::describe(self.last_finite))
    }

    /// One mini-batch `idx`: a forward pass with fresh noise and dropout masks, the objective (with the host
    /// terms' surrogates), and one optimiser step. Returns the updated model and the batch's loss terms.
    fn step(&mut self, model: DpVae<B>, idx: &[usize], at: Schedule) -> Result<(DpVae<B>, Terms)> {
        let (b, d, device) = (idx.len(), self.ctx.latent_dim, self.device);
        let (x, target, lib) = self.ctx.batch_tensors::<B>(idx, &mut self.scratch, device);
        self.eps.clear();
        let rng = &mut self.rng;
        self.eps
            .extend((0..b * d).map(|_| -> f32 { StandardNormal.sample(rng) }));
        let noise = Tensor::<B, 2>::from_data(TensorData::new(self.eps.clone(), [b, d]), device);
        let (hidden, p) = (&self.arch.hidden, self.arch.dropout);
        let masks = dropout_masks::<B>(hidden, p, b, &mut self.dropout_rng, device);
        let fwd = model.forward_masked(x, noise, &masks);
        let (recon, nb_host) =
            self.ctx
                .recon(&model, fwd.out, target, lib, idx, &mut self.scratch)?;
        let kl = kl_standard_normal(fwd.mean, fwd.logvar);
        let w = self.ctx.alpha1;
        let mut objective = (recon.clone() + kl.clone().mul_scalar(at.beta)).mul_scalar(w);
        let mut recon_host = 0.0;
        if let Some((value, grad_theta)) = nb_host {
            recon_host = value;
            let genes = self.ctx.prep.genes;
            let g = Tensor::<B, 1>::from_data(TensorData::new(grad_theta, [genes]), device);
            objective = objective + (model.gene_log_param.val().exp() * g).sum().mul_scalar(w);
        }
        let lambda = model.lambda();
        let (objective, dp) = self.add_dp(objective, &model, fwd.z, idx, lambda, at.alpha2)?;
        let vals = to_vec(Tensor::cat(vec![recon.inner(), kl.inner()], 0))?;
        let (recon, kl) = (f64::from(vals[0]) + recon_host, f64::from(vals[1]));
        let terms = Terms {
            recon,
            kl,
            dp,
            total: w * (recon + at.beta * kl) + at.alpha2 * dp,
        };
        if let Some((term, value)) = terms.first_non_finite() {
            return Err(self.diverged(at.epoch, term, value));
        }
        self.last_finite = Some((at.epoch, terms, lambda));
        let grads = GradientsParams::from_grads(objective.backward(), &model);
        Ok((self.optim.step(self.cfg.learning_rate, model, grads), terms))
    }

    /// The DP loss of the batch's sample `z` (0 without coordinates), and `objective` plus its surrogate
    /// `alpha2 * (sum(z * dL/dz) + log_lambda * dL/dlog_lambda)` when `alpha2 > 0` (the lambda part only when
    /// lambda is learned).
    fn add_dp(
        &mut self,
        objective: Tensor<B, 1>,
        model: &DpVae<B>,
        z: Tensor<B, 2>,
        idx: &[usize],
        lambda: f64,
        alpha2: f64,
    ) -> Result<(Tensor<B, 1>, f64)> {
        if self.ctx.mask.is_none() {
            return Ok((objective, 0.0));
        }
        let z_host = to_vec(z.clone().inner())?;
        let Some(dp) = self.ctx.dp(&z_host, idx, lambda, &mut self.scratch) else {
            return Ok((objective, 0.0));
        };
        if alpha2 <= 0.0 {
            return Ok((objective, dp.loss));
        }
        let shape = [idx.len(), self.ctx.latent_dim];
        let gz = Tensor::<B, 2>::from_data(TensorData::new(dp.grad_z, shape), self.device);
        let mut objective = objective + (z * gz).sum().mul_scalar(alpha2);
        if self.cfg.lambda == LambdaMode::Learned {
            // dL/dlog(lambda) = lambda * dL/dlambda.
            let g = alpha2 * dp.grad_lambda * lambda;
            objective = objective + model.log_lambda.val().mul_scalar(g);
        }
        Ok((objective, dp.loss))
    }

    /// One epoch (see [`SpotOrder::next_epoch`]). The record holds the terms averaged over the steps (weighted by
    /// batch size) and lambda after the last step; no validation yet.
    fn epoch(&mut self, mut model: DpVae<B>, at: Schedule) -> Result<(DpVae<B>, EpochRecord)> {
        let mut sum = Terms::default();
        let mut seen = 0usize;
        let steps = self.cfg.steps_per_epoch;
        for idx in self.order.next_epoch(self.batch, steps, &mut self.rng) {
            let (next, t) = self.step(model, &idx, at)?;
            model = next;
            let w = idx.len() as f64;
            seen += idx.len();
            sum.recon += t.recon * w;
            sum.kl += t.kl * w;
            sum.dp += t.dp * w;
            sum.total += t.total * w;
        }
        let lambda = model.lambda();
        if !lambda.is_finite() {
            return Err(self.diverged(at.epoch, "lambda", lambda));
        }
        let nt = seen as f64;
        let record = EpochRecord {
            epoch: at.epoch,
            recon: sum.recon / nt,
            kl: sum.kl / nt,
            dp: sum.dp / nt,
            total: sum.total / nt,
            lambda,
            beta: at.beta,
            alpha2: at.alpha2,
            validation: None,
            validation_dp: None,
            seconds: 0.0,
        };
        Ok((model, record))
    }

    /// One validation pass: the objective's terms on the evaluated validation spots, with posterior means
    /// (no sampling, no dropout). `None` without a split.
    fn validate(&mut self, model: &DpVae<B>, at: Schedule) -> Result<Option<Terms>> {
        if self.split.validation.is_empty() {
            return Ok(None);
        }
        let valid = model.valid();
        let (spots, s) = (&self.split.evaluated, &mut self.scratch);
        let v = self
            .ctx
            .evaluate(&valid, spots, at.beta, at.alpha2, self.device, s)?;
        if let Some((_, value)) = v.first_non_finite() {
            return Err(self.diverged(at.epoch, "validation", value));
        }
        Ok(Some(v))
    }

    /// Posterior means of the training spots after `epoch`.
    fn snapshot(&mut self, model: &DpVae<B>, epoch: usize) -> Result<LatentSnapshot> {
        let valid = model.valid();
        let mean = self
            .ctx
            .means(&valid, &self.split.train, self.device, &mut self.scratch)?;
        Ok(LatentSnapshot { epoch, mean })
    }

    /// Train for the configured epochs (fewer when early stopping ends the run): each epoch trains, validates,
    /// takes its snapshot and is reported to `observer`. Returns the outcome with the kept model.
    pub fn fit(
        mut self,
        mut model: DpVae<B>,
        observer: &mut dyn TrainObserver,
    ) -> Result<TrainOutcome> {
        let cfg = self.cfg;
        let mut stopping = EarlyStopping::new(cfg.early_stopping_patience, cfg.min_delta);
        let mut history = History::default();
        let mut snapshots = Vec::new();
        for epoch in 1..=cfg.epochs {
            let _span = tracing::debug_span!("epoch", epoch).entered();
            let started = Instant::now();
            let at = Schedule::of(cfg, epoch);
            let (next, mut record) = self.epoch(model, at)?;
            model = next;
            if let Some(v) = self.validate(&model, at)? {
                record.validation = Some(v.total);
                record.validation_dp = Some(v.dp);
                let watched = match cfg.validation_metric {
                    ValidationMetric::Total => v.total,
                    ValidationMetric::Dp => v.dp,
                };
                stopping.observe(epoch, watched, &model);
            }
            if cfg.snapshot_every.is_some_and(|k| epoch % k == 0) {
                snapshots.push(self.snapshot(&model, epoch)?);
            }
            record.seconds = started.elapsed().as_secs_f64();
            let stop = stopping.should_stop();
            observer.on_epoch(&EpochReport {
                record: &record,
                epochs: cfg.epochs,
                best_epoch: stopping.best_epoch(),
                stopping: stop,
            });
            history.epochs.push(record);
            if !observer.keep_going() {
                return Err(ModelError::Interrupted { epoch });
            }
            if stop {
                break;
            }
        }
        let stopped_early = stopping.should_stop();
        let (model, best_epoch) = stopping.finish(model, history.epochs.len());
        let trained = model.valid();
        ensure_finite_params(&trained)?;
        Ok(TrainOutcome {
            model: FittedModel::from_module(self.arch.clone(), trained)?,
            history,
            snapshots,
            train_indices: std::mem::take(&mut self.split.train),
            validation_indices: std::mem::take(&mut self.split.validation),
            stopped_early,
            best_epoch,
            lambda_init: self.lambda_init,
            backend: self.backend,
        })
    }
}

/// The pair mask `G` on the spots, when there are coordinates.
fn resolve_mask(
    input: &TrainInput<'_>,
    prep: &Prepared,
    cfg: &TrainConfig,
) -> Result<Option<SpotMask>> {
    let Some(coords) = input.coords else {
        return Ok(None);
    };
    let enc_input = ndarray::ArrayView2::from_shape((prep.n, prep.genes), &prep.input)
        .expect("prepared input is n x genes");
    let m = cfg.mask.resolve(coords, enc_input, cfg.seed)?;
    tracing::debug!(pairs = m.n_pairs(prep.n), "DP mask resolved");
    Ok(Some(m))
}

/// `cfg.lambda_init`, or the prior's mean latent distance over the mean spatial distance of the training
/// spots (1 without coordinates or when all spots coincide).
fn initial_lambda(
    cfg: &TrainConfig,
    prep: &Prepared,
    train: &[usize],
    latent_dim: usize,
) -> Result<f64> {
    let lambda = match (cfg.lambda_init, &prep.coords) {
        (Some(l), _) => l,
        (None, Some(c)) => {
            let mean_ds = mean_spatial_distance(c, prep.coord_dim, train, cfg.seed);
            if mean_ds > 0.0 {
                prior_mean_distance(latent_dim) / mean_ds
            } else {
                1.0
            }
        }
        (None, None) => 1.0,
    };
    if !(lambda.is_finite() && lambda > 0.0) {
        return Err(ModelError::InvalidConfig(format!(
            "lambda_init must be a positive finite number, got {lambda}"
        )));
    }
    Ok(lambda)
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

/// A last guard against NaN weights that no loss evaluation saw (the final step's update).
fn ensure_finite_params<B: Backend>(model: &DpVae<B>) -> Result<()> {
    if model.flat_params()?.iter().any(|v| !v.is_finite()) {
        return Err(ModelError::non_finite(
            0,
            "parameters",
            f64::NAN,
            "the final update produced non-finite weights",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_epochs_visit_every_spot_once_per_pass() {
        let mut order = SpotOrder::new((0..100).collect());
        let mut rng = stream(0, 2);
        let mut seen = vec![0usize; 100];
        let mut sizes = Vec::new();
        for _ in 0..4 {
            let epoch = order.next_epoch(15, Some(2), &mut rng);
            sizes.push(epoch.iter().map(Vec::len).collect::<Vec<_>>());
            epoch.iter().flatten().for_each(|&i| seen[i] += 1);
        }
        // 100 spots in batches of 15: two full epochs, a third, then the pass's short last batch.
        assert_eq!(sizes, [vec![15, 15], vec![15, 15], vec![15, 15], vec![10]]);
        assert!(seen.iter().all(|&c| c == 1), "{seen:?}");
        // The next pass starts afresh, in a new order.
        let next = order.next_epoch(15, Some(2), &mut rng);
        assert_eq!(next.iter().map(Vec::len).sum::<usize>(), 30);
    }

    #[test]
    fn uncapped_epochs_are_whole_passes_in_fresh_orders() {
        let mut order = SpotOrder::new((0..50).collect());
        let mut rng = stream(1, 2);
        let a: Vec<usize> = order.next_epoch(20, None, &mut rng).concat();
        let b: Vec<usize> = order.next_epoch(20, None, &mut rng).concat();
        assert_eq!(a.len(), 50);
        assert_ne!(a, b);
        let mut sorted = b.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    }
}
