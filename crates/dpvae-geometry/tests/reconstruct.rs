//! The `reconstruct` entry point: direct, dense and landmark paths.

use dpvae_geometry::{
    AnchorMode, Anchors, Frame, GeometryError, LandmarkParams, Method, ReconstructParams,
    SolverPath, procrustes, reconstruct,
};
use ndarray::{Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Points on a 2-D sheet mapped into a `k`-D latent by a fixed linear map, plus isotropic noise.
fn latent_of(truth: &Array2<f64>, k: usize, noise: f64, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut basis = Array2::<f64>::zeros((2, k));
    basis[[0, 0]] = 0.6;
    basis[[0, 1]] = 0.8;
    basis[[1, 2]] = 1.0;
    truth.dot(&basis) * 0.5
        + Array2::from_shape_fn((truth.nrows(), k), |_| noise * rng.gen_range(-1.0..1.0))
}

fn layout(n: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((n, 2), |(_, c)| {
        rng.gen_range(0.0..if c == 0 { 100.0 } else { 70.0 })
    })
}

#[test]
fn direct_returns_a_two_dimensional_latent() {
    let z = layout(30, 1);
    let r = reconstruct(z.view(), Method::Direct).unwrap();
    assert_eq!(r.path, SolverPath::Direct);
    assert_eq!(r.coords, z);
    let z5 = latent_of(&z, 5, 0.0, 1);
    assert!(matches!(
        reconstruct(z5.view(), Method::Direct),
        Err(GeometryError::InvalidParameter { .. })
    ));
}

#[test]
fn direct_with_anchors_aligns_into_their_frame() {
    let truth = layout(40, 2);
    let z = truth.dot(&ndarray::array![[0.0, -2.0], [2.0, 0.0]]) + 3.0;
    let idx = vec![0, 10, 20, 30];
    let anchors = Anchors::new(idx.clone(), truth.select(Axis(0), &idx)).unwrap();
    let r = ReconstructParams::new(Method::Direct)
        .anchors(anchors, AnchorMode::Hard)
        .check()
        .unwrap()
        .run(z.view())
        .unwrap();
    assert_eq!(r.frame, Frame::Anchors);
    assert!((r.latent_scale - 2.0).abs() < 1e-12);
    assert!(
        (&r.coords - &truth)
            .mapv(f64::abs)
            .fold(0.0, |m: f64, v| m.max(*v))
            < 1e-9
    );
}

#[test]
fn dense_smacof_and_l1_recover_layout_from_a_latent() {
    let truth = layout(120, 3);
    let z = latent_of(&truth, 6, 0.0, 3);
    for method in [Method::Smacof, Method::L1] {
        let r = reconstruct(z.view(), method).unwrap();
        assert_eq!(r.path, SolverPath::Dense);
        assert_eq!(r.frame, Frame::UpToSimilarity);
        let d = procrustes(truth.view(), r.coords.view()).unwrap().disparity;
        assert!(d < 1e-10, "{method:?}: disparity {d}");
    }
}

#[test]
fn landmark_path_reconstructs_20000_points() {
    let n = 20_000;
    let truth = layout(n, 4);
    let z = latent_of(&truth, 6, 0.5, 4);
    let params = ReconstructParams::new(Method::Smacof)
        .landmarks(LandmarkParams::new().n_landmarks(500))
        .check()
        .unwrap();
    let r = params.run(z.view()).unwrap();
    assert_eq!(
        r.path,
        SolverPath::Landmark,
        "20 000^2 doubles exceed the default 2 GiB budget"
    );
    let d = procrustes(truth.view(), r.coords.view()).unwrap().disparity;
    assert!(d < 1e-3, "disparity {d}");
    assert!(r.stress1 < 0.05, "sampled stress-1 {}", r.stress1);
}

#[test]
fn memory_budget_switches_paths_and_anchors_work_on_landmarks() {
    let truth = layout(600, 5);
    let z = latent_of(&truth, 4, 0.0, 5);
    let idx = vec![1, 100, 200, 300, 400];
    let anchors = Anchors::new(idx.clone(), truth.select(Axis(0), &idx)).unwrap();
    let r = ReconstructParams::new(Method::Smacof)
        .memory_budget(1 << 20)
        .landmarks(LandmarkParams::new().n_landmarks(100))
        .anchors(anchors, AnchorMode::Hard)
        .check()
        .unwrap()
        .run(z.view())
        .unwrap();
    assert_eq!(r.path, SolverPath::Landmark);
    assert_eq!(r.frame, Frame::Anchors);
    assert!(
        (r.latent_scale - 0.5).abs() < 1e-9,
        "lambda {}",
        r.latent_scale
    );
    let err = (&r.coords - &truth)
        .mapv(f64::abs)
        .fold(0.0, |m: f64, v| m.max(*v));
    assert!(err < 1e-6, "max error {err}");
}

#[test]
fn landmark_refinement_is_deterministic_and_helps_on_noisy_latents() {
    let truth = layout(3000, 6);
    let z = latent_of(&truth, 8, 3.0, 6);
    let run = |epochs| {
        ReconstructParams::new(Method::Smacof)
            .memory_budget(0)
            .landmarks(LandmarkParams::new().n_landmarks(200).refine_epochs(epochs))
            .check()
            .unwrap()
            .run(z.view())
            .unwrap()
    };
    let a = run(20);
    let b = run(20);
    assert_eq!(a.coords, b.coords);
    let plain = run(0);
    assert!(
        a.stress1 <= plain.stress1,
        "refined {} vs landmark-only {}",
        a.stress1,
        plain.stress1
    );
}

#[test]
fn rejects_bad_latents() {
    let mut z = layout(10, 7);
    z[[3, 1]] = f64::INFINITY;
    assert!(matches!(
        reconstruct(z.view(), Method::Smacof),
        Err(GeometryError::NonFinite { .. })
    ));
    let small = layout(2, 7);
    assert!(matches!(
        reconstruct(small.view(), Method::Smacof),
        Err(GeometryError::TooFewPoints { .. })
    ));
    let anchors3 = Anchors::new(vec![0, 1, 2], Array2::zeros((3, 3))).unwrap();
    assert!(matches!(
        ReconstructParams::new(Method::Smacof)
            .anchors(anchors3, AnchorMode::Hard)
            .check(),
        Err(GeometryError::InvalidAnchors(_))
    ));
}
