//! Training throughput for the paper configuration: 2400 training spots, 100 genes, hidden 124, d = 2,
//! Gaussian likelihood, DP loss over all pairs of each batch with a learned lambda, Adam; batch 128 and full
//! batch, on each CPU backend.
//!
//! Each criterion iteration is one epoch, timed by the trainer itself (history `seconds`), after one warm-up
//! epoch, so model set-up is not counted.
//!
//! With `DPVAE_PYTORCH=/path/to/python` set, the PyTorch reference (`benches/pytorch_dpvae.py`, 2 threads) runs
//! right after, in the same process tree, on the same machine, for a side-by-side comparison.

use std::time::Duration;

use criterion::{Criterion, criterion_group};
use dpvae_model::{BackendKind, ModelConfig, TrainConfig, TrainInput, train};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SPOTS: usize = 2400;
const GENES: usize = 100;

fn data() -> (Array2<f32>, Array2<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    // log1p of Poisson(3)-like counts (by inversion) and coordinates in a 5000-pixel square, like the
    // PyTorch script's.
    let x = Array2::from_shape_fn((SPOTS, GENES), |_| {
        let (mut k, mut p, u) = (0.0_f64, (-3.0_f64).exp(), rng.r#gen::<f64>());
        let mut cdf = p;
        while u > cdf {
            k += 1.0;
            p *= 3.0 / k;
            cdf += p;
        }
        (k as f32).ln_1p()
    });
    let s = Array2::from_shape_fn((SPOTS, 2), |_| rng.gen_range(0.0..5000.0));
    (x, s)
}

fn epochs_timed(
    x: &Array2<f32>,
    s: &Array2<f64>,
    batch: usize,
    backend: BackendKind,
    epochs: u64,
) -> Duration {
    let cfg = TrainConfig {
        epochs: epochs as usize + 1,
        batch_size: batch,
        alpha2: 10.0,
        ..TrainConfig::default()
    };
    let out = train(
        &TrainInput::new(x.view(), s.view()),
        &ModelConfig::new(GENES),
        &cfg,
        backend,
    )
    .expect("training runs");
    Duration::from_secs_f64(out.history.epochs[1..].iter().map(|r| r.seconds).sum())
}

fn bench_training(c: &mut Criterion) {
    let (x, s) = data();
    let mut group = c.benchmark_group("train_epoch_paper_config");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for backend in [BackendKind::Flex, BackendKind::Ndarray] {
        for (name, batch) in [("batch128", 128), ("full_batch", 0)] {
            group.bench_function(format!("{backend}/{name}"), |b| {
                b.iter_custom(|iters| epochs_timed(&x, &s, batch, backend, iters))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_training);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if let Some(python) = std::env::var_os("DPVAE_PYTORCH") {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/pytorch_dpvae.py");
        match std::process::Command::new(python)
            .arg(script)
            .arg("--epochs")
            .arg("5")
            .status()
        {
            Ok(s) if s.success() => {}
            Ok(s) => eprintln!("PyTorch reference exited with {s}"),
            Err(e) => eprintln!("could not run the PyTorch reference: {e}"),
        }
    }
}
