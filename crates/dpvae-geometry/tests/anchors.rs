//! Anchored imputation on real Visium spot coordinates (DPVAE_DATA) and on synthetic layouts.

mod common;

use common::visium_in_tissue;
use dpvae_geometry::{
    AnchorMode, Anchors, Frame, GeometryError, ImputeParams, LatentScale, Method,
    ReconstructParams, StressKind, pairwise_distances, procrustes,
};
use ndarray::{Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const LAMBDA: f64 = 0.037;

/// Every 4th in-tissue spot of a real section (kept small: tests run in debug).
fn real_spots(test: &str) -> Option<Array2<f64>> {
    let all = visium_in_tissue(test, "V1_Adult_Mouse_Brain")?;
    let idx: Vec<usize> = (0..all.nrows()).step_by(4).collect();
    Some(all.select(Axis(0), &idx))
}

/// A latent with `||z_i - z_j|| = LAMBDA ||s_i - s_j||` exactly: scaled, rotated into 6-D, shifted.
fn exact_latent(truth: &Array2<f64>) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let g: Array2<f64> = Array2::from_shape_fn((6, 2), |_| rng.gen_range(-1.0..1.0));
    // Orthonormal 6x2 basis by Gram-Schmidt.
    let mut q = g.clone();
    let n0 = q.column(0).dot(&q.column(0)).sqrt();
    q.column_mut(0).mapv_inplace(|v| v / n0);
    let proj = q.column(0).dot(&q.column(1));
    let c0 = q.column(0).to_owned();
    q.column_mut(1).scaled_add(-proj, &c0);
    let n1 = q.column(1).dot(&q.column(1)).sqrt();
    q.column_mut(1).mapv_inplace(|v| v / n1);
    truth.dot(&q.t()) * LAMBDA + 4.0
}

fn spread_anchors(truth: &Array2<f64>, count: usize, seed: u64) -> Anchors {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let idx = rand::seq::index::sample(&mut rng, truth.nrows(), count).into_vec();
    Anchors::new(idx.clone(), truth.select(Axis(0), &idx)).unwrap()
}

fn rmse_free(truth: &Array2<f64>, est: &Array2<f64>, anchors: &Anchors) -> f64 {
    let mut s = 0.0;
    let mut m = 0;
    for i in 0..truth.nrows() {
        if anchors.indices().contains(&i) {
            continue;
        }
        let d = &truth.row(i) - &est.row(i);
        s += d.dot(&d);
        m += 1;
    }
    (s / m as f64).sqrt()
}

#[test]
fn exact_distances_and_three_anchors_recover_visium_coordinates() {
    let Some(truth) = real_spots("exact_distances_and_three_anchors_recover_visium_coordinates")
    else {
        return;
    };
    let latent = exact_latent(&truth);
    let n = truth.nrows();
    let idx = vec![5, n / 2, n - 7];
    let anchors = Anchors::new(idx.clone(), truth.select(Axis(0), &idx)).unwrap();
    assert!(anchors.determines_frame());
    for method in [Method::Smacof, Method::L1] {
        let rec = ReconstructParams::new(method)
            .anchors(anchors.clone(), AnchorMode::Hard)
            .check()
            .unwrap()
            .run(latent.view())
            .unwrap();
        assert_eq!(rec.frame, Frame::Anchors);
        assert!(
            (rec.latent_scale - LAMBDA).abs() < 1e-12,
            "lambda {}",
            rec.latent_scale
        );
        let err = (&rec.coords - &truth)
            .mapv(f64::abs)
            .fold(0.0, |m: f64, v| m.max(*v));
        assert!(err < 1e-6, "{method:?}: max coordinate error {err} pixels");
    }
}

#[test]
fn noisy_distances_error_shrinks_as_anchors_are_added() {
    let Some(truth) = real_spots("noisy_distances_error_shrinks_as_anchors_are_added") else {
        return;
    };
    let n = truth.nrows();
    let mut delta = pairwise_distances(truth.view()).unwrap() * LAMBDA;
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for i in 0..n {
        for j in (i + 1)..n {
            let v = delta[[i, j]] * (1.0 + 0.15 * rng.gen_range(-1.0..1.0));
            delta[[i, j]] = v;
            delta[[j, i]] = v;
        }
    }
    let counts = [3, 12, 48, 192];
    let mut errors = Vec::new();
    for &count in &counts {
        let anchors = spread_anchors(&truth, count, 100 + count as u64);
        let imp = ImputeParams::new()
            .max_iter(200)
            .fit(delta.view(), &anchors)
            .unwrap();
        assert_eq!(imp.frame, Frame::Anchors);
        for (r, &i) in anchors.indices().iter().enumerate() {
            assert_eq!(
                imp.coords.row(i),
                anchors.coords().row(r),
                "hard anchors must be exact"
            );
        }
        errors.push(rmse_free(&truth, &imp.coords, &anchors));
    }
    eprintln!("anchors {counts:?}: RMSE {errors:?} pixels");
    for w in errors.windows(2) {
        assert!(w[1] < w[0], "error did not shrink: {errors:?}");
    }
}

#[test]
fn penalised_anchors_pull_towards_truth() {
    let Some(truth) = real_spots("penalised_anchors_pull_towards_truth") else {
        return;
    };
    let latent = exact_latent(&truth);
    let delta = pairwise_distances(latent.view()).unwrap();
    let anchors = spread_anchors(&truth, 10, 7);
    let imp = ImputeParams::new()
        .mode(AnchorMode::Penalty { gamma: 1e3 })
        .max_iter(300)
        .fit(delta.view(), &anchors)
        .unwrap();
    let err = (&imp.coords - &truth)
        .mapv(f64::abs)
        .fold(0.0, |m: f64, v| m.max(*v));
    let extent = truth.fold_axis(Axis(0), f64::NEG_INFINITY, |m, v| m.max(*v))[0];
    assert!(err < 1e-3 * extent, "penalised max error {err} px");
}

