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
use super::pca::{FittedPca, PcaParams};
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
    /// Scale a query with its own per-gene statistics instead of the reference's: a per-section
    /// standardisation that removes shifts in mean and spread between sections (batches). Queries with fewer
    /// than [`MIN_SPOTS_OWN_SCALE`] spots fall back to the reference's statistics, with a warning.
    pub scale_per_section: bool,
    /// Project onto the reference's principal components (after scaling); the model then sees the scores.
    pub pca: Option<PcaParams>,
    /// Centre a query on its own per-gene means before the PCA projection (a per-section correction of
    /// expression level between sections); queries with fewer than [`MIN_SPOTS_OWN_SCALE`] spots use the
    /// reference's means.
    pub center_per_section: bool,
    /// How a query's genes are matched to the reference's.
    pub align: AlignParams,
}

/// A query needs this many spots for its own scaling statistics to mean something.
pub const MIN_SPOTS_OWN_SCALE: usize = 50;

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
            scale_per_section: false,
            pca: None,
            center_per_section: false,
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
    /// The principal components, when the PCA step is on (older model directories have none).
    #[serde(default)]
    pub pca: Option<FittedPca>,
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
    /// Rows of the processed query with no counts over the model's genes: the model sees nothing of them.
    pub empty_rows: Vec<usize>,
}

impl Preprocess {
    /// The paper's preprocessing: `normalize_total`, `log1p`, the top 100 `seurat` HVGs.
    pub fn paper() -> Self {
        Preprocess {
            hvg: Some(HvgParams::new(100, HvgFlavor::Seurat)),
            ..Default::default()
        }
    }

    /// dpvae's recommended preprocessing for placement (docs/placement.md has the measurements): the top 2000
    /// genes by variance of the log data (chosen by leave-one-technology-out over 23 sections; dpvae's
    /// automatic choice may pick another flavor per reference), `normalize_total` + `log1p`, 30 principal
    /// components, and a query centred
    /// on its own gene means before the projection (a per-section correction). Genes are not scaled to unit
    /// variance: across the 14 panel sections that cost 0.024 in mean held-out disparity.
    pub fn recommended() -> Self {
        Preprocess {
            hvg: Some(HvgParams::new(2000, HvgFlavor::Variance)),
            pca: Some(PcaParams::default()),
            center_per_section: true,
            ..Default::default()
        }
    }

    pub fn check(&self) -> Result<()> {
        self.qc.check()?;
        if let Some(p) = &self.pca {
            p.check()?;
        }
        if self.center_per_section && self.pca.is_none() {
            return Err(DataError::data(
                "preprocess",
                "center_per_section needs the PCA step (preprocess.pca)",
            ));
        }
        if self.scale_per_section && !self.scale {
            return Err(DataError::data(
                "preprocess",
                "scale_per_section is set but scale is off",
            ));
        }
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
        self.fit_shared(reference, None)
    }

    /// Steps that read X as counts (totals, log1p, seurat_v3) refuse negative values: log1p of one below -1 is
    /// NaN, and any other negative gives silently wrong totals and variances.
    fn check_counts(&self, data: &SpatialData, role: &str) -> Result<()> {
        let reads_counts = self.normalize_total
            || self.log1p
            || self.hvg.as_ref().is_some_and(|h| h.flavor.uses_counts());
        match data.x.first_negative() {
            Some((i, j, v)) if reads_counts => Err(DataError::data(
                format!("the {role}'s X"),
                format!(
                    "value {v} at spot '{}', gene '{}' is negative, but normalize_total and log1p \
                     expect raw counts (>= 0); give the raw counts, or for data that is already \
                     normalised set normalize_total = false and log1p = false under [preprocess] (--config)",
                    data.obs_names[i], data.var_names[j]
                ),
            )),
            _ if reads_counts && self.log1p => check_not_log(data, role),
            _ => Ok(()),
        }
    }

