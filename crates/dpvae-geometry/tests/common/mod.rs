//! Shared helpers for the integration tests: fixture loading and Visium coordinates.
#![allow(dead_code)]

use std::path::PathBuf;

use ndarray::Array2;
use serde_json::Value;

pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/geometry")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("valid JSON fixture")
}

pub fn matrix(v: &Value) -> Array2<f64> {
    let rows = v.as_array().expect("array of rows");
    let n = rows.len();
    let d = rows[0].as_array().expect("row").len();
    Array2::from_shape_fn((n, d), |(i, j)| rows[i][j].as_f64().expect("number"))
}

pub fn vector(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

pub fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// In-tissue spot coordinates `(pxl_row, pxl_col)` of a Visium `tissue_positions_list.csv` (6 columns,
/// no header: barcode,in_tissue,array_row,array_col,pxl_row,pxl_col), or `None` when `DPVAE_DATA` is unset.
pub fn visium_in_tissue(test: &str, dataset: &str) -> Option<Array2<f64>> {
    let rel = format!("raw/visium_positions/{dataset}/tissue_positions_list.csv");
    let path = dpvae_data::testdata::require(test, &rel)?;
    let text = std::fs::read_to_string(&path).expect("readable CSV");
    let mut v = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.trim().split(',').collect();
        assert_eq!(f.len(), 6, "unexpected line {line:?}");
        if f[1] == "1" {
            v.push(f[4].parse::<f64>().expect("pxl_row"));
            v.push(f[5].parse::<f64>().expect("pxl_col"));
        }
    }
    let n = v.len() / 2;
    Some(Array2::from_shape_vec((n, 2), v).expect("n x 2"))
}

/// splitmix64 uniforms in [0, 1), bit-identical to `splitmix64_uniforms` in make_procrustes.py.
pub fn splitmix64_uniforms(seed: u64, count: usize) -> Vec<f64> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 * 2f64.powi(-53)
        })
        .collect()
}
