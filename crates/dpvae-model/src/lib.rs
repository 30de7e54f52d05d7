//! # dpvae-model
//!
//! The dp-VAE (Zhou & Du 2024) in burn: a VAE whose latent space is trained to preserve the spots' spatial
//! distances,
//!
//! `L = alpha1 * (L_recon + beta * L_KL) + alpha2 * L_DP`,
//! `L_DP = 1/n^2 sum_ij G_ij | ||z_i - z_j|| - lambda ||s_i - s_j|| |`.
//!
//! - [`model`]: encoder, decoder and the [`DpVae`] module ([`ModelConfig::init`]).
//! - [`loss`]: Gaussian and negative-binomial likelihoods, the closed-form KL, the DP loss (direct kernel with
//!   gradients, and an autodiff reference) and its pair masks.
//! - [`train`]: Adam/AdamW training loop with warm-ups, validation/early stopping, history and snapshots;
//!   [`TrainObserver`] hears every epoch (a progress bar is the caller's).
//! - [`encode`]: [`FittedModel`], the backend-independent trained model, and posterior means/variances.
//! - [`checkpoint`]: self-contained model directories ([`SavedModel`]).
//! - [`backend`]: run-time backend choice ([`BackendKind`]).
//!
//! Inputs are preprocessed by the caller: log-normalised expression for the Gaussian likelihoods, raw counts
//! (and optionally library sizes) for the negative binomial.

pub mod backend;
pub mod checkpoint;
pub mod encode;
pub mod error;
mod fsutil;
pub mod loss;
pub mod model;
pub mod train;

pub use backend::BackendKind;
pub use checkpoint::{SaveOptions, SavedModel, TrainingMetadata, matrix_checksum};
pub use encode::{Embedding, FittedModel};
pub use error::{ModelError, Result};
pub use loss::MaskSpec;
pub use model::{DpVae, Likelihood, ModelConfig};
pub use train::{
    EpochRecord, EpochReport, History, LambdaMode, OptimizerConfig, TracingObserver, TrainConfig,
    TrainInput, TrainObserver, TrainOutcome, TrainStart, TrainSummary, VaeScale, ValidationMetric,
    train, train_observed,
};
