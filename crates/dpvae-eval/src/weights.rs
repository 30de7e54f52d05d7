//! Spatial weights: kNN, radius and Visium-grid graphs from coordinates (kd-tree), stored as sparse CSR.
//!
//! Conventions (squidpy's `spatial_neighbors`, which the cross-check fixtures use):
//! * kNN: the `k` nearest other spots of spot `i` get `w_ij = 1`; the graph is directed (not symmetrised). Ties
//!   at the k-th distance are broken by the lower spot index (sklearn leaves the order of exact ties unspecified).
//! * radius: every other spot with squared distance `<= r^2` (sklearn's radius query).
//! * grid (Visium hexagonal rings): the `n_neighs` (6) nearest spots, keeping those closer than 1.3 x the median of
//!   all those neighbour distances, which drops the far "neighbours" of spots on the tissue border.
//! * Row normalisation divides each row by its sum (rows without neighbours stay zero), like
//!   `sklearn.preprocessing.normalize(norm='l1')` in `squidpy.gr.spatial_autocorr(transformation=True)`.

use dpvae_core::knn::{KdIndex, KnnError};
use dpvae_core::stats::median;
use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::error::{EvalError, Result};

/// How the neighbour graph is defined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Graph {
    /// The `k` nearest other spots (the paper: k = 5).
    Knn { k: usize },
    /// All other spots within Euclidean distance `radius` (inclusive).
    Radius { radius: f64 },
    /// Visium hexagonal rings: `n_neighs` nearest, pruned at 1.3 x the median neighbour distance
    /// (squidpy `coord_type='grid'`; 6 for Visium, 4 for square ST arrays).
    Grid { n_neighs: usize },
}

/// How edge weights are scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transform {
    /// `w_ij = 1` for every edge (the paper).
    #[default]
    Binary,
    /// Each row divided by its sum (squidpy's `transformation=True`).
    Row,
}

impl std::str::FromStr for Transform {
    type Err = EvalError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "binary" | "b" => Ok(Transform::Binary),
            "row" | "r" => Ok(Transform::Row),
            other => Err(EvalError::param(
                "weights",
                format!("unknown transform '{other}' (expected 'binary' or 'row')"),
            )),
        }
    }
}

impl std::fmt::Display for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transform::Binary => "binary",
            Transform::Row => "row",
        })
    }
}

/// Parameters of a spatial weights matrix: a graph and a transform. Build with [`WeightsParams::build`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightsParams {
    pub graph: Graph,
    pub transform: Transform,
}

impl WeightsParams {
    /// kNN graph with binary weights.
    pub fn knn(k: usize) -> Self {
        WeightsParams {
            graph: Graph::Knn { k },
            transform: Transform::Binary,
        }
    }
    /// Radius graph with binary weights.
    pub fn radius(radius: f64) -> Self {
        WeightsParams {
            graph: Graph::Radius { radius },
            transform: Transform::Binary,
        }
    }
    /// Visium hexagonal-ring graph (6 neighbours) with binary weights.
    pub fn visium_grid() -> Self {
        Self::grid(6)
    }
    /// Grid graph with `n_neighs` neighbours per ring.
    pub fn grid(n_neighs: usize) -> Self {
        WeightsParams {
            graph: Graph::Grid { n_neighs },
            transform: Transform::Binary,
        }
    }
    /// Set the transform.
    pub fn transform(mut self, transform: Transform) -> Self {
        self.transform = transform;
        self
    }

    /// Validate the parameters.
    pub fn check(&self) -> Result<()> {
        match self.graph {
            Graph::Knn { k: 0 } => Err(EvalError::param("k", "must be at least 1")),
            Graph::Grid { n_neighs: 0 } => Err(EvalError::param("n_neighs", "must be at least 1")),
            Graph::Radius { radius } if !(radius.is_finite() && radius > 0.0) => Err(
                EvalError::param("radius", format!("must be finite and > 0, got {radius}")),
            ),
            _ => Ok(()),
        }
    }

