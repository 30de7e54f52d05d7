//! Distance correlation against scipy (fixtures/eval/make_correlation.py): pdist, pearsonr with its Fisher-z
//! confidence interval, spearmanr with tied distances.

mod common;

use dpvae_eval::DistanceCorrelationParams;
use dpvae_eval::correlation::{condensed_distances, fisher_ci, pearson, spearman};
use ndarray::Array2;
use serde_json::Value;

fn matrix(v: &Value) -> Array2<f64> {
    let rows = v.as_array().unwrap();
    let d = rows[0].as_array().unwrap().len();
    let flat: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
        .collect();
    Array2::from_shape_vec((rows.len(), d), flat).unwrap()
}

fn close(a: f64, b: f64, tol: f64) {
    assert!(
        (a - b).abs() <= tol * b.abs().max(1e-300) || (a - b).abs() < 1e-15,
        "{a} vs scipy {b}"
    );
}

#[test]
fn synthetic_matches_scipy() {
    let f = common::read_json("correlation.json");
    let s = &f["synthetic"];
    let coords = matrix(&s["coords"]);
    let expr = matrix(&s["expr"]);
    let a = condensed_distances(expr.view());
    let b = condensed_distances(coords.view());
    assert_eq!(a.len(), s["n_pairs"].as_u64().unwrap() as usize);
    for (k, want) in s["expr_pdist_head"].as_array().unwrap().iter().enumerate() {
        close(a[k], want.as_f64().unwrap(), 1e-14);
    }
    close(pearson(&a, &b), s["r"].as_f64().unwrap(), 1e-12);
    close(spearman(&a, &b), s["spearman"].as_f64().unwrap(), 1e-12);

    let res = DistanceCorrelationParams::new()
        .n_perms(199)
        .seed(1)
        .run(expr.view(), coords.view())
        .unwrap();
    close(res.r, s["r"].as_f64().unwrap(), 1e-12);
    close(res.ci_low, s["ci95"][0].as_f64().unwrap(), 1e-12);
    close(res.ci_high, s["ci95"][1].as_f64().unwrap(), 1e-12);
    close(
        res.spearman.unwrap(),
        s["spearman"].as_f64().unwrap(),
        1e-12,
    );
    assert_eq!(res.n_pairs, 64 * 63 / 2);
    // Expression follows the coordinates: the Mantel test rejects (p at its floor 1/(P+1)).
    assert_eq!(res.mantel_p, Some(1.0 / 200.0));
    let (lo, hi) = fisher_ci(res.r, res.n_pairs, 0.90);
    close(lo, s["ci90"][0].as_f64().unwrap(), 1e-12);
    close(hi, s["ci90"][1].as_f64().unwrap(), 1e-12);
}

#[test]
fn mantel_is_seeded_and_calibrated_under_the_null() {
    // Expression unrelated to space: the Mantel p-value must not be small, and must be reproducible.
    let coords = Array2::from_shape_fn((60, 2), |(i, d)| {
        if d == 0 {
            (i % 10) as f64
        } else {
            (i / 10) as f64
        }
    });
    let expr = Array2::from_shape_fn((60, 5), |(i, j)| {
        (((i * 7919 + j * 104729) % 97) as f64).sin()
    });
    let p = DistanceCorrelationParams::new().n_perms(199).seed(9);
    let a = p.run(expr.view(), coords.view()).unwrap();
    let b = p.run(expr.view(), coords.view()).unwrap();
    assert_eq!(a, b);
    assert!(a.mantel_p.unwrap() > 0.01, "{a:?}");
}

#[test]
fn subsampling_is_reported_and_pearson_still_uses_all_pairs() {
    let f = common::read_json("correlation.json");
    let s = &f["synthetic"];
    let coords = matrix(&s["coords"]);
    let expr = matrix(&s["expr"]);
    let res = DistanceCorrelationParams::new()
        .max_spots(Some(40))
        .n_perms(0)
        .seed(3)
        .run(expr.view(), coords.view())
        .unwrap();
    assert_eq!(res.n_spots_tested, 40);
    assert_eq!(res.n_pairs, 2016);
    close(res.r, s["r"].as_f64().unwrap(), 1e-12);
    assert!(res.mantel_p.is_none() && res.spearman.is_some());
    assert_ne!(res.r_tested, res.r);
}
