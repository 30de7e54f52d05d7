//! A trained dpvae model: the networks of every ensemble member with their preprocessing and placement
//! record, typed; saved as, and loaded from, the model directory `dpvae train` writes.

use std::path::Path;

use dpvae_data::SpatialData;
use dpvae_data::preprocess::{ApplyReport, FittedPreprocess};
use dpvae_model::{BackendKind, Embedding, FittedModel, SavedModel};

use crate::error::{Context, Result};
use crate::fit::model_input;
use crate::placement::PlacementRecord;

/// A trained model. [`Model::save`] writes a directory `dpvae embed` and `dpvae run` read, and
/// [`Model::load`] reads what `dpvae train` wrote.
pub struct Model {
    saved: SavedModel,
    preprocess: FittedPreprocess,
    placement: Option<PlacementRecord>,
}

impl Model {
    /// A model from its parts; `saved.preprocess` and `saved.placement` are the serialised forms of
    /// `preprocess` and `placement`.
    pub(crate) fn new(
        saved: SavedModel,
        preprocess: FittedPreprocess,
        placement: Option<PlacementRecord>,
    ) -> Self {
        Model {
            saved,
            preprocess,
            placement,
        }
    }

    /// Read a model directory, with its preprocessing and placement record checked and typed.
    pub fn load(dir: &Path) -> Result<Self> {
        let saved = SavedModel::load(dir)
            .with_context(|| format!("could not load the model directory {}", dir.display()))?;
        Self::from_saved(saved)
    }

    /// Type a loaded model directory's preprocessing and placement record.
    pub fn from_saved(saved: SavedModel) -> Result<Self> {
        let preprocess: FittedPreprocess = serde_json::from_value(saved.preprocess.clone())
            .context("the model directory's preprocessing parameters cannot be read")?;
        preprocess.check()?;
        check_features(&saved, &preprocess)?;
        let placement: Option<PlacementRecord> = saved
            .placement
            .as_ref()
            .map(|v| serde_json::from_value(v.clone()))
            .transpose()
            .context("the model directory's placement.json cannot be read")?;
        if let Some(p) = &placement {
            let members = 1 + saved.members.len();
            p.check(members, saved.model.config().latent_dim)?;
        }
        Ok(Model::new(saved, preprocess, placement))
    }

    /// Write the model directory (atomically; an existing directory is replaced only by `dpvae`'s own
    /// `--force` handling, so callers check first).
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.saved
            .save(dir)
            .with_context(|| format!("could not write the model directory {}", dir.display()))
    }

    /// Write the model directory as [`Model::save`] does, with `options` (whether to replace an existing
    /// directory, and the caller's `history.csv` and `config.toml`, which go into the same atomic step).
    pub fn save_with(&self, dir: &Path, options: &dpvae_model::SaveOptions<'_>) -> Result<()> {
        self.saved
            .save_with(dir, options)
            .with_context(|| format!("could not write the model directory {}", dir.display()))
    }

    /// The on-disk form (weights, metadata, training options).
    pub fn saved(&self) -> &SavedModel {
        &self.saved
    }

    /// How a query is brought into the model's gene space.
    pub fn preprocess(&self) -> &FittedPreprocess {
        &self.preprocess
    }

    /// Anchors and calibration for placing in the reference's frame (absent for a bare model).
    pub fn placement(&self) -> Option<&PlacementRecord> {
        self.placement.as_ref()
    }

    /// The features the model reads, in order (genes, or the genes the PCA was fitted on).
    pub fn genes(&self) -> &[String] {
        &self.saved.genes
    }

    /// Every ensemble member, the first (whose latent is reported) first.
    pub fn members(&self) -> Vec<&FittedModel> {
        std::iter::once(&self.saved.model)
            .chain(&self.saved.members)
            .collect()
    }

    /// Process `query` as the model's reference was and encode it with every member. More than half of the
    /// model's genes missing from the query is an error unless `allow_missing_genes`.
    pub fn embed_members(
        &self,
        query: &SpatialData,
        backend: BackendKind,
        allow_missing_genes: bool,
    ) -> Result<(SpatialData, Vec<Embedding>)> {
        let (processed, embs, _) =
            self.embed_with(&self.members(), query, backend, allow_missing_genes)?;
        Ok((processed, embs))
    }

    /// Process `query` as the model's reference was and encode it with the first member.
    pub fn embed(
        &self,
        query: &SpatialData,
        backend: BackendKind,
    ) -> Result<(SpatialData, Embedding)> {
        let (processed, mut embs, _) =
            self.embed_with(&[&self.saved.model], query, backend, false)?;
        Ok((processed, embs.remove(0)))
    }

    /// Process `query` and encode it with `models`; also what processing found (e.g. spots without counts).
    pub(crate) fn embed_with(
        &self,
        models: &[&FittedModel],
        query: &SpatialData,
        backend: BackendKind,
        allow_missing_genes: bool,
    ) -> Result<(SpatialData, Vec<Embedding>, ApplyReport)> {
        let mut fitted = self.preprocess.clone();
        if allow_missing_genes {
            fitted.params.align.max_missing_fraction = 1.0;
        }
        let (processed, report) = fitted.apply(query).context(
            "the query could not be brought into the model's gene space (do reference and query share genes?)",
        )?;
        report_missing_genes(&report.alignment);
        warn_duplicates(&fitted.params.align, query, "query")?;
        let likelihood = self.saved.model.config().likelihood;
        let (x, _) = model_input(query, &processed, &fitted, likelihood)?;
        let embeddings = models
            .iter()
            .map(|m| Ok(m.encode(x.view(), backend)?))
            .collect::<Result<Vec<_>>>()?;
        Ok((processed, embeddings, report))
    }
}

