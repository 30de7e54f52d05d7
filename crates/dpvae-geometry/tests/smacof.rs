//! SMACOF, classical MDS and L1 refinement; stress reached compared with scikit-learn's `smacof`
//! (fixtures from fixtures/geometry/make_smacof.py).

mod common;

use common::{fixture, matrix, max_abs_diff};
use dpvae_geometry::{
    GeometryError, L1Params, SmacofInit, SmacofParams, classical_mds, l1_stress,
    pairwise_distances, procrustes, stress,
};
use ndarray::{Array2, array};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn case_dissimilarities(case: &serde_json::Value) -> Array2<f64> {
    if let Some(points) = case.get("points") {
        return pairwise_distances(matrix(points).view()).unwrap();
    }
    let n = case["n"].as_u64().unwrap() as usize;
    let flat = common::vector(&case["condensed_dissimilarities"]);
    let mut d = Array2::zeros((n, n));
    let mut k = 0;
    for i in 0..n {
        for j in (i + 1)..n {
            d[[i, j]] = flat[k];
            d[[j, i]] = flat[k];
            k += 1;
        }
    }
    d
}

#[test]
fn stress_definitions_match_sklearn() {
    let fx = fixture("smacof_sklearn.json");
    for case in fx["cases"].as_array().unwrap() {
        let delta = case_dissimilarities(case);
        let x = matrix(&case["sklearn_embedding"]);
        let s = stress(x.view(), delta.view(), None).unwrap();
        let raw = case["sklearn_returned_raw_stress"].as_f64().unwrap();
        let s1 = case["sklearn_returned_stress1"].as_f64().unwrap();
        assert!(
            (s.raw - raw).abs() < 1e-9 * raw,
            "raw {} vs sklearn {raw}",
            s.raw
        );
        assert!(
            (s.stress1 - s1).abs() < 1e-9,
            "stress-1 {} vs sklearn {s1}",
            s.stress1
        );
    }
}

#[test]
fn no_worse_than_sklearn_best_of_same_n_init() {
    let fx = fixture("smacof_sklearn.json");
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let delta = case_dissimilarities(case);
        let n_init = case["n_init"].as_u64().unwrap() as usize;
        let res = SmacofParams::new()
            .n_init(n_init)
            .max_iter(case["max_iter"].as_u64().unwrap() as usize)
            .eps(case["eps"].as_f64().unwrap())
            .seed(0)
            .fit(delta.view())
            .unwrap();
        let sk = case["raw_stress"].as_f64().unwrap();
        eprintln!(
            "{name}: ours raw stress {} ({} iterations), sklearn best {sk}",
            res.raw_stress, res.n_iter
        );
        // Both stop on the same relative-decrease rule; allow the last-step slack that rule leaves
        // (eps * sum d^2 per step, far below 1e-6 relative here).
        assert!(
            res.raw_stress <= sk * (1.0 + 1e-6),
            "{name}: ours {} vs sklearn best {sk}",
            res.raw_stress
        );
        let check = stress(res.embedding.view(), delta.view(), None).unwrap();
        assert!((check.raw - res.raw_stress).abs() < 1e-9 * sk);
        assert!((check.stress1 - res.stress1).abs() < 1e-12);
        assert!(res.n_iter >= 1);
    }
}

#[test]
fn random_starts_alone_also_reach_sklearn_quality() {
    let fx = fixture("smacof_sklearn.json");
    let case = &fx["cases"][0];
    let delta = case_dissimilarities(case);
    let res = SmacofParams::new()
        .n_init(4)
        .init(SmacofInit::Random)
        .seed(1)
        .fit(delta.view())
        .unwrap();
    let sk = case["raw_stress"].as_f64().unwrap();
    assert!(
        res.raw_stress <= sk * 1.01,
        "random starts: {} vs sklearn {sk}",
        res.raw_stress
    );
}

fn grid(n_side: usize) -> Array2<f64> {
    Array2::from_shape_fn((n_side * n_side, 2), |(i, c)| {
        if c == 0 {
            (i / n_side) as f64
        } else {
            (i % n_side) as f64 * 1.3
        }
    })
}

#[test]
fn exact_euclidean_distances_are_recovered() {
    let truth = grid(8);
    let delta = pairwise_distances(truth.view()).unwrap();
    let cm = classical_mds(delta.view(), 2).unwrap();
    assert!(
        procrustes(truth.view(), cm.embedding.view())
            .unwrap()
            .disparity
            < 1e-20
    );
    let n = truth.nrows() as f64;
    // For centred X, B = X X^T: its eigenvalues are those of X^T X.
    let c = &truth - &truth.mean_axis(ndarray::Axis(0)).unwrap();
    let xtx = c.t().dot(&c);
    assert!((cm.eigenvalues.sum() - xtx.diag().sum()).abs() < 1e-8 * n);
    let res = SmacofParams::new()
        .init(SmacofInit::Random)
        .n_init(4)
        .max_iter(2000)
        .eps(1e-12)
        .fit(delta.view())
        .unwrap();
    assert!(res.stress1 < 1e-4, "stress-1 {}", res.stress1);
    assert!(
        procrustes(truth.view(), res.embedding.view())
            .unwrap()
            .disparity
            < 1e-7
    );
}

#[test]
fn same_seed_same_result() {
    let fx = fixture("smacof_sklearn.json");
    let delta = case_dissimilarities(&fx["cases"][2]);
    let p = SmacofParams::new()
        .n_init(3)
        .init(SmacofInit::Random)
        .seed(42)
        .max_iter(50);
    let a = p.clone().fit(delta.view()).unwrap();
    let b = p.fit(delta.view()).unwrap();
    assert_eq!(a.embedding, b.embedding);
    assert_eq!(a.raw_stress, b.raw_stress);
}

