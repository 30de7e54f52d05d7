//! Training options.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::loss::MaskSpec;

/// Whether the distance scale `lambda` is learned (log-parameterised) or held at its initial value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LambdaMode {
    /// Learned jointly with the network.
    #[default]
    Learned,
    /// Fixed at `lambda_init`.
    Fixed,
}

impl LambdaMode {
    /// The name config files and the command line use.
    pub fn name(self) -> &'static str {
        match self {
            LambdaMode::Learned => "learned",
            LambdaMode::Fixed => "fixed",
        }
    }
}

impl std::fmt::Display for LambdaMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for LambdaMode {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "learned" => Ok(LambdaMode::Learned),
            "fixed" => Ok(LambdaMode::Fixed),
            other => Err(ModelError::InvalidConfig(format!(
                "unknown lambda mode `{other}` (expected fixed or learned)"
            ))),
        }
    }
}

/// How the VAE terms are scaled against the DP loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum VaeScale {
    /// `L_recon + beta * L_KL` as the paper writes it: the reconstruction is summed over genes, so the weight
    /// alpha2 needs to grow with the number of genes.
    #[default]
    Sum,
    /// The VAE terms divided by the number of input features (the ELBO per feature), so alpha2 means the same
    /// for 30 principal components and for 2000 genes.
    PerFeature,
}

/// What early stopping watches on the validation spots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ValidationMetric {
    /// The whole objective.
    #[default]
    Total,
    /// The DP loss alone: how well the latent preserves the validation spots' spatial distances, i.e. a
    /// placement criterion.
    Dp,
}

/// The optimiser's hyperparameters: Adam, or AdamW when [`TrainConfig::weight_decay`] is positive. The
/// defaults are the trainer's since its first version, so a config without this table trains as before.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Decay rate of the first-moment (mean) estimate, in [0, 1).
    pub beta1: f64,
    /// Decay rate of the second-moment (uncentred variance) estimate, in [0, 1).
    pub beta2: f64,
    /// Added to the root of the second moment before dividing, for numerical stability; positive.
    pub epsilon: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }
}

impl OptimizerConfig {
    /// Validate the hyperparameters.
    pub fn check(&self) -> Result<()> {
        for (name, v) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&v) {
                return Err(ModelError::InvalidConfig(format!(
                    "optimizer.{name} must be in [0, 1), got {v}"
                )));
            }
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return Err(ModelError::InvalidConfig(format!(
                "optimizer.epsilon must be a positive finite number, got {}",
                self.epsilon
            )));
        }
        Ok(())
    }
}

/// Options of [`crate::train::train`]. Every field has a default, so a TOML/JSON file may set any subset.
///
/// The objective is `alpha1 * (L_recon + beta * L_KL) + alpha2 * L_DP`; `alpha2 = 0` is the plain VAE.
///
/// Files written before the progress bar left the trainer may carry a `quiet` key; it is accepted and
/// ignored (showing progress is the caller's business, see [`crate::train::TrainObserver`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Passes over the training spots (with `steps_per_epoch`, epochs of at most that many steps).
    pub epochs: usize,
    /// Spots per step; 0 (or any value >= the number of training spots) means full batch.
    pub batch_size: usize,
    /// At most this many steps make an epoch (`None`: a full pass). A large reference's epoch then covers a
    /// part of it: training walks on through one shuffled order across epochs, so every spot is visited once
    /// before any is visited twice, and an epoch (and the validation after it) costs the same at any size.
    pub steps_per_epoch: Option<usize>,
    /// Learning rate of the optimiser.
    pub learning_rate: f64,
    /// The optimiser's moment decays and epsilon.
    pub optimizer: OptimizerConfig,
    /// Seed of the weight initialisation, split, shuffling, sampling, dropout and k-means. Training owns it:
    /// the model's architecture ([`crate::ModelConfig`]) has no seed of its own.
    pub seed: u64,
    /// Seed of the train/validation split alone, when it must not follow `seed`: ensemble members trained
    /// with different seeds then hold out the same spots, which calibrate the ensemble's placement.
    pub split_seed: Option<u64>,
    /// Weight of the VAE terms.
    pub alpha1: f64,
    /// Weight of the distance-preserving loss. The reconstruction term is summed over genes (tens of nats per
    /// spot for 100 genes) while the DP loss is in latent units (order 1), hence a default of 100.
    pub alpha2: f64,
    /// Weight of the KL term.
    pub beta: f64,
    /// Scaling of the VAE terms against the DP loss.
    pub vae_scale: VaeScale,
    /// Decoupled weight decay (AdamW) of the optimiser; 0 is plain Adam.
    pub weight_decay: f64,
    /// Epochs over which beta rises linearly from 0 to `beta` (0: no warm-up).
    pub beta_warmup_epochs: usize,
    /// Epochs over which alpha2 rises linearly from 0 to `alpha2` (0: no warm-up).
    pub alpha2_warmup_epochs: usize,
    /// Learned or fixed lambda.
    pub lambda: LambdaMode,
    /// Initial lambda; `None` derives it from the data: the prior's mean latent distance divided by the mean
    /// spatial distance, so both sides of the DP loss start on the same scale. Training owns it: the value
    /// used is reported as [`crate::train::TrainOutcome::lambda_init`].
    pub lambda_init: Option<f64>,
    /// The pair mask `G`.
    pub mask: MaskSpec,
    /// Fraction of spots held out for validation (0: none).
    pub validation_fraction: f64,
    /// Stop when the validation loss has not improved by `min_delta` for this many epochs; the best model is
    /// kept. Needs `validation_fraction > 0`.
    pub early_stopping_patience: Option<usize>,
    /// Minimum improvement of the validation loss that resets the patience counter.
    pub min_delta: f64,
    /// The validation quantity early stopping and the kept epoch follow.
    pub validation_metric: ValidationMetric,
    /// Record the posterior means of the training spots every this many epochs (the paper's Figure 5).
    pub snapshot_every: Option<usize>,
}

