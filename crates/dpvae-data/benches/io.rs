//! Reader and writer speed. With `DPVAE_DATA` set, reads the real 22 MB gzip-compressed DLPFC h5ad (target: well
//! under a second in release) and the 10x Xenium matrix; always times a write + read of a synthetic
//! 3,500 x 5,000 CSR dataset.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use dpvae_data::io::h5ad::{H5adWriteOptions, read_h5ad, write_h5ad_with};
use dpvae_data::{CsrMatrix, Matrix, SpatialData};
use ndarray::Array2;

fn synthetic() -> SpatialData {
    let (n, g) = (3500, 5000);
    let mut indptr = vec![0usize];
    let mut indices = Vec::new();
    let mut data = Vec::new();
    let mut state = 12345u64;
    for _ in 0..n {
        for j in 0..g {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if (state >> 33).is_multiple_of(10) {
                indices.push(j as u32);
                data.push(((state >> 40) % 20 + 1) as f32);
            }
        }
        indptr.push(data.len());
    }
    let x = CsrMatrix::new(n, g, indptr, indices, data).unwrap();
    SpatialData::new(
        Matrix::Csr(x),
        (0..n).map(|i| format!("spot{i}")).collect(),
        (0..g).map(|j| format!("gene{j}")).collect(),
        Some(Array2::from_shape_fn((n, 2), |(i, j)| (i * (j + 1)) as f64)),
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("io");
    group.sample_size(10);
    if let Some(dir) = dpvae_data::testdata::data_dir() {
        let dlpfc = dir.join("panel/visium_dlpfc_151673.h5ad");
        group.bench_function("read_h5ad_dlpfc_22MB_gzip", |b| {
            b.iter(|| black_box(read_h5ad(&dlpfc).unwrap()))
        });
        let xenium = dir.join("raw/xenium_mouse_brain/cell_feature_matrix.h5");
        group.bench_function("read_10x_xenium_36k_cells", |b| {
            b.iter(|| black_box(dpvae_data::io::tenx::read_10x_h5(&xenium).unwrap()))
        });
        let st = dir.join("raw/st_tsv_hippo1");
        group.bench_function("read_st_tsv_hippo1", |b| {
            b.iter(|| black_box(dpvae_data::io::read(&st).unwrap()))
        });
    }
    let d = synthetic();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("synthetic.h5ad");
    group.bench_function("write_h5ad_3500x5000_csr", |b| {
        b.iter(|| write_h5ad_with(&path, &d, &H5adWriteOptions::default()).unwrap())
    });
    group.bench_function("read_h5ad_3500x5000_csr", |b| {
        b.iter(|| black_box(read_h5ad(&path).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
