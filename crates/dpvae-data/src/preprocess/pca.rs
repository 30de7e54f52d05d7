//! Principal components of the processed expression, fitted on a reference and applied to queries.
//!
//! Randomized SVD (Halko, Martinsson & Tropp 2011, as scikit-learn's `svd_solver='randomized'`): a seeded
//! Gaussian sketch with `k + 10` columns, four power iterations re-orthonormalised each time, then the exact
//! eigen-decomposition of the small projected Gram matrix. Signs follow scikit-learn's `svd_flip` (the largest
//! loading of each component is positive), so a fit is deterministic for a seed.
//!
//! Every pass over the data takes the rows a block at a time ([`RowBlocks`]), centring each block as it goes,
//! so a sparse reference of a million cells is never held as a dense (or centred) cells x genes matrix: the
//! largest buffers are the `cells x (k + 10)` sketch and the scores.
//!
//! Scores are divided by one scalar, `sqrt(mean of the k explained variances)`, so the features have unit
//! variance on average while keeping their relative weight (a Gaussian decoder then sees order-1 targets).

use ndarray::{Array1, Array2, Axis, s};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::linalg::symmetric_eigen;
use crate::matrix::RowBlocks;

/// Options of the PCA step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PcaParams {
    /// Number of components kept (capped at `min(spots, genes) - 1`).
    pub n_components: usize,
    /// Seed of the random sketch.
    pub seed: u64,
    /// Divide each component's scores by its own standard deviation (scikit-learn's `whiten`) instead of one
    /// common scalar.
    pub whiten: bool,
}

impl Default for PcaParams {
    fn default() -> Self {
        PcaParams {
            n_components: 30,
            seed: 0,
            whiten: false,
        }
    }
}

/// A fitted projection: `scores = (x - mean) . components^T / score_scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedPca {
    /// Per-gene mean of the reference.
    pub mean: Vec<f32>,
    /// `k x genes`, orthonormal rows.
    pub components: Vec<Vec<f32>>,
    /// Variance of the reference's scores along each component (ddof = 1).
    pub explained_variance: Vec<f64>,
    /// The divisor applied to every score.
    pub score_scale: f64,
    /// Whether each component is divided by its own standard deviation instead.
    #[serde(default)]
    pub whiten: bool,
}

const OVERSAMPLE: usize = 10;
const POWER_ITERATIONS: usize = 4;
/// Rows densified at a time (8192 x 2000 genes in f64 is 131 MB).
const BLOCK_ROWS: usize = 8192;

/// `f(start, block)` for every block of [`BLOCK_ROWS`] rows of `x`, in parallel; the results in block order (so
/// sums over them do not depend on the thread count).
fn map_row_blocks<T: Send>(
    x: &(impl RowBlocks + Sync),
    f: impl Fn(usize, Array2<f32>) -> T + Sync,
) -> Vec<T> {
    let n = x.dims().0;
    let starts: Vec<usize> = (0..n).step_by(BLOCK_ROWS).collect();
    starts
        .into_par_iter()
        .map(|start| f(start, x.dense_rows(start, (start + BLOCK_ROWS).min(n))))
        .collect()
}

/// [`map_row_blocks`] with each block as f64 and centred on `mean`.
fn map_centred_blocks<T: Send>(
    x: &(impl RowBlocks + Sync),
    mean: &Array1<f64>,
    f: impl Fn(usize, Array2<f64>) -> T + Sync,
) -> Vec<T> {
    map_row_blocks(x, |start, b| f(start, b.mapv(f64::from) - mean))
}

/// Blocks of consecutive rows, in order, stacked into one `rows x cols` matrix.
fn stack_blocks<A: Clone + Default>(rows: usize, cols: usize, blocks: Vec<Array2<A>>) -> Array2<A> {
    let mut out = Array2::from_elem((rows, cols), A::default());
    let mut start = 0;
    for block in blocks {
        let end = start + block.nrows();
        out.slice_mut(s![start..end, ..]).assign(&block);
        start = end;
    }
    out
}

