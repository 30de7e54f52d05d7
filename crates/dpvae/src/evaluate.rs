//! Evaluation steps the workflows share: how spatially organised a latent is on the true positions.

use dpvae_eval::{AutocorrParams, AutocorrTable, Features, Transform, WeightsParams};
use ndarray::ArrayView2;

use crate::error::Result;

/// Moran's I and Geary's C of every latent dimension on the binary kNN graph of the true positions.
pub struct LatentAutocorrelation {
    /// One row per dimension, named `{prefix}{j}` (j from 1).
    pub table: AutocorrTable,
}

impl LatentAutocorrelation {
    /// Mean Moran's I over the dimensions.
    pub fn mean_moran(&self) -> f64 {
        self.mean(|r| r.moran.value)
    }

    /// Mean Geary's C over the dimensions.
    pub fn mean_geary(&self) -> f64 {
        self.mean(|r| r.geary.value)
    }

    fn mean(&self, f: impl Fn(&dpvae_eval::AutocorrRow) -> f64) -> f64 {
        self.table.rows.iter().map(f).sum::<f64>() / self.table.rows.len() as f64
    }
}

/// Moran's I / Geary's C of `latent`'s dimensions on the `k`-nearest-neighbour graph of `truth` (rows
/// matched).
pub fn latent_autocorrelation(
    truth: ArrayView2<f64>,
    latent: ArrayView2<f64>,
    k: usize,
    prefix: &str,
) -> Result<LatentAutocorrelation> {
    let w = WeightsParams::knn(k)
        .transform(Transform::Binary)
        .build(truth)?;
    let names: Vec<String> = (1..=latent.ncols())
        .map(|j| format!("{prefix}{j}"))
        .collect();
    let table = AutocorrParams::new().run(&w, &Features::Dense(latent), &names)?;
    Ok(LatentAutocorrelation { table })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn a_latent_equal_to_the_coordinates_is_autocorrelated() {
        let truth = Array2::from_shape_fn((100, 2), |(i, j)| {
            ((i % 10) * (1 - j) + (i / 10) * j) as f64
        });
        let noise = Array2::from_shape_fn((100, 2), |(i, j)| ((i * 7919 + j * 104729) % 97) as f64);
        let ordered = latent_autocorrelation(truth.view(), truth.view(), 5, "z").unwrap();
        let scrambled = latent_autocorrelation(truth.view(), noise.view(), 5, "z").unwrap();
        assert_eq!(ordered.table.rows[1].feature, "z2");
        assert!(ordered.mean_moran() > 0.8, "{}", ordered.mean_moran());
        assert!(
            scrambled.mean_moran().abs() < 0.3,
            "{}",
            scrambled.mean_moran()
        );
        assert!(ordered.mean_geary() < scrambled.mean_geary());
    }
}
