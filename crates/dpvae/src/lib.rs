//! dpvae: recover where cells sat in a tissue from their gene expression (dp-VAE, Zhou & Du 2024).
//!
//! This crate is the workflow as a library, what `dpvae train`, `embed` and `run` do: preprocess a reference
//! with coordinates, train an ensemble of distance-preserving VAEs on it, and place expression-only spots in
//! the reference's frame with a calibrated radius per spot. The maths lives in the crates re-exported below
//! ([`data`], [`network`], [`geometry`], [`eval`]); the command line and the benchmarks call this crate.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use dpvae::DpVae;
//! use dpvae::data::{simulate::SimulateParams, split::train_test_split};
//!
//! // A simulated section: 80% as the reference (counts + obsm['spatial']), 20% as the query.
//! let tissue = SimulateParams { n_spots: 300, n_genes: 80, ..Default::default() }.simulate()?;
//! let split = train_test_split(tissue.n_obs(), 0.2, 0)?;
//! let reference = tissue.select_obs(&split.train)?;
//! let mut query = tissue.select_obs(&split.test)?;
//!
//! let model = DpVae::params().alpha2(10.0).epochs(20).members(2).fit(&reference)?; // preprocess + train
//! let dir = tempfile::tempdir()?;
//! model.save(&dir.path().join("model"))?;   // a model directory `dpvae embed` loads
//! let placed = model.place(&query)?;          // embed + reconstruct (+ confidence), in the reference's frame
//! placed.write_into(&mut query)?;             // obsm['X_dpvae'], obsm['spatial_dpvae'], uns['dpvae']
//!
//! assert_eq!(query.obsm[dpvae::anndata::OBSM_PLACED].nrows(), query.n_obs());
//! let reloaded = DpVae::load(dir.path().join("model"))?;
//! assert_eq!(reloaded.place(&query)?.coords, placed.coords);
//! # Ok(())
//! # }
//! ```

pub mod anndata;
pub mod auto;
pub mod depth;
mod error;
pub mod evaluate;
mod fit;
pub mod logging;
mod members;
mod model;
mod params;
mod place;
pub mod placement;
pub mod settings;
pub mod transfer;
pub mod uncertainty;

pub use dpvae_data as data;
pub use dpvae_eval as eval;
pub use dpvae_geometry as geometry;
pub use dpvae_model as network;

pub use auto::{AutoSettings, Selection};
pub use depth::QueryProfile;
pub use error::{Context, Error, Result};
pub use fit::{Trained, train_reference, train_reference_observed};
pub use model::Model;
pub use params::{DpVae, DpVaeParams, DpVaeValidParams};
pub use place::{PlaceOptions, Placed, default_method, reconstruct_latent, to_f64};
pub use placement::{PlacementRecord, PlacementSettings, Readout};
pub use settings::{ModelSettings, TrainSettings, recommended_train_config};
pub use uncertainty::Uncertainty;
