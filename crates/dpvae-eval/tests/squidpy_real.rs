//! Cross-checks on real sections (`DPVAE_DATA`): Moran's I / Geary's C against squidpy
//! (fixtures/eval/make_autocorr.py) and the distance correlation against scipy (make_correlation.py).
//! The section is read through `dpvae_data::io::read` and preprocessed here exactly as the fixture script did
//! (float64 counts, normalize_total to the median total, log1p).

mod common;

use common::*;
use dpvae_data::testdata;
use dpvae_eval::DistanceCorrelationParams;
use ndarray::Array2;

/// Coordinates and the processed expression of the fixture's genes (spots x genes, f64).
fn load(test: &str, section: &str) -> Option<(Array2<f64>, Array2<f64>)> {
    let path = testdata::require(test, &format!("panel/{section}.h5ad"))?;
    let data = dpvae_data::io::read(&path).unwrap();
    let meta = read_json(&format!("autocorr_{section}.json"));
    let keep: Vec<usize> = meta["genes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let g = g.as_str().unwrap();
            data.var_names
                .iter()
                .position(|v| v == g)
                .unwrap_or_else(|| panic!("gene {g} not in {section}"))
        })
        .collect();
    let totals = data.x.row_sums();
    let counts = data.x.select_cols(&keep).to_dense();
    let x = normalize_log1p(
        data.n_obs(),
        &totals,
        &(0..keep.len()).collect::<Vec<_>>(),
        |i, j| counts[[i, j]] as f64,
    );
    Some((data.spatial.clone().expect("section has coordinates"), x))
}

#[test]
fn dlpfc_151673_agrees_with_squidpy() {
    let Some((coords, x)) = load("dlpfc_151673_agrees_with_squidpy", "visium_dlpfc_151673") else {
        return;
    };
    let compared = compare_with_squidpy("visium_dlpfc_151673", coords.view(), x.view(), 1e-6);
    assert_eq!(compared, 4 * 200 * 8);
}

#[test]
fn hippo1_agrees_with_squidpy() {
    let Some((coords, x)) = load("hippo1_agrees_with_squidpy", "st_mouse_brain_hippo1") else {
        return;
    };
    let compared = compare_with_squidpy("st_mouse_brain_hippo1", coords.view(), x.view(), 1e-6);
    assert_eq!(compared, 2 * 200 * 8);
}

#[test]
fn hippo1_distance_correlation_agrees_with_scipy() {
    let Some((coords, x)) = load(
        "hippo1_distance_correlation_agrees_with_scipy",
        "st_mouse_brain_hippo1",
    ) else {
        return;
    };
    let want = &read_json("correlation.json")["st_mouse_brain_hippo1"];
    let res = DistanceCorrelationParams::new()
        .n_perms(0)
        .max_spots(None)
        .run(x.view(), coords.view())
        .unwrap();
    assert_eq!(res.n_pairs as u64, want["n_pairs"].as_u64().unwrap());
    let f = |k: &str| want[k].as_f64().unwrap();
    // r is ~0.004 here: compare absolutely at 1e-10 (relative agreement is ~1e-9 on such a small r).
    for (got, w) in [
        (res.r, f("r")),
        (res.ci_low, want["ci95"][0].as_f64().unwrap()),
        (res.ci_high, want["ci95"][1].as_f64().unwrap()),
        (res.spearman.unwrap(), f("spearman")),
    ] {
        assert!((got - w).abs() < 1e-10, "{got} vs scipy {w}");
    }
}
