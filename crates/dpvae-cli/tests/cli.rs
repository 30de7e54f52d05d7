//! End-to-end tests of the real `dpvae` binary on simulated data, and on one real section when DPVAE_DATA
//! is set: the workflow, and each documented error path.

use std::path::{Path, PathBuf};

use predicates::prelude::*;

mod common;
use common::{dpvae, simulate_sized};

fn json_of(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(out)))
}

fn simulate(dir: &Path) -> std::path::PathBuf {
    simulate_sized(dir, 400, 150)
}

/// `dpvae train` with `train_args` on `data`, then `dpvae embed` of the same data; returns (model dir, embedded).
fn train_and_embed(dir: &Path, data: &Path, train_args: &[&str]) -> (PathBuf, PathBuf) {
    let model = dir.join("model");
    let embedded = dir.join("embedded.h5ad");
    dpvae()
        .arg("train")
        .args(train_args)
        .arg("--out")
        .arg(&model)
        .arg(data)
        .assert()
        .success();
    dpvae()
        .arg("embed")
        .arg(&model)
        .arg(data)
        .arg("--out")
        .arg(&embedded)
        .assert()
        .success();
    (model, embedded)
}

#[test]
fn workflow_on_simulated_tissue() {
    let dir = tempfile::tempdir().unwrap();
    let tissue = simulate(dir.path());

    let out = dpvae()
        .args(["inspect", "--json"])
        .arg(&tissue)
        .output()
        .unwrap();
    assert!(out.status.success());
    let info = json_of(&out.stdout);
    assert_eq!(info["format"], "h5ad");
    assert_eq!(info["n_obs"], 400);
    assert_eq!(info["n_vars"], 150);
    assert_eq!(info["has_spatial"], true);

    let coords = dir.path().join("coords.csv");
    dpvae()
        .arg("convert")
        .arg(&tissue)
        .arg(&coords)
        .assert()
        .success();
    let text = std::fs::read_to_string(&coords).unwrap();
    assert!(
        text.starts_with("barcode,x,y"),
        "{}",
        &text[..40.min(text.len())]
    );
    assert_eq!(text.lines().count(), 401);
    // a table output carries its settings beside it
    assert!(dir.path().join("coords.config.toml").exists());

    let (model, embedded) = train_and_embed(
        dir.path(),
        &tissue,
        &[
            "--epochs", "30", "--alpha2", "5", "--hvg", "50", "--seed", "1",
        ],
    );
    assert!(model.join("history.csv").exists());
    let stored = std::fs::read_to_string(model.join("config.toml")).unwrap();
    assert!(
        stored.contains("epochs = 30") && stored.contains("seed = 1"),
        "{stored}"
    );

    let out = dpvae()
        .args(["inspect", "--json"])
        .arg(&embedded)
        .output()
        .unwrap();
    let keys = json_of(&out.stdout)["obsm_keys"].clone();
    assert!(
        keys.as_array().unwrap().iter().any(|k| k == "X_dpvae"),
        "{keys}"
    );
    // The coordinates are obsm['spatial'] in the file; inspect used to leave them out.
    assert!(
        keys.as_array().unwrap().iter().any(|k| k == "spatial"),
        "{keys}"
    );

    let rec = dir.path().join("rec.h5ad");
    dpvae()
        .args(["reconstruct", "--method", "smacof", "--out"])
        .arg(&rec)
        .arg(&embedded)
        .assert()
        .success();
    assert!(dir.path().join("rec.coords.csv").exists());

    let fig = dir.path().join("fig");
    dpvae()
        .args([
            "plot",
            "--coords",
            "obsm:spatial_dpvae",
            "--color",
            "obs:domain",
            "--out",
        ])
        .arg(&fig)
        .arg(&rec)
        .assert()
        .success();
    assert!(std::fs::metadata(dir.path().join("fig.png")).unwrap().len() > 1000);
    assert!(
        std::fs::read_to_string(dir.path().join("fig.config.toml"))
            .unwrap()
            .contains("color = \"obs:domain\"")
    );
    assert!(
        std::fs::read_to_string(dir.path().join("fig.svg"))
            .unwrap()
            .contains("<svg")
    );

    let out = dpvae()
        .args(["procrustes", "--json"])
        .arg(&tissue)
        .arg(&rec)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = json_of(&out.stdout);
    assert_eq!(p["n"], 400);
    let d = p["disparity"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&d), "disparity {d}");

    let table = dir.path().join("autocorr.csv");
    let autocorr_args = [
        "autocorr",
        "--features",
        "obsm:X_dpvae",
        "--perms",
        "9",
        "--seed",
        "2",
        "--out",
    ];
    dpvae()
        .args(autocorr_args)
        .arg(&table)
        .arg(&embedded)
        .assert()
        .success();
    let t = std::fs::read_to_string(&table).unwrap();
    assert!(t.lines().next().unwrap().starts_with("feature,morans_i"));
    assert_eq!(t.lines().count(), 3);
    // the stored settings are exactly what --print-config says for the same command line
    let printed = dpvae()
        .args(autocorr_args)
        .arg(&table)
        .arg(&embedded)
        .arg("--print-config")
        .output()
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("autocorr.config.toml")).unwrap(),
        String::from_utf8(printed.stdout).unwrap()
    );

    let out = dpvae()
        .args(["correlate", "--json", "--hvg", "50", "--perms", "19"])
        .arg(&tissue)
        .output()
        .unwrap();
    assert!(out.status.success());
    let c = json_of(&out.stdout);
    assert!(
        c["r"].as_f64().unwrap() > 0.0,
        "simulated expression tracks space: {c}"
    );
    assert_eq!(c["config"]["perms"], 19, "{c}");
    assert!(c["ci_low"].as_f64().unwrap() <= c["r"].as_f64().unwrap());
}

