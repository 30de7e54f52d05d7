//! Any byte string given to the 10x HDF5 reader yields Ok or a typed error, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dpvae_data::io::tenx::read_10x_h5_bytes(data);
});