fn synthetic_layout(n: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((n, 2), |(_, c)| {
        rng.gen_range(0.0..if c == 0 { 100.0 } else { 60.0 })
    })
}

#[test]
fn fewer_than_three_anchors_are_flagged_and_still_correct_up_to_similarity() {
    let truth = synthetic_layout(80, 1);
    let latent = exact_latent(&truth);
    let delta = pairwise_distances(latent.view()).unwrap();
    for count in [0usize, 1, 2] {
        let idx: Vec<usize> = (0..count).map(|k| 10 * k + 3).collect();
        let anchors = Anchors::new(idx.clone(), truth.select(Axis(0), &idx)).unwrap();
        let imp = ImputeParams::new().fit(delta.view(), &anchors).unwrap();
        assert_eq!(imp.frame, Frame::UpToSimilarity, "{count} anchors");
        assert!(
            procrustes(truth.view(), imp.coords.view())
                .unwrap()
                .disparity
                < 1e-10
        );
        if count == 2 {
            assert!((imp.latent_scale - LAMBDA).abs() < 1e-9);
        }
    }
    // Collinear anchors do not fix a 2-D frame either (reflection across the line stays free).
    let line = Anchors::new(
        vec![0, 1, 2],
        ndarray::array![[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]],
    )
    .unwrap();
    assert!(!line.determines_frame());
}

#[test]
fn fixed_scale_is_used_and_l1_penalty_runs() {
    let truth = synthetic_layout(60, 2);
    let latent = exact_latent(&truth);
    let delta = pairwise_distances(latent.view()).unwrap();
    let anchors = spread_anchors(&truth, 5, 3);
    let imp = ImputeParams::new()
        .scale(LatentScale::Fixed(LAMBDA))
        .stress(StressKind::L1)
        .mode(AnchorMode::Penalty { gamma: 10.0 })
        .fit(delta.view(), &anchors)
        .unwrap();
    assert_eq!(imp.latent_scale, LAMBDA);
    assert!(
        procrustes(truth.view(), imp.coords.view())
            .unwrap()
            .disparity
            < 1e-6
    );
    let rmse = rmse_free(&truth, &imp.coords, &anchors);
    assert!(rmse < 0.1, "rmse {rmse}");
}

#[test]
fn rejects_bad_anchors() {
    let truth = synthetic_layout(20, 4);
    let delta = pairwise_distances(truth.view()).unwrap();
    assert!(matches!(
        Anchors::new(vec![1, 1, 2], Array2::zeros((3, 2))),
        Err(GeometryError::InvalidAnchors(_))
    ));
    assert!(matches!(
        Anchors::new(vec![1, 2], Array2::zeros((3, 2))),
        Err(GeometryError::InvalidAnchors(_))
    ));
    let mut nan = Array2::zeros((3, 2));
    nan[[1, 1]] = f64::NAN;
    assert!(matches!(
        Anchors::new(vec![0, 1, 2], nan),
        Err(GeometryError::NonFinite { .. })
    ));
    let out = Anchors::new(vec![0, 1, 99], Array2::zeros((3, 2))).unwrap();
    assert!(matches!(
        ImputeParams::new().fit(delta.view(), &out),
        Err(GeometryError::InvalidAnchors(_))
    ));
    let ok = Anchors::new(vec![0, 1, 2], truth.select(Axis(0), &[0, 1, 2])).unwrap();
    assert!(matches!(
        ImputeParams::new()
            .mode(AnchorMode::Penalty { gamma: -1.0 })
            .fit(delta.view(), &ok),
        Err(GeometryError::InvalidParameter { name: "gamma", .. })
    ));
    assert!(
        ImputeParams::new()
            .scale(LatentScale::Fixed(0.0))
            .fit(delta.view(), &ok)
            .is_err()
    );
}

#[test]
fn penalty_weight_controls_how_far_anchors_drift() {
    let truth = synthetic_layout(120, 8);
    let n = truth.nrows();
    let mut delta = pairwise_distances(truth.view()).unwrap() * LAMBDA;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for i in 0..n {
        for j in (i + 1)..n {
            let v = delta[[i, j]] * (1.0 + 0.2 * rng.gen_range(-1.0..1.0));
            delta[[i, j]] = v;
            delta[[j, i]] = v;
        }
    }
    let anchors = spread_anchors(&truth, 8, 12);
    let drift = |gamma: f64| {
        let imp = ImputeParams::new()
            .mode(AnchorMode::Penalty { gamma })
            .max_iter(500)
            .fit(delta.view(), &anchors)
            .unwrap();
        let mut s = 0.0;
        for (r, &i) in anchors.indices().iter().enumerate() {
            let d = &imp.coords.row(i) - &anchors.coords().row(r);
            s += d.dot(&d).sqrt();
        }
        s / anchors.len() as f64
    };
    let (loose, tight) = (drift(1e-3), drift(1e4));
    eprintln!("mean anchor drift: gamma=1e-3 {loose}, gamma=1e4 {tight}");
    assert!(
        loose > 0.1,
        "a weak penalty should let anchors move, drift {loose}"
    );
    assert!(
        tight < 0.01 * loose,
        "a strong penalty should hold anchors: {tight} vs {loose}"
    );
}
