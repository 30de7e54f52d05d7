//! The steps the workflow commands share: train a model on a reference, embed a query with it, label columns.
//! Kept here so `train`, `embed`, `run` and `demo` compose the same code instead of repeating it.

use anyhow::{Context, Result, bail};
use dpvae_data::SpatialData;
use dpvae_data::io::tables::CoordTable;
use dpvae_data::preprocess::{FittedPreprocess, Preprocess};
use dpvae_model::{
    BackendKind, Embedding, FittedModel, LambdaMode, Likelihood, ModelConfig, SavedModel,
    TrainConfig, TrainInput, TrainOutcome, TrainingMetadata, VaeScale, ValidationMetric,
    matrix_checksum,
};

use crate::placement::{CoordFrame, PlacementRecord, PlacementSettings, anchor_rows};
use crate::uncertainty::{
    Calibration, MIN_CALIBRATION, MemberLatent, Uncertainty, calibration_rows,
};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

/// The network's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSettings {
    /// Hidden layer widths of the encoder (the decoder mirrors them).
    pub hidden: Vec<usize>,
    /// Latent dimension (2: read directly as coordinates; more: reduced to 2-d by SMACOF).
    pub latent_dim: usize,
    /// `gaussian` (log-normalised or PCA input), `gaussian-learned-variance`, or `nb` (raw counts).
    pub likelihood: LikelihoodName,
    /// Dropout after each hidden encoder layer while training.
    pub dropout: f64,
}

impl Default for ModelSettings {
    fn default() -> Self {
        Self::recommended()
    }
}

impl ModelSettings {
    /// dpvae's defaults: two hidden layers of 256 and 128 with dropout 0.1, a 2-d latent.
    pub fn recommended() -> Self {
        ModelSettings {
            hidden: vec![256, 128],
            latent_dim: 2,
            likelihood: LikelihoodName::Gaussian,
            dropout: 0.1,
        }
    }

    /// The paper's network: one hidden layer of 124, a 2-d latent.
    pub fn paper() -> Self {
        ModelSettings {
            hidden: vec![124],
            latent_dim: 2,
            likelihood: LikelihoodName::Gaussian,
            dropout: 0.0,
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
    pub placement: PlacementSettings,
    pub backend: BackendKind,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self::recommended()
    }
}

/// dpvae's default training options (docs/placement.md has the cross-validation behind each).
pub fn recommended_train_config() -> TrainConfig {
    TrainConfig {
        epochs: 200,
        batch_size: 256,
        learning_rate: 1e-3,
        alpha2: 10.0,
        beta: 1.0,
        vae_scale: VaeScale::PerFeature,
        weight_decay: 1e-4,
        lambda: LambdaMode::Fixed,
        lambda_init: Some(1.0),
        validation_fraction: 0.1,
        early_stopping_patience: Some(40),
        validation_metric: ValidationMetric::Dp,
        ..TrainConfig::default()
    }
}

impl TrainSettings {
    /// dpvae's defaults for placement.
    pub fn recommended() -> Self {
        TrainSettings {
            preprocess: Preprocess::recommended(),
            model: ModelSettings::recommended(),
            train: recommended_train_config(),
            placement: PlacementSettings::recommended(),
            backend: BackendKind::default(),
        }
    }

