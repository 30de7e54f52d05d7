//! `cargo xtask scale`: the whole of `dpvae run` (read, preprocess and train, place with confidence,
//! evaluate, write) on simulated single-cell sections of 10^5 and 10^6 cells, with the wall time and the peak
//! memory of every step and the held-out disparity reached, so speed is never bought with accuracy; and the
//! same on real sections given with `--section` (the 36602-cell Xenium section).
//!
//! Each input is one in-process run of the same library calls `dpvae run` makes, on an 80/20 split of a
//! section from `dpvae simulate --single-cell` or a real one. Peak memory is the process's resident high-water mark
//! (VmHWM), reset before each step by writing 5 to /proc/self/clear_refs (Linux), so each step's figure is
//! its own peak including what earlier steps still hold.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use dpvae::{PlaceOptions, TrainSettings, train_reference};
use dpvae_data::simulate_cells::CellSimParams;
use dpvae_data::split::train_test_split;
use dpvae_data::{SpatialData, io};
use serde::Serialize;

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Sizes of the simulated sections (cells), comma separated; 0 for none.
    #[arg(long, value_delimiter = ',', default_values_t = [100_000usize, 1_000_000])]
    pub cells: Vec<usize>,
    /// Real sections (any format `dpvae` reads, e.g. a Xenium output folder) timed the same way, on an 80/20
    /// split after the simulated ones.
    #[arg(long, value_name = "PATH")]
    pub section: Vec<PathBuf>,
    /// Genes of the simulated panel.
    #[arg(long, default_value_t = 500)]
    pub genes: usize,
    /// Seed of the simulation, the split and training.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A TOML file of settings laid over dpvae's defaults (as `--variant` in `cargo xtask placement`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the sections, the report (scale.json, scale.md) and the outputs go.
    #[arg(long, default_value = "target/scale")]
    pub out: PathBuf,
}

impl ScaleArgs {
    /// The arguments' defaults, as `cargo xtask scale` alone has them.
    pub fn defaults() -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            args: ScaleArgs,
        }
        <Defaults as clap::Parser>::parse_from(["scale"]).args
    }
}

/// One step: wall seconds and peak resident memory (GiB).
#[derive(Debug, Serialize)]
struct Step {
    name: &'static str,
    seconds: f64,
    peak_gib: f64,
}

#[derive(Debug, Serialize)]
struct SizeResult {
    /// `simulated` or the section's path.
    source: String,
    cells: usize,
    genes: usize,
    reference: usize,
    query: usize,
    /// The steps `dpvae run` takes, in order; their seconds add up to `run_seconds`.
    steps: Vec<Step>,
    run_seconds: f64,
    run_peak_gib: f64,
    /// Simulating (or reading) the section and writing the two inputs (not part of `dpvae run`).
    setup_seconds: f64,
    disparity: f64,
    epochs_run: usize,
    /// The batch size and members training used.
    batch_size: usize,
    members: usize,
    /// The settings file laid over the defaults, if any.
    config: Option<PathBuf>,
    threads: usize,
}

pub fn run(args: ScaleArgs) -> Result<()> {
    std::fs::create_dir_all(&args.out)?;
    let inputs = args
        .cells
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| Input::Simulated(n))
        .chain(args.section.iter().cloned().map(Input::Section));
    let mut results = Vec::new();
    for input in inputs {
        let r = one_input(&input, &args)?;
        eprintln!(
            "{} ({} cells): dpvae run {:.1} s, peak {:.2} GiB, held-out disparity {:.3}",
            r.source, r.cells, r.run_seconds, r.run_peak_gib, r.disparity
        );
        results.push(r);
        // Written after every input, so a 10^6 run that is stopped still leaves the 10^5 figures.
        let json = serde_json::to_string_pretty(&results)?;
        dpvae_core::atomic::write_bytes_atomic(&args.out.join("scale.json"), json.as_bytes())?;
        dpvae_core::atomic::write_bytes_atomic(
            &args.out.join("scale.md"),
            markdown(&results).as_bytes(),
        )?;
    }
    print!("{}", markdown(&results));
    Ok(())
}

/// What one measurement runs on.
enum Input {
    /// A section of this many cells from `dpvae simulate --single-cell`.
    Simulated(usize),
    /// A real section.
    Section(PathBuf),
}

impl Input {
    /// The section and the name its files take.
    fn load(&self, args: &ScaleArgs) -> Result<(SpatialData, String)> {
        match self {
            Input::Simulated(n) => {
                let section = CellSimParams {
                    n_cells: *n,
                    n_genes: args.genes,
                    seed: args.seed,
                    ..Default::default()
                }
                .simulate()?;
                Ok((section, format!("cells_{n}")))
            }
            Input::Section(path) => {
                let section =
                    io::read(path).with_context(|| format!("reading {}", path.display()))?;
                let stem = path
                    .file_stem()
                    .map_or("section".into(), |s| s.to_string_lossy().into_owned());
                Ok((section, stem))
            }
        }
    }

