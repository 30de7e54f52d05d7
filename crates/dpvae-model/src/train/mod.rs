//! The training loop: Adam (or AdamW) on `alpha1 * (L_recon + beta * L_KL) + alpha2 * L_DP`.
//!
//! A plain custom loop (forward, loss, backward, `GradientsParams::from_grads`, `optim.step`), laid out as a
//! small training plan in the manner of burn's custom loops and scvi's `TrainingPlan`: setup, a `step` per
//! mini-batch, a `validate` pass per epoch, an `EarlyStopping` value, and a
//! [`TrainObserver`] that hears every epoch (the trainer draws no progress bar; the CLI's observer does).
//!
//! Two terms are evaluated on the host with their gradients and fed back through surrogates whose gradient is
//! exactly theirs: the DP loss (`sum(z * dL/dz) + log_lambda * dL/dlog_lambda`, see [`crate::loss::dp`]) and
//! the log-gamma part of the NB likelihood (`sum(theta * dL/dtheta)`). The surrogates' values are not the
//! losses, so the reported losses come from the host computations.
//!
//! All randomness (initialisation, split, shuffling, the reparameterisation noise) comes from ChaCha8 streams of
//! `seed`, generated on the host, so a CPU backend gives bit-identical runs for the same seed.

mod config;
mod ctx;
mod data;
mod early_stopping;
mod history;
mod observer;
mod optim;
mod plan;

use burn::tensor::backend::AutodiffBackend;

pub use config::{LambdaMode, OptimizerConfig, TrainConfig, VaeScale, ValidationMetric};
pub use data::{TrainInput, split_copies, split_indices};
pub use history::{EpochRecord, History, LatentSnapshot, snapshots_to_csv};
pub use observer::{EpochReport, TracingObserver, TrainObserver, TrainStart, TrainSummary};

use crate::backend::BackendKind;
use crate::encode::FittedModel;
use crate::error::{ModelError, Result};
use crate::model::ModelConfig;
use plan::Plan;

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
    /// The initial lambda: [`TrainConfig::lambda_init`], or the one derived from the data when that is `None`.
    pub lambda_init: f64,
    /// The backend that trained it.
    pub backend: BackendKind,
}

/// Train a dp-VAE of architecture `model` on `input`, logging progress through `tracing` ([`TracingObserver`]).
/// `model.n_genes` must equal the number of columns. The weights start from `cfg.seed` and lambda from
/// `cfg.lambda_init` (or the value derived from the data, reported as [`TrainOutcome::lambda_init`]).
pub fn train(
    input: &TrainInput<'_>,
    model: &ModelConfig,
    cfg: &TrainConfig,
    backend: BackendKind,
) -> Result<TrainOutcome> {
    train_observed(input, model, cfg, backend, &mut TracingObserver)
}

/// As [`train`], reporting the run to `observer` (a progress bar, a recorder, ...) instead of the log.
pub fn train_observed(
    input: &TrainInput<'_>,
    model: &ModelConfig,
    cfg: &TrainConfig,
    backend: BackendKind,
    observer: &mut dyn TrainObserver,
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
    crate::with_backend!(backend, |B, device| run::<B>(
        &device, input, model, cfg, backend, observer
    ))
}

/// Set up a [`Plan`] and fit it, telling `observer` how it goes.
fn run<B: AutodiffBackend>(
    device: &B::Device,
    input: &TrainInput<'_>,
    arch: &ModelConfig,
    cfg: &TrainConfig,
    backend: BackendKind,
    observer: &mut dyn TrainObserver,
) -> Result<TrainOutcome> {
    let (spots, genes) = input.expression.dim();
    let span = tracing::info_span!(
        "train",
        backend = %backend,
        spots,
        genes,
        likelihood = arch.likelihood.name()
    );
    let _entered = span.enter();
    let (plan, model) = Plan::<B>::new(device, input, arch, cfg, backend)?;
    observer.on_start(&plan.start());
    match plan.fit(model, observer) {
        Ok(outcome) => {
            observer.on_finish(&TrainSummary {
                epochs_run: outcome.history.epochs.len(),
                best_epoch: outcome.best_epoch,
                stopped_early: outcome.stopped_early,
            });
            Ok(outcome)
        }
        Err(e) => {
            observer.on_error(&e);
            Err(e)
        }
    }
}
