//! The Wilcoxon signed-rank test against scipy.stats.wilcoxon (fixtures/eval/make_wilcoxon.py): the exact path
//! (n <= 50, no ties), the normal approximation (n = 80) and the tie-corrected approximation with zeros dropped.

mod common;

use dpvae_eval::{Alternative, wilcoxon};

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn statistic_and_p_value_match_scipy() {
    let v = common::read_json("wilcoxon.json");
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 8);
    for case in cases {
        let (x, y) = (floats(&case["x"]), floats(&case["y"]));
        for (key, alt) in [
            ("two-sided", Alternative::TwoSided),
            ("less", Alternative::Less),
            ("greater", Alternative::Greater),
        ] {
            let want = &case[key];
            let got = wilcoxon(&x, &y, alt).unwrap();
            let name = case["name"].as_str().unwrap();
            assert_eq!(
                got.statistic,
                want["statistic"].as_f64().unwrap(),
                "{name} {key} statistic"
            );
            let p = want["pvalue"].as_f64().unwrap();
            assert!(
                (got.p_value - p).abs() <= 1e-12 * p.max(1e-300) + 1e-15,
                "{name} {key}: p {} vs scipy {p}",
                got.p_value
            );
        }
    }
}
