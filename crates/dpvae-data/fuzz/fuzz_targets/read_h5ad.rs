//! Any byte string given to the h5ad reader yields Ok or a typed error, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dpvae_data::io::h5ad::read_h5ad_bytes(data);
});
