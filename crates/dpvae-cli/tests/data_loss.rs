//! Never lose a model or mix two runs' outputs (issue #28, items 1-4): a signal or a kill at any moment of a
//! `--force` save leaves the whole old output or the whole new one, leftover temporaries do not block a later
//! `--force`, and two processes writing one output do not both succeed.
//!
//! The signal tests send the signal at delays spread over the save, in a loop, as the kill campaign did.
//! `DPVAE_TEST_SAVE_DELAY_MS` (test-only, read by the model writer) pauses after each file written into the new
//! model directory, which stretches the dangerous window so that the delays land inside it.

#![cfg(unix)]

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use dpvae_model::SavedModel;

mod common;
use common::{dpvae, simulate_sized};

/// A small model: five members (as the defaults), so a save writes a dozen files.
const SMALL: [&str; 6] = ["--epochs", "2", "--members", "5", "--pca", "10"];

/// Delays (in microseconds) after the first temporary appears, spread over the save window.
const DELAYS_US: [u64; 20] = [
    0, 300, 700, 1_500, 3_000, 5_000, 8_000, 12_000, 18_000, 25_000, 35_000, 50_000, 70_000,
    90_000, 110_000, 130_000, 160_000, 200_000, 260_000, 350_000,
];

fn spawn(args: &[&str], force: bool) -> Child {
    let mut c = Process::new(env!("CARGO_BIN_EXE_dpvae"));
    c.arg("-q");
    if force {
        c.arg("--force");
    }
    c.args(args)
        .env("DPVAE_TEST_SAVE_DELAY_MS", "10")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Every file under `dir` (relative path -> content), hidden entries (temporaries) left out.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let path = e.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

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

fn remove_hidden(dir: &Path) {
    for p in hidden(dir) {
        let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
    }
}

/// Whether `after` is one whole generation relative to `before`: every file unchanged (the old output), or
/// the same files with every one that belongs to a run changed (the new one). Only the files a new seed does
/// not change (the genes and the preprocessing, fitted on the same data) may be equal in a new output.
fn one_generation(
    before: &BTreeMap<String, Vec<u8>>,
    after: &BTreeMap<String, Vec<u8>>,
) -> Result<&'static str, String> {
    if before == after {
        return Ok("old");
    }
    let (b, a): (Vec<_>, Vec<_>) = (before.keys().collect(), after.keys().collect());
    if b != a {
        return Err(format!("files {a:?}, expected {b:?}"));
    }
    let same_content = ["genes.json", "preprocess.json"];
    let unchanged: Vec<&String> = after
        .iter()
        .filter(|(k, v)| before[*k] == **v)
        .map(|(k, _)| k)
        .filter(|k| !same_content.iter().any(|s| k.ends_with(s)))
        .collect();
    if unchanged.is_empty() {
        Ok("new")
    } else {
        Err(format!(
            "a mix of generations: {unchanged:?} are the old ones"
        ))
    }
}

/// Start `args` (with --force), wait until a dpvae temporary appears in one of `watch`, wait `delay`, send
/// `signal`; returns whether the signal was sent (the process may have finished first) and its exit status.
fn signal_during(
    args: &[&str],
    watch: &[&Path],
    delay: Duration,
    signal: libc::c_int,
) -> (bool, std::process::ExitStatus, String) {
    let mut child = spawn(args, true);
    let start = Instant::now();
    let mut sent = false;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        let temporary = watch.iter().any(|d| {
            std::fs::read_dir(d)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.starts_with('.') && n.contains(".tmp-")
                })
        });
        if temporary {
            std::thread::sleep(delay);
            // SAFETY: kill(2) on the child's pid, which has not been reaped (try_wait saw it running).
            unsafe { libc::kill(child.id() as libc::pid_t, signal) };
            sent = true;
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(300), "dpvae hung");
        std::thread::sleep(Duration::from_micros(100));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (sent, out.status, stderr)
}

/// Issue #28, items 1 and 2: SIGTERM or Ctrl-C during a `train --force` save removed the temporary while the
/// main thread still wrote into it, and the main thread then put that half-empty directory in the old model's
/// place (the model destroyed: `TM/` left with `genes.json` and `manifest.json`); `history.csv` and
/// `config.toml` were written after the exchange, so a kill could lose them; and the partial temporary was often
/// left behind. Now each signal leaves the whole old model or the whole new one, and no temporary.
#[test]
fn a_signal_during_a_forced_save_leaves_the_whole_old_or_new_model() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate_sized(tmp.path(), 300, 60);
    let model = tmp.path().join("TM");
    let data_arg = data.display().to_string();
    let model_arg = model.display().to_string();
    let train = |seed: &str| -> Vec<String> {
        let mut a: Vec<String> = vec!["train".into()];
        a.extend(SMALL.iter().map(|s| s.to_string()));
        a.extend([
            "--seed".into(),
            seed.into(),
            "--out".into(),
            model_arg.clone(),
        ]);
        a.push(data_arg.clone());
        a
    };
    let first = train("0");
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    dpvae().args(&first).assert().success();
    let mut failures = Vec::new();
    let mut outcomes = BTreeMap::new();
    for (round, us) in DELAYS_US.iter().enumerate() {
        let signal = if round % 2 == 0 {
            libc::SIGTERM
        } else {
            libc::SIGINT
        };
        let before = snapshot(&model);
        let args = train(&(round + 1).to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (sent, status, stderr) =
            signal_during(&args, &[tmp.path()], Duration::from_micros(*us), signal);
        let after = snapshot(&model);
        let mut problems = Vec::new();
        match one_generation(&before, &after) {
            Ok(which) => *outcomes.entry(which).or_insert(0) += 1,
            Err(e) => problems.push(e),
        }
        if let Err(e) = SavedModel::load(&model) {
            problems.push(format!("the model does not load: {e}"));
        }
        let left = hidden(tmp.path());
        if !left.is_empty() {
            problems.push(format!("temporaries left: {left:?}"));
        }
        if !(status.success() || (sent && status.signal() == Some(signal))) {
            problems.push(format!("ended with {status:?}: {stderr}"));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "round {round} (signal {signal} {us} us after the temporary appeared, sent: {sent}): {}",
                problems.join("; ")
            ));
            // Start the next round from a whole model.
            remove_hidden(tmp.path());
            let _ = std::fs::remove_dir_all(&model);
            dpvae().args(&first).assert().success();
        }
    }
    eprintln!("train --force under SIGTERM/SIGINT: {outcomes:?}");
    assert!(
        failures.is_empty(),
        "{} of {} rounds failed (outcomes of the others: {outcomes:?}):\n{}",
        failures.len(),
        DELAYS_US.len(),
        failures.join("\n")
    );
}

