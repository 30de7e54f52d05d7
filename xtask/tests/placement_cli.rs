//! `xtask placement` end to end on a small simulated panel: every method places the held-out spots, the
//! tables, figure and results.json are written, a second run reuses the cached cases, and the band check fails
//! on a number outside its band. (CI runs the quick profile on the real panel with this binary, see .ci/run.)

mod common;

use std::path::Path;
use std::process::Output;

use common::{simulated_panel, text};

fn placement(args: &[&str], data: &Path, out: &Path) -> Output {
    common::xtask("placement", args, data, out)
}

#[test]
fn placement_benchmark_runs_resumes_and_checks_bands() {
    let dir = tempfile::tempdir().unwrap();
    let (data, out) = (dir.path().join("data"), dir.path().join("out"));
    simulated_panel(&data);
    // dpvae's defaults, shortened so the test stays quick in a debug build.
    let fast = dir.path().join("fast.toml");
    std::fs::write(&fast, "[train]\nepochs = 40\n[placement]\nmembers = 2\n").unwrap();
    let variant = format!("dpvae-fast={}", fast.display());
    let args = [
        "--seeds",
        "1",
        "--methods",
        "knn,mlp",
        "--variant",
        &variant,
        "--quiet",
        "--jobs",
        "2",
    ];
    let first = placement(&args, &data, &out);
    assert!(first.status.success(), "{}", text(&first));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let h = &results["experiments"]["placement"]["headline"];
    for m in ["dpvae-fast", "knn", "mlp"] {
        let d = h[format!("holdout_mean.{m}")].as_f64().unwrap();
        // The simulated tissue has domains and gradients: every method must beat "no relation" by far.
        assert!((0.0..0.8).contains(&d), "{m}: {d}");
        assert!(h[format!("holdout_knn_overlap.{m}")].as_f64().unwrap() > 0.0);
    }
    let md = std::fs::read_to_string(out.join("placement.md")).unwrap();
    assert!(
        md.contains("| sim_a |") && md.contains("dpvae-fast"),
        "{md}"
    );
    for f in [
        "holdout_disparity.png",
        "holdout_disparity.svg",
        "holdout_disparity.csv",
    ] {
        assert!(out.join(f).exists(), "missing {f}");
    }

    // cached: a second run rewrites no case file
    let stamp = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let cases: Vec<_> = std::fs::read_dir(out.join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cases.len(), 3 * 3, "{cases:?}");
    let before: Vec<_> = cases.iter().map(|p| stamp(p)).collect();
    let again = placement(&args, &data, &out);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(cases.iter().map(|p| stamp(p)).collect::<Vec<_>>(), before);

    let bands = dir.path().join("bands.toml");
    let knn = h["holdout_mean.knn"].as_f64().unwrap();
    std::fs::write(
        &bands,
        format!("profile = \"full\"\n[[band]]\nmetric = \"placement.holdout_mean.knn\"\nmax = {}\nwhy = \"t\"\n", knn - 0.01),
    )
    .unwrap();
    let checked = placement(
        &[&args[..], &["--check", bands.to_str().unwrap()]].concat(),
        &data,
        &out,
    );
    assert!(!checked.status.success());
    assert!(
        text(&checked).contains("placement.holdout_mean.knn"),
        "{}",
        text(&checked)
    );

    let bad = placement(&["--methods", "tangram"], &data, &out);
    assert!(
        !bad.status.success() && text(&bad).contains("unknown method"),
        "{}",
        text(&bad)
    );
}
