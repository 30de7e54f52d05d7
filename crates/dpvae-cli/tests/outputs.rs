//! Nothing lost: `--force` replaces a model directory in one atomic step (a kill at the dangerous moment leaves
//! a complete model), never deletes files dpvae did not write, and `run` checks every output before writing any.

use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use dpvae_model::SavedModel;
use predicates::prelude::*;

mod common;
use common::{dpvae, simulate_sized};

fn simulate(dir: &Path) -> PathBuf {
    simulate_sized(dir, 300, 60)
}

const QUICK: [&str; 6] = ["--epochs", "3", "--members", "1", "--pca", "10"];

fn train(data: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = dpvae();
    c.arg("train")
        .args(QUICK)
        .args(extra)
        .arg("--out")
        .arg(out)
        .arg(data);
    c
}

/// The hidden directory `dpvae` assembles the new model in, beside `dir`.
fn staging_dirs(dir: &Path) -> Vec<PathBuf> {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!(".{name}.tmp-")))
        })
        .collect()
}

#[test]
fn force_never_leaves_the_model_directory_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate(tmp.path());
    let model = tmp.path().join("model");
    train(&data, &model, &[]).assert().success();
    for round in 0..3 {
        // Watch the replacement as closely as the machine allows, and SIGKILL the process the moment the new
        // model is complete beside the old one (the campaign's dangerous moment: the old code had deleted the
        // old model by then).
        let mut child = Process::new(env!("CARGO_BIN_EXE_dpvae"))
            .args(["-q", "--force", "train"])
            .args(QUICK)
            .args(["--seed", &round.to_string(), "--out"])
            .arg(&model)
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let mut killed = false;
        loop {
            assert!(
                model.join("manifest.json").is_file(),
                "round {round}: the model directory was missing while it was being replaced"
            );
            if staging_dirs(&model)
                .iter()
                .any(|d| d.join("manifest.json").is_file())
            {
                let _ = child.kill();
                killed = true;
            }
            if killed || child.try_wait().unwrap().is_some() {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(120), "training hung");
        }
        child.wait().unwrap();
        let saved = SavedModel::load(&model);
        assert!(saved.is_ok(), "round {round} (killed: {killed}): {saved:?}");
        // A SIGKILL can leave the hidden staging directory, which is safe to delete (docs/formats.md).
        for d in staging_dirs(&model) {
            std::fs::remove_dir_all(d).unwrap();
        }
    }
}

#[test]
fn force_refuses_to_delete_files_dpvae_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate(tmp.path());
    let model = tmp.path().join("model");
    train(&data, &model, &[]).assert().success();
    let before = std::fs::read(model.join("model.mpk")).unwrap();
    std::fs::write(model.join("notes.txt"), "mine").unwrap();
    let started = Instant::now();
    // A long run: the refusal must come before training.
    dpvae()
        .args([
            "--force",
            "train",
            "--epochs",
            "200",
            "--members",
            "1",
            "--out",
        ])
        .arg(&model)
        .arg(&data)
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "holds files dpvae did not write (notes.txt)",
        ));
    // Refused before training, not after it.
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(
        std::fs::read_to_string(model.join("notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(std::fs::read(model.join("model.mpk")).unwrap(), before);
    // Without the foreign file, --force replaces the model.
    std::fs::remove_file(model.join("notes.txt")).unwrap();
    train(&data, &model, &["--force", "--seed", "9"])
        .assert()
        .success();
    assert_ne!(std::fs::read(model.join("model.mpk")).unwrap(), before);
    assert!(model.join("history.csv").is_file() && model.join("config.toml").is_file());
}

#[test]
fn run_checks_every_output_before_writing_any() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate(tmp.path());
    let out = tmp.path().join("run");
    std::fs::create_dir(&out).unwrap();
    for existing in [
        "query_coords.csv",
        "config.toml",
        "evaluation.json",
        "per_spot_error.csv",
    ] {
        let path = out.join(existing);
        std::fs::write(&path, "earlier result").unwrap();
        dpvae()
            .arg("run")
            .args(QUICK)
            .arg("--out")
            .arg(&out)
            .arg(&data)
            .arg(&data)
            .assert()
            .failure()
            .stderr(predicate::str::contains(existing).and(predicate::str::contains("--force")));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "earlier result");
        assert!(
            !out.join("model").exists(),
            "nothing written after a refusal"
        );
        std::fs::remove_file(&path).unwrap();
    }
}

