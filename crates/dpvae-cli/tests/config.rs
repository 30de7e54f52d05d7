//! Every command's configuration: `--print-config` prints TOML that `--config` takes back unchanged, flags win
//! over the file, unknown keys are errors naming the file and the key, and `--seed` / `--backend` are accepted
//! everywhere and land in the settings of the commands they affect. None of these runs does any work.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

/// Each command with placeholder arguments: `--print-config` reads and writes nothing.
const COMMANDS: &[(&str, &[&str])] = &[
    ("demo", &[]),
    ("inspect", &["x.h5ad"]),
    ("convert", &["x.h5ad", "y.h5ad"]),
    ("simulate", &["--out", "y.h5ad"]),
    ("preprocess", &["x.h5ad", "y.h5ad"]),
    ("train", &["x.h5ad", "--out", "model"]),
    ("embed", &["model", "x.h5ad", "--out", "y.h5ad"]),
    ("reconstruct", &["x.h5ad", "--out", "y.h5ad"]),
    ("impute", &["x.h5ad", "--out", "y.h5ad"]),
    ("procrustes", &["a.h5ad", "b.h5ad"]),
    ("autocorr", &["x.h5ad", "--out", "a.csv"]),
    ("evaluate", &["x.h5ad", "--out", "eval"]),
    ("run", &["a.h5ad", "b.h5ad", "--out", "run"]),
    ("plot", &["x.h5ad", "--out", "fig"]),
    ("correlate", &["x.h5ad"]),
];

fn print_config(cmd: &str, args: &[&str], extra: &[&str], config: Option<&Path>) -> String {
    let mut c = Command::cargo_bin("dpvae").unwrap();
    c.arg(cmd).args(args).args(extra).arg("--print-config");
    if let Some(p) = config {
        c.arg("--config").arg(p);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "dpvae {cmd} --print-config failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn toml_of(text: &str) -> toml::Table {
    toml::from_str(text).unwrap_or_else(|e| panic!("not TOML ({e}):\n{text}"))
}

#[test]
fn every_command_prints_a_config_it_accepts_back() {
    let dir = tempfile::tempdir().unwrap();
    for (cmd, args) in COMMANDS {
        let text = print_config(cmd, args, &[], None);
        assert!(text.starts_with(&format!("# dpvae {cmd} ")), "{text}");
        toml_of(&text);
        let path = dir.path().join(format!("{cmd}.toml"));
        std::fs::write(&path, &text).unwrap();
        assert_eq!(
            print_config(cmd, args, &[], Some(&path)),
            text,
            "dpvae {cmd}: the printed config read back is not the same"
        );
        // (the inputs do not exist: success shows that --print-config stops before any work)

        let bad = dir.path().join(format!("{cmd}_bad.toml"));
        std::fs::write(&bad, format!("{text}\nnot_a_setting = 1\n")).unwrap();
        Command::cargo_bin("dpvae")
            .unwrap()
            .arg(cmd)
            .args(*args)
            .arg("--config")
            .arg(&bad)
            .assert()
            .failure()
            .stderr(
                predicate::str::contains("not_a_setting`")
                    .and(predicate::str::contains(format!("{cmd}_bad.toml"))),
            );
    }
}

#[test]
fn seed_and_backend_are_settings_of_the_commands_they_affect() {
    let seeded = [
        "demo",
        "embed",
        "simulate",
        "reconstruct",
        "impute",
        "autocorr",
        "correlate",
    ];
    let with_backend = ["demo", "embed", "train", "run"];
    for (cmd, args) in COMMANDS {
        let t = toml_of(&print_config(
            cmd,
            args,
            &["--seed", "17", "--backend", "ndarray"],
            None,
        ));
        let seed = match *cmd {
            "train" | "run" => t["train"]["seed"].as_integer(),
            _ => t.get("seed").and_then(|v| v.as_integer()),
        };
        let expect_seed = seeded.contains(cmd) || matches!(*cmd, "train" | "run");
        assert_eq!(seed, expect_seed.then_some(17), "dpvae {cmd}: {t}");
        let backend = t.get("backend").and_then(|v| v.as_str());
        assert_eq!(
            backend,
            with_backend.contains(cmd).then_some("ndarray"),
            "dpvae {cmd}: {t}"
        );
    }
}

#[test]
fn flags_win_over_the_file_and_the_file_over_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("autocorr.toml");
    std::fs::write(&cfg, "k = 7\nperms = 5\nweights = \"row\"\nseed = 3\n").unwrap();
    let t = toml_of(&print_config(
        "autocorr",
        &["x.h5ad", "--out", "a.csv"],
        &["--k", "9", "--seed", "4"],
        Some(&cfg),
    ));
    assert_eq!(t["k"].as_integer(), Some(9), "flag wins: {t}");
    assert_eq!(t["seed"].as_integer(), Some(4), "global flag wins: {t}");
    assert_eq!(
        t["perms"].as_integer(),
        Some(5),
        "file wins over default: {t}"
    );
    assert_eq!(t["weights"].as_str(), Some("row"));
    assert_eq!(t["features"].as_str(), Some("genes"), "default kept: {t}");

    // nested tables: a train config with a k-nearest-neighbour mask, and a flag that overrides the file
    let cfg = dir.path().join("train.toml");
    std::fs::write(
        &cfg,
        "backend = \"ndarray\"\n[train]\nepochs = 11\nalpha2 = 50.0\n[train.mask]\nkind = \"knn\"\nk = 6\n",
    )
    .unwrap();
    let t = toml_of(&print_config(
        "train",
        &["x.h5ad", "--out", "m"],
        &["--epochs", "3"],
        Some(&cfg),
    ));
    assert_eq!(t["train"]["epochs"].as_integer(), Some(3));
    assert_eq!(t["train"]["alpha2"].as_float(), Some(50.0));
    assert_eq!(t["train"]["mask"]["k"].as_integer(), Some(6));
    assert_eq!(t["backend"].as_str(), Some("ndarray"));
}

