//! What the library-level placement tests share: a simulated tissue split into reference and query.

use dpvae_data::SpatialData;
use dpvae_data::simulate::SimulateParams;
use dpvae_data::split::train_test_split;

/// A simulated section of `n_spots` (200 genes), 80% as the reference and 20% as the query.
pub fn split_tissue(n_spots: usize, seed: u64, split_seed: u64) -> (SpatialData, SpatialData) {
    let t = SimulateParams {
        n_spots,
        n_genes: 200,
        seed,
        ..SimulateParams::default()
    }
    .simulate()
    .unwrap();
    let split = train_test_split(t.n_obs(), 0.2, split_seed).unwrap();
    (
        t.select_obs(&split.train).unwrap(),
        t.select_obs(&split.test).unwrap(),
    )
}
