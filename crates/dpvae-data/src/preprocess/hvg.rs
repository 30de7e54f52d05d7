//! Highly variable genes, scanpy's `pp.highly_variable_genes(n_top_genes=N)` for one batch, with its three flavors:
//!
//! - `seurat` (log data): `expm1`, per-gene mean and ddof=1 variance, dispersion `var / mean` (a zero mean is set
//!   to 1e-12, a zero dispersion to NaN), `log` dispersion, `log1p` mean; 20 equal-width bins of the mean
//!   (pandas `cut`); within a bin, z-score with the bin's mean and ddof=1 standard deviation of the non-NaN
//!   dispersions. A bin with a single gene has no deviation: its gene gets 1 (scanpy sets avg 0, dev = disp).
//! - `cell_ranger` (log data, as scanpy computes it, no `expm1`): dispersion `var / mean`; bins cut at the 10th,
//!   15th, ..., 100th percentiles of the means (plus +-inf); normalised by the bin's median and MAD
//!   (`median(|d - median(d)|) / 0.6745`).
//! - `seurat_v3` (raw counts): loess (span 0.3, degree 2) of log10 variance on log10 mean over the non-constant
//!   genes, regularised sd `sqrt(10^fit)`, counts clipped at `mean + sd * sqrt(n_obs)`, normalised variance of
//!   the clipped standardised values; the top N by that variance (ties by gene order).
//! - `variance` (log data; not a scanpy flavor): the top N genes by variance (ddof=1) of the log-normalised
//!   data, ties by gene order: the gene recipe a scikit-learn user writes by hand (`X.var(0).argsort()`).
//!
//! Selection for the dispersion flavors is scanpy's: the N-th highest non-NaN normalised dispersion is the cut-off
//! and every gene at or above it is selected (so exact ties at the cut-off can select more than N).

use dpvae_core::stats::{median_skipna, median_sorted, quantile_linear_sorted};
use serde::{Deserialize, Serialize};

use super::loess::{Surface, loess_quadratic};
use super::normalize::gene_mean_var;
use crate::error::{DataError, Result};
use crate::matrix::Matrix;

/// scanpy's HVG flavors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HvgFlavor {
    /// Seurat's mean.var.plot: log-data dispersions z-scored in 20 mean bins.
    #[default]
    Seurat,
    /// Cell Ranger: dispersions normalised by median/MAD in percentile bins of the mean.
    CellRanger,
    /// Seurat v3 "vst": loess-regularised variance of clipped standardised raw counts.
    SeuratV3,
    /// Plain variance of the log-normalised data (no mean binning, no loess).
    Variance,
}

impl HvgFlavor {
    pub fn as_str(&self) -> &'static str {
        match self {
            HvgFlavor::Seurat => "seurat",
            HvgFlavor::CellRanger => "cell_ranger",
            HvgFlavor::SeuratV3 => "seurat_v3",
            HvgFlavor::Variance => "variance",
        }
    }
    /// Whether the flavor reads raw counts (before normalisation) rather than log-normalised data.
    pub fn uses_counts(&self) -> bool {
        matches!(self, HvgFlavor::SeuratV3)
    }
}

impl std::str::FromStr for HvgFlavor {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "seurat" => Ok(HvgFlavor::Seurat),
            "cell_ranger" | "cellranger" => Ok(HvgFlavor::CellRanger),
            "seurat_v3" | "seuratv3" => Ok(HvgFlavor::SeuratV3),
            "variance" => Ok(HvgFlavor::Variance),
            _ => Err(DataError::data(
                "flavor",
                format!(
                    "unknown HVG flavor '{s}' (expected seurat, cell_ranger, seurat_v3 or variance)"
                ),
            )),
        }
    }
}

/// Parameters of the HVG selection (scanpy's names and defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HvgParams {
    /// Number of genes to keep (`n_top_genes`).
    pub n_top_genes: usize,
    pub flavor: HvgFlavor,
    /// Number of mean bins of the `seurat` flavor (`n_bins`, 20).
    pub n_bins: usize,
    /// Loess span of the `seurat_v3` flavor (`span`, 0.3).
    pub span: f64,
}

impl Default for HvgParams {
    fn default() -> Self {
        HvgParams {
            n_top_genes: 2000,
            flavor: HvgFlavor::Seurat,
            n_bins: 20,
            span: 0.3,
        }
    }
}

/// Per-gene statistics and the selection.
#[derive(Debug, Clone, PartialEq)]
pub struct HvgResult {
    pub flavor: HvgFlavor,
    /// `means` as scanpy reports them (`log1p` of the expm1 mean for `seurat`).
    pub means: Vec<f64>,
    /// `dispersions` (`seurat`: log dispersion), or `variances` for `seurat_v3`.
    pub dispersions: Vec<f64>,
    /// `dispersions_norm`, or `variances_norm` for `seurat_v3` (NaN where scanpy has NaN).
    pub dispersions_norm: Vec<f64>,
    pub highly_variable: Vec<bool>,
}