#[test]
fn run_and_evaluate_on_a_split_tissue() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference.h5ad");
    let query = dir.path().join("query.h5ad");
    dpvae()
        .args([
            "simulate",
            "--n-spots",
            "300",
            "--n-genes",
            "120",
            "--seed",
            "5",
            "--out",
        ])
        .arg(&reference)
        .assert()
        .success();
    dpvae()
        .args([
            "simulate",
            "--n-spots",
            "200",
            "--n-genes",
            "120",
            "--seed",
            "5",
            "--out",
        ])
        .arg(&query)
        .assert()
        .success();
    let out = dir.path().join("run");
    dpvae()
        .args(["run", "--epochs", "20", "--hvg", "40", "--out"])
        .arg(&out)
        .arg(&reference)
        .arg(&query)
        .assert()
        .success();
    for f in [
        "query_dpvae.h5ad",
        "query_coords.csv",
        "evaluation.json",
        "per_spot_error.csv",
        "error_map.png",
        "error_map.svg",
        "model/history.csv",
        "config.toml",
    ] {
        assert!(out.join(f).exists(), "missing {f}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("evaluation.json")).unwrap())
            .unwrap();
    let d = summary["procrustes_disparity"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&d));
    assert_eq!(summary["n_spots"], 200);
    // evaluate alone on run's output gives the same disparity
    let again = dir.path().join("eval");
    let o = dpvae()
        .args(["evaluate", "--out"])
        .arg(&again)
        .arg(out.join("query_dpvae.h5ad"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s2 = json_of(&o.stdout);
    assert!((s2["procrustes_disparity"].as_f64().unwrap() - d).abs() < 1e-12);
    assert!(again.join("config.toml").exists());
    let run_config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(
        run_config.contains("epochs = 20") && run_config.contains("[reconstruct]"),
        "{run_config}"
    );
    assert_eq!(s2["latent_morans_i"].as_array().unwrap().len(), 2);
    // The calibrated uncertainty is written where users look and evaluated the same way by both commands.
    let placed = dpvae_data::io::read(&out.join("query_dpvae.h5ad")).unwrap();
    // run writes the same slots as embed (docs/placement.md), the posterior variances included.
    for key in ["X_dpvae", "X_dpvae_var", "spatial_dpvae"] {
        assert_eq!(placed.obsm[key].nrows(), 200, "obsm['{key}']");
    }
    for c in ["dpvae_radius_50", "dpvae_radius_90", "dpvae_confidence"] {
        let col = placed
            .obs
            .column(c)
            .unwrap_or_else(|_| panic!("no obs['{c}']"));
        assert_eq!(col.len(), 200);
    }
    let table = std::fs::read_to_string(out.join("query_coords.csv")).unwrap();
    assert!(
        table
            .lines()
            .next()
            .unwrap()
            .ends_with("dpvae_radius_50,dpvae_radius_90,dpvae_confidence"),
        "{}",
        table.lines().next().unwrap()
    );
    let cal = &summary["calibration"];
    let c90 = cal["coverage_90"]
        .as_f64()
        .expect("run reports calibration");
    assert!(
        c90 >= cal["coverage_50"].as_f64().unwrap() && c90 <= 1.0,
        "{cal}"
    );
    assert_eq!(
        &s2["calibration"], cal,
        "evaluate reads the radii back from obs"
    );
    // The placement coloured by confidence with each spot's 50% radius drawn around it.
    let fig = dir.path().join("confidence");
    dpvae()
        .args([
            "plot",
            "--coords",
            "obsm:spatial_dpvae",
            "--color",
            "confidence",
        ])
        .args(["--radius", "50", "--out"])
        .arg(&fig)
        .arg(out.join("query_dpvae.h5ad"))
        .assert()
        .success();
    assert!(fig.with_extension("png").exists() && fig.with_extension("svg").exists());
    let svg = std::fs::read_to_string(fig.with_extension("svg")).unwrap();
    assert!(
        svg.contains("dpvae_confidence"),
        "the ramp is named after the column"
    );
    dpvae()
        .args(["plot", "--radius", "70", "--out"])
        .arg(dir.path().join("bad"))
        .arg(out.join("query_dpvae.h5ad"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("50 or 90"));
    // evaluation without any true coordinates is a clear error
    let nocoords = dir.path().join("nocoords.csv");
    std::fs::write(&nocoords, "barcode,x,y\nnot-a-spot,0,0\n").unwrap();
    dpvae()
        .args(["evaluate", "--truth"])
        .arg(&nocoords)
        .arg("--out")
        .arg(dir.path().join("e2"))
        .arg(out.join("query_dpvae.h5ad"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("share only 0 barcodes"));
}

#[test]
fn errors_are_one_clear_paragraph() {
    let dir = tempfile::tempdir().unwrap();
    // a file that does not exist
    dpvae()
        .args(["inspect", "/nonexistent/section.h5ad"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("error:").and(predicate::str::contains("section.h5ad")));
    // a file of the wrong type
    let junk = dir.path().join("notes.xyz");
    std::fs::write(&junk, "hello").unwrap();
    dpvae()
        .arg("inspect")
        .arg(&junk)
        .assert()
        .failure()
        .stderr(predicate::str::contains("not a supported input"));
    // outputs are never overwritten without --force
    let tissue = simulate(dir.path());
    dpvae()
        .args(["simulate", "--n-spots", "100", "--n-genes", "50", "--out"])
        .arg(&tissue)
        .assert()
        .failure()
        .stderr(predicate::str::contains("--force"));
    // fewer than 3 anchors for a hard constraint
    let (_, embedded) = train_and_embed(dir.path(), &tissue, &["--epochs", "3", "--hvg", "30"]);
    let coords = dir.path().join("c.csv");
    dpvae()
        .arg("convert")
        .arg(&tissue)
        .arg(&coords)
        .assert()
        .success();
    let two: String = std::fs::read_to_string(&coords)
        .unwrap()
        .lines()
        .take(3)
        .map(|l| format!("{l}\n"))
        .collect();
    let anchors = dir.path().join("anchors.csv");
    std::fs::write(&anchors, two).unwrap();
    dpvae()
        .args(["impute", "--anchor-mode", "hard", "--anchors"])
        .arg(&anchors)
        .arg("--out")
        .arg(dir.path().join("i.h5ad"))
        .arg(&embedded)
        .assert()
        .failure()
        .stderr(predicate::str::contains("at least 3 anchors"));
    // coordinates needed but absent: a table without them cannot be compared
    dpvae()
        .args(["train", "--mask", "bogus:1", "--out"])
        .arg(dir.path().join("m2"))
        .arg(&tissue)
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("'--mask <MASK>'").and(predicate::str::contains(
                "unknown mask (expected none, knn:K",
            )),
        );
}

#[test]
fn print_config_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let out = dpvae()
        .args([
            "train",
            "x.h5ad",
            "--out",
            "m",
            "--epochs",
            "42",
            "--alpha2",
            "3",
            "--print-config",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("epochs = 42"), "{text}");
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(&cfg, &text).unwrap();
    // the printed config is accepted back, and flags still win over it
    let out = dpvae()
        .args([
            "train",
            "x.h5ad",
            "--out",
            "m",
            "--epochs",
            "7",
            "--print-config",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = String::from_utf8(out.stdout).unwrap();
    assert!(
        again.contains("epochs = 7") && again.contains("alpha2 = 3"),
        "{again}"
    );
}

#[test]
fn real_section_reads_and_trains() {
    let Some(path) = dpvae_data::testdata::require(
        "real_section_reads_and_trains",
        "panel/visium_V1_Adult_Mouse_Brain_top100.h5ad",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dpvae()
        .args(["inspect", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    let info = json_of(&out.stdout);
    assert_eq!(info["n_obs"], 2702);
    assert_eq!(info["n_vars"], 100);
    let (_, emb) = train_and_embed(dir.path(), &path, &["--epochs", "5"]);
    let out = dpvae()
        .args(["procrustes", "--json", "--estimate-key", "spatial_dpvae"])
        .arg(&path)
        .arg(&emb)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_of(&out.stdout)["n"], 2702);
}

#[test]
fn demo_writes_figures_results_and_its_settings() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let args = [
        "demo",
        "--n-spots",
        "200",
        "--n-genes",
        "120",
        "--epochs",
        "5",
        "--seed",
        "2",
    ];
    dpvae().args(args).arg("--out").arg(&out).assert().success();
    for f in [
        "reconstruction.png",
        "reconstruction.svg",
        "training_curves.png",
        "results.json",
        "config.toml",
    ] {
        assert!(out.join(f).exists(), "missing {f}");
    }
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["seed"], 2);
    assert_eq!(results["n_test"], 40);
    // the stored settings reproduce the run: --config with them prints the same settings
    let stored = std::fs::read_to_string(out.join("config.toml")).unwrap();
    let again = dpvae()
        .args(["demo", "--print-config", "--config"])
        .arg(out.join("config.toml"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(again.stdout).unwrap(), stored);
    assert!(stored.contains("n_spots = 200") && stored.contains("seed = 2"));
}

/// A copy of the simulated tissue with `edit` applied, written by the data layer (as any h5ad a user brings).
fn edited_copy(src: &Path, dst: &Path, edit: impl FnOnce(&mut dpvae_data::SpatialData)) -> PathBuf {
    let mut data = dpvae_data::io::read(src).unwrap();
    edit(&mut data);
    dpvae_data::io::h5ad::write_h5ad(dst, &data).unwrap();
    dst.to_path_buf()
}

#[test]
fn data_that_cannot_serve_the_step_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let tissue = simulate(dir.path());
    let no_coords = edited_copy(&tissue, &dir.path().join("no_coords.h5ad"), |d| {
        d.spatial = None
    });
    let other_genes = edited_copy(&tissue, &dir.path().join("other_genes.h5ad"), |d| {
        for g in d.var_names.iter_mut() {
            *g = format!("other-{g}");
        }
    });
    // a dp-VAE needs the reference's coordinates; the message names the way out (a plain VAE)
    dpvae()
        .args(["train", "--epochs", "2", "--out"])
        .arg(dir.path().join("m_nocoords"))
        .arg(&no_coords)
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("the reference has no coordinates")
                .and(predicate::str::contains("--alpha2 0")),
        );
    assert!(
        !dir.path().join("m_nocoords").exists(),
        "no half-written model"
    );
    // a plain VAE trains without them
    let (model, _) = train_and_embed(
        dir.path(),
        &no_coords,
        &["--epochs", "3", "--hvg", "30", "--alpha2", "0"],
    );
    // a query whose genes do not overlap the model's cannot be embedded
    dpvae()
        .arg("embed")
        .arg(&model)
        .arg(&other_genes)
        .arg("--out")
        .arg(dir.path().join("q.h5ad"))
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("do reference and query share genes")
                .and(predicate::str::contains("are missing from the query")),
        );
    assert!(!dir.path().join("q.h5ad").exists());
    // evaluation needs true coordinates: neither --truth nor obsm['spatial'] in the input
    let embedded = dir.path().join("embedded.h5ad");
    let rec = dir.path().join("rec.h5ad");
    dpvae()
        .arg("reconstruct")
        .arg(&embedded)
        .arg("--out")
        .arg(&rec)
        .assert()
        .success();
    dpvae()
        .arg("evaluate")
        .arg(&rec)
        .arg("--out")
        .arg(dir.path().join("eval"))
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "evaluation needs the true coordinates",
        ));
    // `run` on a query without coordinates places it and skips the evaluation instead of failing
    let out = dir.path().join("run");
    dpvae()
        .args(["run", "--epochs", "3", "--hvg", "30", "--out"])
        .arg(&out)
        .arg(&tissue)
        .arg(&no_coords)
        .assert()
        .success();
    assert!(out.join("query_coords.csv").exists());
    assert!(!out.join("evaluation.json").exists());
}

/// `run --transfer-obs domain` carries the reference's domain label to the placed query, with a probability;
/// a column the reference lacks is refused before training.
#[test]
fn run_transfers_a_reference_label() {
    let dir = tempfile::tempdir().unwrap();
    let data = simulate(dir.path());
    let tissue = dpvae_data::io::read(&data).unwrap();
    let split = dpvae_data::split::train_test_split(tissue.n_obs(), 0.2, 0).unwrap();
    let reference = dir.path().join("reference.h5ad");
    let query = dir.path().join("query.h5ad");
    dpvae_data::io::h5ad::write_h5ad(&reference, &tissue.select_obs(&split.train).unwrap())
        .unwrap();
    dpvae_data::io::h5ad::write_h5ad(&query, &tissue.select_obs(&split.test).unwrap()).unwrap();
    let out = dir.path().join("run");
    dpvae()
        .args([
            "run",
            "--epochs",
            "40",
            "--members",
            "2",
            "--transfer-obs",
            "domain",
            "--out",
        ])
        .arg(&out)
        .arg(&reference)
        .arg(&query)
        .assert()
        .success();
    let placed = dpvae_data::io::read(&out.join("query_dpvae.h5ad")).unwrap();
    let (got, got_names) = dpvae::anndata::obs_labels(&placed, "dpvae_domain").unwrap();
    let (truth, names) = dpvae::anndata::obs_labels(&placed, "domain").unwrap();
    let hits = (got.iter().zip(&truth))
        .filter(|(g, t)| got_names[**g] == names[**t])
        .count();
    // Seven domains: chance is about 1 in 7.
    assert!(
        hits as f64 > 0.5 * truth.len() as f64,
        "{hits} of {}",
        truth.len()
    );
    let prob = placed
        .obs
        .column("dpvae_domain_prob")
        .unwrap()
        .f64()
        .unwrap();
    assert!(prob.iter().all(|p| p.is_some_and(|p| p > 0.0 && p <= 1.0)));
    dpvae()
        .args(["run", "--epochs", "2", "--transfer-obs", "nope", "--out"])
        .arg(dir.path().join("other"))
        .arg(&reference)
        .arg(&query)
        .assert()
        .failure()
        .stderr(predicate::str::contains("no obs column 'nope'"));
}
