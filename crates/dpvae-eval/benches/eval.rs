//! Benchmarks of the issue-5 speed targets: Moran's I + Geary's C for 2000 features on 3600 spots, and the
//! expression-vs-space distance correlation on 3600 spots. The data come from the same deterministic formula as
//! `fixtures/eval/time_reference.py` (which times squidpy / scipy on them); numbers in docs/performance.md.

use criterion::{Criterion, criterion_group, criterion_main};
use dpvae_eval::{AutocorrParams, DistanceCorrelationParams, Features, WeightsParams};
use ndarray::{Array2, s};

const N_SIDE: usize = 60;
const N_GENES: usize = 2000;
const N_HVG: usize = 100;

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// 3600 spots on a hexagonal lattice and 2000 dense log-scale features (spots x features, row-major).
fn bench_data() -> (Array2<f64>, Array2<f64>) {
    let n = N_SIDE * N_SIDE;
    let coords = Array2::from_shape_fn((n, 2), |(i, d)| {
        let (r, c) = (i / N_SIDE, i % N_SIDE);
        if d == 0 {
            c as f64 + 0.5 * (r % 2) as f64
        } else {
            r as f64 * 3f64.sqrt() / 2.0
        }
    });
    let x = Array2::from_shape_fn((n, N_GENES), |(i, g)| {
        let u = (splitmix64((i * N_GENES + g) as u64) >> 11) as f64 / (1u64 << 53) as f64;
        let gf = g as f64;
        (3.0 * u + 2.0 * (1.0 + (0.05 * ((g % 13) + 1) as f64 * coords[[i, 0]] + gf).sin())).ln_1p()
    });
    (coords, x)
}

fn benches(c: &mut Criterion) {
    let (coords, x) = bench_data();
    let names: Vec<String> = (0..N_GENES).map(|g| format!("g{g}")).collect();
    let mut group = c.benchmark_group("eval");
    group.sample_size(10);
    group.bench_function("weights_knn5_3600", |b| {
        b.iter(|| WeightsParams::knn(5).build(coords.view()).unwrap())
    });
    let w = WeightsParams::knn(5).build(coords.view()).unwrap();
    group.bench_function("moran_geary_2000x3600_rowmajor", |b| {
        b.iter(|| {
            AutocorrParams::new()
                .run(&w, &Features::Dense(x.view()), &names)
                .unwrap()
        })
    });
    let xt = x.t().as_standard_layout().into_owned();
    group.bench_function("moran_geary_2000x3600_colmajor", |b| {
        b.iter(|| {
            AutocorrParams::new()
                .run(&w, &Features::Dense(xt.t()), &names)
                .unwrap()
        })
    });
    let e = x.slice(s![.., ..N_HVG]).to_owned();
    group.bench_function("distcorr_pearson_ci_3600", |b| {
        let p = DistanceCorrelationParams::new()
            .spearman(false)
            .n_perms(0)
            .max_spots(None);
        b.iter(|| p.run(e.view(), coords.view()).unwrap())
    });
    group.bench_function("distcorr_pearson_spearman_3600", |b| {
        let p = DistanceCorrelationParams::new().n_perms(0).max_spots(None);
        b.iter(|| p.run(e.view(), coords.view()).unwrap())
    });
    group.bench_function("distcorr_mantel99_3600", |b| {
        let p = DistanceCorrelationParams::new()
            .spearman(false)
            .n_perms(99)
            .max_spots(None);
        b.iter(|| p.run(e.view(), coords.view()).unwrap())
    });
    group.finish();
}

criterion_group!(eval, benches);
criterion_main!(eval);
