//! `dpvae train`: fit preprocessing and a (dp-)VAE on a reference with coordinates; write a model directory.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use dpvae_data::io;
use dpvae_data::preprocess::{HvgFlavor, HvgParams, Preprocess};
use dpvae_model::{MaskSpec, TrainConfig};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

use crate::common::check_output;
use crate::config::{CONFIG_FILE, Invocation};
use crate::pipeline::{LikelihoodName, TrainSettings, train_reference};

/// Flags shared by every command that trains (`train`, `run`). Unset flags leave the config file's value; the
/// file has [preprocess], [model] and [train] tables and `backend` (see --print-config), and --seed lands in
/// `train.seed`.
#[derive(Debug, Clone, Args)]
pub struct TrainFlags {
    /// Weight of the distance-preserving loss (0: plain VAE).
    #[arg(long)]
    pub alpha2: Option<f64>,
    /// Training epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Spots per step (0: full batch).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Adam learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Weight of the KL term.
    #[arg(long)]
    pub beta: Option<f64>,
    /// Latent dimension.
    #[arg(long)]
    pub latent_dim: Option<usize>,
    /// Hidden layer widths, comma separated (e.g. 124 or 256,64).
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Observation model.
    #[arg(long, value_enum)]
    pub likelihood: Option<LikelihoodName>,
    /// Pairs in the distance-preserving loss: none, knn:K, radius:R, clusters:K.
    #[arg(long)]
    pub mask: Option<String>,
    /// Highly variable genes to keep (0: all genes).
    #[arg(long)]
    pub hvg: Option<usize>,
    /// HVG flavor: seurat, cell_ranger or seurat_v3.
    #[arg(long)]
    pub flavor: Option<String>,
    /// Fraction of spots held out for validation / early stopping.
    #[arg(long)]
    pub validation_fraction: Option<f64>,
}

/// Settings that contain a training run's preprocessing and training tables.
pub trait TrainingSettings: Serialize + DeserializeOwned {
    fn training_parts(&mut self) -> (&mut Preprocess, &mut TrainConfig);
}

impl TrainingSettings for TrainSettings {
    fn training_parts(&mut self) -> (&mut Preprocess, &mut TrainConfig) {
        (&mut self.preprocess, &mut self.train)
    }
}

pub fn parse_mask(spec: &str) -> Result<MaskSpec> {
    let (kind, arg) = spec.split_once(':').unwrap_or((spec, ""));
    let num = |what: &str| -> Result<f64> {
        arg.parse::<f64>().with_context(|| {
            format!(
                "--mask {kind}:{arg}: {what} must be a number, e.g. knn:6, radius:150, clusters:8"
            )
        })
    };
    Ok(match kind {
        "none" => MaskSpec::None,
        "knn" => MaskSpec::Knn {
            k: num("k")? as usize,
        },
        "radius" => MaskSpec::Radius {
            radius: num("the radius")?,
        },
        "clusters" => MaskSpec::Clusters {
            k: num("the number of clusters")? as usize,
        },
        other => bail!(
            "unknown --mask '{other}': use none, knn:K, radius:R or clusters:K (a pair list goes in the config file)"
        ),
    })
}

pub fn parse_flavor(s: &str) -> Result<HvgFlavor> {
    Ok(match s.to_ascii_lowercase().replace('-', "_").as_str() {
        "seurat" => HvgFlavor::Seurat,
        "cell_ranger" => HvgFlavor::CellRanger,
        "seurat_v3" => HvgFlavor::SeuratV3,
        other => bail!("unknown HVG flavor '{other}': use seurat, cell_ranger or seurat_v3"),
    })
}

impl TrainFlags {
    /// The flags as a partial settings object (`null` = not given); `extra` adds a command's own flags.
    fn overlay(&self, seed: Option<u64>, extra: Value) -> Result<Value> {
        let mask = self
            .mask
            .as_deref()
            .map(parse_mask)
            .transpose()?
            .map(serde_json::to_value)
            .transpose()?;
        let mut flags = json!({
            "model": {
                "hidden": self.hidden,
                "latent_dim": self.latent_dim,
                "likelihood": self.likelihood,
            },
            "train": {
                "alpha2": self.alpha2,
                "epochs": self.epochs,
                "batch_size": self.batch_size,
                "learning_rate": self.lr,
                "beta": self.beta,
                "mask": mask,
                "validation_fraction": self.validation_fraction,
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
        let (preprocess, train) = s.training_parts();
        if let Some(n) = self.hvg {
            preprocess.hvg = if n == 0 {
                None
            } else {
                let flavor = preprocess
                    .hvg
                    .as_ref()
                    .map(|h| h.flavor)
                    .unwrap_or(HvgFlavor::Seurat);
                Some(HvgParams::new(n, flavor))
            };
        }
        if let Some(f) = &self.flavor {
            let flavor = parse_flavor(f)?;
            let n = preprocess
                .hvg
                .as_ref()
                .map(|h| h.n_top_genes)
                .unwrap_or(100);
            preprocess.hvg = Some(HvgParams::new(n, flavor));
        }
        train.quiet = train.quiet || inv.global.quiet;
        inv.finish(s)
    }
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Reference with raw counts and coordinates (any supported format).
    pub reference: PathBuf,
    /// Model directory to write (with config.toml, the effective settings, and history.csv).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub flags: TrainFlags,
}

pub fn run(inv: &Invocation, args: TrainArgs) -> Result<()> {
    let Some(settings) = args
        .flags
        .resolve(inv, TrainSettings::default(), Value::Null)?
    else {
        return Ok(());
    };
    let global = inv.global;
    check_output(&args.out, global.force)?;
    let data = io::read(&args.reference)
        .with_context(|| format!("could not read {}", args.reference.display()))?;
    let name = args
        .reference
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let trained = train_reference(&data, &settings, &name)?;
    if args.out.exists() && global.force {
        std::fs::remove_dir_all(&args.out)
            .with_context(|| format!("could not replace {}", args.out.display()))?;
    }
    trained.saved.save(&args.out)?;
    inv.write_config(&args.out.join(CONFIG_FILE), &settings)?;
    trained
        .outcome
        .history
        .write_csv(&args.out.join("history.csv"))?;
    let last = trained.outcome.history.last();
    inv.note(format!(
        "trained on {} spots x {} genes for {} epochs on {}; final loss {:.4} (lambda {:.4}); model in {}",
        data.n_obs(),
        trained.saved.genes.len(),
        trained.outcome.history.epochs.len(),
        trained.outcome.backend,
        last.map(|r| r.total).unwrap_or(f64::NAN),
        last.map(|r| r.lambda).unwrap_or(f64::NAN),
        args.out.display()
    ));
    Ok(())
}
