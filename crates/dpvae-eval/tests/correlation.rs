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

/// Spots on a 50 x 40 grid whose expression follows position plus seeded uniform noise (2000 spots, 1999000 pairs).
fn gradient_section() -> (Array2<f64>, Array2<f64>) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let coords = Array2::from_shape_fn((2000, 2), |(i, k)| {
        if k == 0 {
            (i % 50) as f64
        } else {
            (i / 50) as f64
        }
    });
    let expr = Array2::from_shape_fn((2000, 5), |(i, g)| {
        let (x, y) = (coords[[i, 0]], coords[[i, 1]]);
        let signal = [x, y, x + y, x - y, 0.0][g] / 10.0;
        signal + 3.0 * (rng.r#gen::<f64>() - 0.5)
    });
    (expr, coords)
}

#[test]
fn sampled_pairs_estimate_r_within_their_stated_error_on_any_thread_count() {
    let (expr, coords) = gradient_section();
    let params = DistanceCorrelationParams::new().spearman(false).n_perms(0);
    let exact = params.clone().run(expr.view(), coords.view()).unwrap();
    assert_eq!(exact.n_pairs, 1_999_000);
    assert_eq!(exact.sampling_se, None);
    let sampled = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            params
                .clone()
                .max_pairs(Some(200_000))
                .run(expr.view(), coords.view())
                .unwrap()
        })
    };
    let (one, two) = (sampled(1), sampled(2));
    assert_eq!(one, two, "the sample does not depend on the thread count");
    let se = one.sampling_se.expect("sampled pairs report their error");
    assert_eq!(one.n_pairs, 200_000);
    // The standard error of a correlation near r from m pairs is about (1 - r^2) / sqrt(m) if they were
    // independent; the replicates' spread must be of that order, and the estimate within 4 of them.
    let independent = (1.0 - exact.r * exact.r) / (200_000f64).sqrt();
    assert!(se > 0.3 * independent && se < 10.0 * independent, "se {se}");
    assert!(
        (one.r - exact.r).abs() < 4.0 * se,
        "sampled {} vs exact {} (se {se})",
        one.r,
        exact.r
    );
    assert!(params.max_pairs(Some(50)).check().is_err());
}
