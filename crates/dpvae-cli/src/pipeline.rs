//! The steps the workflow commands share: train a model on a reference, embed a query with it, label columns.
//! Kept here so `train`, `embed`, `run` and `demo` compose the same code instead of repeating it.

use anyhow::{Context, Result, bail};
use dpvae_data::SpatialData;
use dpvae_data::preprocess::{FittedPreprocess, Preprocess};
use dpvae_model::{
    BackendKind, Embedding, Likelihood, ModelConfig, SavedModel, TrainConfig, TrainInput,
    TrainOutcome, TrainingMetadata, matrix_checksum,
};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

/// The network's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSettings {
    /// Hidden layer widths (the paper: one layer of 124).
    pub hidden: Vec<usize>,
    /// Latent dimension (the paper: 2, read directly as coordinates).
    pub latent_dim: usize,
    /// `gaussian` (log-normalised input, the paper), `gaussian-learned-variance`, or `nb` (raw counts).
    pub likelihood: LikelihoodName,
}

impl Default for ModelSettings {
    fn default() -> Self {
        ModelSettings {
            hidden: vec![124],
            latent_dim: 2,
            likelihood: LikelihoodName::Gaussian,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LikelihoodName {
    Gaussian,
    GaussianLearnedVariance,
    Nb,
}

impl From<LikelihoodName> for Likelihood {
    fn from(l: LikelihoodName) -> Self {
        match l {
            LikelihoodName::Gaussian => Likelihood::Gaussian,
            LikelihoodName::GaussianLearnedVariance => Likelihood::GaussianLearnedVariance,
            LikelihoodName::Nb => Likelihood::NegativeBinomial,
        }
    }
}

/// Everything `dpvae train` uses; `--print-config` prints it and the model directory stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSettings {
    pub preprocess: Preprocess,
    pub model: ModelSettings,
    pub train: TrainConfig,
    pub backend: BackendKind,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            preprocess: Preprocess::paper(),
            model: ModelSettings::default(),
            train: TrainConfig::default(),
            backend: BackendKind::default(),
        }
    }
}

/// The matrix the model sees for `processed` (log-normalised genes) or, for count models, the raw counts of
/// the same genes and the spots' library sizes.
fn model_input(
    raw: &SpatialData,
    processed: &SpatialData,
    fitted: &FittedPreprocess,
    likelihood: Likelihood,
) -> Result<(Array2<f32>, Option<Array1<f32>>)> {
    if !likelihood.uses_counts() {
        return Ok((processed.x.to_dense(), None));
    }
    let (aligned, _) = fitted
        .params
        .align
        .align_to(raw, &fitted.genes)
        .context("could not select the model's genes from the raw counts")?;
    // Library sizes over every gene of the spot, as scVI uses them.
    let lib: Array1<f32> = raw.x.row_sums().iter().map(|&v| v as f32).collect();
    Ok((aligned.x.to_dense(), Some(lib)))
}

/// A trained model plus what training measured.
pub struct Trained {
    pub saved: SavedModel,
    pub outcome: TrainOutcome,
}

/// Fit preprocessing on `reference` (raw counts and coordinates) and train the model.
pub fn train_reference(
    reference: &SpatialData,
    settings: &TrainSettings,
    dataset_name: &str,
) -> Result<Trained> {
    if settings.train.alpha2 > 0.0 && !reference.has_spatial() {
        bail!(
            "the reference has no coordinates, which the distance-preserving loss needs; give a reference with obsm['spatial'] (or train a plain VAE with --alpha2 0)"
        );
    }
    let (processed, fitted, _report) = settings
        .preprocess
        .fit(reference)
        .context("preprocessing the reference failed")?;
    let likelihood: Likelihood = settings.model.likelihood.into();
    let (x, lib) = model_input(reference, &processed, &fitted, likelihood)?;
    let coords = processed.spatial.clone();
    let input = TrainInput {
        expression: x.view(),
        coords: coords.as_ref().map(|c| c.view()),
        library_size: lib.as_ref().map(|l| l.view()),
    };
    let model = ModelConfig::new(x.ncols())
        .with_hidden(settings.model.hidden.clone())
        .with_latent_dim(settings.model.latent_dim)
        .with_likelihood(likelihood);
    let outcome = dpvae_model::train(&input, &model, &settings.train, settings.backend)?;
    let mut metadata =
        TrainingMetadata::new(settings.train.seed, dataset_name, matrix_checksum(x.view()));
    metadata.backend = outcome.backend.name().to_string();
    metadata.epochs = outcome.history.epochs.len();
    let saved = SavedModel {
        model: outcome.model.clone(),
        train_config: Some(settings.train.clone()),
        preprocess: serde_json::to_value(&fitted)?,
        genes: fitted.genes.clone(),
        metadata,
    };
    Ok(Trained { saved, outcome })
}

/// Process `query` as the model's reference was, and encode it.
pub fn embed(
    saved: &SavedModel,
    query: &SpatialData,
    backend: BackendKind,
) -> Result<(SpatialData, Embedding)> {
    let fitted: FittedPreprocess = serde_json::from_value(saved.preprocess.clone())
        .context("the model directory's preprocessing parameters cannot be read")?;
    let (processed, report) = fitted.apply(query).context(
        "the query could not be brought into the model's gene space (do reference and query share genes?)",
    )?;
    if report.alignment.n_missing > 0 {
        tracing::warn!(
            "{} of the model's {} genes are missing from the query and were filled with zeros",
            report.alignment.n_missing,
            fitted.genes.len()
        );
    }
    let likelihood = saved.model.config().likelihood;
    let (x, _) = model_input(query, &processed, &fitted, likelihood)?;
    let emb = saved.model.encode(x.view(), backend)?;
    Ok((processed, emb))
}

/// Category labels of an obs column (e.g. `domain`), as indices into the sorted distinct names.
pub fn obs_labels(data: &SpatialData, column: &str) -> Option<(Vec<usize>, Vec<String>)> {
    let col = data.obs.column(column).ok()?;
    let col = col.cast(&polars::prelude::DataType::String).ok()?;
    let values: Vec<String> = col
        .str()
        .ok()?
        .iter()
        .map(|v| v.unwrap_or("NA").to_string())
        .collect();
    let mut names: Vec<String> = values.clone();
    names.sort();
    names.dedup();
    let labels = values
        .iter()
        .map(|v| names.binary_search(v).unwrap_or(0))
        .collect();
    Some((labels, names))
}

/// f32 embedding to the f64 matrices the geometry and eval crates take.
pub fn to_f64(a: &Array2<f32>) -> Array2<f64> {
    a.mapv(f64::from)
}
