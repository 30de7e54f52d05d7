//! Moran's I / Geary's C against squidpy on the committed synthetic section (kNN, radius and grid graphs,
//! binary and row-normalised), plus constant features and the sparse input path.

mod common;

use common::*;
use dpvae_eval::{AutocorrParams, CsrView, Features, WeightsParams};
use ndarray::Array2;

fn synthetic() -> (Array2<f64>, Vec<String>, Array2<f64>) {
    let (_, coords) = csv_matrix("synthetic_coords.csv");
    let (genes, counts) = csv_matrix("synthetic_counts.csv");
    (coords, genes, counts)
}

#[test]
fn synthetic_section_agrees_with_squidpy() {
    let (coords, genes, counts) = synthetic();
    let meta = read_json("autocorr_synthetic.json");
    let keep: Vec<usize> = meta["genes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| genes.iter().position(|h| h == g.as_str().unwrap()).unwrap())
        .collect();
    let totals: Vec<f64> = counts.rows().into_iter().map(|r| r.sum()).collect();
    let x = normalize_log1p(counts.nrows(), &totals, &keep, |i, j| counts[[i, j]]);
    let compared = compare_with_squidpy("synthetic", coords.view(), x.view(), 1e-6);
    assert_eq!(compared, 6 * 23 * 8);
}

#[test]
fn constant_features_are_nan_like_scanpy() {
    let (coords, genes, counts) = synthetic();
    let meta = read_json("autocorr_synthetic.json");
    let constant = meta["constant_genes"][0].as_str().unwrap();
    assert!(
        meta["constant_genes_morans_i"][0].is_null(),
        "scanpy gives NaN (null in JSON)"
    );
    let j = genes.iter().position(|g| g == constant).unwrap();
    let totals: Vec<f64> = counts.rows().into_iter().map(|r| r.sum()).collect();
    let x = normalize_log1p(counts.nrows(), &totals, &[j, 0], |i, j| counts[[i, j]]);
    let w = WeightsParams::knn(5).build(coords.view()).unwrap();
    let t = AutocorrParams::new()
        .n_perms(20)
        .run(
            &w,
            &Features::Dense(x.view()),
            &[constant.to_string(), genes[0].clone()],
        )
        .unwrap();
    assert!(t.rows[0].moran.value.is_nan() && t.rows[0].geary.value.is_nan());
    assert!(t.rows[0].moran.fdr_norm.is_nan());
    assert!(t.rows[1].moran.value.is_finite() && t.rows[1].moran.fdr_norm.is_finite());
}

#[test]
fn sparse_and_dense_inputs_give_identical_results() {
    let (coords, genes, counts) = synthetic();
    let dense = counts.mapv(|v| (v as f32).ln_1p());
    let (n, g) = dense.dim();
    let (mut indptr, mut indices, mut data) = (vec![0usize], Vec::new(), Vec::new());
    for i in 0..n {
        for j in 0..g {
            if dense[[i, j]] != 0.0 {
                indices.push(j as u32);
                data.push(dense[[i, j]]);
            }
        }
        indptr.push(indices.len());
    }
    let csr = CsrView {
        n_rows: n,
        n_cols: g,
        indptr: &indptr,
        indices: &indices,
        data: &data,
    };
    let w = WeightsParams::visium_grid().build(coords.view()).unwrap();
    let p = AutocorrParams::new().n_perms(30).seed(5);
    let a = p.run(&w, &Features::Csr(csr), &genes).unwrap();
    let b = p
        .run(&w, &Features::DenseF32(dense.view()), &genes)
        .unwrap();
    // Compare the full-precision CSV renderings (NaN != NaN for the constant gene under PartialEq).
    let (mut ca, mut cb) = (Vec::new(), Vec::new());
    a.write_csv(&mut ca).unwrap();
    b.write_csv(&mut cb).unwrap();
    assert!(ca == cb, "sparse and dense results differ");
    assert!(
        a.rows[g - 1].moran.value.is_nan(),
        "the all-zero gene is constant"
    );
}
