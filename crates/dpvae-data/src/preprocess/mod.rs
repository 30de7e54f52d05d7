//! Preprocessing that matches scanpy: QC filters, `normalize_total`, `log1p`, scaling, highly variable genes
//! (`seurat`, `cell_ranger`, `seurat_v3`), and the [`Preprocess`] pipeline with its fit/apply split.

pub mod hvg;
pub mod loess;
pub mod normalize;
pub mod pca;
pub mod pipeline;
pub mod qc;

pub use hvg::{HvgFlavor, HvgParams, HvgResult};
pub use normalize::{NormalizeReport, ScaleStats, log1p, normalize_total};
pub use pca::{FittedPca, PcaParams};
pub use pipeline::{ApplyReport, FitReport, FittedPreprocess, MIN_SPOTS_OWN_SCALE, Preprocess};
pub use qc::{QcMetrics, QcParams, QcReport, qc_metrics};
