//! `cargo xtask speed`: dp-VAE training throughput against the PyTorch reference, measured so the two can be
//! compared: both sides time their own epochs in process (after a warm-up epoch), run one thread each, are
//! pinned to the same core (`taskset`), and alternate over several rounds (dpvae first in even rounds, PyTorch
//! first in odd ones), so drift on a shared machine falls on both. Quote medians over rounds.
//!
//! Two network shapes, identical on both sides: the paper's (100 genes -> 124 -> 2, learned lambda,
//! alpha2 = 10, Adam, loss summed over genes) and dpvae's default shape (30 principal components ->
//! 256 -> 128 -> 2), without dropout and weight decay, which the reference does not implement. Data: the
//! reference's synthetic shape (log1p of Poisson(3) counts, coordinates in a 5000-pixel square).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;
use dpvae_model::{BackendKind, ModelConfig, TrainConfig, TrainInput, train};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Args)]
pub struct SpeedArgs {
    /// Python with torch (default: $DPVAE_PYTORCH); without one only dpvae is timed.
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Rounds of (dpvae, PyTorch) pairs.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Timed epochs per run (after one warm-up epoch).
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Training spots.
    #[arg(long, default_value_t = 2702)]
    pub spots: usize,
    /// The core both sides are pinned to.
    #[arg(long, default_value_t = 0)]
    pub cpu: usize,
    /// Internal: time dpvae alone on this shape (genes:hidden:batch) and print JSON.
    #[arg(long, hide = true)]
    pub worker: Option<String>,
}

/// One configuration both sides run.
struct Shape {
    name: &'static str,
    genes: usize,
    hidden: &'static str,
    batch: usize,
}

const SHAPES: [Shape; 4] = [
    Shape {
        name: "paper, batch 128",
        genes: 100,
        hidden: "124",
        batch: 128,
    },
    Shape {
        name: "paper, full batch",
        genes: 100,
        hidden: "124",
        batch: 0,
    },
    Shape {
        name: "default shape, batch 256",
        genes: 30,
        hidden: "256,128",
        batch: 256,
    },
    Shape {
        name: "default shape, full batch",
        genes: 30,
        hidden: "256,128",
        batch: 0,
    },
];

#[derive(Debug, Serialize, Deserialize)]
struct WorkerResult {
    median_ms_per_epoch: f64,
}

#[derive(Debug, Serialize)]
struct Row {
    shape: &'static str,
    dpvae_ms: Vec<f64>,
    pytorch_ms: Vec<f64>,
    dpvae_median_ms: f64,
    pytorch_median_ms: f64,
    speedup: f64,
}

pub fn run(args: SpeedArgs) -> Result<()> {
    if let Some(spec) = &args.worker {
        return worker(spec, &args);
    }
    let python = args
        .python
        .clone()
        .or_else(|| std::env::var_os("DPVAE_PYTORCH").map(PathBuf::from));
    let mut rows = Vec::new();
    for shape in &SHAPES {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..args.rounds {
            let order = if round % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            for dpvae_turn in order {
                if dpvae_turn {
                    ours.push(time_dpvae(shape, &args)?);
                } else if let Some(py) = &python {
                    theirs.push(time_pytorch(py, shape, &args)?);
                }
            }
        }
        let (a, b) = (median(&ours), median(&theirs));
        eprintln!(
            "{}: dpvae {a:.2} ms/epoch, PyTorch {b:.2} ms/epoch ({:.2}x)",
            shape.name,
            b / a
        );
        rows.push(Row {
            shape: shape.name,
            dpvae_median_ms: a,
            pytorch_median_ms: b,
            speedup: b / a,
            dpvae_ms: ours,
            pytorch_ms: theirs,
        });
    }
    let out = PathBuf::from("target/speed");
    std::fs::create_dir_all(&out)?;
    dpvae_core::atomic::write_bytes_atomic(
        &out.join("speed.json"),
        serde_json::to_string_pretty(&rows)?.as_bytes(),
    )?;
    println!("| shape | dpvae ms/epoch | PyTorch ms/epoch | PyTorch / dpvae |\n|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.2} | {:.2} | {:.2}x |",
            r.shape, r.dpvae_median_ms, r.pytorch_median_ms, r.speedup
        );
    }
    Ok(())
}