/// Issue #28, items 1 and 2 for `run --force`: its evaluation files were written before the model, and the
/// model's `history.csv` after it, so a kill in the last moments left a new `evaluation.json` beside the old
/// `model/` and `query_dpvae.h5ad`. Now the whole folder is assembled and put in place in one step: SIGKILL
/// (which may leave a hidden temporary beside it), SIGTERM or SIGINT (which may not) at any moment leave the
/// previous run's outputs or all of the new run's.
#[test]
fn a_kill_during_a_forced_run_leaves_one_generation_of_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate_sized(tmp.path(), 300, 60);
    let out = tmp.path().join("OUT");
    let data_arg = data.display().to_string();
    let out_arg = out.display().to_string();
    let run = |seed: &str| -> Vec<String> {
        let mut a: Vec<String> = vec!["run".into()];
        a.extend(SMALL.iter().map(|s| s.to_string()));
        a.extend([
            "--seed".into(),
            seed.into(),
            "--out".into(),
            out_arg.clone(),
        ]);
        a.extend([data_arg.clone(), data_arg.clone()]);
        a
    };
    let first = run("0");
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    dpvae().args(&first).assert().success();
    let mut failures = Vec::new();
    let mut outcomes = BTreeMap::new();
    let rounds = 16;
    for round in 0..rounds {
        let signal = [libc::SIGKILL, libc::SIGTERM, libc::SIGKILL, libc::SIGINT][round % 4];
        // The save comes after the evaluation in the window the temporaries are visible: spread wider.
        let delay = Duration::from_micros(DELAYS_US[round] * 3);
        let before = snapshot(&out);
        let args = run(&(round + 1).to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let model = out.join("model");
        let (sent, status, stderr) =
            signal_during(&args, &[tmp.path(), &out, &model], delay, signal);
        let after = snapshot(&out);
        let mut problems = Vec::new();
        match one_generation(&before, &after) {
            Ok(which) => *outcomes.entry(which).or_insert(0) += 1,
            Err(e) => problems.push(e),
        }
        if let Err(e) = SavedModel::load(&model) {
            problems.push(format!("the model does not load: {e}"));
        }
        if signal != libc::SIGKILL {
            let left = hidden(tmp.path());
            if !left.is_empty() {
                problems.push(format!("temporaries left: {left:?}"));
            }
            if !(status.success() || (sent && status.signal() == Some(signal))) {
                problems.push(format!("ended with {status:?}: {stderr}"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "round {round} (signal {signal} {delay:?} after a temporary appeared, sent: {sent}): {}",
                problems.join("; ")
            ));
            let _ = std::fs::remove_dir_all(&out);
            remove_hidden(tmp.path());
            dpvae().args(&first).assert().success();
        }
        // What a SIGKILL may leave (documented as safe to delete) is deleted before the next round.
        remove_hidden(tmp.path());
    }
    eprintln!("run --force under SIGKILL/SIGTERM/SIGINT: {outcomes:?}");
    assert!(
        failures.is_empty(),
        "{} of {rounds} rounds failed (outcomes of the others: {outcomes:?}):\n{}",
        failures.len(),
        failures.join("\n")
    );
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

/// Issue #28, item 4: two `dpvae train X --out SAME` (and two `run`s) without --force both exited 0, the
/// later silently replacing the other's model. Now the second fails, naming the output, and the first's
/// output is whole.
#[test]
fn two_writers_of_one_output_do_not_both_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = simulate_sized(tmp.path(), 300, 60);
    let data_arg = data.display().to_string();
    for (command, name) in [("train", "A"), ("train", "B"), ("run", "C")] {
        let target = tmp.path().join(name);
        let target_arg = target.display().to_string();
        let children: Vec<Child> = ["1", "2"]
            .iter()
            .map(|seed| {
                let mut args = vec![command];
                args.extend(SMALL);
                args.extend([
                    "--seed",
                    seed,
                    "--out",
                    target_arg.as_str(),
                    data_arg.as_str(),
                ]);
                if command == "run" {
                    args.push(data_arg.as_str());
                }
                spawn(&args, false)
            })
            .collect();
        let results: Vec<_> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let ok = results.iter().filter(|r| r.status.success()).count();
        assert_eq!(ok, 1, "{command} --out {name}: {ok} of 2 writers succeeded");
        let loser = results.iter().find(|r| !r.status.success()).unwrap();
        let stderr = String::from_utf8_lossy(&loser.stderr);
        assert!(
            stderr.contains(&target_arg) && stderr.contains("another dpvae process"),
            "{stderr}"
        );
        let model = if command == "run" {
            target.join("model")
        } else {
            target.clone()
        };
        SavedModel::load(&model).unwrap();
        assert_eq!(hidden(tmp.path()), Vec::<PathBuf>::new());
    }
}
