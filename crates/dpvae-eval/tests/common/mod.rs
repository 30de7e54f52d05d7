//! Shared helpers of the cross-check tests: fixture paths, scanpy-equivalent preprocessing, comparison with the
//! squidpy fixtures written by `fixtures/eval/make_autocorr.py`.
#![allow(dead_code)]

use std::path::PathBuf;

use dpvae_eval::{AutocorrParams, Features, Transform, WeightsParams};
use ndarray::{Array2, ArrayView2};
use serde_json::Value;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/eval")
        .join(name)
}

pub fn read_json(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// A numeric CSV with a header: (header, rows of cells as strings).
pub fn read_csv(name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

pub fn csv_matrix(name: &str) -> (Vec<String>, Array2<f64>) {
    let (header, rows) = read_csv(name);
    let n = rows.len();
    let d = header.len();
    let flat: Vec<f64> = rows.iter().flatten().map(|c| c.parse().unwrap()).collect();
    (header, Array2::from_shape_vec((n, d), flat).unwrap())
}

/// scanpy `normalize_total` (target = median of the positive spot totals) then `log1p`, in f64, keeping `keep`
/// columns. `row_totals` are the totals over all genes; `get(i, j)` reads the count of spot i, gene j.
pub fn normalize_log1p(
    n: usize,
    row_totals: &[f64],
    keep: &[usize],
    get: impl Fn(usize, usize) -> f64,
) -> Array2<f64> {
    let mut positive: Vec<f64> = row_totals.iter().copied().filter(|&t| t > 0.0).collect();
    positive.sort_unstable_by(f64::total_cmp);
    let m = positive.len() / 2;
    let target = if positive.len() % 2 == 1 {
        positive[m]
    } else {
        (positive[m - 1] + positive[m]) / 2.0
    };
    Array2::from_shape_fn((n, keep.len()), |(i, c)| {
        let t = row_totals[i];
        let x = get(i, keep[c]);
        if t > 0.0 {
            (x / t * target).ln_1p()
        } else {
            x.ln_1p()
        }
    })
}

pub fn close(a: f64, b: f64, rel: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= rel * b.abs() + 1e-10
}

/// Build every graph of the fixture `autocorr_<section>.json`, run Moran/Geary on `x` (spots x the fixture's
/// genes, in order) and compare with squidpy's numbers to `rel`. Returns the number of values compared.
pub fn compare_with_squidpy(
    section: &str,
    coords: ArrayView2<f64>,
    x: ArrayView2<f64>,
    rel: f64,
) -> usize {
    let meta = read_json(&format!("autocorr_{section}.json"));
    let genes: Vec<String> = meta["genes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap().to_string())
        .collect();
    assert_eq!(x.ncols(), genes.len());
    let (header, rows) = read_csv(&format!("autocorr_{section}.csv"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let expected_i = meta["expected_I"].as_f64().unwrap();
    let mut compared = 0;
    for case in meta["cases"].as_array().unwrap() {
        let name = case["case"].as_str().unwrap();
        let transform = match case["transform"].as_str().unwrap() {
            "row" => Transform::Row,
            _ => Transform::Binary,
        };
        let params = match case["kind"].as_str().unwrap() {
            "knn" => WeightsParams::knn(case["k"].as_u64().unwrap() as usize),
            "radius" => WeightsParams::radius(case["radius"].as_f64().unwrap()),
            "grid" => WeightsParams::grid(case["n_neighs"].as_u64().unwrap() as usize),
            k => panic!("unknown graph kind {k}"),
        };
        let w = params.transform(transform).build(coords).unwrap();
        // Same graph: edge count and checksum sum (i n + j)(1 + (i + j) mod 7).
        assert_eq!(
            w.nnz() as u64,
            case["n_edges"].as_u64().unwrap(),
            "{section}/{name}: edges"
        );
        let n = w.n_spots() as u128;
        let mut checksum: u128 = 0;
        for i in 0..w.n_spots() {
            for &j in w.row(i).0 {
                let (i, j) = (i as u128, j as u128);
                checksum += (i * n + j) * (1 + (i + j) % 7);
            }
        }
        assert_eq!(
            checksum.to_string(),
            case["edge_checksum"].as_str().unwrap(),
            "{section}/{name}: graph differs from the fixture's"
        );
        let table = AutocorrParams::new()
            .run(&w, &Features::Dense(x), &genes)
            .unwrap();
        let mut seen = 0;
        for r in rows.iter().filter(|r| r[col("case")] == name) {
            let g = genes.iter().position(|g| *g == r[col("gene")]).unwrap();
            let row = &table.rows[g];
            let want = |c: &str| r[col(c)].parse::<f64>().unwrap();
            for (got, c) in [
                (row.moran.value, "I"),
                (row.moran.variance, "var_I"),
                (row.moran.p_norm, "p_I"),
                (row.moran.fdr_norm, "fdr_I"),
                (row.geary.value, "C"),
                (row.geary.variance, "var_C"),
                (row.geary.p_norm, "p_C"),
                (row.geary.fdr_norm, "fdr_C"),
            ] {
                assert!(
                    close(got, want(c), rel),
                    "{section}/{name}/{}: {c} = {got}, squidpy {}",
                    genes[g],
                    want(c)
                );
                compared += 1;
            }
            let z_i = (want("I") - expected_i) / want("var_I").sqrt();
            let z_c = (want("C") - 1.0) / want("var_C").sqrt();
            assert!(close(row.moran.z, z_i, rel) && close(row.geary.z, z_c, rel));
            assert!((row.moran.expected - expected_i).abs() < 1e-15 && row.geary.expected == 1.0);
            seen += 1;
        }
        assert_eq!(seen, genes.len(), "{section}/{name}: fixture rows");
    }
    compared
}