impl HvgResult {
    /// Indices of the selected genes, in the data's gene order (as `adata[:, adata.var.highly_variable]`).
    pub fn selected(&self) -> Vec<usize> {
        self.highly_variable
            .iter()
            .enumerate()
            .filter_map(|(j, &h)| h.then_some(j))
            .collect()
    }
}

impl HvgParams {
    pub fn new(n_top_genes: usize, flavor: HvgFlavor) -> Self {
        HvgParams {
            n_top_genes,
            flavor,
            ..Default::default()
        }
    }

    pub fn check(&self) -> Result<()> {
        if self.n_top_genes == 0 {
            return Err(DataError::data("hvg", "n_top_genes must be at least 1"));
        }
        if self.n_bins == 0 {
            return Err(DataError::data("hvg", "n_bins must be at least 1"));
        }
        if !(self.span > 0.0 && self.span <= 1.0) {
            return Err(DataError::data(
                "hvg",
                format!("span must be in (0, 1], got {}", self.span),
            ));
        }
        Ok(())
    }

    /// Select genes from `x`: log-normalised data for `seurat` / `cell_ranger`, raw counts for `seurat_v3`.
    pub fn fit(&self, x: &Matrix) -> Result<HvgResult> {
        self.check()?;
        if x.n_rows() < 2 {
            return Err(DataError::data(
                "hvg",
                "highly variable genes need at least 2 spots",
            ));
        }
        match self.flavor {
            HvgFlavor::Seurat | HvgFlavor::CellRanger => self.dispersion_flavor(x),
            HvgFlavor::SeuratV3 => self.seurat_v3(x),
            HvgFlavor::Variance => Ok(self.top_variance(x)),
        }
    }

    fn top_variance(&self, x: &Matrix) -> HvgResult {
        let (mean, var) = gene_mean_var(x, |v| v);
        let highly_variable = top_ranked(&var, self.n_top_genes);
        HvgResult {
            flavor: self.flavor,
            means: mean,
            dispersions: var.clone(),
            dispersions_norm: var,
            highly_variable,
        }
    }

    fn dispersion_flavor(&self, x: &Matrix) -> Result<HvgResult> {
        let seurat = self.flavor == HvgFlavor::Seurat;
        let (mut mean, var) = if seurat {
            gene_mean_var(x, f32::exp_m1)
        } else {
            gene_mean_var(x, |v| v)
        };
        for m in &mut mean {
            if *m == 0.0 {
                *m = 1e-12;
            }
        }
        let mut disp: Vec<f64> = var.iter().zip(&mean).map(|(v, m)| v / m).collect();
        if seurat {
            for d in &mut disp {
                *d = if *d == 0.0 { f64::NAN } else { d.ln() };
            }
            for m in &mut mean {
                *m = m.ln_1p();
            }
        }
        let bins = if seurat {
            equal_width_bins(&mean, self.n_bins)
        } else {
            percentile_bins(&mean)
        };
        let n_bins = bins.iter().flatten().max().map_or(0, |b| b + 1);
        let mut groups: Vec<Vec<f64>> = vec![Vec::new(); n_bins];
        for (b, &d) in bins.iter().zip(&disp) {
            if let Some(b) = b {
                groups[*b].push(d);
            }
        }
        let stats: Vec<(f64, f64)> = groups
            .iter()
            .map(|g| {
                if seurat {
                    let (avg, dev) = mean_std_skipna(g);
                    // scanpy: a bin whose deviation is undefined (one gene) normalises by its own mean.
                    if dev.is_nan() { (0.0, avg) } else { (avg, dev) }
                } else {
                    (median_skipna(g), mad(g))
                }
            })
            .collect();
        let norm: Vec<f64> = disp
            .iter()
            .zip(&bins)
            .map(|(d, b)| match b {
                Some(b) => (d - stats[*b].0) / stats[*b].1,
                None => f64::NAN,
            })
            .collect();
        let highly_variable = top_by_cutoff(&norm, self.n_top_genes);
        Ok(HvgResult {
            flavor: self.flavor,
            means: mean,
            dispersions: disp,
            dispersions_norm: norm,
            highly_variable,
        })
    }

