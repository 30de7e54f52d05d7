//! dpvae's randomized PCA against scikit-learn's exact PCA (fixtures/preprocess/make_pca.py).

use dpvae_data::preprocess::PcaParams;
use ndarray::Array2;
use serde_json::Value;

fn value(i: usize, j: usize) -> f64 {
    let (i, j) = (i as f64, j as f64);
    3.0 * (0.11 * i).sin() * (j % 5.0 + 1.0)
        + 1.5 * (0.07 * i * (1.0 + j % 3.0)).cos()
        + 0.5 * (0.9 * i + 1.7 * j).sin()
        + 0.1 * j
}

#[test]
fn components_and_variances_match_scikit_learn() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/preprocess/pca_sklearn.json"
    );
    let f: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (n, g, k) = (
        f["n"].as_u64().unwrap() as usize,
        f["g"].as_u64().unwrap() as usize,
        f["k"].as_u64().unwrap() as usize,
    );
    let x = Array2::from_shape_fn((n, g), |(i, j)| value(i, j) as f32);
    let p = PcaParams {
        n_components: k,
        ..Default::default()
    }
    .fit(x.view())
    .unwrap();
    for (c, want) in f["explained_variance"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let want = want.as_f64().unwrap();
        let got = p.explained_variance[c];
        assert!(
            (got - want).abs() <= 1e-5 * want.max(1e-3),
            "variance {c}: {got} vs {want}"
        );
    }
    for (c, row) in f["components"].as_array().unwrap().iter().enumerate() {
        for (j, want) in row.as_array().unwrap().iter().enumerate() {
            let (got, want) = (f64::from(p.components[c][j]), want.as_f64().unwrap());
            assert!(
                (got - want).abs() < 1e-4,
                "component {c} gene {j}: {got} vs {want}"
            );
        }
    }
    for (j, want) in f["mean"].as_array().unwrap().iter().enumerate() {
        assert!((f64::from(p.mean[j]) - want.as_f64().unwrap()).abs() < 1e-5);
    }
}
