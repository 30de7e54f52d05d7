//! The whole pipeline at single-cell scale in CI: `dpvae simulate --single-cell` writes a 10^4-cell section,
//! and `dpvae run` with its defaults (but two ensemble members instead of five, to stay within a minute on CI's
//! two cores) trains on 80% of it, places the other 20% and evaluates them. The speed and memory targets at
//! 10^5 and 10^6 cells are checked by `cargo xtask scale`, not here.

mod common;
use common::dpvae;

#[test]
fn run_places_a_ten_thousand_cell_section() {
    let tmp = tempfile::tempdir().unwrap();
    let section = tmp.path().join("cells.h5ad");
    dpvae()
        .args([
            "simulate",
            "--single-cell",
            "--n-spots",
            "10000",
            "--n-genes",
            "200",
            "--out",
        ])
        .arg(&section)
        .assert()
        .success();
    let data = dpvae_data::io::read(&section).unwrap();
    assert_eq!((data.n_obs(), data.n_vars()), (10_000, 200));
    assert!(data.obs.column("cell_type").is_ok() && data.obs.column("niche").is_ok());
    let split = dpvae_data::split::train_test_split(data.n_obs(), 0.2, 0).unwrap();
    let (reference, query) = (tmp.path().join("ref.h5ad"), tmp.path().join("query.h5ad"));
    dpvae_data::io::h5ad::write_h5ad(&reference, &data.select_obs(&split.train).unwrap()).unwrap();
    dpvae_data::io::h5ad::write_h5ad(&query, &data.select_obs(&split.test).unwrap()).unwrap();

    let out = tmp.path().join("run");
    dpvae()
        .args(["run", "--members", "2", "--out"])
        .arg(&out)
        .arg(&reference)
        .arg(&query)
        .assert()
        .success();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("evaluation.json")).unwrap())
            .unwrap();
    assert_eq!(summary["n_spots"], 2000);
    let disparity = summary["procrustes_disparity"].as_f64().unwrap();
    // Cells of one type look alike wherever they sit, so single cells place less sharply than spots; a
    // placement that learned nothing of the tissue scores about 1.
    assert!(disparity < 0.6, "held-out disparity {disparity}");
}
