//! Quality control: per-spot and per-gene metrics (scanpy's `calculate_qc_metrics` names) and the usual filters
//! (`filter_cells(min_counts / min_genes)`, `filter_genes(min_cells)`, a mitochondrial-fraction ceiling).

use serde::{Deserialize, Serialize};

use crate::dataset::SpatialData;
use crate::error::{DataError, Result};
use crate::matrix::Matrix;

/// Gene-name prefixes that mark mitochondrial genes (mouse `mt-`, human `MT-`).
pub const MT_PREFIXES: [&str; 2] = ["mt-", "MT-"];

/// Per-spot and per-gene QC metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QcMetrics {
    /// Total counts per spot (`total_counts`).
    pub total_counts: Vec<f64>,
    /// Genes with a non-zero count per spot (`n_genes_by_counts`).
    pub n_genes_by_counts: Vec<usize>,
    /// Percentage of a spot's counts in mitochondrial genes (`pct_counts_mt`, NaN for an empty spot).
    pub pct_counts_mt: Vec<f64>,
    /// Spots in which each gene is detected (`n_cells_by_counts`).
    pub n_cells_by_counts: Vec<usize>,
    /// Indices of the genes treated as mitochondrial.
    pub mt_genes: Vec<usize>,
}

/// Whether a gene name marks a mitochondrial gene (starts with `mt-` or `MT-`).
pub fn is_mitochondrial(name: &str) -> bool {
    MT_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Compute the QC metrics of a dataset (X is expected to hold counts).
pub fn qc_metrics(data: &SpatialData) -> QcMetrics {
    let (n, g) = data.x.shape();
    let is_mt: Vec<bool> = data.var_names.iter().map(|v| is_mitochondrial(v)).collect();
    let mut total = vec![0f64; n];
    let mut mt = vec![0f64; n];
    let mut n_genes = vec![0usize; n];
    let mut n_cells = vec![0usize; g];
    let mut visit = |i: usize, j: usize, v: f32| {
        if v != 0.0 {
            total[i] += v as f64;
            n_genes[i] += 1;
            n_cells[j] += 1;
            if is_mt[j] {
                mt[i] += v as f64;
            }
        }
    };
    match &data.x {
        Matrix::Dense(a) => {
            for ((i, j), &v) in a.indexed_iter() {
                visit(i, j, v);
            }
        }
        Matrix::Csr(c) => {
            for i in 0..n {
                let (idx, val) = c.row(i);
                for (&j, &v) in idx.iter().zip(val) {
                    visit(i, j as usize, v);
                }
            }
        }
    }
    let pct_counts_mt = total.iter().zip(&mt).map(|(t, m)| m / t * 100.0).collect();
    QcMetrics {
        total_counts: total,
        n_genes_by_counts: n_genes,
        pct_counts_mt,
        n_cells_by_counts: n_cells,
        mt_genes: (0..g).filter(|&j| is_mt[j]).collect(),
    }
}

/// QC filters; every one is off (`None`) by default, as scanpy applies none unless asked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QcParams {
    /// Keep spots with at least this many counts.
    pub min_counts: Option<f64>,
    /// Keep spots with at least this many detected genes.
    pub min_genes: Option<usize>,
    /// Keep genes detected in at least this many of the kept spots.
    pub min_cells: Option<usize>,
    /// Keep spots whose mitochondrial percentage is at most this (0-100); empty spots are dropped with it.
    pub max_pct_mt: Option<f64>,
}

/// What the QC filters kept and dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QcReport {
    /// Metrics of the input (before filtering).
    pub metrics: QcMetrics,
    /// Indices of the kept spots and genes, in input order.
    pub kept_spots: Vec<usize>,
    pub kept_genes: Vec<usize>,
    pub n_spots_removed: usize,
    pub n_genes_removed: usize,
}

impl QcParams {
    pub fn check(&self) -> Result<()> {
        if let Some(m) = self.min_counts
            && !(m.is_finite() && m >= 0.0)
        {
            return Err(DataError::data(
                "qc",
                format!("min_counts must be >= 0, got {m}"),
            ));
        }
        if let Some(p) = self.max_pct_mt
            && !(0.0..=100.0).contains(&p)
        {
            return Err(DataError::data(
                "qc",
                format!("max_pct_mt is a percentage in [0, 100], got {p}"),
            ));
        }
        Ok(())
    }

    pub fn is_noop(&self) -> bool {
        self == &QcParams::default()
    }

    /// Spots passing the per-spot filters.
    pub fn spot_mask(&self, m: &QcMetrics) -> Vec<bool> {
        (0..m.total_counts.len())
            .map(|i| {
                self.min_counts.is_none_or(|c| m.total_counts[i] >= c)
                    && self.min_genes.is_none_or(|g| m.n_genes_by_counts[i] >= g)
                    && self.max_pct_mt.is_none_or(|p| m.pct_counts_mt[i] <= p)
            })
            .collect()
    }

    /// Filter spots first (counts, genes, mitochondrial fraction), then genes by the number of kept spots that
    /// detect them.
    pub fn apply(&self, data: &SpatialData) -> Result<(SpatialData, QcReport)> {
        self.check()?;
        let metrics = qc_metrics(data);
        let mask = self.spot_mask(&metrics);
        let kept_spots: Vec<usize> = (0..mask.len()).filter(|&i| mask[i]).collect();
        if kept_spots.is_empty() {
            return Err(DataError::data(
                "qc",
                format!(
                    "the filters {} remove all {} spots",
                    serde_json::to_string(self).unwrap_or_default(),
                    data.n_obs()
                ),
            ));
        }
        let mut out = if kept_spots.len() < data.n_obs() {
            data.select_obs(&kept_spots)?
        } else {
            data.clone()
        };
        let kept_genes: Vec<usize> = match self.min_cells {
            Some(min) => {
                let counts = if kept_spots.len() < data.n_obs() {
                    qc_metrics(&out).n_cells_by_counts
                } else {
                    metrics.n_cells_by_counts.clone()
                };
                (0..counts.len()).filter(|&j| counts[j] >= min).collect()
            }
            None => (0..data.n_vars()).collect(),
        };
        if kept_genes.is_empty() {
            return Err(DataError::data(
                "qc",
                format!("min_cells = {:?} removes every gene", self.min_cells),
            ));
        }
        if kept_genes.len() < data.n_vars() {
            out = out.select_vars(&kept_genes)?;
        }
        let report = QcReport {
            n_spots_removed: data.n_obs() - kept_spots.len(),
            n_genes_removed: data.n_vars() - kept_genes.len(),
            metrics,
            kept_spots,
            kept_genes,
        };
        tracing::info!(
            spots_removed = report.n_spots_removed,
            genes_removed = report.n_genes_removed,
            "qc filters applied"
        );
        Ok((out, report))
    }
}
