//! The preprocessing pipeline as one serialisable parameter set, with a fit/apply split so a query is processed
//! exactly as its reference was.
//!
//! `fit` on a reference runs QC, `normalize_total`, `log1p`, HVG selection (`seurat_v3` on the raw counts, the
//! other flavors on the log data), subsets to the selected genes and optionally scales; it returns the processed
//! reference and a [`FittedPreprocess`] (the parameters, the genes kept, the target sum used, the scaling
//! statistics) that is saved with a model. `apply` processes a query with that state: its spots pass the same
//! QC spot filters, are normalised to the reference's target over the reference's genes, aligned to the selected
//! genes (missing ones zero) and scaled with the reference's statistics.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::hvg::{HvgFlavor, HvgParams, HvgResult};
use super::normalize::{NormalizeReport, ScaleStats, log1p, normalize_rows_by, normalize_total};
use super::qc::{QcParams, QcReport};
use crate::align::{AlignParams, AlignReport};
use crate::dataset::SpatialData;
use crate::error::{DataError, Result};

/// Every preprocessing choice, saved with a trained model. Defaults are scanpy's standard recipe:
/// `normalize_total` (median target), `log1p`, top-2000 `seurat` HVGs, no QC filter, no scaling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Preprocess {
    pub qc: QcParams,
    /// Scale every spot to the same total.
    pub normalize_total: bool,
    /// The total to scale to; `None` = median of the reference's non-zero spot totals (scanpy's default).
    pub target_sum: Option<f64>,
    /// Natural log(1 + x) after normalisation.
    pub log1p: bool,
    /// Highly variable gene selection; `None` keeps every gene.
    pub hvg: Option<HvgParams>,
    /// Centre and scale each gene (scanpy's `pp.scale`), with the reference's statistics for a query.
    pub scale: bool,
    /// Clip scaled values to +-this (scanpy's `max_value`; `None` = no clipping).
    pub scale_max_value: Option<f64>,
    /// How a query's genes are matched to the reference's.
    pub align: AlignParams,
}

impl Default for Preprocess {
    fn default() -> Self {
        Preprocess {
            qc: QcParams::default(),
            normalize_total: true,
            target_sum: None,
            log1p: true,
            hvg: Some(HvgParams::default()),
            scale: false,
            scale_max_value: None,
            align: AlignParams::default(),
        }
    }
}

/// The state fitted on a reference: what a query needs to be processed the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedPreprocess {
    pub params: Preprocess,
    /// The reference's genes after QC (identifiers per `params.align.key`), over which spot totals are computed.
    pub normalization_genes: Vec<String>,
    /// The genes the processed data has, in order (the selected HVGs, or all genes after QC).
    pub genes: Vec<String>,
    /// Gene ids of `genes`, when the reference had ids.
    pub gene_ids: Option<Vec<String>>,
    /// The target total used for the reference (and reused for every query).
    pub target_sum: Option<f64>,
    /// Per-gene scaling statistics of the reference, when scaling is on.
    pub scale: Option<ScaleStats>,
}

/// Everything `fit` measured on the reference.
#[derive(Debug, Clone)]
pub struct FitReport {
    pub qc: Option<QcReport>,
    pub normalize: Option<NormalizeReport>,
    pub hvg: Option<HvgResult>,
}

/// What `apply` did to a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyReport {
    pub n_spots_removed: usize,
    pub alignment: AlignReport,
    /// Query spots with no counts over the reference's genes (left at zero).
    pub n_zero_total: usize,
}

impl Preprocess {
    /// The paper's preprocessing: `normalize_total`, `log1p`, the top 100 `seurat` HVGs.
    pub fn paper() -> Self {
        Preprocess {
            hvg: Some(HvgParams::new(100, HvgFlavor::Seurat)),
            ..Default::default()
        }
    }

    pub fn check(&self) -> Result<()> {
        self.qc.check()?;
        if let Some(h) = &self.hvg {
            h.check()?;
            if !h.flavor.uses_counts() && !self.log1p {
                tracing::warn!(
                    flavor = h.flavor.as_str(),
                    "this HVG flavor expects log data but log1p is off"
                );
            }
        }
        if let Some(t) = self.target_sum
            && !(t.is_finite() && t > 0.0)
        {
            return Err(DataError::data(
                "preprocess",
                format!("target_sum must be positive, got {t}"),
            ));
        }
        if self.scale_max_value.is_some() && !self.scale {
            return Err(DataError::data(
                "preprocess",
                "scale_max_value is set but scale is off",
            ));
        }
        self.align.check()
    }

