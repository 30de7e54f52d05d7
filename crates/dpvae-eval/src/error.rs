//! The error type of dpvae-eval: every bad input gets a variant that names the problem.

use thiserror::Error;

/// Errors from building spatial weights and computing spatial statistics.
#[derive(Debug, Error)]
pub enum EvalError {
    /// A parameter is out of its valid range (e.g. `k = 0`, a negative radius).
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter { name: &'static str, reason: String },

    /// Two inputs that must describe the same spots (or features) disagree in size.
    #[error("shape mismatch: {what} (expected {expected}, got {got})")]
    ShapeMismatch {
        what: &'static str,
        expected: usize,
        got: usize,
    },

    /// An input is malformed: non-finite values, bad sparse structure, too few spots.
    #[error("invalid input `{what}`: {reason}")]
    InvalidInput { what: &'static str, reason: String },

    /// The alignment step of a reconstruction-quality evaluation failed.
    #[error("alignment failed: {0}")]
    Alignment(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl EvalError {
    pub(crate) fn param(name: &'static str, reason: impl Into<String>) -> Self {
        EvalError::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }
    pub(crate) fn input(what: &'static str, reason: impl Into<String>) -> Self {
        EvalError::InvalidInput {
            what,
            reason: reason.into(),
        }
    }
    pub(crate) fn shape(what: &'static str, expected: usize, got: usize) -> Self {
        EvalError::ShapeMismatch {
            what,
            expected,
            got,
        }
    }
}

/// Result alias for dpvae-eval.
pub type Result<T> = std::result::Result<T, EvalError>;
