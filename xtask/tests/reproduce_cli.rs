//! `xtask reproduce` end to end on a small simulated panel: jobs run, the report and results.json are written,
//! a second run resumes instead of retraining, and the regression check fails on a number outside its band.
//! (CI also runs the quick profile on the real panel with this same binary, see .ci/run.)

use std::path::Path;
use std::process::Output;

mod common;

use common::{simulated_panel, text};

fn xtask(args: &[&str], data: &Path, out: &Path) -> Output {
    common::xtask("reproduce", args, data, out)
}

/// Every cached job result under `<out>/jobs` with its modification time, sorted by name.
fn job_files(out: &Path) -> Vec<(String, std::time::SystemTime)> {
    let mut files: Vec<_> = std::fs::read_dir(out.join("jobs"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let modified = e.metadata().unwrap().modified().unwrap();
            (e.file_name().to_string_lossy().into_owned(), modified)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn reproduce_runs_resumes_reports_and_checks_bands() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    simulated_panel(&data);
    let args = ["fig2", "fig9", "--quick", "--quiet"];

    let listed = xtask(&["fig2", "fig9", "--quick", "--list-jobs"], &data, &out);
    assert!(listed.status.success(), "{}", text(&listed));
    let listing = String::from_utf8(listed.stdout).unwrap();
    // per section: one correlation, and the VAE, the dp-VAE, the learned-lambda dp-VAE and dpvae's defaults
    // of Figure 9
    assert_eq!(listing.lines().count(), 3 * 5, "{listing}");
    assert!(listing.lines().all(|l| l.contains("\ttodo\t")), "{listing}");

    let first = xtask(&args, &data, &out);
    assert!(first.status.success(), "{}", text(&first));
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("## fig9") && report.contains("## fig2"),
        "{report}"
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let fig9 = &results["experiments"]["fig9"]["headline"];
    let dp = fig9["mean_disparity_dpvae"].as_f64().unwrap();
    let vae = fig9["mean_disparity_vae"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&dp) && (0.0..=1.0).contains(&vae));
    for f in [
        "fig2_correlation.png",
        "fig9_out_of_sample.svg",
        "fig9_out_of_sample.csv",
    ] {
        assert!(out.join(f).exists(), "missing {f}");
    }

    // everything is cached now: a second run rewrites no job file and gives the same numbers
    let listed = xtask(&["fig2", "fig9", "--quick", "--list-jobs"], &data, &out);
    let listing = String::from_utf8(listed.stdout).unwrap();
    assert!(listing.lines().all(|l| l.contains("\tdone\t")), "{listing}");
    let before = job_files(&out);
    assert_eq!(before.len(), 3 * 5, "{before:?}");
    let again = xtask(&args, &data, &out);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(job_files(&out), before, "a finished job was run again");
    let results2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results2["experiments"]["fig9"]["headline"], *fig9);

    // a headline number outside its band fails the run and is named
    let bands = dir.path().join("bands.toml");
    std::fs::write(
        &bands,
        format!(
            "profile = \"quick\"\n[[band]]\nmetric = \"fig9.mean_disparity_dpvae\"\nmax = {}\nwhy = \"test\"\n",
            dp - 0.01
        ),
    )
    .unwrap();
    let checked = xtask(
        &[
            &args[..],
            &["--report-only", "--check", bands.to_str().unwrap()],
        ]
        .concat(),
        &data,
        &out,
    );
    assert!(!checked.status.success());
    assert!(
        text(&checked).contains("fig9.mean_disparity_dpvae"),
        "{}",
        text(&checked)
    );

    // a job index past the end is refused with the count
    let bad = xtask(&["fig2", "--quick", "--job-index", "99"], &data, &out);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("out of range"), "{}", text(&bad));
}

#[test]
fn a_data_directory_without_a_manifest_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = xtask(&["--quick"], dir.path(), &dir.path().join("out"));
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("MANIFEST.tsv") && t.contains("--data"), "{t}");
}