/// Column means of `x`, block by block.
fn column_means(x: &(impl RowBlocks + Sync)) -> Array1<f64> {
    let (n, g) = x.dims();
    let sums = map_row_blocks(x, |_, b| b.mapv(f64::from).sum_axis(Axis(0)));
    sums.iter().fold(Array1::zeros(g), |acc, s| acc + s) / n.max(1) as f64
}

/// Column means over the rows with any non-zero value (`None` without such rows): spots without counts carry
/// no expression, and must not pull a section's own centre towards zero.
fn expressed_means(x: &(impl RowBlocks + Sync)) -> Option<Array1<f64>> {
    let g = x.dims().1;
    let parts = map_row_blocks(x, |_, b| {
        let mut sum = Array1::<f64>::zeros(g);
        let mut rows = 0usize;
        for row in b.rows() {
            if row.iter().any(|v| *v != 0.0) {
                sum.zip_mut_with(&row, |s, v| *s += f64::from(*v));
                rows += 1;
            }
        }
        (sum, rows)
    });
    let rows: usize = parts.iter().map(|p| p.1).sum();
    (rows > 0).then(|| parts.into_iter().fold(Array1::zeros(g), |acc, p| acc + p.0) / rows as f64)
}

/// `(x - mean) . m` (rows x m's columns), block by block.
fn centred_dot(x: &(impl RowBlocks + Sync), mean: &Array1<f64>, m: &Array2<f64>) -> Array2<f64> {
    let blocks = map_centred_blocks(x, mean, |_, b| b.dot(m));
    stack_blocks(x.dims().0, m.ncols(), blocks)
}

/// `(x - mean)^T . m` (columns x m's columns), block by block.
fn centred_t_dot(x: &(impl RowBlocks + Sync), mean: &Array1<f64>, m: &Array2<f64>) -> Array2<f64> {
    let parts = map_centred_blocks(x, mean, |start, b| {
        let end = start + b.nrows();
        b.t().dot(&m.slice(s![start..end, ..]))
    });
    parts
        .iter()
        .fold(Array2::zeros((x.dims().1, m.ncols())), |acc, p| acc + p)
}

impl FittedPca {
    /// Whether the fitted state fits `genes` genes: shapes, finite values, a positive divisor.
    pub fn check(&self, genes: usize) -> std::result::Result<(), String> {
        let k = self.components.len();
        if k == 0 {
            return Err("has no components".into());
        }
        if self.mean.len() != genes {
            return Err(format!(
                "mean has {} values for {genes} genes",
                self.mean.len()
            ));
        }
        if let Some(c) = self.components.iter().position(|r| r.len() != genes) {
            return Err(format!(
                "component {c} has {} values for {genes} genes",
                self.components[c].len()
            ));
        }
        if self.whiten && self.explained_variance.len() != k {
            return Err(format!(
                "whiten needs explained_variance for each of the {k} components, it has {}",
                self.explained_variance.len()
            ));
        }
        let finite = (self.mean.iter().chain(self.components.iter().flatten()))
            .all(|v| v.is_finite())
            && self
                .explained_variance
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0);
        if !finite {
            return Err("holds a non-finite value or a negative variance".into());
        }
        if !(self.score_scale.is_finite() && self.score_scale > 0.0) {
            return Err(format!(
                "score_scale is {}; it must be positive",
                self.score_scale
            ));
        }
        Ok(())
    }
}

impl PcaParams {
    pub fn check(&self) -> Result<()> {
        if self.n_components == 0 {
            return Err(DataError::data("pca", "n_components must be positive"));
        }
        Ok(())
    }

