//! The facade's entry point: [`DpVae::params`] → [`DpVaeParams`] (builder) → [`DpVaeParams::check`] →
//! [`DpVaeValidParams::fit`], as linfa's algorithms are configured.

use dpvae_data::SpatialData;
use dpvae_data::preprocess::HvgFlavor;
use dpvae_model::{BackendKind, LambdaMode, Likelihood, MaskSpec, TracingObserver, TrainObserver};

use crate::depth::QueryProfile;
use crate::error::{Result, bail};
use crate::fit::{Trained, train_reference_observed};
use crate::model::Model;
use crate::settings::{PreprocessChoices, TrainSettings};

/// dp-VAE placement (Zhou & Du 2024) with dpvae's defaults: start from [`DpVae::params`], or load a model
/// directory with [`DpVae::load`].
pub struct DpVae;

impl DpVae {
    /// dpvae's recommended settings (docs/placement.md has the cross-validation behind them).
    pub fn params() -> DpVaeParams {
        DpVaeParams::new(TrainSettings::recommended())
    }

    /// The paper's protocol (one layer of 124, 100 seurat HVGs, raw coordinates, the latent as output).
    pub fn paper() -> DpVaeParams {
        DpVaeParams::new(TrainSettings::paper())
    }

    /// Read a model directory written by `dpvae train` or [`Model::save`].
    pub fn load(dir: impl AsRef<std::path::Path>) -> Result<Model> {
        Model::load(dir.as_ref())
    }
}

/// Settings of a training run, set one by one; every setter keeps the others.
#[derive(Debug, Clone, PartialEq)]
pub struct DpVaeParams {
    settings: TrainSettings,
    dataset_name: String,
    query: Option<QueryProfile>,
}

/// [`DpVaeParams`] that passed [`DpVaeParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct DpVaeValidParams(DpVaeParams);

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: $ty:ty => $($field:ident).+) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.settings.$($field).+ = value;
            self
        }
    };
}

impl DpVaeParams {
    /// Start from complete settings (e.g. read from a `dpvae train --print-config` file).
    pub fn new(settings: TrainSettings) -> Self {
        DpVaeParams {
            settings,
            dataset_name: "reference".into(),
            query: None,
        }
    }

    setter!(/// Weight of the distance-preserving loss (0: a plain VAE).
        alpha2: f64 => train.alpha2);
    setter!(/// Most training epochs (early stopping usually ends sooner).
        epochs: usize => train.epochs);
    setter!(/// Spots per step (0: full batch).
        batch_size: usize => train.batch_size);
    setter!(/// Learning rate.
        learning_rate: f64 => train.learning_rate);
    setter!(/// Weight of the KL term.
        beta: f64 => train.beta);
    setter!(/// Fraction of spots held out for validation, early stopping and the uncertainty's calibration.
        validation_fraction: f64 => train.validation_fraction);
    setter!(/// Pairs in the distance-preserving loss.
        mask: MaskSpec => train.mask);
    setter!(/// lambda fixed at its initial value or learned.
        lambda: LambdaMode => train.lambda);
    setter!(/// Seed of everything random in training (member k uses seed + k).
        seed: u64 => train.seed);
    setter!(/// Latent dimension (2: read directly; more: reduced by SMACOF).
        latent_dim: usize => model.latent_dim);
    setter!(/// Hidden layer widths of the encoder.
        hidden: Vec<usize> => model.hidden);
    setter!(/// Observation model.
        likelihood: Likelihood => model.likelihood);
    setter!(/// Dropout after each hidden encoder layer.
        dropout: f64 => model.dropout);
    setter!(/// Ensemble members whose placements are averaged.
        members: usize => placement.members);
    setter!(/// Compute backend.
        backend: BackendKind => backend);
    setter!(/// Choose the gene selection per reference on its own validation spots ([`crate::auto`]).
        auto: bool => placement.auto.enabled);
    setter!(/// Thin the reference to a query's depth when the query's median counts per spot are below this
    /// share of the reference's (0: never; only with [`DpVaeParams::shared_with`]).
        thin_below: f64 => placement.thin_below);

    /// Highly variable genes kept (0: all genes).
    pub fn n_hvg(mut self, n: usize) -> Self {
        self.settings.preprocess.set_hvg(n);
        self
    }

