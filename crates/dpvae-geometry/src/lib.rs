//! Geometry for dpvae: Procrustes alignment, reconstruction of coordinates from (latent) distances by
//! classical MDS, SMACOF and L1 stress, a landmark path for large `n`, and imputation with anchor spots.
//!
//! Everything takes plain `ndarray` matrices (rows are points), so it is independent of the model crate.
//! The maths is written up in `docs/geometry.md`.
//!
//! Entry points: [`procrustes`] / [`ProcrustesParams`], [`pairwise_distances`], [`classical_mds`],
//! [`SmacofParams`], [`L1Params`], [`ImputeParams`] with [`Anchors`], and [`ReconstructParams`] /
//! [`reconstruct`] which picks the right solver for a latent matrix.

mod anchors;
mod cmds;
mod distance;
mod error;
mod kernel;
mod l1;
mod landmark;
mod objective;
mod procrustes;
mod reconstruct;
mod smacof;
mod validate;

pub use anchors::{AnchorMode, Anchors, Frame, Imputation, ImputeParams, LatentScale, StressKind};
pub use cmds::{ClassicalMds, classical_mds};
pub use distance::{Stress, dense_matrix_bytes, l1_stress, pairwise_distances, stress};
pub use error::{GeometryError, Result};
pub use l1::{L1Params, L1Result};
pub use landmark::LandmarkParams;
pub use procrustes::{ProcrustesParams, ProcrustesResult, procrustes};
pub use reconstruct::{
    DEFAULT_MEMORY_BUDGET, Method, ReconstructParams, ReconstructValidParams, Reconstruction,
    SolverPath, reconstruct,
};
pub use smacof::{SmacofInit, SmacofParams, SmacofResult, SmacofValidParams};