    /// Fit on `x` (spots x genes, dense or sparse), a block of rows at a time.
    pub fn fit(&self, x: impl RowBlocks + Sync) -> Result<FittedPca> {
        self.check()?;
        let (n, g) = x.dims();
        if n < 3 || g < 2 {
            return Err(DataError::data(
                "pca",
                format!("PCA needs at least 3 spots and 2 genes, got {n} x {g}"),
            ));
        }
        let k = self.n_components.min(n.min(g) - 1);
        let mean = column_means(&x);
        let vt = top_right_singular_vectors(&x, &mean, k, self.seed);
        let scores = centred_dot(&x, &mean, &vt.t().to_owned());
        let explained_variance: Vec<f64> = scores
            .axis_iter(Axis(1))
            .map(|c| c.iter().map(|v| v * v).sum::<f64>() / (n - 1) as f64)
            .collect();
        let mean_var = explained_variance.iter().sum::<f64>() / k as f64;
        let score_scale = if mean_var > 0.0 { mean_var.sqrt() } else { 1.0 };
        Ok(FittedPca {
            mean: mean.iter().map(|&v| v as f32).collect(),
            components: vt
                .rows()
                .into_iter()
                .map(|r| r.iter().map(|&v| v as f32).collect())
                .collect(),
            explained_variance,
            score_scale,
            whiten: self.whiten,
        })
    }
}

impl FittedPca {
    pub fn n_components(&self) -> usize {
        self.components.len()
    }

    /// Scores of `x` (spots x the fitted genes).
    pub fn transform(&self, x: impl RowBlocks + Sync) -> Result<Array2<f32>> {
        self.transform_centred(x, false)
    }

    /// Scores of `x`, centred on `x`'s own gene means when `own_mean` (a per-section centring that removes
    /// shifts in expression level between sections) instead of the reference's. Block by block.
    pub fn transform_centred(
        &self,
        x: impl RowBlocks + Sync,
        own_mean: bool,
    ) -> Result<Array2<f32>> {
        let (n, g) = x.dims();
        if g != self.mean.len() {
            return Err(DataError::data(
                "pca",
                format!(
                    "data has {g} genes but the PCA was fitted on {}",
                    self.mean.len()
                ),
            ));
        }
        let k = self.n_components();
        let mut comp = Array2::<f32>::zeros((g, k));
        for (c, row) in self.components.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                comp[[j, c]] = v;
            }
        }
        let mean: Array1<f32> = match own_mean.then(|| expressed_means(&x)).flatten() {
            Some(m) => m.mapv(|v| v as f32),
            None => Array1::from(self.mean.clone()),
        };
        let scale: Array1<f32> = if self.whiten {
            self.explained_variance
                .iter()
                .map(|v| if *v > 0.0 { v.sqrt() as f32 } else { 1.0 })
                .collect()
        } else {
            Array1::from_elem(k, self.score_scale as f32)
        };
        let blocks = map_row_blocks(&x, |_, b| (b - &mean).dot(&comp) / &scale);
        Ok(stack_blocks(n, k, blocks))
    }

    /// Component names, `PC1`, `PC2`, ...
    pub fn names(&self) -> Vec<String> {
        (1..=self.n_components())
            .map(|i| format!("PC{i}"))
            .collect()
    }
}

