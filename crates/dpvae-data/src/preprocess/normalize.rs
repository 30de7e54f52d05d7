//! Library-size normalisation, `log1p` and per-gene scaling.
//!
//! Values are f32, as scanpy keeps them, and every step rounds where scanpy rounds (totals accumulated in f64 and
//! stored as f32, the size factor `total / target` in f32, the division in f32), so the gene selections that
//! follow agree with scanpy's to the last bit on ordinary count data.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::matrix::Matrix;

/// Per-spot totals as scanpy computes them: summed in f64, stored as f32.
pub fn spot_totals(x: &Matrix) -> Vec<f32> {
    x.row_sums().into_iter().map(|t| t as f32).collect()
}

/// scanpy's default target: the median of the per-spot totals over spots with a non-zero total (numpy's median on
/// f32, i.e. the mean of the two middle values computed in f32). `None` when every spot is empty.
pub fn median_nonzero_total(totals: &[f32]) -> Option<f32> {
    let mut nz: Vec<f32> = totals.iter().copied().filter(|&t| t > 0.0).collect();
    if nz.is_empty() {
        return None;
    }
    nz.sort_by(f32::total_cmp);
    let n = nz.len();
    Some(if n % 2 == 1 {
        nz[n / 2]
    } else {
        (nz[n / 2 - 1] + nz[n / 2]) / 2.0
    })
}

/// What [`normalize_total`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalizeReport {
    /// The total every non-empty spot was scaled to.
    pub target_sum: f64,
    /// Spots with no counts, left at zero (scanpy warns and does the same).
    pub n_zero_total: usize,
}

/// Scale every spot to the same total (`target_sum`, or the median non-zero total when `None`), in place.
///
/// Spots whose total is zero stay zero, as in scanpy (their size factor is replaced by 1).
pub fn normalize_total(x: &mut Matrix, target_sum: Option<f64>) -> Result<NormalizeReport> {
    let totals = spot_totals(x);
    normalize_rows_by(x, &totals, target_sum)
}

/// [`normalize_total`] with totals computed elsewhere (a query normalised over the reference's gene set).
pub fn normalize_rows_by(
    x: &mut Matrix,
    totals: &[f32],
    target_sum: Option<f64>,
) -> Result<NormalizeReport> {
    if totals.len() != x.n_rows() {
        return Err(DataError::data(
            "normalize_total",
            format!("{} totals for {} spots", totals.len(), x.n_rows()),
        ));
    }
    let target = match target_sum {
        Some(t) if !(t.is_finite() && t > 0.0) => {
            return Err(DataError::data(
                "normalize_total",
                format!("target_sum must be a positive finite number, got {t}"),
            ));
        }
        Some(t) => t as f32,
        None => median_nonzero_total(totals).ok_or_else(|| {
            DataError::data(
                "normalize_total",
                "every spot has zero counts, so there is no median total to scale to",
            )
        })?,
    };
    let factors: Vec<f32> = totals
        .iter()
        .map(|&t| {
            let f = t / target;
            if f == 0.0 { 1.0 } else { f }
        })
        .collect();
    let n_zero_total = totals.iter().filter(|&&t| t == 0.0).count();
    if n_zero_total > 0 {
        tracing::warn!(n_zero_total, "some spots have zero counts; they stay zero");
    }
    map_rows(x, |i, v| v / factors[i]);
    Ok(NormalizeReport {
        target_sum: target as f64,
        n_zero_total,
    })
}

/// Natural `log(1 + x)`, in place (f32, as numpy's `log1p` on float32 data).
pub fn log1p(x: &mut Matrix) {
    map_rows(x, |_, v| v.ln_1p());
}

/// Apply `f(row, value)` to every stored value. Zeros of a sparse matrix are not visited, so `f(i, 0)` must be 0.
pub(crate) fn map_rows(x: &mut Matrix, f: impl Fn(usize, f32) -> f32) {
    match x {
        Matrix::Dense(a) => {
            for (i, mut row) in a.rows_mut().into_iter().enumerate() {
                row.mapv_inplace(|v| f(i, v));
            }
        }
        Matrix::Csr(c) => {
            let indptr = c.indptr().to_vec();
            let data = c.data_mut();
            for i in 0..indptr.len() - 1 {
                for v in &mut data[indptr[i]..indptr[i + 1]] {
                    *v = f(i, *v);
                }
            }
        }
    }
}