    /// Fit on a reference (raw counts in X): returns the processed reference, the fitted state and the report.
    pub fn fit(
        &self,
        reference: &SpatialData,
    ) -> Result<(SpatialData, FittedPreprocess, FitReport)> {
        self.check()?;
        let (mut data, qc) = if self.qc.is_noop() {
            (reference.clone(), None)
        } else {
            let (d, r) = self.qc.apply(reference)?;
            (d, Some(r))
        };
        let normalization_genes = self.align.keys(&data, "reference")?.to_vec();
        // seurat_v3 ranks genes on the raw counts, before any normalisation.
        let mut hvg = match &self.hvg {
            Some(h) if h.flavor.uses_counts() => Some(h.fit(&data.x)?),
            _ => None,
        };
        let normalize = if self.normalize_total {
            Some(normalize_total(&mut data.x, self.target_sum)?)
        } else {
            None
        };
        if self.log1p {
            log1p(&mut data.x);
        }
        if let Some(h) = &self.hvg
            && !h.flavor.uses_counts()
        {
            hvg = Some(h.fit(&data.x)?);
        }
        if let Some(h) = &hvg {
            let selected = h.selected();
            tracing::info!(
                flavor = h.flavor.as_str(),
                n = selected.len(),
                "highly variable genes selected"
            );
            data = data.select_vars(&selected)?;
        }
        let scale = if self.scale {
            let s = ScaleStats::fit(&data.x, self.scale_max_value)?;
            data.x = s.apply(&data.x)?;
            Some(s)
        } else {
            None
        };
        let fitted = FittedPreprocess {
            params: self.clone(),
            normalization_genes,
            genes: data.var_names.clone(),
            gene_ids: data.var_ids.clone(),
            target_sum: normalize.as_ref().map(|n| n.target_sum),
            scale,
        };
        fitted.record(&mut data);
        Ok((data, fitted, FitReport { qc, normalize, hvg }))
    }
}

impl FittedPreprocess {
    /// Process a query (raw counts in X) exactly as the reference was.
    pub fn apply(&self, query: &SpatialData) -> Result<(SpatialData, ApplyReport)> {
        let p = &self.params;
        let n_in = query.n_obs();
        let data = if p.qc.is_noop() {
            query.clone()
        } else {
            let m = super::qc::qc_metrics(query);
            let keep: Vec<usize> =
                p.qc.spot_mask(&m)
                    .iter()
                    .enumerate()
                    .filter_map(|(i, &k)| k.then_some(i))
                    .collect();
            if keep.is_empty() {
                return Err(DataError::data(
                    "preprocess",
                    "the reference's QC spot filters remove every query spot",
                ));
            }
            query.select_obs(&keep)?
        };
        // Totals over the query genes that the reference normalised over, so the size factors mean the same.
        let totals: Option<Vec<f32>> = if p.normalize_total {
            let ref_genes: HashSet<String> = self
                .normalization_genes
                .iter()
                .map(|g| key(&p.align, g))
                .collect();
            let cols: Vec<usize> = p
                .align
                .keys(&data, "query")?
                .iter()
                .enumerate()
                .filter_map(|(j, g)| ref_genes.contains(&key(&p.align, g)).then_some(j))
                .collect();
            let sub = if cols.len() == data.n_vars() {
                data.x.row_sums()
            } else {
                data.x.select_cols(&cols).row_sums()
            };
            Some(sub.into_iter().map(|t| t as f32).collect())
        } else {
            None
        };
        let targets: Vec<String> = match (p.align.key, &self.gene_ids) {
            (crate::align::GeneKey::Ids, Some(ids)) => ids.clone(),
            _ => self.genes.clone(),
        };
        let (mut aligned, alignment) = p.align.align_to(&data, &targets)?;
        aligned.var_names = self.genes.clone();
        aligned.var_ids = self.gene_ids.clone();
        let mut n_zero_total = 0;
        if let Some(t) = &totals {
            let target = self
                .target_sum
                .ok_or_else(|| DataError::data("preprocess", "fitted state has no target_sum"))?;
            n_zero_total = normalize_rows_by(&mut aligned.x, t, Some(target))?.n_zero_total;
        }
        if p.log1p {
            log1p(&mut aligned.x);
        }
        if let Some(s) = &self.scale {
            aligned.x = s.apply(&aligned.x)?;
        }
        self.record(&mut aligned);
        Ok((
            aligned,
            ApplyReport {
                n_spots_removed: n_in - data.n_obs(),
                alignment,
                n_zero_total,
            },
        ))
    }

    /// Note the processing in `uns['preprocess']` (parameters and target; the gene list is `var_names`).
    fn record(&self, data: &mut SpatialData) {
        data.uns.insert(
            "preprocess".into(),
            serde_json::json!({
                "params": self.params,
                "target_sum": self.target_sum,
                "n_genes": self.genes.len(),
            }),
        );
    }

    /// The processed matrix a model sees has these columns.
    pub fn n_genes(&self) -> usize {
        self.genes.len()
    }

    /// Serialise to JSON (saved next to a model).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| DataError::data("preprocess", format!("cannot serialise: {e}")))
    }

    pub fn from_json(s: &str) -> Result<Self> {
        serde_json::from_str(s).map_err(|e| {
            DataError::data("preprocess", format!("invalid fitted preprocessing: {e}"))
        })
    }
}

fn key(p: &AlignParams, g: &str) -> String {
    if p.case_insensitive {
        g.to_lowercase()
    } else {
        g.to_string()
    }
}