/// The top `k` right singular vectors of `x - mean` (rows of the returned `k x cols` matrix).
fn top_right_singular_vectors(
    x: &(impl RowBlocks + Sync),
    mean: &Array1<f64>,
    k: usize,
    seed: u64,
) -> Array2<f64> {
    let (n, g) = x.dims();
    let l = (k + OVERSAMPLE).min(n.min(g));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let omega = Array2::from_shape_fn((g, l), |_| StandardNormal.sample(&mut rng));
    // Range of A through power iterations on A A^T, orthonormalised after every product.
    let mut q = orthonormalise(centred_dot(x, mean, &omega));
    for _ in 0..POWER_ITERATIONS {
        let w = orthonormalise(centred_t_dot(x, mean, &q));
        q = orthonormalise(centred_dot(x, mean, &w));
    }
    // B = Q^T A (l x g); the right singular vectors of A are those of B: eigenvectors of B B^T lifted by B.
    let b = centred_t_dot(x, mean, &q).reversed_axes();
    let (vals, vecs) = symmetric_eigen(&b.dot(&b.t()));
    let mut vt = Array2::<f64>::zeros((k, g));
    for c in 0..k {
        let sigma = vals[c].max(0.0).sqrt();
        let u = vecs.column(c);
        let mut v = u.dot(&b);
        if sigma > 0.0 {
            v /= sigma;
        }
        // scikit-learn's svd_flip (u-based): the largest |loading| of U's column is positive. We flip on V's
        // largest loading instead, which is what `svd_flip(u_based_decision=False)` does for PCA since 1.5.
        let (imax, _) = v.iter().enumerate().fold((0, 0.0f64), |acc, (i, &x)| {
            if x.abs() > acc.1 { (i, x.abs()) } else { acc }
        });
        if v[imax] < 0.0 {
            v.mapv_inplace(|x| -x);
        }
        vt.row_mut(c).assign(&v);
    }
    vt
}

/// Modified Gram-Schmidt on the columns (twice, for stability); a column that vanishes stays zero. Works on
/// the rows of the transpose, where each column is contiguous.
fn orthonormalise(m: Array2<f64>) -> Array2<f64> {
    let mut t = m.reversed_axes().as_standard_layout().into_owned();
    for _pass in 0..2 {
        for j in 0..t.nrows() {
            for i in 0..j {
                let (head, mut tail) = t.view_mut().split_at(Axis(0), j);
                let (ci, mut cj) = (head.row(i), tail.row_mut(0));
                let proj = ci.dot(&cj);
                cj.scaled_add(-proj, &ci);
            }
            let mut cj = t.row_mut(j);
            let norm = cj.dot(&cj).sqrt();
            if norm > 1e-300 {
                cj.mapv_inplace(|v| v / norm);
            } else {
                cj.fill(0.0);
            }
        }
    }
    t.reversed_axes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// Points on a tilted line plus small noise: the first component is the line's direction.
    #[test]
    fn first_component_is_the_dominant_direction() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let dir = array![0.6f64, 0.8, 0.0];
        let x = Array2::from_shape_fn((200, 3), |(i, j)| {
            let t = i as f64 / 20.0;
            let e: f64 = StandardNormal.sample(&mut rng);
            (t * dir[j] + 0.01 * e) as f32
        });
        let p = PcaParams {
            n_components: 2,
            ..Default::default()
        }
        .fit(x.view())
        .unwrap();
        let c = &p.components[0];
        assert!((f64::from(c[0]) - 0.6).abs() < 1e-3 && (f64::from(c[1]) - 0.8).abs() < 1e-3);
        assert!(p.explained_variance[0] > 100.0 * p.explained_variance[1]);
        // Orthonormal rows.
        let dot: f32 = p.components[0]
            .iter()
            .zip(&p.components[1])
            .map(|(a, b)| a * b)
            .sum();
        assert!(dot.abs() < 1e-5);
    }

    #[test]
    fn scores_have_unit_mean_variance_and_reject_wrong_width() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let x = Array2::from_shape_fn((100, 20), |_| {
            let v: f64 = StandardNormal.sample(&mut rng);
            v as f32
        });
        let p = PcaParams::default().fit(x.view()).unwrap();
        assert_eq!(p.n_components(), 19);
        let s = p.transform(x.view()).unwrap();
        let mean_var: f64 = s
            .axis_iter(Axis(1))
            .map(|c| c.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / 99.0)
            .sum::<f64>()
            / 19.0;
        assert!((mean_var - 1.0).abs() < 1e-3, "{mean_var}");
        assert!(p.transform(x.slice(ndarray::s![.., ..5])).is_err());
    }
}
