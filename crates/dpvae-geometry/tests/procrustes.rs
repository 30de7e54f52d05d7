//! Procrustes against scipy.spatial.procrustes (fixtures from fixtures/geometry/make_procrustes.py).

mod common;

use common::{fixture, matrix, max_abs_diff, splitmix64_uniforms, vector, visium_in_tissue};
use dpvae_geometry::{GeometryError, ProcrustesParams, procrustes};
use ndarray::{Array2, array};

#[test]
fn matches_scipy_on_random_inputs() {
    let fx = fixture("procrustes_random.json");
    let cases = fx["cases"].as_array().expect("cases");
    assert!(cases.len() >= 5);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let reference = matrix(&case["reference"]);
        let estimate = matrix(&case["estimate"]);
        let r = procrustes(reference.view(), estimate.view()).unwrap();
        let disparity = case["disparity"].as_f64().unwrap();
        assert!(
            (r.disparity - disparity).abs() < 1e-9,
            "{name}: disparity {} vs scipy {disparity}",
            r.disparity
        );
        assert!(
            max_abs_diff(&r.reference_standardised, &matrix(&case["scipy_mtx1"])) < 1e-9,
            "{name}: mtx1"
        );
        assert!(
            max_abs_diff(&r.estimate_standardised, &matrix(&case["scipy_mtx2"])) < 1e-9,
            "{name}: mtx2"
        );
        assert!(
            max_abs_diff(&r.rotation, &matrix(&case["rotation"])) < 1e-9,
            "{name}: rotation"
        );
        let scale = case["scale"].as_f64().unwrap();
        assert!(
            (r.scale - scale).abs() < 1e-9 * scale.abs().max(1.0),
            "{name}: scale"
        );
        let t = vector(&case["translation"]);
        assert!(
            r.translation
                .iter()
                .zip(&t)
                .all(|(a, b)| (a - b).abs() < 1e-9 * b.abs().max(1.0)),
            "{name}: b"
        );
        assert!(
            max_abs_diff(&r.aligned, &matrix(&case["aligned"])) < 1e-9,
            "{name}: aligned"
        );
        let res = vector(&case["residuals"]);
        assert!(
            r.residuals
                .iter()
                .zip(&res)
                .all(|(a, b)| (a - b).abs() < 1e-9),
            "{name}: residuals"
        );
        assert!(
            (r.unnormalised - case["unnormalised"].as_f64().unwrap()).abs() < 1e-9,
            "{name}: unnormalised"
        );
        assert_eq!(
            r.reflection,
            name.starts_with("reflect"),
            "{name}: reflection flag"
        );

        // Forbidding reflections: numpy Kabsch reference.
        let nr = ProcrustesParams::new()
            .allow_reflection(false)
            .fit(reference.view(), estimate.view())
            .unwrap();
        let nr_disp = case["no_reflection_disparity"].as_f64().unwrap();
        assert!(
            (nr.disparity - nr_disp).abs() < 1e-9,
            "{name}: no-reflection disparity {} vs {nr_disp}",
            nr.disparity
        );
        assert!(
            max_abs_diff(&nr.rotation, &matrix(&case["no_reflection_rotation"])) < 1e-9,
            "{name}: Q+"
        );
        assert!(!nr.reflection);
        assert!(nr.disparity >= r.disparity - 1e-12);
    }
}

#[test]
fn disparity_is_symmetric_and_bounded() {
    let fx = fixture("procrustes_random.json");
    for case in fx["cases"].as_array().unwrap() {
        let a = matrix(&case["reference"]);
        let b = matrix(&case["estimate"]);
        let ab = procrustes(a.view(), b.view()).unwrap().disparity;
        let ba = procrustes(b.view(), a.view()).unwrap().disparity;
        assert!((ab - ba).abs() < 1e-12, "asymmetric: {ab} vs {ba}");
        assert!((0.0..=1.0).contains(&ab));
    }
}

#[test]
fn transform_maps_new_points_like_aligned() {
    let a = array![[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 1.0]];
    let b = a.dot(&array![[0.0, 1.0], [-1.0, 0.0]]) * 0.5 + 7.0;
    let r = procrustes(a.view(), b.view()).unwrap();
    assert!(r.disparity < 1e-24);
    assert!(max_abs_diff(&r.transform(b.view()).unwrap(), &a) < 1e-12);
    assert!((r.scale - 2.0).abs() < 1e-12);
}

