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
use crate::placement::PlacementSettings;

/// Flags shared by every command that trains (`train`, `run`). Unset flags leave the config file's value; the
/// file has [preprocess], [model] and [train] tables and `backend` (see --print-config), and --seed lands in
/// `train.seed`.
#[derive(Debug, Clone, Args)]
pub struct TrainFlags {
    /// Weight of the distance-preserving loss (0: plain VAE) [default: 10, against the VAE terms per input
    /// feature; the paper's protocol: 100 against the sum over genes].
    #[arg(long)]
    pub alpha2: Option<f64>,
    /// Most training epochs; early stopping on the validation spots usually ends sooner [default: 200].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Spots per step (0: full batch) [default: 256, grown to about n/16 for large references, at most 4096].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate of Adam(W) [default: 0.001].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Weight of the KL term [default: 1].
    #[arg(long)]
    pub beta: Option<f64>,
    /// Latent dimension; 2 is read as coordinates, more is reduced to 2-d by SMACOF [default: 2].
    #[arg(long)]
    pub latent_dim: Option<usize>,
    /// Hidden layer widths, comma separated [default: 256,128; the paper: 124].
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Observation model.
    #[arg(long, value_enum)]
    pub likelihood: Option<LikelihoodName>,
    /// Pairs in the distance-preserving loss: none, knn:K, radius:R, clusters:K.
    #[arg(long)]
    pub mask: Option<String>,
    /// Highly variable genes to keep, chosen among the genes the query shares (0: all genes) [default: 2000].
    #[arg(long)]
    pub hvg: Option<usize>,
    /// HVG flavor: seurat, cell_ranger or seurat_v3 (on raw counts) [default: seurat_v3].
    #[arg(long)]
    pub flavor: Option<String>,
    /// Fraction of spots held out for validation / early stopping [default: 0.1].
    #[arg(long)]
    pub validation_fraction: Option<f64>,
    /// Stop after this many epochs without improvement of the validation spots' DP loss; the best epoch is
    /// kept [default: 40].
    #[arg(long)]
    pub patience: Option<usize>,
    /// lambda, the latent-per-spatial distance scale: fixed at its initial value or learned [default: fixed
    /// at 1, on coordinates standardised to unit spread].
    #[arg(long, value_enum)]
    pub lambda: Option<LambdaArg>,
    /// Dropout after each hidden encoder layer [default: 0.1].
    #[arg(long)]
    pub dropout: Option<f64>,
    /// AdamW weight decay (0: Adam) [default: 0.0001].
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Ensemble members (seeds seed, seed+1, ...) whose placements are averaged in the reference's frame
    /// [default: 5].
    #[arg(long)]
    pub members: Option<usize>,
    /// Principal components of the log-normalised HVGs the model sees (0: the genes themselves) [default: 30].
    #[arg(long)]
    pub pca: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LambdaArg {
    Fixed,
    Learned,
}

/// The tables of a training run's settings that flags adjust after the config file is read.
pub struct TrainingParts<'a> {
    pub preprocess: &'a mut Preprocess,
    pub train: &'a mut TrainConfig,
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
            train: &mut self.train,
            placement: &mut self.placement,
        }
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
            train: _,
            placement,
        } = s.training_parts();
        if let Some(m) = self.members {
            placement.members = m;
        }
        if let Some(p) = &self.pca {
            preprocess.pca = (*p > 0).then(|| dpvae_data::preprocess::PcaParams {
                n_components: *p,
                ..Default::default()
            });
            // Centring on the query's own means is part of the projection.
            preprocess.center_per_section &= *p > 0;
        }
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
    /// A query (any supported format) to be placed later: genes are chosen among those it has, so none of the
    /// model's genes will be missing from it (`dpvae run` does this itself).
    #[arg(long, value_name = "QUERY")]
    pub shared_with: Option<PathBuf>,
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
    let query_genes = match &args.shared_with {
        Some(q) => {
            let query =
                io::read(q).with_context(|| format!("could not read the query {}", q.display()))?;
            Some(settings.preprocess.align.keys(&query, "query")?.to_vec())
        }
        None => None,
    };
    let trained = train_reference(&data, &settings, &name, query_genes.as_deref())?;
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
        "trained on {} spots x {} features (genes, or principal components of them) for {} epochs on {}; final loss {:.4} (lambda {:.4}); model in {}",
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
