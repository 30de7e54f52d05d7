//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while building, training, saving, loading or applying a dp-VAE.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A configuration value is out of range or inconsistent with another one.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// The input matrices do not fit together or contain values the model cannot use.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A loss term became NaN or infinite; training stopped instead of producing a broken model.
    #[error(
        "training diverged at epoch {epoch}: the {term} loss is {value}; last finite values: {last_finite}"
    )]
    NonFiniteLoss {
        /// 1-based epoch in which the problem appeared.
        epoch: usize,
        /// The term that went non-finite (`recon`, `kl`, `dp`, `total`, `lambda`, `validation` or
        /// `parameters`).
        term: &'static str,
        /// Its value (NaN or +-inf).
        value: f64,
        /// The last finite per-term values, as text (`none` when it happened in the first step).
        last_finite: String,
    },

    /// The observer asked the run to stop ([`crate::TrainObserver::keep_going`], e.g. Ctrl-C in Python); no
    /// model was produced.
    #[error("training was interrupted after epoch {epoch}")]
    Interrupted {
        /// The last epoch completed (1-based).
        epoch: usize,
    },

    /// The requested compute backend is not compiled in or has no usable device.
    #[error("backend {backend} is unavailable: {reason}")]
    BackendUnavailable {
        /// The backend's name.
        backend: &'static str,
        /// Why it cannot be used.
        reason: String,
    },

    /// A model directory is missing a file, has a file that cannot be parsed, or was written by an
    /// incompatible format version.
    #[error("model directory {}: {reason}", dir.display())]
    ModelDir {
        /// The directory being read or written.
        dir: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// An I/O error with the path it concerns.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Writing a CSV or JSON output failed.
    #[error("serialisation failed: {0}")]
    Serde(#[from] serde_json::Error),
}

/// The crate's result type.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

impl ModelError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// The error of a training run whose `term` became `value` (NaN or +-inf) in 1-based `epoch`; the one
    /// constructor of [`ModelError::NonFiniteLoss`].
    pub(crate) fn non_finite(
        epoch: usize,
        term: &'static str,
        value: f64,
        last_finite: impl Into<String>,
    ) -> Self {
        Self::NonFiniteLoss {
            epoch,
            term,
            value,
            last_finite: last_finite.into(),
        }
    }

    pub(crate) fn model_dir(dir: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::ModelDir {
            dir: dir.into(),
            reason: reason.into(),
        }
    }
}
