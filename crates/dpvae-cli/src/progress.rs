//! The training progress bar: a [`TrainObserver`] that shows the epoch, the losses and lambda while
//! `dpvae_model::train_observed` runs, and also logs the run through `tracing` as the library's own
//! observer does.

use dpvae_model::{
    EpochReport, ModelError, TracingObserver, TrainObserver, TrainStart, TrainSummary,
};
use indicatif::{ProgressBar, ProgressStyle};

/// An indicatif bar over the epochs: `epoch 12/200 [===>  ] recon .. kl .. dp .. lambda .. val ..` with the
/// elapsed time and an estimate of what is left. Hidden when quiet (and, as indicatif does, when stderr is
/// not a terminal). Early stopping clears it like a finished run; an error leaves it where the run stopped.
#[derive(Debug)]
pub struct TrainProgress {
    quiet: bool,
    bar: Option<ProgressBar>,
    log: TracingObserver,
    /// Training runs started (one per ensemble member) and the epochs the current one plans.
    runs: usize,
    planned: usize,
}

impl TrainProgress {
    /// A bar that shows itself when the run starts, unless `quiet`.
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            bar: None,
            log: TracingObserver,
            runs: 0,
            planned: 0,
        }
    }

    fn bar(epochs: usize, quiet: bool) -> ProgressBar {
        if quiet {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(epochs as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} epoch {pos}/{len} [{bar:25}] {msg} [{elapsed_precise} < {eta}]",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar
    }
}

impl TrainObserver for TrainProgress {
    fn on_start(&mut self, start: &TrainStart) {
        self.log.on_start(start);
        self.runs += 1;
        self.planned = start.epochs;
        self.bar = Some(Self::bar(start.epochs, self.quiet));
    }

    fn on_epoch(&mut self, report: &EpochReport<'_>) {
        self.log.on_epoch(report);
        let Some(bar) = &self.bar else { return };
        let r = report.record;
        bar.set_message(format!(
            "recon {:.3} kl {:.3} dp {:.4} lambda {:.3e}{}",
            r.recon,
            r.kl,
            r.dp,
            r.lambda,
            r.validation
                .map(|v| format!(" val {v:.3}"))
                .unwrap_or_default()
        ));
        bar.set_position(r.epoch as u64);
    }

    fn on_finish(&mut self, summary: &TrainSummary) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.log.on_finish(summary);
        // Said without -v: a run that ends at epoch 57 of 200 should not look like a crash or a bug.
        if summary.stopped_early && !self.quiet {
            eprintln!(
                "training run {}: early stopping after {} of {} epochs (the validation spots stopped \
                 improving for --patience epochs); kept the best epoch, {}",
                self.runs, summary.epochs_run, self.planned, summary.best_epoch
            );
        }
    }

    fn on_error(&mut self, error: &ModelError) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
        self.log.on_error(error);
    }
}
