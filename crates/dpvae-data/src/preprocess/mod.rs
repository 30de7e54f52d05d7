//! Preprocessing that matches scanpy: QC filters, `normalize_total`, `log1p`, scaling, highly variable genes
//! (`seurat`, `cell_ranger`, `seurat_v3`), and the [`Preprocess`] pipeline with its fit/apply split.

pub mod hvg;
pub mod loess;
pub mod normalize;
pub mod pipeline;
pub mod qc;

pub use hvg::{HvgFlavor, HvgParams, HvgResult};
pub use normalize::{NormalizeReport, ScaleStats, log1p, normalize_total};
pub use pipeline::{ApplyReport, FitReport, FittedPreprocess, Preprocess};
pub use qc::{QcMetrics, QcParams, QcReport, qc_metrics};
