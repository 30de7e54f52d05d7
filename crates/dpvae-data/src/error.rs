//! Errors of the data layer. Every variant names the file and, where it applies, the object inside it,
//! so a user can find what is wrong without a debugger.

use std::path::PathBuf;

/// Result alias for the data layer.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be read or written at the operating-system level.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The path exists but is not any format dpvae reads.
    #[error(
        "{path}: not a supported input ({reason}); dpvae reads .h5ad, 10x .h5, Space Ranger outs folders, 10x MatrixMarket folders and legacy ST .tsv(.gz) tables"
    )]
    UnknownFormat { path: PathBuf, reason: String },
    /// A structural or value problem inside a file: `object` names the group, dataset or column.
    #[error("{path}: {object}: {problem}")]
    Invalid {
        path: PathBuf,
        object: String,
        problem: String,
    },
    /// Something that is required for this operation is not there (for example `obsm['spatial']`).
    #[error("{path}: {object} is missing: {hint}")]
    Missing {
        path: PathBuf,
        object: String,
        hint: String,
    },
    /// An error reported by the HDF5 layer while reading `object`.
    #[error("{path}: {object}: HDF5 error: {message}")]
    Hdf5 {
        path: PathBuf,
        object: String,
        message: String,
    },
    /// An error from polars while reading or writing a table.
    #[error("{path}: table error: {message}")]
    Table { path: PathBuf, message: String },
    /// A problem with in-memory data that has no file yet (for example before a write).
    #[error("{object}: {problem}")]
    Data { object: String, problem: String },
    /// A download failed or produced a file that does not match its registry entry.
    #[error("{url}: {problem}")]
    Fetch { url: String, problem: String },
}

impl DataError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    pub fn invalid(
        path: impl Into<PathBuf>,
        object: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        DataError::Invalid {
            path: path.into(),
            object: object.into(),
            problem: problem.into(),
        }
    }

    pub fn missing(
        path: impl Into<PathBuf>,
        object: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        DataError::Missing {
            path: path.into(),
            object: object.into(),
            hint: hint.into(),
        }
    }

    pub fn data(object: impl Into<String>, problem: impl Into<String>) -> Self {
        DataError::Data {
            object: object.into(),
            problem: problem.into(),
        }
    }

    /// Attach a file path to an in-memory `Data` error (used when validation runs after a read).
    pub fn in_file(self, path: impl Into<PathBuf>) -> Self {
        match self {
            DataError::Data { object, problem } => DataError::Invalid {
                path: path.into(),
                object,
                problem,
            },
            other => other,
        }
    }
}