#[test]
fn rejects_bad_input() {
    let good = array![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]];
    let nan = array![[0.0, 0.0], [f64::NAN, 0.0], [0.0, 1.0]];
    assert!(matches!(
        procrustes(nan.view(), good.view()),
        Err(GeometryError::NonFinite { row: 1, col: 0, .. })
    ));
    assert!(matches!(
        procrustes(good.view(), nan.view()),
        Err(GeometryError::NonFinite { .. })
    ));
    let two = array![[0.0, 0.0], [1.0, 0.0]];
    assert!(matches!(
        procrustes(two.view(), two.view()),
        Err(GeometryError::TooFewPoints { got: 2, min: 3, .. })
    ));
    let other = Array2::<f64>::zeros((4, 2));
    assert!(matches!(
        procrustes(good.view(), other.view()),
        Err(GeometryError::ShapeMismatch { .. })
    ));
    let flat = Array2::<f64>::ones((3, 2));
    assert!(matches!(
        procrustes(flat.view(), good.view()),
        Err(GeometryError::ZeroSpread { what: "reference" })
    ));
    assert!(matches!(
        procrustes(good.view(), flat.view()),
        Err(GeometryError::ZeroSpread { what: "estimate" })
    ));
    let msg = procrustes(flat.view(), good.view())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("zero spread"), "{msg}");
}

#[test]
fn matches_scipy_on_real_visium_coordinates() {
    let fx = fixture("procrustes_visium.json");
    for case in fx["cases"].as_array().unwrap() {
        let dataset = case["dataset"].as_str().unwrap();
        let Some(reference) = visium_in_tissue("matches_scipy_on_real_visium_coordinates", dataset)
        else {
            return;
        };
        let n = reference.nrows();
        assert_eq!(
            n as u64,
            case["n_in_tissue"].as_u64().unwrap(),
            "{dataset}: in-tissue count"
        );
        // Rebuild the estimate exactly as make_procrustes.py did.
        let theta = case["theta"].as_f64().unwrap();
        let rot = array![[theta.cos(), -theta.sin()], [theta.sin(), theta.cos()]];
        let mut est = reference.clone();
        if case["reflect"].as_bool().unwrap() {
            est.column_mut(0).mapv_inplace(|v| -v);
        }
        let u = splitmix64_uniforms(case["seed"].as_u64().unwrap(), 2 * n);
        let noise = Array2::from_shape_vec((n, 2), u).unwrap().mapv(|v| v - 0.5)
            * case["noise_amplitude"].as_f64().unwrap();
        let shift = vector(&case["shift"]);
        let est = est.dot(&rot) * case["scale_applied"].as_f64().unwrap()
            + &ndarray::arr1(&shift)
            + noise;

        let r = procrustes(reference.view(), est.view()).unwrap();
        let close = |a: f64, b: f64, what: &str| {
            assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                "{dataset}: {what} {a} vs scipy {b}"
            );
        };
        close(
            r.disparity,
            case["disparity"].as_f64().unwrap(),
            "disparity",
        );
        close(r.scale, case["scale"].as_f64().unwrap(), "scale");
        close(
            r.unnormalised,
            case["unnormalised"].as_f64().unwrap(),
            "unnormalised",
        );
        assert!(max_abs_diff(&r.rotation, &matrix(&case["rotation"])) < 1e-9);
        let sums = r.aligned.sum_axis(ndarray::Axis(0));
        for (a, b) in sums.iter().zip(vector(&case["aligned_column_sums"])) {
            close(*a, b, "aligned column sum");
        }
        close(
            r.aligned.mapv(|v| v * v).sum(),
            case["aligned_sum_squares"].as_f64().unwrap(),
            "aligned sum of squares",
        );
        let abs_sums = r
            .estimate_standardised
            .mapv(f64::abs)
            .sum_axis(ndarray::Axis(0));
        for (a, b) in abs_sums
            .iter()
            .zip(vector(&case["scipy_mtx2_column_abs_sums"]))
        {
            close(*a, b, "scipy mtx2 column |sum|");
        }
        close(
            r.residuals.mean().unwrap(),
            case["residual_mean"].as_f64().unwrap(),
            "residual mean",
        );
        close(
            r.residuals.fold(0.0, |m: f64, v| m.max(*v)),
            case["residual_max"].as_f64().unwrap(),
            "residual max",
        );
        assert_eq!(r.reflection, case["reflect"].as_bool().unwrap());
        let nr = ProcrustesParams::new()
            .allow_reflection(false)
            .fit(reference.view(), est.view())
            .unwrap();
        close(
            nr.disparity,
            case["no_reflection_disparity"].as_f64().unwrap(),
            "no-reflection disparity",
        );
    }
}
