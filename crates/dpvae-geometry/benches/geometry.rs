//! Criterion benchmarks: Procrustes, SMACOF (n = 1000, 3000, 10 000) and anchored imputation.
//! Inputs match fixtures/geometry/time_reference.py (the sklearn/scipy timings in docs/performance.md).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use dpvae_geometry::{
    AnchorMode, Anchors, ImputeParams, SmacofInit, SmacofParams, pairwise_distances, procrustes,
};
use ndarray::{Array2, Axis};
use std::time::Duration;

/// Curved 2-D sheet in 3-D, same formula as `sheet` in time_reference.py.
fn sheet(n: usize) -> Array2<f64> {
    Array2::from_shape_fn((n, 3), |(i, c)| {
        let u = (i as f64 * 0.618_033_988_749_894_9).rem_euclid(1.0);
        let v = (i as f64 * 0.414_213_562_373_095_1).rem_euclid(1.0);
        match c {
            0 => 3.0 * u,
            1 => 3.0 * v,
            _ => 0.6 * (6.0 * u).sin(),
        }
    })
}

fn bench_procrustes(c: &mut Criterion) {
    let n = 5000;
    let s = sheet(n);
    let pts = s.slice(ndarray::s![.., ..2]).to_owned();
    let (ct, st) = (0.3f64.cos(), 0.3f64.sin());
    let rot = ndarray::array![[ct, -st], [st, ct]];
    let est = pts.dot(&rot) * 2.0 + 1.0 + &(s.slice(ndarray::s![.., 2..3]).to_owned() * 0.01);
    c.bench_function("procrustes/n=5000", |b| {
        b.iter(|| procrustes(pts.view(), est.view()).unwrap())
    });
}

fn bench_smacof(c: &mut Criterion) {
    let mut g = c.benchmark_group("smacof");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for (n, max_iter) in [(1000usize, 100usize), (3000, 100), (10_000, 10)] {
        let delta = pairwise_distances(sheet(n).view()).unwrap();
        // Fixed work (eps = 0) and a random start, as in the sklearn timing.
        let p = SmacofParams::new()
            .init(SmacofInit::Random)
            .max_iter(max_iter)
            .eps(0.0);
        g.bench_with_input(
            BenchmarkId::new(format!("fixed_{max_iter}_iter"), n),
            &delta,
            |b, d| b.iter(|| p.clone().fit(d.view()).unwrap()),
        );
    }
    let delta = pairwise_distances(sheet(3000).view()).unwrap();
    let p = SmacofParams::new()
        .init(SmacofInit::Random)
        .max_iter(300)
        .eps(1e-6);
    g.bench_with_input(
        BenchmarkId::new("converged_eps1e-6", 3000),
        &delta,
        |b, d| b.iter(|| p.clone().fit(d.view()).unwrap()),
    );
    let p = SmacofParams::new().max_iter(300).eps(1e-6);
    g.bench_with_input(
        BenchmarkId::new("converged_classical_start", 3000),
        &delta,
        |b, d| b.iter(|| p.clone().fit(d.view()).unwrap()),
    );
    g.finish();
}

fn bench_anchored(c: &mut Criterion) {
    let mut g = c.benchmark_group("anchored_imputation");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    let n = 2000;
    let truth = sheet(n).slice(ndarray::s![.., ..2]).to_owned();
    let delta = pairwise_distances(sheet(n).view()).unwrap() * 0.5;
    let idx: Vec<usize> = (0..n).step_by(100).collect();
    let anchors = Anchors::new(idx.clone(), truth.select(Axis(0), &idx)).unwrap();
    g.bench_function("hard/n=2000/anchors=20", |b| {
        b.iter(|| ImputeParams::new().fit(delta.view(), &anchors).unwrap())
    });
    g.bench_function("penalty/n=2000/anchors=20", |b| {
        b.iter(|| {
            ImputeParams::new()
                .mode(AnchorMode::Penalty { gamma: 10.0 })
                .max_iter(100)
                .fit(delta.view(), &anchors)
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_procrustes, bench_smacof, bench_anchored);
criterion_main!(benches);
