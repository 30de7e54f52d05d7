//! Reconstruct n points (default 100 000) from a 16-D latent through the landmark path and report time,
//! path and Procrustes disparity against the truth. Used for docs/performance.md:
//!   cargo run --release -p dpvae-geometry --example large_n -- 100000
use std::time::Instant;

use dpvae_geometry::{Method, ReconstructParams, procrustes};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("n"))
        .unwrap_or(100_000);
    let k = 16;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let truth = Array2::from_shape_fn((n, 2), |(_, c)| {
        rng.gen_range(0.0..if c == 0 { 6000.0 } else { 4000.0 })
    });
    // Latent: a scaled isometric copy of the layout in 16-D plus small noise.
    let mut latent = Array2::from_shape_fn((n, k), |_| rng.gen_range(-0.5..0.5));
    for i in 0..n {
        latent[[i, 0]] += 0.01 * (0.6 * truth[[i, 0]] + 0.8 * truth[[i, 1]]);
        latent[[i, 5]] += 0.01 * (0.8 * truth[[i, 0]] - 0.6 * truth[[i, 1]]);
    }
    let t0 = Instant::now();
    let rec = ReconstructParams::new(Method::Smacof)
        .check()
        .expect("params")
        .run(latent.view())
        .expect("run");
    let secs = t0.elapsed().as_secs_f64();
    let d = procrustes(truth.view(), rec.coords.view())
        .expect("procrustes")
        .disparity;
    println!(
        "n={n} k={k} path={:?} seconds={secs:.2} sampled_stress1={:.4} procrustes_disparity={d:.3e}",
        rec.path, rec.stress1
    );
}
