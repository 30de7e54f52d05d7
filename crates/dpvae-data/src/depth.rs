//! Sequencing depth: library sizes, and binomial thinning of counts to a lower depth.
//!
//! Thinning each count `c` of a spot to `Binomial(c, p)` gives the counts the same spot would have had with a
//! share `p` of its molecules captured: what a spot's profile looks like at a single cell's depth. Used to
//! train on a spot reference at the depth of a single-cell query.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};

use crate::dataset::SpatialData;
use crate::error::{DataError, Result};
use crate::matrix::{CsrMatrix, Matrix};

/// Per-spot sums over the columns `cols` (every column when `None`).
pub fn library_sizes(data: &SpatialData, cols: Option<&[usize]>) -> Vec<f64> {
    match cols {
        None => data.x.row_sums(),
        Some(cols) => data.x.select_cols(cols).row_sums(),
    }
}

/// The median of a depth vector (NaN for none), as the rest of the project computes medians.
pub use dpvae_core::stats::median_skipna;

/// `data` with every spot thinned to keep a share `keep[i]` (in `[0, 1]`) of its counts: integer counts are
/// drawn binomially, other values scaled. Each spot draws from its own seeded stream, so the result does not
/// depend on the thread count. Coordinates, names and metadata are kept.
pub fn thin(data: &SpatialData, keep: &[f64], seed: u64) -> Result<SpatialData> {
    if keep.len() != data.n_obs() {
        return Err(DataError::data(
            "thinning",
            format!("{} shares for {} spots", keep.len(), data.n_obs()),
        ));
    }
    if let Some(bad) = keep.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(DataError::data(
            "thinning",
            format!("a share to keep must be in [0, 1], got {bad}"),
        ));
    }
    let csr = data.x.to_csr();
    let mut indptr = Vec::with_capacity(csr.n_rows() + 1);
    let mut indices = Vec::with_capacity(csr.nnz());
    let mut values = Vec::with_capacity(csr.nnz());
    indptr.push(0);
    for (i, &p) in keep.iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(i as u64);
        let (cols, row) = csr.row(i);
        for (&j, &c) in cols.iter().zip(row) {
            let v = thin_value(c, p, &mut rng);
            if v != 0.0 {
                indices.push(j);
                values.push(v);
            }
        }
        indptr.push(indices.len());
    }
    let thinned = CsrMatrix::new(csr.n_rows(), csr.n_cols(), indptr, indices, values)?;
    // Everything but X (and the layers of X's shape, which would no longer match it) as it was.
    Ok(SpatialData {
        x: Matrix::Csr(thinned),
        obs_names: data.obs_names.clone(),
        var_names: data.var_names.clone(),
        var_ids: data.var_ids.clone(),
        spatial: data.spatial.clone(),
        obs: data.obs.clone(),
        var: data.var.clone(),
        obsm: data.obsm.clone(),
        layers: Default::default(),
        uns: data.uns.clone(),
        source: data.source.clone(),
    })
}

fn thin_value(c: f32, p: f64, rng: &mut ChaCha8Rng) -> f32 {
    if p >= 1.0 {
        return c;
    }
    let n = c as f64;
    if n >= 0.0 && n.fract() == 0.0 && n < u32::MAX as f64 {
        // p is in [0, 1) here, which Binomial accepts.
        Binomial::new(n as u64, p).map_or(0.0, |b| b.sample(rng) as f32)
    } else {
        (n * p) as f32
    }
}

/// Shares that bring each spot of `reference` (library sizes `reference_sizes`) to a depth drawn from
/// `target_sizes` (e.g. a query's library sizes), paired at random with a seeded draw; spots already at or
/// below their draw keep everything.
pub fn shares_to_depths(reference_sizes: &[f64], target_sizes: &[f64], seed: u64) -> Vec<f64> {
    use rand::Rng;
    let targets: Vec<f64> = target_sizes
        .iter()
        .copied()
        .filter(|t| t.is_finite() && *t > 0.0)
        .collect();
    if targets.is_empty() {
        return vec![1.0; reference_sizes.len()];
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    reference_sizes
        .iter()
        .map(|&l| {
            let t = targets[rng.gen_range(0..targets.len())];
            if l > t { t / l } else { 1.0 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn counts() -> SpatialData {
        let x = array![[100.0f32, 50.0, 0.0], [10.0, 0.0, 30.0], [1.0, 1.0, 1.0]];
        SpatialData::new(
            Matrix::Dense(x),
            vec!["a".into(), "b".into(), "c".into()],
            vec!["g1".into(), "g2".into(), "g3".into()],
            Some(array![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]),
        )
        .unwrap()
    }

    #[test]
    fn thinning_keeps_the_expected_share_and_is_seeded() {
        let d = counts();
        let keep = [0.5, 1.0, 0.0];
        let a = thin(&d, &keep, 7).unwrap();
        let b = thin(&d, &keep, 7).unwrap();
        assert_eq!(a.x.to_dense(), b.x.to_dense());
        let x = a.x.to_dense();
        assert_eq!(x.row(1), d.x.to_dense().row(1), "share 1 keeps the spot");
        assert_eq!(x.row(2).sum(), 0.0, "share 0 empties the spot");
        // Binomial(100, 0.5) and Binomial(50, 0.5): far outside 6 sd would be a bug.
        assert!((x[[0, 0]] - 50.0).abs() < 30.0 && x[[0, 0]] <= 100.0);
        assert!((x[[0, 1]] - 25.0).abs() < 22.0 && x[[0, 1]] <= 50.0);
        assert!(x.iter().all(|v| v.fract() == 0.0 && *v >= 0.0));
        assert_eq!(a.spatial, d.spatial);
    }

    #[test]
    fn thinning_over_many_spots_matches_the_share() {
        let n = 400;
        let x = ndarray::Array2::from_elem((n, 4), 20.0f32);
        let d = SpatialData::new(
            Matrix::Dense(x),
            (0..n).map(|i| format!("s{i}")).collect(),
            (0..4).map(|j| format!("g{j}")).collect(),
            None,
        )
        .unwrap();
        let t = thin(&d, &vec![0.25; n], 1).unwrap();
        let mean = t.x.row_sums().iter().sum::<f64>() / n as f64;
        // Expected 20; sd of the mean sqrt(80 * 0.25 * 0.75 / 400) ~ 0.19.
        assert!((mean - 20.0).abs() < 1.2, "mean library {mean}");
    }

    #[test]
    fn bad_shares_are_refused() {
        let d = counts();
        assert!(thin(&d, &[0.5, 0.5], 0).is_err());
        assert!(thin(&d, &[0.5, 1.5, 0.0], 0).is_err());
    }

    #[test]
    fn shares_bring_spots_to_target_depths() {
        let s = shares_to_depths(&[1000.0, 100.0, 50.0], &[100.0], 3);
        assert_eq!(s, vec![0.1, 1.0, 1.0]);
        assert_eq!(shares_to_depths(&[10.0], &[], 0), vec![1.0]);
        assert_eq!(median_skipna(&[3.0, 1.0, 2.0, 10.0]), 2.5);
    }
}