    /// How highly variable genes are chosen; naming one fixes it (no automatic choice).
    pub fn hvg_flavor(mut self, flavor: HvgFlavor) -> Self {
        self.settings.preprocess.set_hvg_flavor(flavor);
        self.settings.placement.auto.enabled = false;
        self
    }

    /// Principal components of the log-normalised genes the model sees (0: the genes themselves).
    pub fn pca(mut self, n_components: usize) -> Self {
        self.settings.preprocess.set_pca(n_components);
        self
    }

    /// Choose genes among those a query shares (as `dpvae run` does), so no model gene is missing there.
    pub fn shared_genes(mut self, genes: &[String]) -> Self {
        self.query = Some(QueryProfile::genes_only(genes));
        self
    }

    /// Train for `query` as `dpvae run` does: genes chosen among those it shares and, for a much shallower
    /// query (single cells from spots), the reference thinned to its depth (`placement.thin_below`). Only
    /// its genes and counts per spot are read, never its coordinates.
    pub fn shared_with(mut self, query: &SpatialData) -> Result<Self> {
        self.query = Some(QueryProfile::of(query, &self.settings.preprocess.align)?);
        Ok(self)
    }

    /// The dataset's name recorded in the model's metadata.
    pub fn dataset_name(mut self, name: impl Into<String>) -> Self {
        self.dataset_name = name.into();
        self
    }

    /// The settings as they stand.
    pub fn settings(&self) -> &TrainSettings {
        &self.settings
    }

    /// Refuse settings no training run can use.
    pub fn check(self) -> Result<DpVaeValidParams> {
        let s = &self.settings;
        let t = &s.train;
        for (name, v) in [
            ("alpha2", t.alpha2),
            ("beta", t.beta),
            ("learning_rate", t.learning_rate),
            ("dropout", s.model.dropout),
            ("validation_fraction", t.validation_fraction),
        ] {
            if !v.is_finite() || v < 0.0 {
                bail!("{name} must be a finite number >= 0, got {v}");
            }
        }
        if t.learning_rate == 0.0 {
            bail!("learning_rate must be positive");
        }
        if s.model.dropout >= 1.0 || t.validation_fraction >= 1.0 {
            bail!("dropout and validation_fraction must be below 1");
        }
        s.model.check()?;
        s.placement.check()?;
        Ok(DpVaeValidParams(self))
    }

    /// [`DpVaeParams::check`], then [`DpVaeValidParams::fit`].
    pub fn fit(self, reference: &SpatialData) -> Result<Model> {
        self.check()?.fit(reference)
    }
}

impl DpVaeValidParams {
    /// Preprocess `reference` (raw counts, obsm['spatial']) and train the model on it.
    pub fn fit(&self, reference: &SpatialData) -> Result<Model> {
        Ok(self.fit_measured(reference)?.model)
    }

    /// Like [`DpVaeValidParams::fit`], keeping what training measured (history, timings), with every
    /// member's training reported to `observer` (e.g. a progress bar; `TracingObserver` only logs).
    pub fn fit_observed(
        &self,
        reference: &SpatialData,
        observer: &mut dyn TrainObserver,
    ) -> Result<Trained> {
        let p = &self.0;
        train_reference_observed(
            reference,
            &p.settings,
            &p.dataset_name,
            p.query.as_ref(),
            observer,
        )
    }

    /// [`DpVaeValidParams::fit_observed`] with training logged through `tracing`.
    pub fn fit_measured(&self, reference: &SpatialData) -> Result<Trained> {
        self.fit_observed(reference, &mut TracingObserver)
    }

    pub fn settings(&self) -> &TrainSettings {
        &self.0.settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_change_only_their_field() {
        let p = DpVae::params().alpha2(100.0).epochs(300).members(2);
        let mut expected = TrainSettings::recommended();
        expected.train.alpha2 = 100.0;
        expected.train.epochs = 300;
        expected.placement.members = 2;
        assert_eq!(p.settings(), &expected);
    }

    #[test]
    fn check_refuses_unusable_settings() {
        for bad in [
            DpVae::params().alpha2(f64::NAN),
            DpVae::params().learning_rate(0.0),
            DpVae::params().beta(-1.0),
            DpVae::params().validation_fraction(1.0),
            DpVae::params().latent_dim(0),
            DpVae::params().members(0),
        ] {
            let e = bad.check().unwrap_err().to_string();
            assert!(!e.is_empty());
        }
        assert!(DpVae::params().check().is_ok());
        assert!(DpVae::paper().check().is_ok());
    }
}