    /// As [`Preprocess::fit`], restricted first to the reference genes that `query_genes` (identifiers per
    /// `align.key`) also has, so HVGs are chosen among genes the query can supply.
    pub fn fit_shared(
        &self,
        reference: &SpatialData,
        query_genes: Option<&[String]>,
    ) -> Result<(SpatialData, FittedPreprocess, FitReport)> {
        self.check()?;
        let restricted;
        let reference = match query_genes {
            Some(q) => {
                restricted = self.restrict_to(reference, q)?;
                &restricted
            }
            None => reference,
        };
        self.check_counts(reference, "reference")?;
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
        let genes = data.var_names.clone();
        let gene_ids = data.var_ids.clone();
        let pca = match &self.pca {
            Some(p) => {
                let fitted = p.fit(&data.x)?;
                data = project(&data, &fitted, false)?;
                Some(fitted)
            }
            None => None,
        };
        let fitted = FittedPreprocess {
            params: self.clone(),
            normalization_genes,
            genes,
            gene_ids,
            target_sum: normalize.as_ref().map(|n| n.target_sum),
            scale,
            pca,
        };
        fitted.record(&mut data);
        Ok((data, fitted, FitReport { qc, normalize, hvg }))
    }
}

impl FittedPreprocess {
    /// Refuse a fitted state whose parts do not fit together (it is read back from a model directory's
    /// preprocess.json, where anything may have happened to it), naming the field.
    pub fn check(&self) -> Result<()> {
        self.params.check()?;
        let bad = |field: &str, problem: String| {
            Err(DataError::data(
                format!("preprocess.json: {field}"),
                format!("{problem}; the model directory is damaged, retrain it"),
            ))
        };
        let g = self.genes.len();
        if g == 0 {
            return bad("genes", "is empty".into());
        }
        if let Some(ids) = &self.gene_ids
            && ids.len() != g
        {
            return bad(
                "gene_ids",
                format!("has {} entries for {g} genes", ids.len()),
            );
        }
        if let Some(t) = self.target_sum
            && !(t.is_finite() && t > 0.0)
        {
            return bad("target_sum", format!("is {t}; it must be positive"));
        }
        if let Some(s) = &self.scale
            && let Err(problem) = s.check(g)
        {
            return bad("scale", problem);
        }
        if let Some(p) = &self.pca
            && let Err(problem) = p.check(g)
        {
            return bad("pca", problem);
        }
        Ok(())
    }

