//! Errors of the plot crate; every variant names the output file.

use std::path::PathBuf;

/// Result alias for the plot crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// plotters failed while drawing the figure for `path`.
    #[error("drawing {path}: {message}")]
    Draw { path: PathBuf, message: String },
    /// The drawn bitmap could not be encoded as PNG.
    #[error("encoding {path}: {message}")]
    Encode { path: PathBuf, message: String },
    /// The image could not be written (the atomic write failed; the old file, if any, is kept).
    #[error("writing {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: dpvae_core::atomic::AtomicError<std::io::Error>,
    },
    /// A heatmap whose values do not fill its rows x columns.
    #[error("{path}: heatmap '{title}' has {values} values for {rows} x {cols} cells")]
    HeatmapShape {
        path: PathBuf,
        title: String,
        values: usize,
        rows: usize,
        cols: usize,
    },
}
