//! The crate's error type: every rejected input names what was wrong with it.

use thiserror::Error;

/// Errors from Procrustes, MDS and imputation.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum GeometryError {
    /// A matrix holds NaN or an infinity.
    #[error("{what} contains a non-finite value (NaN or infinity) at row {row}, column {col}")]
    NonFinite {
        what: &'static str,
        row: usize,
        col: usize,
    },
    /// Too few points for the operation.
    #[error("{what} has {got} points; at least {min} are needed")]
    TooFewPoints {
        what: &'static str,
        got: usize,
        min: usize,
    },
    /// Two inputs that must agree in shape do not.
    #[error("shape mismatch: {what} is {got:?} but {expected:?} was expected")]
    ShapeMismatch {
        what: &'static str,
        got: (usize, usize),
        expected: (usize, usize),
    },
    /// All points coincide, so there is no scale to normalise by.
    #[error("{what} has zero spread (all points coincide after centring)")]
    ZeroSpread { what: &'static str },
    /// A dissimilarity matrix is not a valid (symmetric, non-negative, zero-diagonal) one.
    #[error("invalid dissimilarity matrix: {0}")]
    InvalidDissimilarities(String),
    /// A parameter is out of its valid range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
    /// An anchor index or coordinate is unusable.
    #[error("invalid anchors: {0}")]
    InvalidAnchors(String),
    /// The requested computation would need more memory than the configured budget allows.
    #[error(
        "{what} needs about {needed_bytes} bytes, over the memory budget of {budget_bytes} bytes"
    )]
    OverBudget {
        what: &'static str,
        needed_bytes: u64,
        budget_bytes: u64,
    },
    /// The argmin solver failed.
    #[error("optimiser failed: {0}")]
    Optimiser(String),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, GeometryError>;
