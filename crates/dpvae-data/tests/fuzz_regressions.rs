//! Inputs found by the fuzz targets in `fuzz/` (cargo-fuzz, libFuzzer), replayed on stable in `cargo test`:
//! every file under `tests/fuzz_inputs/<target>/` goes through that target's reader, which must return Ok or a
//! typed error, never panic. The inputs are the minimised crashers the fuzzing found, if any, and a small
//! minimised slice of each target's corpus, which reaches the readers' error paths (docs/formats.md, "Fuzzing").

use std::path::Path;

type Reader = fn(&[u8]);

fn read_mtx(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == 0);
    let matrix = parts.next().unwrap_or_default();
    let features = parts.next().unwrap_or_default();
    let barcodes = parts.next().unwrap_or_default();
    let _ = dpvae_data::io::mtx::read_mtx_bytes(matrix, features, barcodes);
}

const TARGETS: [(&str, Reader); 4] = [
    ("read_h5ad", |d| {
        let _ = dpvae_data::io::h5ad::read_h5ad_bytes(d);
    }),
    ("read_10x", |d| {
        let _ = dpvae_data::io::tenx::read_10x_h5_bytes(d);
    }),
    ("read_mtx", read_mtx),
    ("read_st", |d| {
        let _ = dpvae_data::io::st::read_st_tsv_bytes(d);
    }),
];

#[test]
fn fuzz_inputs_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_inputs");
    let mut replayed = 0;
    for (target, read) in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| read(&bytes));
            assert!(outcome.is_ok(), "{target} panicked on {}", path.display());
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no fuzz inputs under {}", root.display());
}