    /// The paper's protocol (100 seurat HVGs, one layer of 124, raw coordinates, the latent as the output).
    pub fn paper() -> Self {
        TrainSettings {
            preprocess: Preprocess::paper(),
            model: ModelSettings::paper(),
            train: TrainConfig::default(),
            placement: PlacementSettings::paper(),
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
    /// Seconds spent on the placement record after training: encoding the anchors, placing the validation
    /// spots and fitting the uncertainty's calibration.
    pub calibration_seconds: f64,
    /// The first member's training run.
    pub outcome: TrainOutcome,
}

/// Fit preprocessing on `reference` (raw counts and coordinates) and train the model (an ensemble when
/// `settings.placement.members > 1`). With `query_genes`, genes are chosen among those the query shares.
pub fn train_reference(
    reference: &SpatialData,
    settings: &TrainSettings,
    dataset_name: &str,
    query_genes: Option<&[String]>,
) -> Result<Trained> {
    settings.placement.check()?;
    if settings.train.alpha2 > 0.0 && !reference.has_spatial() {
        bail!(
            "the reference has no coordinates, which the distance-preserving loss needs; give a reference \
             with obsm['spatial'] (or train a plain VAE with --alpha2 0 and read its latent)"
        );
    }
    if settings.placement.reference_frame && !reference.has_spatial() {
        tracing::info!(
            "the reference has no coordinates: the model's latent is its output (no reference frame)"
        );
    }
    let likelihood: Likelihood = settings.model.likelihood.into();
    if settings.preprocess.pca.is_some() && likelihood.uses_counts() {
        bail!(
            "the nb likelihood models raw counts and cannot be combined with the PCA preprocessing; use \
             --likelihood gaussian or turn PCA off (preprocess.pca) in the config"
        );
    }
    let (processed, fitted, _report) = settings
        .preprocess
        .fit_shared(reference, query_genes)
        .context("preprocessing the reference failed")?;
    let (x, lib) = model_input(reference, &processed, &fitted, likelihood)?;
    let frame = match (&processed.spatial, settings.placement.standardize_coords) {
        (Some(c), true) => Some(CoordFrame::fit(c.view())?),
        _ => None,
    };
    let coords = match &frame {
        Some(f) => processed.spatial.as_ref().map(|c| f.standardize(c.view())),
        None => processed.spatial.clone(),
    };
    let input = TrainInput {
        expression: x.view(),
        coords: coords.as_ref().map(|c| c.view()),
        library_size: lib.as_ref().map(|l| l.view()),
    };
    let model = ModelConfig::new(x.ncols())
        .with_hidden(settings.model.hidden.clone())
        .with_latent_dim(settings.model.latent_dim)
        .with_likelihood(likelihood)
        .with_dropout(settings.model.dropout);
    let mut train_cfg = settings.train.clone();
    let n_train = ((1.0 - train_cfg.validation_fraction) * x.nrows() as f64) as usize;
    train_cfg.batch_size = settings.placement.batch_size(train_cfg.batch_size, n_train);
    // Every member holds out the same validation spots, so they can calibrate the ensemble's placement.
    train_cfg.split_seed = Some(train_cfg.split_seed.unwrap_or(settings.train.seed));
    let mut outcomes = Vec::with_capacity(settings.placement.members);
    for k in 0..settings.placement.members {
        let cfg = TrainConfig {
            seed: settings.train.seed + k as u64,
            ..train_cfg.clone()
        };
        if settings.placement.members > 1 {
            tracing::info!(
                member = k + 1,
                of = settings.placement.members,
                "training ensemble member"
            );
        }
        outcomes.push(dpvae_model::train(&input, &model, &cfg, settings.backend)?);
    }
    let started = std::time::Instant::now();
    let placement = match (&processed.spatial, settings.placement.reference_frame) {
        (Some(c), true) => Some(serde_json::to_value(placement_record(
            settings, frame, &x, c, &outcomes,
        )?)?),
        _ => None,
    };
    let calibration_seconds = started.elapsed().as_secs_f64();
    let first = outcomes.remove(0);
    let mut metadata =
        TrainingMetadata::new(settings.train.seed, dataset_name, matrix_checksum(x.view()));
    metadata.backend = first.backend.name().to_string();
    metadata.epochs = first.best_epoch;
    let saved = SavedModel {
        model: first.model.clone(),
        members: outcomes.into_iter().map(|o| o.model).collect(),
        placement,
        train_config: Some(train_cfg),
        preprocess: serde_json::to_value(&fitted)?,
        genes: fitted.feature_names(),
        metadata,
    };
    Ok(Trained {
        saved,
        calibration_seconds,
        outcome: first,
    })
}

/// The placement record of a trained ensemble: anchors drawn from the training spots, and the calibration
/// of the placement error on the validation spots no member trained on.
fn placement_record(
    settings: &TrainSettings,
    frame: Option<CoordFrame>,
    x: &Array2<f32>,
    coords: &Array2<f64>,
    outcomes: &[TrainOutcome],
) -> Result<PlacementRecord> {
    let backend = settings.backend;
    let seed = settings.train.seed;
    let validation = &outcomes[0].validation_indices;
    let training: Vec<usize> = (0..x.nrows())
        .filter(|i| validation.binary_search(i).is_err())
        .collect();
    let embed_rows = |rows: &[usize]| {
        let xr = x.select(ndarray::Axis(0), rows);
        outcomes
            .iter()
            .map(|o| {
                let e = o.model.encode(xr.view(), backend)?;
                Ok((to_f64(&e.mean), to_f64(&e.variance)))
            })
            .collect::<Result<Vec<_>>>()
    };
    let rows = anchor_rows(&training, seed);
    let anchor_latents: Vec<Array2<f64>> = embed_rows(&rows)?.into_iter().map(|e| e.0).collect();
    let mut record = PlacementRecord::new(
        settings.placement.clone(),
        frame,
        &coords.select(ndarray::Axis(0), &rows),
        &anchor_latents,
    );
    let cal_rows = calibration_rows(validation, seed);
    if cal_rows.len() < MIN_CALIBRATION {
        tracing::warn!(
            "only {} validation spots: no calibrated uncertainty (dpvae_radius_50/90, dpvae_confidence) \
             for this model; it needs at least {MIN_CALIBRATION} (raise --validation-fraction)",
            cal_rows.len()
        );
        return Ok(record);
    }
    let embedded = embed_rows(&cal_rows)?;
    let latents: Vec<Array2<f64>> = embedded.iter().map(|e| e.0.clone()).collect();
    let method = crate::cmd::reconstruct::MethodArg::chosen(None, latents[0].ncols()).into();
    let (placed, members) = record.place_members(&latents, method, seed)?;
    let truth = coords.select(ndarray::Axis(0), &cal_rows);
    // Errors as `dpvae evaluate` measures them: after the rigid part of the Procrustes alignment (an identity
    // for a good placement in the reference's own frame).
    let errors = crate::uncertainty::rigid_errors(truth.view(), placed.view())?;
    let views = member_views(&embedded);
    let d = record.difficulty(&views, (&latents, &errors), true, &members, &placed)?;
    record.calibration = Some(Calibration::fit(&latents, &d, &errors)?);
    Ok(record)
}

/// Borrowed (means, variances) of every member.
fn member_views(embedded: &[(Array2<f64>, Array2<f64>)]) -> Vec<MemberLatent<'_>> {
    embedded
        .iter()
        .map(|(m, v)| MemberLatent {
            mean: m.view(),
            variance: Some(v.view()),
        })
        .collect()
}

/// The model directory's preprocessing state.
fn fitted_preprocess(saved: &SavedModel) -> Result<FittedPreprocess> {
    serde_json::from_value(saved.preprocess.clone())
        .context("the model directory's preprocessing parameters cannot be read")
}

/// Process `query` as the model's reference was, and encode it with every ensemble member. More than half of
/// the model's genes missing from the query is an error unless `allow_missing_genes`.
pub fn embed_members(
    saved: &SavedModel,
    query: &SpatialData,
    backend: BackendKind,
    allow_missing_genes: bool,
) -> Result<(SpatialData, Vec<Embedding>)> {
    let models: Vec<&FittedModel> = std::iter::once(&saved.model)
        .chain(&saved.members)
        .collect();
    embed_with(saved, &models, query, backend, allow_missing_genes)
}

/// Process `query` as `saved`'s reference was and encode it with `models` (members of `saved`).
fn embed_with(
    saved: &SavedModel,
    models: &[&FittedModel],
    query: &SpatialData,
    backend: BackendKind,
    allow_missing_genes: bool,
) -> Result<(SpatialData, Vec<Embedding>)> {
    let mut fitted = fitted_preprocess(saved)?;
    if allow_missing_genes {
        fitted.params.align.max_missing_fraction = 1.0;
    }
    let (processed, report) = fitted.apply(query).context(
        "the query could not be brought into the model's gene space (do reference and query share genes?)",
    )?;
    let a = &report.alignment;
    if a.n_missing > 0 {
        let pct = 100.0 * a.missing_fraction;
        let msg = format!(
            "{} of the model's {} genes ({pct:.1}%) are missing from the query and were filled with zeros \
             (first missing: {}); placement degrades as this grows: train with the query's genes \
             (`dpvae run` does) or check the identifiers",
            a.n_missing,
            a.n_reference_genes,
            a.missing_examples
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
        if a.missing_fraction > 0.1 {
            tracing::warn!("{msg}");
        } else {
            tracing::info!("{msg}");
        }
    }
    let likelihood = saved.model.config().likelihood;
    let (x, _) = model_input(query, &processed, &fitted, likelihood)?;
    let embeddings = models
        .iter()
        .map(|m| Ok(m.encode(x.view(), backend)?))
        .collect::<Result<Vec<_>>>()?;
    Ok((processed, embeddings))
}

/// Process `query` as the model's reference was, and encode it with the (first) model.
pub fn embed(
    saved: &SavedModel,
    query: &SpatialData,
    backend: BackendKind,
) -> Result<(SpatialData, Embedding)> {
    let (processed, mut embs) = embed_with(saved, &[&saved.model], query, backend, false)?;
    Ok((processed, embs.remove(0)))
}

/// A placed query.
pub struct Placed {
    /// The first member's posterior means (`obsm['X_dpvae']`).
    pub latent: Array2<f64>,
    /// Their posterior variances (`obsm['X_dpvae_var']`).
    pub variance: Array2<f64>,
    /// Coordinates (`obsm['spatial_dpvae']`): in the reference's frame and units when the model has a
    /// placement record, otherwise the reconstruction of the latent.
    pub coords: Array2<f64>,
    /// Each member's placement in the reference frame (one entry without a placement record).
    pub member_coords: Vec<Array2<f64>>,
    /// Whether `coords` is in the reference's frame.
    pub reference_frame: bool,
    /// Calibrated per-spot radii and confidence (models in the reference's frame with a calibration).
    pub uncertainty: Option<Uncertainty>,
    /// Reconstruction method used.
    pub method: dpvae_geometry::Method,
}

impl Placed {
    /// Whether `coords` are tissue coordinates: in the reference's frame, or a bare model's 2-d latent.
    pub fn has_coordinates(&self) -> bool {
        self.reference_frame || self.latent.ncols() == 2
    }

    /// Store the placement where scanpy users look: obsm['X_dpvae'], obsm['X_dpvae_var'],
    /// obsm['spatial_dpvae'] (when [`Placed::has_coordinates`]) and, with a calibration, the obs columns
    /// dpvae_radius_50, dpvae_radius_90 and dpvae_confidence.
    pub fn write_into(&self, data: &mut SpatialData) -> Result<()> {
        if data.n_obs() != self.latent.nrows() {
            bail!(
                "the placement has {} spots but the dataset {}",
                self.latent.nrows(),
                data.n_obs()
            );
        }
        data.obsm.insert("X_dpvae".into(), self.latent.clone());
        data.obsm
            .insert("X_dpvae_var".into(), self.variance.clone());
        if self.has_coordinates() {
            data.obsm
                .insert("spatial_dpvae".into(), self.coords.clone());
        }
        if let Some(u) = &self.uncertainty {
            for (name, values) in u.columns() {
                data.obs
                    .with_column(polars::prelude::Column::new(name.into(), values.to_vec()))
                    .with_context(|| format!("adding obs['{name}']"))?;
            }
        }
        Ok(())
    }

    /// The coordinates as a barcode,x,y table, with the uncertainty columns when there are any.
    pub fn coord_table(&self, barcodes: Vec<String>) -> Result<CoordTable> {
        let mut t = CoordTable::new(barcodes, self.coords.clone())?;
        if let Some(u) = &self.uncertainty {
            for (name, values) in u.columns() {
                t = t.with_column(name, values.to_vec())?;
            }
        }
        Ok(t)
    }
}

/// How [`place`] runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlaceOptions {
    pub backend: BackendKind,
    /// Reconstruction of the latent (default: direct for a 2-d latent, SMACOF otherwise).
    pub method: Option<crate::cmd::reconstruct::MethodArg>,
    /// SMACOF's random starts.
    pub seed: u64,
    /// Place even when more than half of the model's genes are missing from the query.
    pub allow_missing_genes: bool,
    /// Leave out the per-spot uncertainty (radii and confidence), e.g. to time what it costs.
    pub skip_uncertainty: bool,
}

/// Embed `query` and place it: the whole of `dpvae embed` + `dpvae reconstruct` for a model directory.
pub fn place(saved: &SavedModel, query: &SpatialData, opts: &PlaceOptions) -> Result<Placed> {
    let PlaceOptions {
        backend,
        method,
        seed,
        allow_missing_genes,
        skip_uncertainty,
    } = *opts;
    let (_, embs) = embed_members(saved, query, backend, allow_missing_genes)?;
    let latent = to_f64(&embs[0].mean);
    let variance = to_f64(&embs[0].variance);
    let chosen = crate::cmd::reconstruct::MethodArg::chosen(method, latent.ncols());
    let geo_method: dpvae_geometry::Method = chosen.into();
    let record: Option<PlacementRecord> = saved
        .placement
        .as_ref()
        .map(|v| serde_json::from_value(v.clone()))
        .transpose()
        .context("the model directory's placement.json cannot be read")?;
    let (coords, member_coords, reference_frame, uncertainty) = match &record {
        Some(r) if r.settings.reference_frame => {
            let embedded: Vec<(Array2<f64>, Array2<f64>)> = embs
                .iter()
                .map(|e| (to_f64(&e.mean), to_f64(&e.variance)))
                .collect();
            let latents: Vec<Array2<f64>> = embedded.iter().map(|e| e.0.clone()).collect();
            let (coords, members) = r.place_members(&latents, geo_method, seed)?;
            let uncertainty = if skip_uncertainty {
                None
            } else {
                r.uncertainty(&member_views(&embedded), &members, &coords)?
            };
            (coords, members, true, uncertainty)
        }
        _ => {
            let rec = crate::cmd::reconstruct::reconstruct_latent(&latent, method, None, seed)?;
            (rec.coords.clone(), vec![rec.coords], false, None)
        }
    };
    Ok(Placed {
        latent,
        variance,
        coords,
        member_coords,
        reference_frame,
        uncertainty,
        method: geo_method,
    })
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