    /// Process a query (raw counts in X) exactly as the reference was.
    pub fn apply(&self, query: &SpatialData) -> Result<(SpatialData, ApplyReport)> {
        let p = &self.params;
        p.check_counts(query, "query")?;
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
        let empty_rows: Vec<usize> = (aligned.x.row_sums().iter().enumerate())
            .filter_map(|(i, &t)| (t == 0.0).then_some(i))
            .collect();
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
            aligned.x = if p.scale_per_section && aligned.n_obs() >= MIN_SPOTS_OWN_SCALE {
                ScaleStats::fit(&aligned.x, s.max_value)?.apply(&aligned.x)?
            } else {
                if p.scale_per_section {
                    tracing::warn!(
                        spots = aligned.n_obs(),
                        "too few query spots for per-section scaling ({MIN_SPOTS_OWN_SCALE} needed); \
                         scaled with the reference's statistics"
                    );
                }
                s.apply(&aligned.x)?
            };
        }
        if let Some(pca) = &self.pca {
            let own = p.center_per_section && aligned.n_obs() >= MIN_SPOTS_OWN_SCALE;
            if p.center_per_section && !own {
                tracing::warn!(
                    spots = aligned.n_obs(),
                    "too few query spots to centre on their own means ({MIN_SPOTS_OWN_SCALE} needed); \
                     centred on the reference's"
                );
            }
            aligned = project(&aligned, pca, own)?;
        }
        self.record(&mut aligned);
        Ok((
            aligned,
            ApplyReport {
                n_spots_removed: n_in - data.n_obs(),
                alignment,
                n_zero_total,
                empty_rows,
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

    /// The processed matrix a model sees has this many columns (genes, or principal components).
    pub fn n_genes(&self) -> usize {
        self.pca
            .as_ref()
            .map_or(self.genes.len(), FittedPca::n_components)
    }

    /// Names of the processed matrix's columns: the genes, or `PC1`, `PC2`, ... after PCA.
    pub fn feature_names(&self) -> Vec<String> {
        self.pca
            .as_ref()
            .map_or_else(|| self.genes.clone(), FittedPca::names)
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

impl Preprocess {
    /// The reference restricted to the genes whose identifiers `query_genes` has.
    fn restrict_to(&self, reference: &SpatialData, query_genes: &[String]) -> Result<SpatialData> {
        let shared: HashSet<String> = query_genes.iter().map(|g| key(&self.align, g)).collect();
        let keys = self.align.keys(reference, "reference")?;
        let cols: Vec<usize> = keys
            .iter()
            .enumerate()
            .filter_map(|(j, g)| shared.contains(&key(&self.align, g)).then_some(j))
            .collect();
        if cols.is_empty() {
            return Err(DataError::data(
                "genes",
                format!(
                    "the reference and the query share no genes (reference: {} genes, e.g. {}; query: {} genes, \
                     e.g. {}); check that both use the same identifiers (symbols vs ids, species)",
                    keys.len(),
                    keys.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
                    query_genes.len(),
                    query_genes
                        .iter()
                        .take(3)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        tracing::info!(
            shared = cols.len(),
            reference = keys.len(),
            "reference restricted to the genes the query shares"
        );
        if cols.len() == keys.len() {
            Ok(reference.clone())
        } else {
            reference.select_vars(&cols)
        }
    }
}

/// Replace the expression by its principal-component scores.
fn project(data: &SpatialData, pca: &FittedPca, own_mean: bool) -> Result<SpatialData> {
    let scores = pca.transform_centred(&data.x, own_mean)?;
    let mut out = data.clone();
    out.x = crate::matrix::Matrix::Dense(scores);
    out.var_names = pca.names();
    out.var_ids = None;
    out.var = polars::prelude::DataFrame::empty_with_height(pca.n_components());
    out.layers.clear();
    Ok(out)
}

fn key(p: &AlignParams, g: &str) -> String {
    if p.case_insensitive {
        g.to_lowercase()
    } else {
        g.to_string()
    }
}

/// Above this, a matrix with mostly non-integer values is normalised but not log-transformed.
const MAX_LOG_VALUE: f32 = 20.0;

/// Refuse a matrix that looks log-normalised already (most non-zero values non-integer, none above
/// [`MAX_LOG_VALUE`]): normalising and log-transforming it again would silently place it wrong.
fn check_not_log(data: &SpatialData, role: &str) -> Result<()> {
    let values: Box<dyn Iterator<Item = &f32>> = match &data.x {
        crate::matrix::Matrix::Dense(a) => Box::new(a.iter()),
        crate::matrix::Matrix::Csr(c) => Box::new(c.data().iter()),
    };
    let (mut nonzero, mut fractional, mut max) = (0usize, 0usize, 0.0f32);
    for &v in values.filter(|v| **v != 0.0) {
        nonzero += 1;
        fractional += usize::from(v.fract() != 0.0);
        max = max.max(v);
    }
    if nonzero == 0 {
        return Ok(());
    }
    let share = fractional as f64 / nonzero as f64;
    if share < 0.5 {
        return Ok(());
    }
    if max > MAX_LOG_VALUE {
        tracing::warn!(
            role,
            share_non_integer = share,
            "the {role}'s X holds mostly non-integer values: it looks normalised rather than raw counts; \
             dpvae normalises and log-transforms it as if it were counts"
        );
        return Ok(());
    }
    Err(DataError::data(
        format!("the {role}'s X"),
        format!(
            "looks log-normalised already ({:.0}% of its non-zero values are non-integer, the largest is \
             {max:.2}), but dpvae normalises and log-transforms raw counts itself, so it would be placed \
             wrong; give the raw counts (in scanpy often adata.layers['counts'] or adata.raw), or for data \
             that only exists normalised set normalize_total = false and log1p = false under [preprocess] \
             (--config) for the reference and the query alike",
            100.0 * share
        ),
    ))
}
