//! Self-contained model directories.
//!
//! ```text
//! MODEL_DIR/
//!   manifest.json    format name and version, dpvae version, training metadata
//!   config.json      the architecture (ModelConfig) and the training options used
//!   model.mpk        burn record of the weights (named MessagePack, full precision)
//!   preprocess.json  the caller's preprocessing parameters (opaque JSON)
//!   genes.json       the model's input features (genes, or principal components), in column order
//!   member-K.mpk     weights of ensemble member K = 1, 2, ... (same architecture), when there are several
//!   placement.json   how latents become tissue coordinates (opaque to this crate), when the caller gives it
//! ```
//!
//! A directory is written under a temporary name next to the target and renamed into place, so readers never
//! see a half-written model. Loading checks every file and reports the first missing, unreadable or
//! inconsistent one by name.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::encode::FittedModel;
use crate::error::{ModelError, Result};
use crate::model::ModelConfig;
use crate::train::TrainConfig;

/// Name in `manifest.json` that marks a dpvae model directory.
pub const FORMAT_NAME: &str = "dpvae-model";
/// Version of the directory layout this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

const MANIFEST: &str = "manifest.json";
const CONFIG: &str = "config.json";
const RECORD: &str = "model.mpk";
const PREPROCESS: &str = "preprocess.json";
const GENES: &str = "genes.json";
const PLACEMENT: &str = "placement.json";

fn member_file(k: usize) -> String {
    format!("member-{k}.mpk")
}

/// Provenance of a trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingMetadata {
    /// dpvae version that trained the model.
    pub dpvae_version: String,
    /// Training seed.
    pub seed: u64,
    /// Name of the training dataset (free text, e.g. the file name).
    pub dataset: String,
    /// Checksum of the training data (see [`matrix_checksum`] or any caller-chosen digest).
    pub data_checksum: String,
    /// Backend that trained it.
    pub backend: String,
    /// Epochs trained (the kept epoch with early stopping).
    pub epochs: usize,
    /// Seconds since the Unix epoch at save time.
    pub created_unix: u64,
}

impl TrainingMetadata {
    /// Metadata stamped with this build's version and the current time.
    pub fn new(seed: u64, dataset: impl Into<String>, data_checksum: impl Into<String>) -> Self {
        Self {
            dpvae_version: env!("CARGO_PKG_VERSION").to_string(),
            seed,
            dataset: dataset.into(),
            data_checksum: data_checksum.into(),
            backend: String::new(),
            epochs: 0,
            created_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    format_version: u32,
    dpvae_version: String,
    metadata: TrainingMetadata,
}

#[derive(Debug, Serialize, Deserialize)]
struct ConfigFile {
    model: ModelConfig,
    train: Option<TrainConfig>,
    /// Ensemble members (1 for a single model; absent in older directories).
    #[serde(default = "one")]
    members: usize,
    /// Whether the directory holds a placement record (absent in directories written before it was noted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    placement: Option<bool>,
}

fn one() -> usize {
    1
}

/// A model with everything needed to apply it to new data.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedModel {
    /// Architecture and weights (the first ensemble member).
    pub model: FittedModel,
    /// Further ensemble members, trained with other seeds; same architecture as `model`.
    pub members: Vec<FittedModel>,
    /// How the caller turns latents into coordinates (opaque to this crate; `None` for a bare model).
    pub placement: Option<serde_json::Value>,
    /// Training options (for the record).
    pub train_config: Option<TrainConfig>,
    /// Preprocessing parameters, opaque to this crate (the CLI stores the data layer's `Preprocess` here).
    pub preprocess: serde_json::Value,
    /// Gene names in the model's column order.
    pub genes: Vec<String>,
    /// Provenance.
    pub metadata: TrainingMetadata,
}

/// How [`SavedModel::save_with`] writes a model directory.
#[derive(Debug, Clone, Default)]
pub struct SaveOptions<'a> {
    /// Replace a directory that exists at the target (`--force`). Without it, a target that exists when the
    /// new directory is complete (another process wrote it meanwhile) is left as it is and the save fails.
    pub replace: bool,
    /// Files the caller keeps beside the model's own, `history.csv` and `config.toml` (name, content): written
    /// into the new directory before it is put in place, so they and the model are one generation.
    pub extra: Vec<(&'a str, &'a [u8])>,
}

