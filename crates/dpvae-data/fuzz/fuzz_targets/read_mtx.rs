//! Any bytes given to the MatrixMarket folder reader yield Ok or a typed error, never a panic, a hang or an
//! allocation the files do not justify. The input is `matrix.mtx`, `features.tsv` and `barcodes.tsv` joined by
//! NUL bytes (none of the three holds one).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let matrix = parts.next().unwrap_or_default();
    let features = parts.next().unwrap_or_default();
    let barcodes = parts.next().unwrap_or_default();
    let _ = dpvae_data::io::mtx::read_mtx_bytes(matrix, features, barcodes);
});