/// `plot`, `autocorr`, `convert` and `demo` each wrote several files but checked only one: a file beside it
/// (the `.svg`, the `.config.toml`) was overwritten without --force.
#[test]
fn every_output_of_every_command_is_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate(tmp.path());
    let d = tmp.path();
    let cases: Vec<(Vec<String>, PathBuf)> = vec![
        (
            vec![
                "plot".into(),
                "--out".into(),
                d.join("fig").display().to_string(),
            ],
            d.join("fig.svg"),
        ),
        (
            vec![
                "plot".into(),
                "--out".into(),
                d.join("fig2").display().to_string(),
            ],
            d.join("fig2.config.toml"),
        ),
        (
            vec![
                "autocorr".into(),
                "--out".into(),
                d.join("ac.csv").display().to_string(),
            ],
            d.join("ac.config.toml"),
        ),
        (
            vec![
                "convert".into(),
                "--out".into(),
                d.join("c.csv").display().to_string(),
            ],
            d.join("c.config.toml"),
        ),
        (
            vec![
                "demo".into(),
                "--out".into(),
                d.join("demo").display().to_string(),
            ],
            d.join("demo/training_curves.svg"),
        ),
    ];
    for (args, existing) in cases {
        std::fs::create_dir_all(existing.parent().unwrap()).unwrap();
        std::fs::write(&existing, "earlier result").unwrap();
        let mut c = dpvae();
        c.args(&args);
        if args[0] != "demo" {
            c.arg(&data);
        }
        c.assert().failure().stderr(
            predicate::str::contains(existing.file_name().unwrap().to_string_lossy())
                .and(predicate::str::contains("--force")),
        );
        assert_eq!(
            std::fs::read_to_string(&existing).unwrap(),
            "earlier result",
            "{args:?}"
        );
    }
}

/// A `run` or `evaluate` that fails on its input writes nothing: `run` used to leave a complete `model/`
/// when placement failed, and `evaluate` a `per_spot_error.csv` when its kNN graph could not be built. What
/// used to fail only after training (a 3-column `obsm['spatial']` beside a 2-column reference; a query too
/// small for the evaluation's graph) is decided before it (issue #28, item 11).
#[test]
fn a_command_that_fails_on_its_input_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate(tmp.path());
    let tissue = dpvae_data::io::read(&data).unwrap();
    let tiny = tmp.path().join("tiny.h5ad");
    dpvae_data::io::h5ad::write_h5ad(&tiny, &tissue.select_obs(&[0, 1, 2]).unwrap()).unwrap();
    let mut solid = tissue.select_obs(&(0..60).collect::<Vec<_>>()).unwrap();
    let xy = solid.spatial.take().unwrap();
    solid.spatial = Some(ndarray::concatenate![
        ndarray::Axis(1),
        xy,
        ndarray::Array2::zeros((60, 1))
    ]);
    let three_d = tmp.path().join("three_d.h5ad");
    dpvae_data::io::h5ad::write_h5ad(&three_d, &solid).unwrap();
    let out = tmp.path().join("run");
    dpvae()
        .arg("run")
        .args(QUICK)
        .arg("--out")
        .arg(&out)
        .arg(&data)
        .arg(&three_d)
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "has 3 columns but the reference's has 2",
        ));
    let left: Vec<_> = std::fs::read_dir(&out)
        .map(|r| r.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "a failed run left {left:?}");
    // Three spots are placed, without the evaluation their neighbour graph cannot support.
    let small = tmp.path().join("small");
    Command::cargo_bin("dpvae")
        .unwrap()
        .args([
            "run",
            "--epochs",
            "3",
            "--members",
            "1",
            "--pca",
            "10",
            "--out",
        ])
        .arg(&small)
        .arg(&data)
        .arg(&tiny)
        .assert()
        .success()
        .stderr(predicate::str::contains("placed without an evaluation"));
    assert!(small.join("query_coords.csv").exists());
    assert!(!small.join("evaluation.json").exists());

    dpvae()
        .arg("run")
        .args(QUICK)
        .arg("--out")
        .arg(&out)
        .arg(&data)
        .arg(&data)
        .assert()
        .success();
    let evaluation = tmp.path().join("evaluation");
    dpvae()
        .args(["evaluate", "--k", "300", "--out"])
        .arg(&evaluation)
        .arg(out.join("query_dpvae.h5ad"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("300"));
    assert!(
        !evaluation.exists(),
        "a failed evaluate wrote into its folder"
    );
    dpvae()
        .args(["evaluate", "--k", "0", "--out"])
        .arg(&evaluation)
        .arg(out.join("query_dpvae.h5ad"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("--k").and(predicate::str::contains("1 or more")));
}

/// Ctrl-C or SIGTERM while an output is being written removes the hidden temporary it was writing (they used
/// to be left behind, one of 637 MB), and the process still ends by that signal.
#[cfg(unix)]
#[test]
fn an_interrupted_write_leaves_no_temporary_file() {
    use std::os::unix::process::ExitStatusExt;
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("big.h5ad");
        let mut child = Process::new(env!("CARGO_BIN_EXE_dpvae"))
            .args([
                "-q",
                "simulate",
                "--n-spots",
                "60000",
                "--n-genes",
                "300",
                "--out",
            ])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let temporaries = || {
            std::fs::read_dir(tmp.path())
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .filter(|n| n.contains(".tmp-"))
                .collect::<Vec<_>>()
        };
        let start = Instant::now();
        let mut signalled = false;
        while child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(300) {
            if !temporaries().is_empty() {
                // SAFETY: kill(2) on the child's pid, which has not been reaped (try_wait saw it running).
                unsafe { libc::kill(child.id() as libc::pid_t, signal) };
                signalled = true;
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let status = child.wait().unwrap();
        if !signalled {
            // The write finished between two looks: nothing to test this round, but nothing may be left either.
            assert!(status.success());
        } else {
            assert_eq!(status.signal(), Some(signal), "{status:?}");
            assert!(!out.exists(), "a half-written output appeared");
        }
        assert_eq!(temporaries(), Vec::<String>::new());
    }
}
