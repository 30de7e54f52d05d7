//! # dpvae-core
//!
//! The numerics every dpvae crate shares, each written and tested once here. Light dependencies only
//! (ndarray, rayon, rand, kiddo), so the model and the evaluation use it without the data layer's I/O stack.
//!
//! * [`distance`]: Euclidean distances between rows: pairs, full matrices, scipy's condensed form.
//! * [`knn`]: k nearest neighbours with one deterministic tie rule: kd-tree (2-3 dimensions) and brute force.
//! * [`stats`]: numpy's median and linear-interpolation quantile.
//! * [`sparse`]: the CSR structure: borrowed view, invariant check, transpose (CSR <-> CSC).
//! * [`split`]: seeded hold-out splits with an explicit rounding rule.
//! * [`special`]: scalar special functions: erf/erfc, the normal CDF and quantile, log-gamma, digamma.
//! * [`atomic`]: atomic file writes (temporary sibling, fsync, rename, directory fsync).

pub mod atomic;
pub mod distance;
pub mod knn;
pub mod sparse;
pub mod special;
pub mod split;
pub mod stats;