    fn source(&self) -> String {
        match self {
            Input::Simulated(_) => "simulated".into(),
            Input::Section(path) => path.display().to_string(),
        }
    }
}

fn one_input(input: &Input, args: &ScaleArgs) -> Result<SizeResult> {
    let t = Instant::now();
    let (section, name) = input.load(args)?;
    let (n, n_genes) = section.x.shape();
    let split = train_test_split(n, 0.2, args.seed)?;
    let (ref_path, query_path) = (
        args.out.join(format!("{name}_reference.h5ad")),
        args.out.join(format!("{name}_query.h5ad")),
    );
    io::h5ad::write_h5ad(&ref_path, &section.select_obs(&split.train)?)?;
    io::h5ad::write_h5ad(&query_path, &section.select_obs(&split.test)?)?;
    drop(section);
    let setup_seconds = t.elapsed().as_secs_f64();

    let mut steps = Vec::new();
    let step = Meter::start;
    let m = step("read");
    let reference = io::read(&ref_path)?;
    let mut query = io::read(&query_path)?;
    steps.push(m.stop());

    let m = step("preprocess + train (+ calibration record)");
    let mut settings = match &args.config {
        Some(file) => crate::placement::settings_with_overlay(file)?,
        None => TrainSettings::default(),
    };
    settings.train.seed = args.seed;
    let profile = dpvae::QueryProfile::of(&query, &settings.preprocess.align)?;
    let trained = train_reference(&reference, &settings, "scale", Some(&profile))?;
    steps.push(m.stop());
    let epochs_run = trained.outcome.history.epochs.len();
    let batch_size = trained
        .model
        .saved()
        .train_config
        .as_ref()
        .map_or(0, |c| c.batch_size);
    drop(reference);

    let m = step("place + confidence");
    let opts = PlaceOptions {
        backend: settings.backend,
        seed: args.seed,
        ..Default::default()
    };
    let placed = trained.model.place_with(&query, &opts)?;
    placed.write_into(&mut query)?;
    steps.push(m.stop());

    let m = step("evaluate");
    let truth = query
        .spatial
        .clone()
        .context("the query has its true coordinates")?;
    let fit = dpvae_geometry::procrustes(truth.view(), placed.coords.view())?;
    dpvae::evaluate::latent_autocorrelation(truth.view(), placed.latent.view(), 5, "X_dpvae_")?;
    steps.push(m.stop());

    let m = step("write");
    io::h5ad::write_h5ad(&args.out.join(format!("{name}_placed.h5ad")), &query)?;
    // Replaces this task's own earlier model (a directory holding anything else is refused).
    trained
        .model
        .save(&args.out.join(format!("{name}_model")))?;
    steps.push(m.stop());

    Ok(SizeResult {
        source: input.source(),
        cells: n,
        genes: n_genes,
        reference: split.train.len(),
        query: split.test.len(),
        run_seconds: steps.iter().map(|s| s.seconds).sum(),
        run_peak_gib: steps.iter().map(|s| s.peak_gib).fold(0.0, f64::max),
        steps,
        setup_seconds,
        disparity: fit.disparity,
        epochs_run,
        batch_size,
        members: settings.placement.members,
        config: args.config.clone(),
        threads: rayon::current_num_threads(),
    })
}

/// A step's clock and memory high-water mark.
struct Meter {
    name: &'static str,
    start: Instant,
}

impl Meter {
    fn start(name: &'static str) -> Meter {
        // Resets VmHWM to the current resident size (Linux >= 4.0); elsewhere the peak is the process's.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        eprintln!("  {name} ...");
        Meter {
            name,
            start: Instant::now(),
        }
    }

    fn stop(self) -> Step {
        Step {
            name: self.name,
            seconds: self.start.elapsed().as_secs_f64(),
            peak_gib: peak_resident_gib(),
        }
    }
}

/// VmHWM of this process in GiB (NaN where /proc is not available).
fn peak_resident_gib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / (1024.0 * 1024.0))
}

fn markdown(results: &[SizeResult]) -> String {
    let mut s = String::from(
        "| section | cells (ref + query) | genes | step | seconds | peak GiB |\n|---|---|---|---|---|---|\n",
    );
    for r in results {
        for st in &r.steps {
            s.push_str(&format!(
                "| {} | {} ({} + {}) | {} | {} | {:.1} | {:.2} |\n",
                r.source, r.cells, r.reference, r.query, r.genes, st.name, st.seconds, st.peak_gib
            ));
        }
        s.push_str(&format!(
            "| {} | {} | {} | **dpvae run, all steps** ({} members, batch {}, first member {} epochs, {} threads{}; held-out disparity {:.3}) | **{:.1}** | **{:.2}** |\n",
            r.source,
            r.cells,
            r.genes,
            r.members,
            r.batch_size,
            r.epochs_run,
            r.threads,
            r.config
                .as_ref()
                .map_or(String::new(), |c| format!(", settings {}", c.display())),
            r.disparity,
            r.run_seconds,
            r.run_peak_gib
        ));
    }
    s
}
