//! KL, negative-binomial and Gaussian terms against scipy values (fixtures/model/make_likelihoods.py).

use burn::prelude::*;
use dpvae_model::backend::FlexBackend;
use dpvae_model::loss::{
    gaussian_nll, kl_standard_normal, kl_standard_normal_host, nb_gamma_terms, nb_log_pmf,
    nb_nll_differentiable,
};
use serde_json::Value;

type B = FlexBackend;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/model/likelihoods.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture present")).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn scalar(t: Tensor<B, 1>) -> f64 {
    f64::from(t.into_scalar())
}

#[test]
fn closed_form_kl_matches_numerical_integration() {
    let fx = fixture();
    let cases = fx["kl"].as_array().unwrap();
    assert!(cases.len() >= 10);
    let dev = Default::default();
    for case in cases {
        let (mu, lv) = (floats(&case["mean"]), floats(&case["logvar"]));
        let expected = case["kl"].as_f64().unwrap();
        let host = kl_standard_normal_host(&mu, &lv);
        assert!(
            (host - expected).abs() < 1e-8 * expected.max(1.0),
            "{host} vs {expected}"
        );
        // The tensor version, on one spot, in f32.
        let d = mu.len();
        let m = Tensor::<B, 2>::from_data(
            TensorData::new(mu.iter().map(|&v| v as f32).collect(), [1, d]),
            &dev,
        );
        let l = Tensor::<B, 2>::from_data(
            TensorData::new(lv.iter().map(|&v| v as f32).collect(), [1, d]),
            &dev,
        );
        let t = scalar(kl_standard_normal(m, l));
        assert!(
            (t - expected).abs() < 1e-5 * expected.max(1.0),
            "{t} vs {expected}"
        );
    }
}

#[test]
fn kl_tensor_averages_over_spots() {
    let dev = Default::default();
    let m = Tensor::<B, 2>::from_floats([[0.5, -1.0], [2.0, 0.0]], &dev);
    let l = Tensor::<B, 2>::from_floats([[0.1, -0.3], [0.0, 1.0]], &dev);
    let expected = (kl_standard_normal_host(&[0.5, -1.0], &[0.1, -0.3])
        + kl_standard_normal_host(&[2.0, 0.0], &[0.0, 1.0]))
        / 2.0;
    assert!((scalar(kl_standard_normal(m, l)) - expected).abs() < 1e-6);
}

#[test]
fn nb_log_pmf_matches_scipy() {
    let fx = fixture();
    let cases = fx["nb"].as_array().unwrap();
    assert!(cases.len() > 100);
    for c in cases {
        let (x, mu, theta) = (
            c["x"].as_f64().unwrap(),
            c["mu"].as_f64().unwrap(),
            c["theta"].as_f64().unwrap(),
        );
        let expected = c["logpmf"].as_f64().unwrap();
        let got = nb_log_pmf(x, mu, theta);
        assert!(
            (got - expected).abs() < 1e-9 * expected.abs().max(1.0),
            "x {x} mu {mu} theta {theta}: {got} vs {expected}"
        );
    }
}

/// The training-time split (burn part + host log-gamma part) adds up to scipy's log pmf.
#[test]
fn nb_training_terms_add_up_to_scipy() {
    let fx = fixture();
    let dev = Default::default();
    // One spot per case, one gene: library 1 and logits 0 give mu = 1 * softmax([0]) = 1, so scale the library.
    for c in fx["nb"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["theta"].as_f64().unwrap() < 100.0)
    {
        let (x, mu, theta) = (
            c["x"].as_f64().unwrap(),
            c["mu"].as_f64().unwrap(),
            c["theta"].as_f64().unwrap(),
        );
        let expected = -c["logpmf"].as_f64().unwrap();
        let logits = Tensor::<B, 2>::zeros([1, 1], &dev);
        let xt = Tensor::<B, 2>::from_floats([[x as f32]], &dev);
        let lib = Tensor::<B, 2>::from_floats([[mu.ln() as f32]], &dev);
        let lt = Tensor::<B, 1>::from_floats([theta.ln() as f32], &dev);
        let diff = scalar(nb_nll_differentiable(logits, xt, lib, lt));
        let (host, _) = nb_gamma_terms(&[x as f32], 1, &[theta as f32]);
        let got = diff + host;
        assert!(
            (got - expected).abs() < 2e-4 * expected.abs().max(1.0),
            "x {x} mu {mu} theta {theta}: {got} vs {expected}"
        );
    }
}

#[test]
fn nb_theta_gradient_matches_finite_differences() {
    let counts = [0.0_f32, 3.0, 11.0, 1.0, 0.0, 7.0];
    let theta = [0.8_f32, 4.0];
    let (_, grad) = nb_gamma_terms(&counts, 3, &theta);
    for g in 0..2 {
        let h = 1e-3_f32;
        let mut up = theta;
        up[g] += h;
        let mut down = theta;
        down[g] -= h;
        let fd = (nb_gamma_terms(&counts, 3, &up).0 - nb_gamma_terms(&counts, 3, &down).0)
            / f64::from(2.0 * h);
        assert!(
            (f64::from(grad[g]) - fd).abs() < 1e-3 * fd.abs().max(1e-2),
            "{} vs {fd}",
            grad[g]
        );
    }
}

#[test]
fn gaussian_nll_matches_scipy_logpdf() {
    let fx = fixture();
    let dev = Default::default();
    for c in fx["gaussian"].as_array().unwrap() {
        let (x, mean, lv) = (floats(&c["x"]), floats(&c["mean"]), floats(&c["logvar"]));
        let g = x.len();
        let t = |v: &[f64]| {
            Tensor::<B, 2>::from_data(
                TensorData::new(v.iter().map(|&a| a as f32).collect(), [1, g]),
                &dev,
            )
        };
        let unit = scalar(gaussian_nll(t(&mean), t(&x), None));
        let expected_unit = -c["logpdf_unit"].as_f64().unwrap();
        assert!((unit - expected_unit).abs() < 1e-4 * expected_unit.abs().max(1.0));
        let lvt = Tensor::<B, 1>::from_data(
            TensorData::new(lv.iter().map(|&a| a as f32).collect(), [g]),
            &dev,
        );
        let learned = scalar(gaussian_nll(t(&mean), t(&x), Some(lvt)));
        let expected = -c["logpdf_learned"].as_f64().unwrap();
        assert!(
            (learned - expected).abs() < 1e-4 * expected.abs().max(1.0),
            "{learned} vs {expected}"
        );
    }
}
