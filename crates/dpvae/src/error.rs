//! One error type for the whole workflow: the library crates' errors, the facade's own checks, and the
//! context each step adds ("preprocessing the reference failed: ...").

use std::fmt::Display;

/// Everything that can go wrong between a reference and a placed query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading, writing or preprocessing data.
    #[error(transparent)]
    Data(#[from] dpvae_data::DataError),
    /// Training, loading or running a model.
    #[error(transparent)]
    Model(#[from] dpvae_model::ModelError),
    /// Reconstruction, Procrustes, anchors.
    #[error(transparent)]
    Geometry(#[from] dpvae_geometry::GeometryError),
    /// Evaluation metrics.
    #[error(transparent)]
    Eval(#[from] dpvae_eval::EvalError),
    /// Settings or inputs the workflow cannot use, said in words.
    #[error("{0}")]
    Invalid(String),
    /// A model directory's JSON records.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A table operation on obs.
    #[error(transparent)]
    Table(#[from] polars::error::PolarsError),
    /// Shapes that do not fit together.
    #[error(transparent)]
    Shape(#[from] ndarray::ShapeError),
    /// What the workflow was doing when `source` happened. `{}` shows the context alone (so `anyhow`'s chain
    /// does not repeat the cause); `{:#}` shows the whole chain, "context: cause: ...", as `anyhow` does.
    #[error(fmt = context_chain)]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn context_chain(
    context: &str,
    source: &Error,
    f: &mut std::fmt::Formatter<'_>,
) -> std::fmt::Result {
    if f.alternate() {
        write!(f, "{context}: {source:#}")
    } else {
        f.write_str(context)
    }
}

impl Error {
    /// An [`Error::Invalid`] from a message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }

    /// Whether the root cause is the file system (a Python caller raises OSError for these).
    pub fn is_io(&self) -> bool {
        match self {
            Error::Data(dpvae_data::DataError::Io { .. }) => true,
            Error::Model(dpvae_model::ModelError::Io { .. }) => true,
            Error::Context { source, .. } => source.is_io(),
            _ => false,
        }
    }
}

impl Error {
    /// Whether training was stopped by its observer ([`dpvae_model::ModelError::Interrupted`]), e.g. a
    /// Ctrl-C in Python.
    pub fn is_interrupted(&self) -> bool {
        match self {
            Error::Model(dpvae_model::ModelError::Interrupted { .. }) => true,
            Error::Context { source, .. } => source.is_interrupted(),
            _ => false,
        }
    }
}

/// `anyhow`-style context for results and options of the workflow.
pub trait Context<T> {
    /// Wrap the error (or a `None`) with what was being done.
    fn context(self, context: impl Display) -> Result<T>;
    /// Like [`Context::context`], with the message built only on error.
    fn with_context<C: Display>(self, f: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl Display) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: context.to_string(),
            source: Box::new(e.into()),
        })
    }

    fn with_context<C: Display>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: f().to_string(),
            source: Box::new(e.into()),
        })
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, context: impl Display) -> Result<T> {
        self.ok_or_else(|| Error::Invalid(context.to_string()))
    }

    fn with_context<C: Display>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.ok_or_else(|| Error::Invalid(f().to_string()))
    }
}

/// Return an [`Error::Invalid`] with a formatted message.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::Error::Invalid(format!($($arg)*)))
    };
}
pub(crate) use bail;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn context_keeps_the_cause_as_source() {
        let r: std::result::Result<(), Error> = Err(Error::invalid("no genes"));
        let e = r.context("preprocessing the reference failed").unwrap_err();
        assert_eq!(e.to_string(), "preprocessing the reference failed");
        assert_eq!(e.source().unwrap().to_string(), "no genes");
        assert_eq!(
            format!("{e:#}"),
            "preprocessing the reference failed: no genes"
        );
        assert!(!e.is_io());
    }

    #[test]
    fn a_missing_value_becomes_invalid() {
        let e = None::<u8>.context("no anchors").unwrap_err();
        assert!(matches!(e, Error::Invalid(m) if m == "no anchors"));
    }
}