    fn seurat_v3(&self, x: &Matrix) -> Result<HvgResult> {
        let non_integer = match x {
            Matrix::Dense(a) => a.iter().any(|v| v.fract() != 0.0),
            Matrix::Csr(c) => c.data().iter().any(|v| v.fract() != 0.0),
        };
        if non_integer {
            tracing::warn!("flavor seurat_v3 expects raw counts, but non-integers were found");
        }
        let (n, g) = x.shape();
        let (mean, var) = gene_mean_var(x, |v| v);
        let varying: Vec<usize> = (0..g).filter(|&j| var[j] > 0.0).collect();
        let lx: Vec<f64> = varying.iter().map(|&j| mean[j].log10()).collect();
        let ly: Vec<f64> = varying.iter().map(|&j| var[j].log10()).collect();
        let fit = loess_quadratic(&lx, &ly, self.span, Surface::Interpolate).map_err(|e| {
            DataError::data(
                "highly variable genes (seurat_v3)",
                format!(
                    "the mean-variance trend of {} varying genes over {n} spots cannot be fitted ({e}); this \
                     happens when many genes have the same mean (identical spots, or very sparse counts): \
                     choose the genes another way (hvg flavor `variance` or `seurat`)",
                    varying.len()
                ),
            )
        })?;
        let mut estimated = vec![0f64; g];
        for (&j, f) in varying.iter().zip(fit) {
            estimated[j] = f;
        }
        let reg_std: Vec<f64> = estimated.iter().map(|e| 10f64.powf(*e).sqrt()).collect();
        let vmax = (n as f64).sqrt();
        let clip: Vec<f64> = reg_std
            .iter()
            .zip(&mean)
            .map(|(s, m)| s * vmax + m)
            .collect();
        let mut sum = vec![0f64; g];
        let mut sq = vec![0f64; g];
        let mut add = |j: usize, v: f32| {
            let e = (v as f64).min(clip[j]);
            sum[j] += e;
            sq[j] += e * e;
        };
        match x {
            Matrix::Dense(a) => {
                for row in a.rows() {
                    for (j, &v) in row.iter().enumerate() {
                        add(j, v);
                    }
                }
            }
            Matrix::Csr(c) => {
                for (&j, &v) in c.indices().iter().zip(c.data()) {
                    add(j as usize, v);
                }
            }
        }
        let nf = n as f64;
        let norm: Vec<f64> = (0..g)
            .map(|j| {
                (1.0 / ((nf - 1.0) * reg_std[j] * reg_std[j]))
                    * (nf * mean[j] * mean[j] + sq[j] - 2.0 * sum[j] * mean[j])
            })
            .collect();
        let highly_variable = top_ranked(&norm, self.n_top_genes);
        Ok(HvgResult {
            flavor: self.flavor,
            means: mean,
            dispersions: var,
            dispersions_norm: norm,
            highly_variable,
        })
    }
}

/// The `n_top` highest values, highest first, NaN last; equal values keep gene order.
fn top_ranked(values: &[f64], n_top: usize) -> Vec<bool> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| desc_nan_last(values[a], values[b]));
    let mut selected = vec![false; values.len()];
    for &j in order.iter().take(n_top.min(values.len())) {
        selected[j] = true;
    }
    selected
}

fn desc_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => b.total_cmp(&a),
    }
}

/// scanpy's `_subset_genes`: the N-th highest non-NaN value is the cut-off; NaN counts as -inf and +inf as the
/// largest finite float (`np.nan_to_num(x, nan=-inf)`), every value at or above the cut-off is selected.
fn top_by_cutoff(values: &[f64], n_top: usize) -> Vec<bool> {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    let n = n_top.min(values.len()).min(finite.len());
    if n < n_top.min(values.len()) {
        tracing::warn!(
            n_top,
            available = finite.len(),
            "n_top_genes exceeds the genes with a normalised dispersion; returning all of those"
        );
    }
    if n == 0 {
        return vec![false; values.len()];
    }
    finite.sort_by(|a, b| b.total_cmp(a));
    let cutoff = finite[n - 1];
    values
        .iter()
        .map(|&v| {
            let v = if v.is_nan() || v == f64::NEG_INFINITY {
                f64::MIN
            } else if v == f64::INFINITY {
                f64::MAX
            } else {
                v
            };
            v >= cutoff
        })
        .collect()
}

/// pandas `cut(x, bins=n)` codes (right-closed bins): equal-width edges over [min, max], the lowest edge lowered
/// by 0.1% of the range (or both ends moved by 0.1% when all values are equal).
pub(crate) fn equal_width_bins(x: &[f64], n_bins: usize) -> Vec<Option<usize>> {
    let (mut mn, mut mx) = x
        .iter()
        .filter(|v| !v.is_nan())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if mn > mx {
        return vec![None; x.len()];
    }
    let edges = if mn == mx {
        mn -= if mn != 0.0 { 0.001 * mn.abs() } else { 0.001 };
        mx += if mx != 0.0 { 0.001 * mx.abs() } else { 0.001 };
        linspace(mn, mx, n_bins + 1)
    } else {
        let mut e = linspace(mn, mx, n_bins + 1);
        e[0] -= (mx - mn) * 0.001;
        e
    };
    cut(x, &edges)
}