    /// Build the weights for `coords` (n spots x 2 or 3 dimensions).
    pub fn build(&self, coords: ArrayView2<f64>) -> Result<SpatialWeights> {
        self.check()?;
        let n = coords.nrows();
        if n < 2 {
            return Err(EvalError::input(
                "coordinates",
                format!("need at least 2 spots, got {n}"),
            ));
        }
        if let Some(((i, j), v)) = coords.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(EvalError::input(
                "coordinates",
                format!("value at spot {i}, dimension {j} is {v} (must be finite)"),
            ));
        }
        if let Graph::Knn { k } = self.graph
            && k >= n
        {
            // Each spot has n - 1 others: a larger k would silently become n - 1.
            return Err(EvalError::param(
                "k",
                format!(
                    "{k} neighbours need more than {k} spots, but there are {n}; use k <= {}",
                    n - 1
                ),
            ));
        }
        let rows = match coords.ncols() {
            2 => neighbour_rows::<2>(coords, self.graph)?,
            3 => neighbour_rows::<3>(coords, self.graph)?,
            d => {
                return Err(EvalError::input(
                    "coordinates",
                    format!("have {d} columns; expected 2 or 3"),
                ));
            }
        };
        let w = SpatialWeights::from_rows(n, rows);
        Ok(match self.transform {
            Transform::Binary => w,
            Transform::Row => w.row_normalised(),
        })
    }
}

/// A sparse (CSR) spatial weights matrix `W` over `n` spots: row `i` lists the neighbours `j` of `i` with `w_ij`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpatialWeights {
    n: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f64>,
}

/// The moments of a weights matrix used by the analytic variances (PySAL's `s0`, `s1`, `s2`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightMoments {
    /// `S0 = sum_ij w_ij`.
    pub s0: f64,
    /// `S1 = 1/2 sum_ij (w_ij + w_ji)^2`.
    pub s1: f64,
    /// `S2 = sum_i (w_i. + w_.i)^2`.
    pub s2: f64,
}

impl SpatialWeights {
    /// Weights from a CSR structure (e.g. an `obsp` connectivity matrix), validated: `indptr` monotone from 0 to
    /// nnz, indices in range and strictly increasing within a row, values finite and non-negative. Explicit zeros
    /// are dropped and the diagonal is kept as given.
    pub fn from_csr(
        n: usize,
        indptr: Vec<usize>,
        indices: Vec<u32>,
        values: Vec<f64>,
    ) -> Result<Self> {
        if indptr.len() != n + 1 {
            return Err(EvalError::shape(
                "weights indptr length",
                n + 1,
                indptr.len(),
            ));
        }
        if indices.len() != values.len() {
            return Err(EvalError::shape(
                "weights values length",
                indices.len(),
                values.len(),
            ));
        }
        if indptr[0] != 0 || indptr[n] != indices.len() {
            return Err(EvalError::input(
                "weights",
                "indptr must start at 0 and end at the number of stored entries",
            ));
        }
        let mut rows = Vec::with_capacity(n);
        for i in 0..n {
            let (a, b) = (indptr[i], indptr[i + 1]);
            if b < a {
                return Err(EvalError::input(
                    "weights",
                    format!("indptr decreases at row {i}"),
                ));
            }
            let mut row = Vec::with_capacity(b - a);
            for p in a..b {
                let (j, v) = (indices[p], values[p]);
                if j as usize >= n {
                    return Err(EvalError::input(
                        "weights",
                        format!("row {i} has column {j}, out of range for {n} spots"),
                    ));
                }
                if !(v.is_finite() && v >= 0.0) {
                    return Err(EvalError::input(
                        "weights",
                        format!("w[{i}, {j}] = {v} (must be finite and >= 0)"),
                    ));
                }
                if let Some(&(last, _)) = row.last()
                    && last >= j
                {
                    return Err(EvalError::input(
                        "weights",
                        format!("row {i}: column indices must be strictly increasing"),
                    ));
                }
                row.push((j, v));
            }
            row.retain(|&(_, v)| v != 0.0);
            rows.push(row);
        }
        Ok(Self::from_rows(n, rows))
    }

    fn from_rows(n: usize, rows: Vec<Vec<(u32, f64)>>) -> Self {
        let mut indptr = Vec::with_capacity(n + 1);
        indptr.push(0);
        let nnz = rows.iter().map(Vec::len).sum();
        let mut indices = Vec::with_capacity(nnz);
        let mut values = Vec::with_capacity(nnz);
        for mut row in rows {
            row.sort_unstable_by_key(|&(j, _)| j);
            for (j, v) in row {
                indices.push(j);
                values.push(v);
            }
            indptr.push(indices.len());
        }
        SpatialWeights {
            n,
            indptr,
            indices,
            values,
        }
    }