/// Per-gene mean and unbiased variance (ddof = 1) of `t(x)`, as scanpy's `_get_mean_var`: sums of values and of
/// their f32 squares accumulated in f64, variance `(E[x^2] - mean^2) * n / (n - 1)`. `t` must map 0 to 0.
pub(crate) fn gene_mean_var(x: &Matrix, t: impl Fn(f32) -> f32) -> (Vec<f64>, Vec<f64>) {
    let (n, g) = x.shape();
    let mut sum = vec![0f64; g];
    let mut sq = vec![0f64; g];
    match x {
        Matrix::Dense(a) => {
            for row in a.rows() {
                for (j, &v) in row.iter().enumerate() {
                    let v = t(v);
                    sum[j] += v as f64;
                    sq[j] += (v * v) as f64;
                }
            }
        }
        Matrix::Csr(c) => {
            for (&j, &v) in c.indices().iter().zip(c.data()) {
                let v = t(v);
                sum[j as usize] += v as f64;
                sq[j as usize] += (v * v) as f64;
            }
        }
    }
    let nf = n as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / nf).collect();
    let var = sq
        .iter()
        .zip(&mean)
        .map(|(s, m)| {
            let v = s / nf - m * m;
            if n != 1 { v * (nf / (nf - 1.0)) } else { v }
        })
        .collect();
    (mean, var)
}

/// Per-gene centring and scaling fitted on a reference, so a query is scaled with the reference's statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleStats {
    pub mean: Vec<f64>,
    /// Standard deviation (ddof = 1); genes with zero deviation get 1, as in scanpy.
    pub std: Vec<f64>,
    /// Clip scaled values to `[-max_value, max_value]` (scanpy's `max_value`); `None` keeps them.
    pub max_value: Option<f64>,
}

impl ScaleStats {
    /// Whether the statistics fit `genes` genes, with finite means and positive deviations.
    pub fn check(&self, genes: usize) -> std::result::Result<(), String> {
        if self.mean.len() != genes || self.std.len() != genes {
            return Err(format!(
                "has {} means and {} deviations for {genes} genes",
                self.mean.len(),
                self.std.len()
            ));
        }
        if self.mean.iter().any(|v| !v.is_finite())
            || self.std.iter().any(|v| !(v.is_finite() && *v > 0.0))
        {
            return Err("holds a non-finite mean or a deviation that is not positive".into());
        }
        if let Some(m) = self.max_value
            && !(m.is_finite() && m > 0.0)
        {
            return Err(format!("max_value is {m}; it must be positive"));
        }
        Ok(())
    }

    /// Fit on `x` (scanpy's `pp.scale` statistics).
    pub fn fit(x: &Matrix, max_value: Option<f64>) -> Result<ScaleStats> {
        if let Some(m) = max_value
            && !(m.is_finite() && m > 0.0)
        {
            return Err(DataError::data(
                "scale",
                format!("max_value must be positive and finite, got {m}"),
            ));
        }
        let (mean, var) = gene_mean_var(x, |v| v);
        let std = var
            .iter()
            .map(|v| {
                let s = v.sqrt();
                if s == 0.0 { 1.0 } else { s }
            })
            .collect();
        Ok(ScaleStats {
            mean,
            std,
            max_value,
        })
    }

    /// Centre, scale and clip `x` (dense output: centring fills the zeros). f32 roundings as scanpy's in-place
    /// `x -= mean; x /= std` on float32 data.
    pub fn apply(&self, x: &Matrix) -> Result<Matrix> {
        if x.n_cols() != self.mean.len() {
            return Err(DataError::data(
                "scale",
                format!(
                    "data has {} genes but the scaling was fitted on {}",
                    x.n_cols(),
                    self.mean.len()
                ),
            ));
        }
        let mut d: Array2<f32> = x.to_dense();
        for mut row in d.rows_mut() {
            for (j, v) in row.iter_mut().enumerate() {
                let c = (*v as f64 - self.mean[j]) as f32;
                let mut s = (c as f64 / self.std[j]) as f32;
                if let Some(m) = self.max_value {
                    if s as f64 > m {
                        s = m as f32;
                    } else if (s as f64) < -m {
                        s = -m as f32;
                    }
                }
                *v = s;
            }
        }
        Ok(Matrix::Dense(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn median_of_nonzero_totals() {
        assert_eq!(median_nonzero_total(&[0.0, 3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median_nonzero_total(&[0.0, 4.0, 1.0]), Some(2.5));
        assert_eq!(median_nonzero_total(&[0.0]), None);
    }

    #[test]
    fn zero_spots_stay_zero_and_others_reach_target() {
        let mut m = Matrix::Dense(array![[1.0f32, 3.0], [0.0, 0.0], [2.0, 2.0]]);
        let r = normalize_total(&mut m, Some(10.0)).unwrap();
        assert_eq!(r.n_zero_total, 1);
        assert_eq!(m.row_sums(), vec![10.0, 0.0, 10.0]);
        assert!(normalize_total(&mut m, Some(-1.0)).is_err());
    }
}