/// numpy's `linspace(start, stop, num)`: `i * step + start`, the last edge exactly `stop`.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let step = (stop - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    v[num - 1] = stop;
    v
}

/// Codes of right-closed bins `(e[i], e[i+1]]` (pandas `cut`, `searchsorted(edges, x, side="left") - 1`).
fn cut(x: &[f64], edges: &[f64]) -> Vec<Option<usize>> {
    x.iter()
        .map(|&v| {
            if v.is_nan() {
                return None;
            }
            let id = edges.partition_point(|&e| e < v);
            (id >= 1 && id < edges.len()).then(|| id - 1)
        })
        .collect()
}

/// scanpy's `cell_ranger` bins: edges `[-inf, p10, p15, ..., p100, inf]` of the means (numpy's linear
/// percentiles). scanpy (pandas) raises when two percentiles coincide; here repeated edges are merged, with a
/// warning, which gives the same bins pandas' `duplicates="drop"` would.
pub(crate) fn percentile_bins(means: &[f64]) -> Vec<Option<usize>> {
    let mut sorted: Vec<f64> = means.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut edges = vec![f64::NEG_INFINITY];
    for q in (10..=100).step_by(5) {
        edges.push(quantile_linear_sorted(&sorted, q as f64 / 100.0));
    }
    edges.push(f64::INFINITY);
    let before = edges.len();
    edges.dedup();
    if edges.len() < before {
        tracing::warn!(
            "cell_ranger: some percentile bin edges of the gene means coincide (many genes share a mean, e.g. unexpressed genes); merged them (scanpy raises here)"
        );
    }
    cut(means, &edges)
}

/// pandas' grouped mean (Kahan-compensated sum) and ddof=1 std (Welford), skipping NaN.
fn mean_std_skipna(g: &[f64]) -> (f64, f64) {
    let (mut sum, mut comp, mut count) = (0f64, 0f64, 0usize);
    let (mut wm, mut m2) = (0f64, 0f64);
    for &v in g.iter().filter(|v| !v.is_nan()) {
        let y = v - comp;
        let t = sum + y;
        comp = t - sum - y;
        sum = t;
        count += 1;
        let old = wm;
        wm += (v - old) / count as f64;
        m2 += (v - wm) * (v - old);
    }
    if count == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = sum / count as f64;
    let std = if count > 1 {
        (m2 / (count - 1) as f64).sqrt()
    } else {
        f64::NAN
    };
    (mean, std)
}

/// statsmodels' `mad`: `median(|a - median(a)| / Phi^-1(3/4))`; NaN if any value is NaN (numpy's median).
fn mad(g: &[f64]) -> f64 {
    const C: f64 = 0.674_489_750_196_081_7;
    if g.is_empty() || g.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    let center = median_skipna(g);
    let mut dev: Vec<f64> = g.iter().map(|v| (v - center).abs() / C).collect();
    dev.sort_by(f64::total_cmp);
    median_sorted(&dev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pandas_cut_edges() {
        // 0..=10 in 5 bins: edges 0 (lowered by 0.01), 2, 4, 6, 8, 10; right-closed.
        let x = [0.0, 2.0, 2.0001, 10.0, 5.0];
        assert_eq!(
            equal_width_bins(&x, 5),
            vec![Some(0), Some(0), Some(1), Some(4), Some(2)]
        );
    }

    #[test]
    fn cutoff_keeps_ties_and_skips_nan() {
        let hv = top_by_cutoff(&[1.0, f64::NAN, 3.0, 3.0, 2.0], 1);
        assert_eq!(hv, vec![false, false, true, true, false]);
        let hv = top_by_cutoff(&[f64::NAN, 1.0], 5);
        assert_eq!(hv, vec![false, true]);
    }

    #[test]
    fn variance_flavor_takes_the_most_variable_log_genes() {
        // Gene variances (ddof 1): 0, 1, 4/3 (= var of [0, 0, 2]), 1 (tie with gene 1, which comes first).
        let x = ndarray::array![
            [1.0f32, 0.0, 0.0, 5.0],
            [1.0, 1.0, 0.0, 6.0],
            [1.0, 2.0, 2.0, 7.0]
        ];
        let r = HvgParams::new(2, HvgFlavor::Variance)
            .fit(&Matrix::Dense(x))
            .unwrap();
        assert_eq!(r.selected(), vec![1, 2]);
        assert!((r.dispersions[2] - 4.0 / 3.0).abs() < 1e-9);
        assert_eq!(
            "variance".parse::<HvgFlavor>().unwrap(),
            HvgFlavor::Variance
        );
    }
}