    /// Number of spots.
    pub fn n_spots(&self) -> usize {
        self.n
    }
    /// Number of stored edges.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }
    /// CSR row pointer (`n + 1` entries).
    pub fn indptr(&self) -> &[usize] {
        &self.indptr
    }
    /// CSR column indices.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }
    /// CSR values.
    pub fn values(&self) -> &[f64] {
        &self.values
    }
    /// Neighbours of spot `i` and their weights.
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let r = self.indptr[i]..self.indptr[i + 1];
        (&self.indices[r.clone()], &self.values[r])
    }
    /// Number of neighbours of each spot.
    pub fn degrees(&self) -> Vec<usize> {
        self.indptr.windows(2).map(|w| w[1] - w[0]).collect()
    }
    /// `w_i.` for every spot.
    pub fn row_sums(&self) -> Vec<f64> {
        (0..self.n).map(|i| self.row(i).1.iter().sum()).collect()
    }
    /// `w_.j` for every spot.
    pub fn col_sums(&self) -> Vec<f64> {
        let mut c = vec![0.0; self.n];
        for (&j, &v) in self.indices.iter().zip(&self.values) {
            c[j as usize] += v;
        }
        c
    }

    /// The same graph with every row divided by its sum (empty rows stay empty).
    pub fn row_normalised(&self) -> SpatialWeights {
        let mut out = self.clone();
        for i in 0..self.n {
            let r = self.indptr[i]..self.indptr[i + 1];
            let s: f64 = self.values[r.clone()].iter().sum();
            if s > 0.0 {
                out.values[r].iter_mut().for_each(|v| *v /= s);
            }
        }
        out
    }

    /// The transpose `W^T` (CSR of the columns).
    pub fn transpose(&self) -> SpatialWeights {
        let mut rows: Vec<Vec<(u32, f64)>> = vec![Vec::new(); self.n];
        for i in 0..self.n {
            let (idx, val) = self.row(i);
            for (&j, &v) in idx.iter().zip(val) {
                rows[j as usize].push((i as u32, v));
            }
        }
        Self::from_rows(self.n, rows)
    }

    /// `S0`, `S1`, `S2` as PySAL (and squidpy's `_g_moments`) define them.
    pub fn moments(&self) -> WeightMoments {
        let s0 = self.values.iter().sum();
        // S1: merge row i of W with row i of W^T (both sorted by column).
        let t = self.transpose();
        let mut s1 = 0.0;
        for i in 0..self.n {
            let (ai, av) = self.row(i);
            let (bi, bv) = t.row(i);
            let (mut p, mut q) = (0, 0);
            while p < ai.len() || q < bi.len() {
                let s = match (ai.get(p), bi.get(q)) {
                    (Some(&x), Some(&y)) if x == y => {
                        p += 1;
                        q += 1;
                        av[p - 1] + bv[q - 1]
                    }
                    (Some(&x), Some(&y)) if x < y => {
                        p += 1;
                        av[p - 1]
                    }
                    (Some(_), None) => {
                        p += 1;
                        av[p - 1]
                    }
                    _ => {
                        q += 1;
                        bv[q - 1]
                    }
                };
                s1 += s * s;
            }
        }
        let s2 = self
            .row_sums()
            .iter()
            .zip(self.col_sums())
            .map(|(r, c)| (r + c) * (r + c))
            .sum();
        WeightMoments {
            s0,
            s1: s1 / 2.0,
            s2,
        }
    }
}

