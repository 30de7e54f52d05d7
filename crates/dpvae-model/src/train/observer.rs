//! What a training run tells whoever watches it: [`TrainObserver`], and [`TracingObserver`], the one
//! [`super::train`] uses, which logs through `tracing`. A progress bar is the caller's observer (the CLI has
//! one); the trainer draws nothing.

use super::EpochRecord;
use crate::error::ModelError;

/// A run that is about to start its first epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainStart {
    /// Epochs planned (early stopping may end the run sooner).
    pub epochs: usize,
    /// Training spots.
    pub n_train: usize,
    /// Validation spots (0 without a split).
    pub n_validation: usize,
    /// Spots per step.
    pub batch_size: usize,
    /// The initial lambda: the configured one or the one derived from the data.
    pub lambda_init: f64,
}

/// One finished epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochReport<'a> {
    /// The epoch's record as [`super::History`] keeps it: 1-based epoch, mean losses, lambda, the schedule,
    /// validation losses and seconds.
    pub record: &'a EpochRecord,
    /// Epochs planned.
    pub epochs: usize,
    /// The best epoch by the validation metric so far (`None` without a split).
    pub best_epoch: Option<usize>,
    /// Whether early stopping ends the run after this epoch.
    pub stopping: bool,
}

/// A run that ended well.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSummary {
    /// Epochs run.
    pub epochs_run: usize,
    /// Epoch whose weights were kept (1-based).
    pub best_epoch: usize,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
}

/// Receives a run's progress: `on_start` once, `on_epoch` after every epoch in order, then `on_finish` or,
/// when the run fails after starting, `on_error`. Every method does nothing unless implemented.
pub trait TrainObserver {
    /// Before the first epoch.
    fn on_start(&mut self, start: &TrainStart) {
        let _ = start;
    }

    /// After each epoch, validation included.
    fn on_epoch(&mut self, report: &EpochReport<'_>) {
        let _ = report;
    }

    /// After the last epoch, once the kept model has passed its checks.
    fn on_finish(&mut self, summary: &TrainSummary) {
        let _ = summary;
    }

    /// Asked after every epoch: `false` ends the run with [`ModelError::Interrupted`] (a caller's Ctrl-C).
    fn keep_going(&mut self) -> bool {
        true
    }

    /// When the run fails after `on_start` (a non-finite loss, say); the error is also returned.
    fn on_error(&mut self, error: &ModelError) {
        let _ = error;
    }
}

/// Logs the run through `tracing`: the start and the end at info level, each epoch at debug level.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingObserver;

impl TrainObserver for TracingObserver {
    fn on_start(&mut self, s: &TrainStart) {
        tracing::info!(
            n_train = s.n_train,
            n_validation = s.n_validation,
            batch = s.batch_size,
            lambda_init = s.lambda_init,
            "training"
        );
    }

    fn on_epoch(&mut self, report: &EpochReport<'_>) {
        let r = report.record;
        tracing::debug!(
            epoch = r.epoch,
            recon = r.recon,
            kl = r.kl,
            dp = r.dp,
            total = r.total,
            lambda = r.lambda,
            validation = r.validation,
            "epoch finished"
        );
        if report.stopping {
            tracing::info!(epoch = r.epoch, "early stopping");
        }
    }

    fn on_finish(&mut self, s: &TrainSummary) {
        tracing::info!(
            epochs = s.epochs_run,
            best_epoch = s.best_epoch,
            stopped_early = s.stopped_early,
            "training finished"
        );
    }
}
