//! First-use friction and silent wrong answers: a closed pipe ends `dpvae` quietly, absurd sizes are refused
//! at once, partial barcode matches and a reference without spread are errors, and `convert` takes `--out`.

use std::io::Read;
use std::process::{Command as Process, Stdio};

use predicates::prelude::*;

mod common;
use common::{dpvae, simulate_sized};

#[test]
fn a_closed_pipe_ends_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate_sized(tmp.path(), 200, 30);
    // As `dpvae procrustes A B --json | head -0`: the reader is gone before anything is printed.
    let mut child = Process::new(env!("CARGO_BIN_EXE_dpvae"))
        .args(["procrustes", "--json", "--estimate-key", "spatial"])
        .arg(&data)
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}

#[test]
fn thread_counts_are_bounded() {
    dpvae()
        .args(["--threads", "100000", "simulate", "--out", "never.h5ad"])
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .failure()
        .stderr(predicate::str::contains("from 1 to 1024"));
    dpvae()
        .args(["--threads", "0", "simulate", "--out", "never.h5ad"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("from 1 to 1024"));
}

#[test]
fn non_finite_numbers_are_refused_by_flag_name() {
    for (command, flag) in [
        ("simulate", "--noise"),
        ("impute", "--gamma"),
        ("preprocess", "--min-counts"),
    ] {
        dpvae()
            .args([command, flag, "NaN"])
            .assert()
            .failure()
            .stderr(
                predicate::str::contains(format!("'{flag} <"))
                    .and(predicate::str::contains("must be a finite number, got NaN")),
            );
    }
}

fn coord_csv(path: &std::path::Path, barcodes: impl Iterator<Item = String>) {
    let mut text = String::from("barcode,x,y\n");
    for (i, b) in barcodes.enumerate() {
        text.push_str(&format!("{b},{},{}\n", i % 7, (i * i) % 11));
    }
    std::fs::write(path, text).unwrap();
}

/// Visium barcodes repeat across slides, so the wrong section's truth matched thousands of spots and gave a
/// plausible disparity with only a warning: below 90% shared it is an error unless --allow-partial.
#[test]
fn procrustes_refuses_a_partial_barcode_match() {
    let tmp = tempfile::tempdir().unwrap();
    let (truth, estimate) = (tmp.path().join("t.csv"), tmp.path().join("e.csv"));
    coord_csv(&truth, (0..20).map(|i| format!("AAA{i}-1")));
    coord_csv(&estimate, (0..20).map(|i| format!("AAA{}-1", i + 5)));
    dpvae()
        .arg("procrustes")
        .arg(&truth)
        .arg(&estimate)
        .assert()
        .failure()
        .stderr(predicate::str::contains("75.0%").and(predicate::str::contains("--allow-partial")));
    // Not quiet: the warning is printed once, and without colour codes when stderr is not a terminal.
    let out = assert_cmd::Command::cargo_bin("dpvae")
        .unwrap()
        .args(["procrustes", "--allow-partial"])
        .arg(&truth)
        .arg(&estimate)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("spots compared: 15"), "{stdout}");
    assert_eq!(stderr.matches("only in the truth").count(), 1, "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in a pipe: {stderr:?}"
    );
}

#[test]
fn a_reference_with_every_spot_at_one_position_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate_sized(tmp.path(), 200, 40);
    let mut tissue = dpvae_data::io::read(&data).unwrap();
    tissue.spatial.as_mut().unwrap().fill(12.5);
    let flat = tmp.path().join("flat.h5ad");
    dpvae_data::io::h5ad::write_h5ad(&flat, &tissue).unwrap();
    dpvae()
        .args(["train", "--epochs", "2", "--out"])
        .arg(tmp.path().join("model"))
        .arg(&flat)
        .assert()
        .failure()
        .stderr(predicate::str::contains("one position"));
    assert!(!tmp.path().join("model").exists());
}

/// Sizes typed by a user are bounded with the limit stated, instead of allocating tens of gigabytes first.
#[test]
fn absurd_sizes_are_refused_up_front() {
    let tmp = tempfile::tempdir().unwrap();
    dpvae()
        .args(["simulate", "--n-spots", "1000000000000", "--out"])
        .arg(tmp.path().join("big.h5ad"))
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .failure()
        .stderr(predicate::str::contains("n_spots must be at most 10000000"));
    let data = simulate_sized(tmp.path(), 200, 40);
    dpvae()
        .args(["train", "--hidden", "100000,100000", "--out"])
        .arg(tmp.path().join("model"))
        .arg(&data)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .failure()
        .stderr(predicate::str::contains("more than the 16384"));
}

#[test]
fn convert_takes_its_output_as_out_too() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate_sized(tmp.path(), 100, 30);
    let (a, b) = (tmp.path().join("a.csv"), tmp.path().join("b.csv"));
    dpvae().arg("convert").arg(&data).arg(&a).assert().success();
    dpvae()
        .args(["convert", "--out"])
        .arg(&b)
        .arg(&data)
        .assert()
        .success();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    dpvae()
        .arg("convert")
        .arg(&data)
        .arg(tmp.path().join("c.csv"))
        .arg("--out")
        .arg(tmp.path().join("d.csv"))
        .assert()
        .failure();
}
