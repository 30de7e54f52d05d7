//! erf, erfc, the normal CDF and quantile against exact values (mpmath, 40 digits) and scipy.special
//! (fixtures/eval/make_normal.py).

mod common;

use dpvae_eval::normal::{erf, erfc, norm_cdf, norm_ppf};

/// Worst relative error of `f` over the fixture list `name`; values below the smallest normal double are compared
/// absolutely against it (subnormals carry no relative precision).
fn worst(name: &str, f: impl Fn(f64) -> f64, rel: f64, skip: impl Fn(f64) -> bool) -> f64 {
    let v = common::read_json("normal.json");
    let mut worst: f64 = 0.0;
    for pair in v[name].as_array().unwrap() {
        let (x, want) = (pair[0].as_f64().unwrap(), pair[1].as_f64().unwrap());
        if skip(x) {
            continue;
        }
        let got = f(x);
        let err = (got - want).abs() / want.abs().max(f64::MIN_POSITIVE);
        assert!(
            err <= rel,
            "{name}({x}) = {got:e}, reference {want:e}, rel err {err:e}"
        );
        worst = worst.max(err);
    }
    worst
}

#[test]
fn erf_and_erfc_are_accurate_to_1e15() {
    let a = worst("erfc_mp", erfc, 2e-15, |_| false);
    let b = worst("erf_mp", erf, 2e-15, |_| false);
    let c = worst("erfc", erfc, 2e-15, |x| x > 5.0);
    eprintln!("worst relative error: erfc {a:e}, erf {b:e} (vs mpmath), erfc {c:e} (vs scipy)");
}

#[test]
fn normal_cdf_is_accurate_down_to_the_far_tail() {
    let a = worst("ndtr_mp", norm_cdf, 2e-15, |_| false);
    // Cephes' ndtr rounds z/sqrt(2) and x^2 (relative error ~ z^2 1e-16), so against scipy the tail is looser.
    let b = worst("ndtr", norm_cdf, 1e-14, |z| z < -6.0);
    let c = worst("ndtr", norm_cdf, 3e-13, |z| z < -37.6);
    eprintln!(
        "worst relative error ndtr: {a:e} (vs mpmath), {b:e} / {c:e} (vs scipy, |z| <= 6 / tail)"
    );
}

#[test]
fn normal_quantile_is_accurate() {
    let a = worst("ndtri_mp", norm_ppf, 2e-15, |_| false);
    let b = worst("ndtri", norm_ppf, 2e-15, |_| false);
    eprintln!("worst relative error ndtri: {a:e} (vs mpmath), {b:e} (vs scipy)");
}