fn neighbour_rows<const K: usize>(
    coords: ArrayView2<f64>,
    graph: Graph,
) -> Result<Vec<Vec<(u32, f64)>>> {
    let n = coords.nrows();
    let tree = KdIndex::<K>::new(coords).map_err(|e| match e {
        KnnError::TooMany => EvalError::input("coordinates", "more than 2^32 spots"),
        e => EvalError::input("coordinates", e.to_string()),
    })?;
    let rows: Vec<Vec<(u32, f64)>> = match graph {
        Graph::Knn { k } => (0..n)
            .into_par_iter()
            .map(|i| tree.knn(i, k).into_iter().map(|(j, _)| (j, 1.0)).collect())
            .collect(),
        Graph::Radius { radius } => (0..n)
            .into_par_iter()
            .map(|i| {
                tree.within(i, radius * radius)
                    .into_iter()
                    .map(|j| (j, 1.0))
                    .collect()
            })
            .collect(),
        Graph::Grid { n_neighs } => {
            let knn: Vec<Vec<(u32, f64)>> = (0..n)
                .into_par_iter()
                .map(|i| tree.knn(i, n_neighs))
                .collect();
            let mut dists: Vec<f64> = knn.iter().flatten().map(|&(_, d2)| d2.sqrt()).collect();
            let cutoff = median(&mut dists) * 1.3;
            knn.into_iter()
                .map(|row| {
                    row.into_iter()
                        .filter(|&(_, d2)| d2.sqrt() < cutoff)
                        .map(|(j, _)| (j, 1.0))
                        .collect()
                })
                .collect()
        }
    };
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn k_must_leave_a_spot_out() {
        let c = array![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]];
        assert!(WeightsParams::knn(4).build(c.view()).is_ok());
        let e = WeightsParams::knn(5)
            .build(c.view())
            .unwrap_err()
            .to_string();
        assert!(e.contains("5 neighbours") && e.contains("k <= 4"), "{e}");
    }

    #[test]
    fn knn_breaks_ties_by_index_and_excludes_self() {
        // Spot 0 at the centre of a square of four equidistant spots.
        let c = array![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]];
        let w = WeightsParams::knn(2).build(c.view()).unwrap();
        assert_eq!(w.row(0).0, &[1, 2]);
        assert_eq!(w.nnz(), 10);
        assert!((0..5).all(|i| !w.row(i).0.contains(&(i as u32))));
    }

    #[test]
    fn radius_is_inclusive_and_row_normalisation_sums_to_one() {
        let c = array![[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [10.0, 0.0]];
        let w = WeightsParams::radius(1.0).build(c.view()).unwrap();
        assert_eq!(w.degrees(), vec![1, 2, 1, 0]);
        let r = w.row_normalised();
        assert_eq!(r.row_sums(), vec![1.0, 1.0, 1.0, 0.0]);
    }

    #[test]
    #[allow(clippy::needless_range_loop)]
    fn moments_match_dense_formulas() {
        let c = array![[0.0, 0.0], [1.0, 0.2], [2.1, 0.0], [0.3, 1.7], [1.4, 1.1]];
        let w = WeightsParams::knn(2)
            .transform(Transform::Row)
            .build(c.view())
            .unwrap();
        let n = 5;
        let mut d = vec![vec![0.0; n]; n];
        for i in 0..n {
            let (idx, val) = w.row(i);
            for (&j, &v) in idx.iter().zip(val) {
                d[i][j as usize] = v;
            }
        }
        let s0: f64 = d.iter().flatten().sum();
        let mut s1 = 0.0;
        let mut s2 = 0.0;
        for i in 0..n {
            let (mut r, mut cs) = (0.0, 0.0);
            for j in 0..n {
                s1 += (d[i][j] + d[j][i]).powi(2);
                r += d[i][j];
                cs += d[j][i];
            }
            s2 += (r + cs).powi(2);
        }
        let m = w.moments();
        assert!((m.s0 - s0).abs() < 1e-12);
        assert!((m.s1 - s1 / 2.0).abs() < 1e-12);
        assert!((m.s2 - s2).abs() < 1e-12);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let c = array![[0.0, 0.0], [1.0, f64::NAN]];
        assert!(matches!(
            WeightsParams::knn(1).build(c.view()),
            Err(EvalError::InvalidInput { .. })
        ));
        let c = array![[0.0, 0.0], [1.0, 1.0]];
        assert!(WeightsParams::knn(0).build(c.view()).is_err());
        assert!(WeightsParams::radius(-1.0).build(c.view()).is_err());
        assert!(SpatialWeights::from_csr(2, vec![0, 1, 2], vec![1, 5], vec![1.0, 1.0]).is_err());
        assert!("cosine".parse::<Transform>().is_err());
    }
}