/// A pinned, single-threaded run of this program as the dpvae worker; its median ms per epoch.
fn time_dpvae(shape: &Shape, args: &SpeedArgs) -> Result<f64> {
    let exe = std::env::current_exe()?;
    let out = Command::new("taskset")
        .args(["-c", &args.cpu.to_string()])
        .arg(exe)
        .env("RAYON_NUM_THREADS", "1")
        .args(["speed", "--epochs", &args.epochs.to_string()])
        .args(["--spots", &args.spots.to_string(), "--worker"])
        .arg(format!("{}:{}:{}", shape.genes, shape.hidden, shape.batch))
        .output()
        .context("could not start the dpvae worker under taskset (util-linux)")?;
    if !out.status.success() {
        bail!(
            "dpvae worker failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let r: WorkerResult = serde_json::from_slice(&out.stdout)?;
    Ok(r.median_ms_per_epoch)
}

/// A pinned run of the PyTorch reference with one thread; its median ms per epoch.
fn time_pytorch(python: &PathBuf, shape: &Shape, args: &SpeedArgs) -> Result<f64> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/dpvae-model/benches/pytorch_dpvae.py"
    );
    let json = std::env::temp_dir().join(format!("dpvae-speed-{}.json", std::process::id()));
    let status = Command::new("taskset")
        .args(["-c", &args.cpu.to_string()])
        .arg(python)
        .arg(script)
        .args(["--threads", "1", "--epochs", &args.epochs.to_string()])
        .args([
            "--spots",
            &args.spots.to_string(),
            "--genes",
            &shape.genes.to_string(),
        ])
        .args([
            "--hidden",
            shape.hidden,
            "--batches",
            &shape.batch.to_string(),
            "--json",
        ])
        .arg(&json)
        .stdout(std::process::Stdio::null())
        .status()
        .context("could not start the PyTorch reference")?;
    if !status.success() {
        bail!("the PyTorch reference exited with {status}");
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json)?)?;
    let _ = std::fs::remove_file(&json);
    let key = if shape.batch == 0 {
        "full_batch".to_string()
    } else {
        format!("batch{}", shape.batch)
    };
    v[&key]["median_ms_per_epoch"]
        .as_f64()
        .context("the reference's JSON has no median")
}

/// The worker: train `epochs + 1` epochs in this process and print the median of the timed ones.
fn worker(spec: &str, args: &SpeedArgs) -> Result<()> {
    let parts: Vec<&str> = spec.split(':').collect();
    let [genes, hidden, batch] = parts.as_slice() else {
        bail!("worker spec is genes:hidden:batch, got {spec}");
    };
    let genes: usize = genes.parse()?;
    let hidden: Vec<usize> = hidden
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let (x, s) = data(args.spots, genes);
    let mut model = ModelConfig::new(genes);
    model.hidden = hidden;
    let cfg = TrainConfig {
        epochs: args.epochs + 1,
        batch_size: batch.parse()?,
        alpha2: 10.0,
        ..TrainConfig::default()
    };
    let out = train(
        &TrainInput::new(x.view(), s.view()),
        &model,
        &cfg,
        BackendKind::Flex,
    )?;
    let ms: Vec<f64> = out.history.epochs[1..]
        .iter()
        .map(|r| r.seconds * 1e3)
        .collect();
    println!(
        "{}",
        serde_json::to_string(&WorkerResult {
            median_ms_per_epoch: median(&ms)
        })?
    );
    Ok(())
}

/// The reference's data shape: log1p of Poisson(3) counts and coordinates in a 5000-pixel square.
fn data(spots: usize, genes: usize) -> (Array2<f32>, Array2<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x = Array2::from_shape_fn((spots, genes), |_| {
        let (mut k, mut p, u) = (0.0_f64, (-3.0_f64).exp(), rng.r#gen::<f64>());
        let mut cdf = p;
        while u > cdf {
            k += 1.0;
            p *= 3.0 / k;
            cdf += p;
        }
        (k as f32).ln_1p()
    });
    let s = Array2::from_shape_fn((spots, 2), |_| rng.gen_range(0.0..5000.0));
    (x, s)
}

fn median(v: &[f64]) -> f64 {
    let mut w = v.to_vec();
    dpvae_core::stats::median(&mut w)
}