/// `dpvae ARGS --config FILE` (FILE holding `text`, or missing when `None`) fails, saying each of `needles`.
fn config_fails(args: &[&str], file: &Path, text: Option<&str>, needles: &[&str]) {
    if let Some(t) = text {
        std::fs::write(file, t).unwrap();
    }
    let out = Command::cargo_bin("dpvae")
        .unwrap()
        .args(args)
        .arg("--config")
        .arg(file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "dpvae {args:?} accepted {text:?}");
    for n in needles {
        assert!(
            err.contains(n),
            "dpvae {args:?} with {text:?}: no '{n}' in: {err}"
        );
    }
}

#[test]
fn bad_config_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let train = ["train", "x.h5ad", "--out", "m"];
    let autocorr = ["autocorr", "x.h5ad", "--out", "a.csv"];
    let nested = d.join("nested.toml");
    config_fails(
        &train,
        &nested,
        Some("[train]\nepoch = 5\n"),
        &["`train.epoch`", "nested.toml"],
    );
    let typed = d.join("typed.toml");
    config_fails(
        &autocorr,
        &typed,
        Some("k = \"five\"\n"),
        &["`k`", "a number", "typed.toml"],
    );
    let broken = d.join("broken.toml");
    config_fails(
        &autocorr,
        &broken,
        Some("k = = 5\n"),
        &["broken.toml is not valid TOML"],
    );
    let missing = d.join("missing.toml");
    config_fails(
        &autocorr,
        &missing,
        None,
        &["could not read the config file", "missing.toml"],
    );
}

#[test]
fn unknown_backends_and_unavailable_cuda_are_clear_errors() {
    Command::cargo_bin("dpvae")
        .unwrap()
        .args([
            "embed",
            "m",
            "x.h5ad",
            "--out",
            "y.h5ad",
            "--backend",
            "tpu",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("unknown backend `tpu`"));
    if cfg!(feature = "cuda") {
        eprintln!("skipped the no-cuda check: this build has the cuda feature");
        return;
    }
    // checked before any input is read: the inputs here do not exist
    for args in [
        &["train", "x.h5ad", "--out", "m"][..],
        &["embed", "m", "x.h5ad", "--out", "y.h5ad"][..],
        &["demo", "--out", "d"][..],
    ] {
        Command::cargo_bin("dpvae")
            .unwrap()
            .args(args)
            .args(["--backend", "cuda"])
            .assert()
            .failure()
            .stderr(
                predicate::str::contains("--backend cuda")
                    .and(predicate::str::contains("--features cuda"))
                    .and(predicate::str::contains("panicked").not()),
            );
    }
}

/// NaN or infinity given to a training flag used to become JSON null ("not given") and the default was used
/// silently; now the flag is named and nothing runs (checked before any input is read).
#[test]
fn non_finite_training_flags_are_refused_by_name() {
    for (flag, value) in [
        ("--lr", "NaN"),
        ("--alpha2", "inf"),
        ("--beta", "NaN"),
        ("--validation-fraction", "NaN"),
    ] {
        for cmd in [
            &["train", "x.h5ad", "--out", "m"][..],
            &["run", "r.h5ad", "q.h5ad", "--out", "o"][..],
        ] {
            Command::cargo_bin("dpvae")
                .unwrap()
                .args(cmd)
                .args([flag, value, "--print-config"])
                .assert()
                .failure()
                .stderr(predicate::str::contains(format!(
                    "{flag} must be a finite number"
                )));
        }
    }
}