impl TrainConfig {
    /// Keys that older files have and this version accepts and ignores: `quiet` (the progress bar is the
    /// caller's now). A reader that checks a file's keys against the serialised settings should skip them.
    pub const IGNORED_KEYS: &[&str] = &["quiet"];
}

impl Serialize for TrainConfig {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        TrainConfig::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for TrainConfig {
    /// The derived, strict reader, after dropping the [`TrainConfig::IGNORED_KEYS`] of older files. The value
    /// is buffered as JSON, which every self-describing format (JSON, TOML) maps onto.
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut value = serde_json::Value::deserialize(deserializer)?;
        if let Some(map) = value.as_object_mut() {
            for key in TrainConfig::IGNORED_KEYS {
                map.remove(*key);
            }
        }
        TrainConfig::deserialize(value).map_err(D::Error::custom)
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 200,
            batch_size: 128,
            steps_per_epoch: None,
            learning_rate: 1e-3,
            optimizer: OptimizerConfig::default(),
            seed: 0,
            split_seed: None,
            alpha1: 1.0,
            alpha2: 100.0,
            beta: 1.0,
            vae_scale: VaeScale::Sum,
            weight_decay: 0.0,
            beta_warmup_epochs: 0,
            alpha2_warmup_epochs: 0,
            lambda: LambdaMode::Learned,
            lambda_init: None,
            mask: MaskSpec::None,
            validation_fraction: 0.0,
            early_stopping_patience: None,
            min_delta: 0.0,
            validation_metric: ValidationMetric::Total,
            snapshot_every: None,
        }
    }
}

impl TrainConfig {
    /// Validate the options.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        if self.epochs == 0 {
            return bad("epochs must be positive".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!(
                "learning_rate must be positive, got {}",
                self.learning_rate
            ));
        }
        for (name, v) in [
            ("alpha1", self.alpha1),
            ("alpha2", self.alpha2),
            ("beta", self.beta),
            ("weight_decay", self.weight_decay),
            ("min_delta", self.min_delta),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!(
                    "{name} must be a finite non-negative number, got {v}"
                ));
            }
        }
        if let Some(l) = self.lambda_init
            && !(l.is_finite() && l > 0.0)
        {
            return bad(format!("lambda_init must be positive, got {l}"));
        }
        if !(0.0..1.0).contains(&self.validation_fraction) {
            return bad(format!(
                "validation_fraction must be in [0, 1), got {}",
                self.validation_fraction
            ));
        }
        if self.early_stopping_patience.is_some() && self.validation_fraction == 0.0 {
            return bad("early stopping needs a validation split (validation_fraction > 0)".into());
        }
        if self.steps_per_epoch == Some(0) {
            return bad("steps_per_epoch must be positive".into());
        }
        if self.snapshot_every == Some(0) {
            return bad("snapshot_every must be positive".into());
        }
        self.optimizer.check()?;
        self.mask.check()
    }

    /// beta at 0-based `epoch`, after warm-up.
    pub fn beta_at(&self, epoch: usize) -> f64 {
        warm(self.beta, self.beta_warmup_epochs, epoch)
    }

    /// alpha2 at 0-based `epoch`, after warm-up.
    pub fn alpha2_at(&self, epoch: usize) -> f64 {
        warm(self.alpha2, self.alpha2_warmup_epochs, epoch)
    }
}

fn warm(target: f64, epochs: usize, epoch: usize) -> f64 {
    if epochs == 0 {
        target
    } else {
        target * ((epoch + 1) as f64 / epochs as f64).min(1.0)
    }
}