/// Say how many of the model's genes the query lacks: a warning beyond 10%, otherwise a note.
fn report_missing_genes(a: &dpvae_data::align::AlignReport) {
    if a.n_missing == 0 {
        return;
    }
    let pct = 100.0 * a.missing_fraction;
    let first: Vec<&str> = a
        .missing_examples
        .iter()
        .take(5)
        .map(String::as_str)
        .collect();
    let msg = format!(
        "{} of the model's {} genes ({pct:.1}%) are missing from the query and were filled with zeros \
         (first missing: {}); placement degrades as this grows: train with the query's genes \
         (`dpvae run` does) or check the identifiers",
        a.n_missing,
        a.n_reference_genes,
        first.join(", ")
    );
    if a.missing_fraction > 0.1 {
        tracing::warn!("{msg}");
    } else {
        tracing::info!("{msg}");
    }
}

/// Warn when `data` names a gene twice: only the first column of each name is read, the others are ignored.
pub(crate) fn warn_duplicates(
    align: &dpvae_data::align::AlignParams,
    data: &SpatialData,
    role: &str,
) -> Result<()> {
    let dups = align.duplicates(align.keys(data, role)?);
    if !dups.is_empty() {
        let first: Vec<&str> = dups.iter().take(5).map(String::as_str).collect();
        tracing::warn!(
            "the {role} names {} genes more than once (first: {}); only the first column of each is used: make \
             the names unique (anndata's var_names_make_unique) or sum the duplicates",
            dups.len(),
            first.join(", ")
        );
    }
    Ok(())
}

/// The model reads what the preprocessing writes: its PCA components, or its genes, in genes.json's order.
fn check_features(saved: &SavedModel, preprocess: &FittedPreprocess) -> Result<()> {
    let likelihood = saved.model.config().likelihood;
    if preprocess.pca.is_some() && likelihood.uses_counts() {
        crate::error::bail!(
            "the model directory's config.json names the {likelihood:?} likelihood, which reads raw counts, but \
             its preprocess.json feeds it principal components; the files do not belong together (was \
             config.json edited?); restore the directory or retrain"
        );
    }
    let features = preprocess.feature_names();
    if features != saved.genes {
        crate::error::bail!(
            "the model directory's genes.json ({} features, first {:?}) does not match its preprocess.json \
             ({} features, first {:?}): the files come from different models; retrain or restore the directory",
            saved.genes.len(),
            saved.genes.first(),
            features.len(),
            features.first()
        );
    }
    Ok(())
}
