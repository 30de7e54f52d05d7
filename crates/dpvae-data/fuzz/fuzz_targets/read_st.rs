//! Any bytes given to the legacy ST count-table reader yield Ok or a typed error, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dpvae_data::io::st::read_st_tsv_bytes(data);
});
