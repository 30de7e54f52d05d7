//! docs/commands/<command>.md hold each command's `--help`. This test keeps them true: it fails when a page
//! is stale. Regenerate with `DPVAE_BLESS=1 cargo test -p dpvae-cli --test help_docs`.

use std::path::PathBuf;

use assert_cmd::Command;

const COMMANDS: &[&str] = &[
    "demo",
    "inspect",
    "convert",
    "simulate",
    "preprocess",
    "train",
    "embed",
    "reconstruct",
    "impute",
    "procrustes",
    "autocorr",
    "plot",
    "evaluate",
    "run",
    "correlate",
];

fn page(cmd: &str, help: &str) -> String {
    format!(
        "# dpvae {cmd}\n\n<!-- generated from `dpvae {cmd} --help`; checked by crates/dpvae-cli/tests/help_docs.rs -->\n\n```text\n{}\n```\n",
        help.trim_end()
    )
}

#[test]
fn command_pages_match_help() {
    let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/commands");
    let bless = std::env::var_os("DPVAE_BLESS").is_some();
    let mut stale = Vec::new();
    for cmd in COMMANDS {
        let out = Command::cargo_bin("dpvae")
            .unwrap()
            .args([cmd, "--help"])
            .output()
            .unwrap();
        assert!(out.status.success(), "dpvae {cmd} --help failed");
        let expected = page(cmd, &String::from_utf8_lossy(&out.stdout));
        let path = docs.join(format!("{cmd}.md"));
        if bless {
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::write(&path, &expected).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(expected.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale command pages (regenerate with DPVAE_BLESS=1 cargo test -p dpvae-cli --test help_docs): {stale:?}"
    );
}