impl SavedModel {
    /// Write the model directory atomically (replacing an existing model directory at `dir`).
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.save_with(
            dir,
            &SaveOptions {
                replace: true,
                extra: Vec::new(),
            },
        )
    }

    /// Write the model directory atomically: every file, the caller's `extra` ones included, is written into
    /// a hidden sibling `.NAME.tmp-PID-N`, which then takes `dir`'s place in one step (see
    /// [`dpvae_core::atomic::StagedDir::commit`]). An interrupting signal (SIGINT, SIGTERM) leaves the old
    /// directory or the whole new one, and removes the temporary.
    pub fn save_with(&self, dir: &Path, options: &SaveOptions<'_>) -> Result<()> {
        if self.genes.len() != self.model.config().n_genes {
            return Err(ModelError::InvalidInput(format!(
                "{} gene names for a model of {} genes",
                self.genes.len(),
                self.model.config().n_genes
            )));
        }
        // Members differ only in their training seed, which is not part of the architecture.
        if self
            .members
            .iter()
            .any(|m| m.config() != self.model.config())
        {
            return Err(ModelError::InvalidInput(
                "every ensemble member must have the first member's architecture".into(),
            ));
        }
        if let Some((name, _)) = options
            .extra
            .iter()
            .find(|(name, _)| !CALLER_FILES.contains(name))
        {
            return Err(ModelError::InvalidInput(format!(
                "{name} is not a file dpvae keeps in a model directory (only {})",
                CALLER_FILES.join(", ")
            )));
        }
        check_replaceable(dir)?;
        if dir.file_name().is_none() {
            return Err(ModelError::model_dir(dir, "not a directory name"));
        }
        if !options.replace && std::fs::symlink_metadata(dir).is_ok() {
            return Err(exists(dir));
        }
        // Removed by the CLI's signal handler if the process is interrupted while it exists, and on any error.
        let staged = dpvae_core::atomic::StagedDir::new(dir).map_err(|e| ModelError::io(dir, e))?;
        self.write_files(staged.path(), &options.extra)?;
        staged.commit(options.replace).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                exists(dir)
            } else {
                ModelError::io(dir, e)
            }
        })
    }

    /// Every file of the model directory, and the caller's `extra` ones, into the empty directory `tmp`.
    fn write_files(&self, tmp: &Path, extra: &[(&str, &[u8])]) -> Result<()> {
        let manifest = Manifest {
            format: FORMAT_NAME.into(),
            format_version: FORMAT_VERSION,
            dpvae_version: env!("CARGO_PKG_VERSION").into(),
            metadata: self.metadata.clone(),
        };
        let config = ConfigFile {
            model: self.model.config().clone(),
            train: self.train_config.clone(),
            members: 1 + self.members.len(),
            placement: Some(self.placement.is_some()),
        };
        for (k, m) in self.members.iter().enumerate() {
            write_file(&tmp.join(member_file(k + 1)), m.record_bytes())?;
        }
        if let Some(p) = &self.placement {
            write_file(
                &tmp.join(PLACEMENT),
                serde_json::to_string_pretty(p)?.as_bytes(),
            )?;
        }
        write_file(
            &tmp.join(CONFIG),
            serde_json::to_string_pretty(&config)?.as_bytes(),
        )?;
        write_file(&tmp.join(RECORD), self.model.record_bytes())?;
        write_file(
            &tmp.join(PREPROCESS),
            serde_json::to_string_pretty(&self.preprocess)?.as_bytes(),
        )?;
        write_file(
            &tmp.join(GENES),
            serde_json::to_string_pretty(&self.genes)?.as_bytes(),
        )?;
        for (name, bytes) in extra {
            write_file(&tmp.join(name), bytes)?;
        }
        // The manifest goes last: a directory without one was never completed.
        write_file(
            &tmp.join(MANIFEST),
            serde_json::to_string_pretty(&manifest)?.as_bytes(),
        )
    }

    /// Whether [`SavedModel::save`] may write to `dir`: it does not exist, is empty, or is a model directory
    /// holding only what dpvae writes there. Call it before a long training run to fail early.
    pub fn check_target(dir: &Path) -> Result<()> {
        check_replaceable(dir)
    }

    /// Read and validate a model directory.
    pub fn load(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(ModelError::model_dir(dir, "is not a directory"));
        }
        let manifest: Manifest = read_json(dir, MANIFEST)?;
        if manifest.format != FORMAT_NAME {
            return Err(ModelError::model_dir(
                dir,
                format!(
                    "{MANIFEST} names format `{}`, expected `{FORMAT_NAME}`",
                    manifest.format
                ),
            ));
        }
        if manifest.format_version != FORMAT_VERSION {
            return Err(ModelError::model_dir(
                dir,
                format!(
                    "written in model format version {} by dpvae {}, but this dpvae ({}) reads version \
                     {FORMAT_VERSION}; retrain the model or use a matching dpvae",
                    manifest.format_version,
                    manifest.dpvae_version,
                    env!("CARGO_PKG_VERSION")
                ),
            ));
        }
        let config: ConfigFile = read_json(dir, CONFIG)?;
        config
            .model
            .check()
            .map_err(|e| ModelError::model_dir(dir, format!("{CONFIG}: {e}")))?;
        let preprocess: serde_json::Value = read_json(dir, PREPROCESS)?;
        let genes: Vec<String> = read_json(dir, GENES)?;
        if genes.len() != config.model.n_genes {
            return Err(ModelError::model_dir(
                dir,
                format!(
                    "{GENES} lists {} genes but {CONFIG} describes a model of {}",
                    genes.len(),
                    config.model.n_genes
                ),
            ));
        }
        let record_path = dir.join(RECORD);
        let record = std::fs::read(&record_path)
            .map_err(|e| ModelError::model_dir(dir, format!("cannot read {RECORD}: {e}")))?;
        if config.members == 0 {
            return Err(ModelError::model_dir(
                dir,
                format!("{CONFIG}: members must be at least 1"),
            ));
        }
        let members = (1..config.members)
            .map(|k| {
                let file = member_file(k);
                let bytes = std::fs::read(dir.join(&file))
                    .map_err(|e| ModelError::model_dir(dir, format!("cannot read {file}: {e}")))?;
                FittedModel::from_record_bytes(config.model.clone(), bytes)
                    .map_err(|e| ModelError::model_dir(dir, format!("{file}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let placement = match (dir.join(PLACEMENT).exists(), config.placement) {
            (true, _) => Some(read_json(dir, PLACEMENT)?),
            (false, Some(true)) => {
                return Err(ModelError::model_dir(
                    dir,
                    format!(
                        "{PLACEMENT} is missing although {CONFIG} says the model has one: the directory is \
                         incomplete; restore the file or retrain"
                    ),
                ));
            }
            (false, None) if config.members > 1 => {
                tracing::warn!(
                    dir = %dir.display(),
                    "written by a dpvae that did not note its placement record, and it has none: loaded as a \
                     bare model (its first member's latent, no radii); retrain to place in the reference's frame"
                );
                None
            }
            (false, _) => None,
        };
        let model = FittedModel::from_record_bytes(config.model, record)
            .map_err(|e| ModelError::model_dir(dir, format!("{RECORD}: {e}")))?;
        Ok(Self {
            model,
            members,
            placement,
            train_config: config.train,
            preprocess,
            genes,
            metadata: manifest.metadata,
        })
    }
}

/// Files the command line writes into a model directory beside the model's own (`dpvae train`, `dpvae run`).
const CALLER_FILES: [&str; 2] = ["history.csv", "config.toml"];

/// An existing `dir` may be replaced when it is an empty directory, or a model directory holding only what
/// dpvae writes there: replacing it must not delete anything else.
fn check_replaceable(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let refuse = |why: String| Err(ModelError::model_dir(dir, why));
    if !dir.is_dir() {
        return refuse("exists and is not a directory; refusing to overwrite it".into());
    }
    let entries: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| ModelError::io(dir, e))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()
        .map_err(|e| ModelError::io(dir, e))?;
    if entries.is_empty() {
        return Ok(());
    }
    if !dir.join(MANIFEST).is_file() {
        return refuse(
            "exists and is not an empty directory or a dpvae model directory; refusing to overwrite it".into(),
        );
    }
    let mut foreign: Vec<&String> = entries.iter().filter(|n| !written_by_dpvae(n)).collect();
    if foreign.is_empty() {
        return Ok(());
    }
    foreign.sort();
    refuse(format!(
        "holds files dpvae did not write ({}); replacing the model would delete them, so move them or \
         choose another output",
        foreign
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The model's own files, the caller's (`history.csv`, `config.toml`), and the hidden temporaries dpvae's
/// writers leave behind when killed with SIGKILL (`.config.toml.tmp-PID-N`, say), which used to block every
/// later `--force`.
fn written_by_dpvae(name: &str) -> bool {
    is_model_file(name) || dpvae_core::atomic::temporary_of(name).is_some_and(is_model_file)
}

fn is_model_file(name: &str) -> bool {
    [MANIFEST, CONFIG, RECORD, PREPROCESS, GENES, PLACEMENT].contains(&name)
        || CALLER_FILES.contains(&name)
        || name
            .strip_prefix("member-")
            .and_then(|r| r.strip_suffix(".mpk"))
            .is_some_and(|k| k.parse::<usize>().is_ok())
}

/// The error of a save without `replace` whose target exists.
fn exists(dir: &Path) -> ModelError {
    ModelError::model_dir(
        dir,
        "already exists (written by another process while this model was being trained?); it was left as it \
         is: choose another output, or pass --force to replace it",
    )
}

/// Each member file is fsynced before the directory is renamed into place, so a completed rename never exposes
/// files whose content is still only in the page cache.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::fsutil::write_synced(path, bytes)?;
    test_pause();
    Ok(())
}

/// Test-only: `DPVAE_TEST_SAVE_DELAY_MS` pauses after each file written into a new model directory, so that
/// the command-line tests can interrupt a save at a chosen moment of it. It is not a setting; leave it unset.
fn test_pause() {
    if let Some(ms) = std::env::var("DPVAE_TEST_SAVE_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

fn read_json<T: serde::de::DeserializeOwned>(dir: &Path, file: &str) -> Result<T> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        let what = if e.kind() == std::io::ErrorKind::NotFound {
            format!("{file} is missing")
        } else {
            format!("cannot read {file}: {e}")
        };
        ModelError::model_dir(dir, what)
    })?;
    serde_json::from_str(&text)
        .map_err(|e| ModelError::model_dir(dir, format!("{file} is not valid: {e}")))
}

/// FNV-1a (64-bit) digest of a matrix's shape and f32 values, as 16 hex digits: a cheap fingerprint of the
/// training data for [`TrainingMetadata::data_checksum`].
pub fn matrix_checksum(x: ndarray::ArrayView2<'_, f32>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(&(x.nrows() as u64).to_le_bytes());
    eat(&(x.ncols() as u64).to_le_bytes());
    for v in x.iter() {
        eat(&v.to_le_bytes());
    }
    format!("{h:016x}")
}
