//! First-use friction: a closed pipe ends `dpvae` quietly, and an absurd thread count is refused at once.

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