#[test]
fn unit_weights_match_unweighted_and_weights_change_the_fit() {
    let fx = fixture("smacof_sklearn.json");
    let delta = case_dissimilarities(&fx["cases"][2]);
    let n = delta.nrows();
    let base = SmacofParams::new().max_iter(100).eps(0.0);
    let plain = base.clone().fit(delta.view()).unwrap();
    let ones = base
        .clone()
        .weights(Some(Array2::ones((n, n))))
        .fit(delta.view())
        .unwrap();
    assert!(max_abs_diff(&plain.embedding, &ones.embedding) < 1e-6);
    assert!((plain.raw_stress - ones.raw_stress).abs() < 1e-8 * plain.raw_stress);

    // Down-weight long distances (local weighting): weighted stress must beat the unweighted solution's.
    let w = delta.mapv(|d| if d > 0.0 { 1.0 / (d * d) } else { 0.0 });
    let weighted = base.weights(Some(w.clone())).fit(delta.view()).unwrap();
    let plain_under_w = stress(plain.embedding.view(), delta.view(), Some(w.view())).unwrap();
    assert!(
        weighted.raw_stress < plain_under_w.raw,
        "{} vs {}",
        weighted.raw_stress,
        plain_under_w.raw
    );
}

#[test]
fn l1_refinement_lowers_l1_stress() {
    let fx = fixture("smacof_sklearn.json");
    let delta = case_dissimilarities(&fx["cases"][2]);
    let sm = SmacofParams::new().fit(delta.view()).unwrap();
    let before = l1_stress(sm.embedding.view(), delta.view(), None).unwrap();
    let r = L1Params::new()
        .fit(delta.view(), sm.embedding.view(), None)
        .unwrap();
    assert!((r.initial_l1_stress - before).abs() < 1e-9 * before);
    assert!(
        r.l1_stress < 0.99 * before,
        "L1 {} vs SMACOF start {before}",
        r.l1_stress
    );
    assert!(
        (l1_stress(r.embedding.view(), delta.view(), None).unwrap() - r.l1_stress).abs()
            < 1e-9 * before
    );
}

#[test]
fn l1_is_robust_to_a_few_gross_outliers() {
    // 2-D grid with 3% of distances badly corrupted: L1 should stay closer to the truth than SMACOF.
    let truth = grid(7);
    let mut delta = pairwise_distances(truth.view()).unwrap();
    let n = delta.nrows();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for _ in 0..(n * n * 3 / 200) {
        let (i, j) = (rng.gen_range(0..n), rng.gen_range(0..n));
        if i != j {
            let v = delta[[i, j]] * 3.0 + 5.0;
            delta[[i, j]] = v;
            delta[[j, i]] = v;
        }
    }
    let sm = SmacofParams::new().fit(delta.view()).unwrap();
    let l1 = L1Params::new()
        .fit(delta.view(), sm.embedding.view(), None)
        .unwrap();
    let e_sm = procrustes(truth.view(), sm.embedding.view())
        .unwrap()
        .disparity;
    let e_l1 = procrustes(truth.view(), l1.embedding.view())
        .unwrap()
        .disparity;
    assert!(e_l1 < e_sm, "L1 disparity {e_l1} vs SMACOF {e_sm}");
}

#[test]
fn rejects_bad_dissimilarities_and_parameters() {
    let good =
        pairwise_distances(array![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]].view()).unwrap();
    let mut nan = good.clone();
    nan[[0, 1]] = f64::NAN;
    assert!(matches!(
        SmacofParams::new().fit(nan.view()),
        Err(GeometryError::NonFinite { .. })
    ));
    let mut asym = good.clone();
    asym[[0, 1]] += 0.5;
    assert!(matches!(
        SmacofParams::new().fit(asym.view()),
        Err(GeometryError::InvalidDissimilarities(_))
    ));
    let mut neg = good.clone();
    neg[[0, 1]] = -1.0;
    neg[[1, 0]] = -1.0;
    assert!(matches!(
        SmacofParams::new().fit(neg.view()),
        Err(GeometryError::InvalidDissimilarities(_))
    ));
    let rect = Array2::<f64>::zeros((4, 3));
    assert!(matches!(
        SmacofParams::new().fit(rect.view()),
        Err(GeometryError::ShapeMismatch { .. })
    ));
    let tiny = pairwise_distances(array![[0.0, 0.0], [1.0, 0.0]].view()).unwrap();
    assert!(matches!(
        SmacofParams::new().fit(tiny.view()),
        Err(GeometryError::TooFewPoints { .. })
    ));
    assert!(matches!(
        SmacofParams::new().n_init(0).check(),
        Err(GeometryError::InvalidParameter { name: "n_init", .. })
    ));
    assert!(matches!(
        SmacofParams::new().eps(f64::NAN).check(),
        Err(GeometryError::InvalidParameter { name: "eps", .. })
    ));
    let bad_w = Array2::from_elem((4, 4), -1.0);
    assert!(
        SmacofParams::new()
            .weights(Some(bad_w))
            .fit(good.view())
            .is_err()
    );
    assert!(classical_mds(good.view(), 0).is_err());
    assert!(matches!(
        pairwise_distances(nan.view()),
        Err(GeometryError::NonFinite { .. })
    ));
}
