//! How the training flags (`train`, `run`) become settings: defaults, then the config file, then the flags.

use crate::cli::train::TrainFlags;
use crate::config::Invocation;
use anyhow::{Result, bail};
use dpvae::settings::PreprocessChoices;
use dpvae::{PlacementSettings, TrainSettings};
use dpvae_data::preprocess::Preprocess;
use dpvae_model::Likelihood;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

/// The tables of a training run's settings that flags adjust after the config file is read.
pub struct TrainingParts<'a> {
    pub preprocess: &'a mut Preprocess,
    pub placement: &'a mut PlacementSettings,
}

/// Settings that contain a training run's preprocessing, training and placement tables.
pub trait TrainingSettings: Serialize + DeserializeOwned {
    fn training_parts(&mut self) -> TrainingParts<'_>;
}

impl TrainingSettings for TrainSettings {
    fn training_parts(&mut self) -> TrainingParts<'_> {
        TrainingParts {
            preprocess: &mut self.preprocess,
            placement: &mut self.placement,
        }
    }
}

impl TrainFlags {
    /// The flags as a partial settings object (`null` = not given); `extra` adds a command's own flags.
    fn overlay(&self, seed: Option<u64>, extra: Value) -> Result<Value> {
        // JSON has no NaN or infinity: serde would turn them into null, i.e. "not given", and the default
        // would be used silently. Refuse them here, naming the flag.
        for (flag, v) in [
            ("--alpha2", self.alpha2),
            ("--lr", self.lr),
            ("--beta", self.beta),
            ("--validation-fraction", self.validation_fraction),
            ("--dropout", self.dropout),
            ("--weight-decay", self.weight_decay),
        ] {
            if let Some(x) = v
                && !x.is_finite()
            {
                bail!("{flag} must be a finite number, got {x}");
            }
        }
        let mask = self.mask.as_ref().map(serde_json::to_value).transpose()?;
        let mut flags = json!({
            "model": {
                "hidden": self.hidden,
                "latent_dim": self.latent_dim,
                "likelihood": self.likelihood.map(Likelihood::name),
                "dropout": self.dropout,
            },
            "train": {
                "alpha2": self.alpha2,
                "epochs": self.epochs,
                "batch_size": self.batch_size,
                "learning_rate": self.lr,
                "beta": self.beta,
                "mask": mask,
                "validation_fraction": self.validation_fraction,
                "early_stopping_patience": self.patience,
                "lambda": self.lambda,
                "weight_decay": self.weight_decay,
                "seed": seed,
            },
        });
        if let (Value::Object(f), Value::Object(e)) = (&mut flags, extra) {
            f.extend(e);
        }
        Ok(flags)
    }

    /// `defaults`, then the config file, then these flags (and `extra`, a command's own); `None` when
    /// `--print-config` printed them.
    pub fn resolve<S: TrainingSettings>(
        &self,
        inv: &Invocation,
        defaults: S,
        extra: Value,
    ) -> Result<Option<S>> {
        let flags = self.overlay(inv.global.seed, extra)?;
        let mut s: S = inv.resolve(serde_json::to_value(defaults)?, flags)?;
        let TrainingParts {
            preprocess,
            placement,
        } = s.training_parts();
        if let Some(m) = self.members {
            placement.members = m;
        }
        if let Some(p) = self.pca {
            preprocess.set_pca(p);
        }
        if let Some(n) = self.hvg {
            preprocess.set_hvg(n);
        }
        if let Some(f) = self.flavor {
            preprocess.set_hvg_flavor(f);
        }
        // A flavor named on the command line is the user's choice: nothing to search.
        if self.no_auto || self.flavor.is_some() {
            placement.auto.enabled = false;
        }
        inv.finish(s)
    }
}
