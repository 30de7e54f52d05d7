//! What a training run is configured by: the network, training, placement and preprocessing settings, with
//! dpvae's defaults and the paper's protocol. `dpvae train --print-config` prints these and a model
//! directory stores them.

use dpvae_data::preprocess::{HvgFlavor, HvgParams, PcaParams, Preprocess};
use dpvae_model::{BackendKind, LambdaMode, Likelihood, TrainConfig, VaeScale, ValidationMetric};
use serde::{Deserialize, Serialize};

use crate::placement::PlacementSettings;

/// The network's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSettings {
    /// Hidden layer widths of the encoder (the decoder mirrors them).
    pub hidden: Vec<usize>,
    /// Latent dimension (2: read directly as coordinates; more: reduced to 2-d by SMACOF).
    pub latent_dim: usize,
    /// `gaussian` (log-normalised or PCA input), `gaussian-learned-variance`, or `nb` (raw counts).
    #[serde(with = "likelihood_name")]
    pub likelihood: Likelihood,
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
            likelihood: Likelihood::Gaussian,
            dropout: 0.1,
        }
    }

    /// Refuse a shape that cannot be built, before any data is read: the network's own check (which needs the
    /// number of genes) runs again when it is built.
    pub fn check(&self) -> crate::Result<()> {
        if self.latent_dim == 0 || self.hidden.contains(&0) {
            return Err(crate::Error::Invalid(
                "latent_dim and every hidden width must be positive".into(),
            ));
        }
        let max = dpvae_model::model::MAX_HIDDEN_WIDTH;
        if let Some(w) = self.hidden.iter().find(|&&w| w > max) {
            return Err(crate::Error::Invalid(format!(
                "a hidden layer of {w} units is more than the {max} dpvae allows (hidden {:?})",
                self.hidden
            )));
        }
        Ok(())
    }

    /// The paper's network: one hidden layer of 124, a 2-d latent.
    pub fn paper() -> Self {
        ModelSettings {
            hidden: vec![124],
            latent_dim: 2,
            likelihood: Likelihood::Gaussian,
            dropout: 0.0,
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

/// The preprocessing choices a user makes by number (`--hvg`, `--flavor`, `--pca`), each keeping the
/// others.
pub trait PreprocessChoices {
    /// Keep `n` highly variable genes (0: every gene), with the flavor already chosen (seurat if none).
    fn set_hvg(&mut self, n: usize);
    /// Choose highly variable genes by `flavor`, keeping the number already chosen (100 if none).
    fn set_hvg_flavor(&mut self, flavor: HvgFlavor);
    /// Show the model `n` principal components of the log-normalised genes (0: the genes themselves).
    fn set_pca(&mut self, n: usize);
}

impl PreprocessChoices for Preprocess {
    fn set_hvg(&mut self, n: usize) {
        let flavor = self.hvg.as_ref().map_or(HvgFlavor::Seurat, |h| h.flavor);
        self.hvg = (n > 0).then(|| HvgParams::new(n, flavor));
    }

    fn set_hvg_flavor(&mut self, flavor: HvgFlavor) {
        let n = self.hvg.as_ref().map_or(100, |h| h.n_top_genes);
        self.hvg = Some(HvgParams::new(n, flavor));
    }

    fn set_pca(&mut self, n: usize) {
        self.pca = (n > 0).then(|| PcaParams {
            n_components: n,
            ..Default::default()
        });
        // Centring on the query's own means is part of the projection.
        self.center_per_section &= n > 0;
    }
}

/// Merge `overlay` into `base`: objects merge key by key, `null` in the overlay means "not given".
pub fn merge(base: &mut serde_json::Value, overlay: serde_json::Value) {
    match (base, overlay) {
        (_, serde_json::Value::Null) => {}
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        if !v.is_null() {
                            b.insert(k, v);
                        }
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The likelihood by its short name (`gaussian`, `gaussian-learned-variance`, `nb`), as config files write it.
mod likelihood_name {
    use dpvae_model::Likelihood;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(l: &Likelihood, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(l.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Likelihood, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preprocessing_choices_keep_each_other() {
        let mut p = Preprocess::recommended();
        p.set_hvg_flavor(HvgFlavor::CellRanger);
        p.set_hvg(500);
        let h = p.hvg.as_ref().unwrap();
        assert_eq!((h.n_top_genes, h.flavor), (500, HvgFlavor::CellRanger));
        p.set_hvg(0);
        assert!(p.hvg.is_none());
        p.set_hvg_flavor(HvgFlavor::Seurat);
        assert_eq!(p.hvg.as_ref().unwrap().n_top_genes, 100);
        p.set_pca(0);
        assert!(p.pca.is_none() && !p.center_per_section);
        p.set_pca(12);
        assert_eq!(p.pca.as_ref().unwrap().n_components, 12);
    }

    #[test]
    fn likelihoods_are_written_by_their_short_names() {
        for (l, name) in [
            (Likelihood::Gaussian, "gaussian"),
            (
                Likelihood::GaussianLearnedVariance,
                "gaussian-learned-variance",
            ),
            (Likelihood::NegativeBinomial, "nb"),
        ] {
            let m = ModelSettings {
                likelihood: l,
                ..ModelSettings::recommended()
            };
            let v = serde_json::to_value(&m).unwrap();
            assert_eq!(v["likelihood"], name);
            assert_eq!(serde_json::from_value::<ModelSettings>(v).unwrap(), m);
        }
        let bad = serde_json::json!({"likelihood": "poisson"});
        assert!(serde_json::from_value::<ModelSettings>(bad).is_err());
    }
}
