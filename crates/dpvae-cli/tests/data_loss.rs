//! Never lose a model (issue #28): leftover temporaries do not block a later `--force`.

use std::path::{Path, PathBuf};

mod common;
use common::{dpvae, simulate_sized};

/// Hidden entries (dpvae's temporaries and lock files) in `dir` and its subfolders.
fn hidden(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if e.file_name().to_string_lossy().starts_with('.') {
                found.push(path);
            } else if path.is_dir() {
                stack.push(path);
            }
        }
    }
    found
}

/// Issue #28, item 3: a temporary a killed writer left inside a model directory (`TM/.config.toml.tmp-*`)
/// made every later `train --force` refuse with "holds files dpvae did not write", although dpvae wrote it.
#[test]
fn temporaries_left_in_a_model_directory_do_not_block_force() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate_sized(tmp.path(), 300, 60);
    let model = tmp.path().join("TM");
    let train = |force: bool| {
        let mut c = dpvae();
        if force {
            c.arg("--force");
        }
        c.args([
            "train",
            "--epochs",
            "2",
            "--members",
            "1",
            "--pca",
            "10",
            "--out",
        ])
        .arg(&model)
        .arg(&data);
        c
    };
    train(false).assert().success();
    for leftover in [
        ".config.toml.tmp-544-123456789",
        ".history.csv.tmp-9-1",
        ".model.mpk.tmp-77",
    ] {
        std::fs::write(model.join(leftover), "partial").unwrap();
    }
    train(true).assert().success();
    assert_eq!(
        hidden(&model),
        Vec::<PathBuf>::new(),
        "the leftovers went with the old model"
    );
    // A hidden file that is not a temporary of a dpvae file is still someone else's.
    std::fs::write(model.join(".notes.txt.tmp-1-2"), "mine").unwrap();
    train(true)
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "did not write (.notes.txt.tmp-1-2)",
        ));
    assert!(model.join(".notes.txt.tmp-1-2").is_file());
}
