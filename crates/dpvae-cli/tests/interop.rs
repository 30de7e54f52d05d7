//! An h5ad written by the `dpvae` binary, read by Python anndata: the simulator's output through `train`,
//! `embed` and `reconstruct`. Python (`tests/anndata_check.py`) checks obsm['X_dpvae'], obsm['spatial_dpvae'] and
//! that `uns['dpvae'][command]['config']` holds each step's effective settings; the settings anndata read are
//! then given back to `--config` and must give the same effective settings. The Python part runs when
//! `DPVAE_PYTHON` names a Python with anndata (`.ci/run` makes one) and prints "skipped" otherwise; the same
//! checks through dpvae's own reader always run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};

fn python() -> Option<PathBuf> {
    match std::env::var_os("DPVAE_PYTHON").filter(|v| !v.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            eprintln!(
                "skipped the anndata part: DPVAE_PYTHON is not set (point it at a python with anndata)"
            );
            None
        }
    }
}

/// One step of the workflow: the command, its paths, and the flags that are settings.
struct Step {
    command: &'static str,
    paths: Vec<OsString>,
    flags: Vec<&'static str>,
}

impl Step {
    /// `paths`: the positional arguments and `--out`, as they are given.
    fn new(command: &'static str, paths: &[&dyn AsRef<Path>], flags: &[&'static str]) -> Self {
        Step {
            command,
            paths: paths
                .iter()
                .map(|p| p.as_ref().as_os_str().to_owned())
                .collect(),
            flags: flags.to_vec(),
        }
    }

    fn cmd(&self, with_flags: bool) -> Command {
        let mut c = Command::cargo_bin("dpvae").unwrap();
        c.arg("-q").arg(self.command).args(&self.paths);
        if with_flags {
            c.args(&self.flags);
        }
        c
    }

    fn run(&self) {
        let out = self.cmd(true).output().unwrap();
        assert!(
            out.status.success(),
            "dpvae {} failed: {}",
            self.command,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `--print-config` with the step's flags, or with only a config file.
    fn printed(&self, config: Option<&Path>) -> String {
        let mut c = self.cmd(config.is_none());
        c.arg("--print-config");
        if let Some(p) = config {
            c.arg("--config").arg(p);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn printed_json(&self) -> Value {
        let table: toml::Table = toml::from_str(&self.printed(None)).unwrap();
        serde_json::to_value(table).unwrap()
    }
}

#[test]
fn anndata_reads_dpvae_output_and_its_stored_settings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (tissue, model) = (d.join("tissue.h5ad"), d.join("model"));
    let (embedded, rec) = (d.join("embedded.h5ad"), d.join("rec.h5ad"));
    let n_spots = 150;
    let latent_dim = 3;
    let simulate = Step::new(
        "simulate",
        &[&"--out", &tissue],
        &[
            "--n-spots",
            "150",
            "--n-genes",
            "60",
            "--noise",
            "0.5",
            "--seed",
            "4",
        ],
    );
    let train = Step::new(
        "train",
        &[&tissue, &"--out", &model],
        &[
            "--epochs",
            "3",
            "--hvg",
            "30",
            "--latent-dim",
            "3",
            "--seed",
            "2",
        ],
    );
    let embed = Step::new(
        "embed",
        &[&model, &tissue, &"--out", &embedded],
        &["--backend", "ndarray"],
    );
    let reconstruct = Step::new(
        "reconstruct",
        &[&embedded, &"--out", &rec],
        &["--method", "smacof", "--gamma", "2.5", "--seed", "5"],
    );
    for step in [&simulate, &train, &embed, &reconstruct] {
        step.run();
    }
    let stored_steps = [&simulate, &embed, &reconstruct];
    let configs: serde_json::Map<String, Value> = stored_steps
        .iter()
        .map(|s| (s.command.to_string(), s.printed_json()))
        .collect();
    assert_eq!(configs["reconstruct"]["gamma"], 2.5);
    assert_eq!(configs["reconstruct"]["seed"], 5);
    assert_eq!(configs["embed"]["backend"], "ndarray");

    // dpvae's own reader: every step's settings are in uns['dpvae'], exactly as --print-config printed them
    let back = dpvae_data::io::read(&rec).unwrap();
    assert_eq!(back.obsm["X_dpvae"].dim(), (n_spots, latent_dim));
    assert_eq!(back.obsm["spatial_dpvae"].dim(), (n_spots, 2));
    for (command, config) in &configs {
        assert_eq!(
            &back.uns["dpvae"][command]["config"], config,
            "uns['dpvae']['{command}']['config']"
        );
    }
    assert_eq!(back.uns["dpvae"]["reconstruct"]["method"], "smacof");

    let Some(py) = python() else { return };
    let expected = d.join("expected.json");
    let read_back = d.join("read_back.json");
    std::fs::write(
        &expected,
        json!({"n_obs": n_spots, "latent_dim": latent_dim, "configs": configs}).to_string(),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/anndata_check.py");
    let out = std::process::Command::new(py)
        .arg(script)
        .arg(&rec)
        .arg(&expected)
        .arg(&read_back)
        .output()
        .expect("cannot run DPVAE_PYTHON");
    assert!(
        out.status.success(),
        "anndata_check.py failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprint!("{}", String::from_utf8_lossy(&out.stdout));
    // what anndata read, given back to --config, is the same effective settings
    let read: Value = serde_json::from_str(&std::fs::read_to_string(&read_back).unwrap()).unwrap();
    for step in stored_steps {
        let file = d.join(format!("{}.from_anndata.toml", step.command));
        std::fs::write(&file, toml::to_string(&read[step.command]).unwrap()).unwrap();
        assert_eq!(
            step.printed(Some(&file)),
            step.printed(None),
            "dpvae {}: the settings anndata read do not reproduce the run's",
            step.command
        );
    }
}
