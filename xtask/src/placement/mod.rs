//! `cargo xtask placement`: how well dpvae places expression-only spots, beside what a user would otherwise use.
//!
//! Every section of the data directory is split 80/20 (several seeds) and the held-out 20% placed from expression
//! alone; transfer cases train on one whole section and place another. Methods: dpvae's recommended defaults,
//! the paper's protocol, optional variants (a TOML overlay on the defaults), kNN / MLP / MLP-ensemble regression
//! written in Rust ([`baselines`]), and the Python peers of `benches/placement_peers.py` when `--python` (or
//! `DPVAE_PYTHON`) names an interpreter that has them. Each (case, method) result is cached under
//! `OUT/cases/`, so a run resumes; `results.json`, `placement.md`, CSV tables and a figure summarise them.

mod baselines;
mod calibration;
mod cases;
mod metrics;
mod peers;
mod report;
mod report_cross;
mod report_families;
mod report_uncertainty;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use dpvae::{PlaceOptions, TrainSettings, train_reference};
use dpvae_data::SpatialData;
use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::reproduce::manifest::Panel;
use calibration::Placement;
use cases::Case;
use metrics::Metrics;

#[derive(Debug, Args)]
pub struct PlacementArgs {
    /// Data directories with a MANIFEST.tsv (repeat or comma separate; default: $DPVAE_DATA). Subfolders with
    /// a MANIFEST.tsv of their own (`extra/`) are included.
    #[arg(long, value_name = "DIR", value_delimiter = ',')]
    pub data: Vec<PathBuf>,
    /// Output folder (default: target/placement/<profile>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// CI's profile: four small sections of two technologies, one seed, one transfer pair, dpvae and the
    /// Rust baselines.
    #[arg(long)]
    pub quick: bool,
    /// Seeds of the held-out splits (default: 3; quick: 1).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Only these sections (comma separated; default: the profile's).
    #[arg(long, value_delimiter = ',')]
    pub sections: Option<Vec<String>>,
    /// Methods to run (comma separated): dpvae, dpvae-paper, knn, mlp, mlp-ensemble (default: the profile's).
    #[arg(long, value_delimiter = ',')]
    pub methods: Option<Vec<String>>,
    /// An extra dpvae method NAME=FILE: FILE is a TOML overlay on the default settings (as `dpvae train
    /// --config` reads), e.g. to cross-validate a choice across sections.
    #[arg(long, value_name = "NAME=FILE")]
    pub variant: Vec<String>,
    /// Skip the transfer cases.
    #[arg(long)]
    pub no_transfer: bool,
    /// Add the cross-resolution cases: single cells of the single-cell sections (Xenium, seqFISH, osmFISH,
    /// Slide-seq) placed from pseudo-spots made of the section's other cells, and the spots-from-spots control.
    #[arg(long)]
    pub cross_resolution: bool,
    /// Run the --variant methods on the cross-resolution cases only (for a variant that changes nothing
    /// when reference and query have one resolution, such as the depth matching).
    #[arg(long, requires = "cross_resolution")]
    pub variants_cross_only: bool,
    /// Python with scikit-learn, tangram-sc and celerypy for the Python peers (default: $DPVAE_PYTHON).
    #[arg(long, value_name = "PYTHON")]
    pub python: Option<PathBuf>,
    /// Python peers to run (comma separated; default: all of them).
    #[arg(long, value_delimiter = ',')]
    pub peers: Option<Vec<String>>,
    /// Cases run in parallel (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Compare headline numbers with tolerance bands (a TOML file); exit non-zero on a regression.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
    /// No progress lines.
    #[arg(short, long)]
    pub quiet: bool,
}

/// The methods the Rust side runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    /// dpvae with its recommended defaults, or a variant of them.
    Dpvae {
        name: String,
        settings: Box<TrainSettings>,
    },
    Knn,
    Mlp,
    MlpEnsemble,
}

impl Method {
    pub fn name(&self) -> &str {
        match self {
            Method::Dpvae { name, .. } => name,
            Method::Knn => "knn",
            Method::Mlp => "mlp",
            Method::MlpEnsemble => "mlp-ensemble",
        }
    }
}

/// The paper's protocol as the placement issue ran it: 2000 epochs, lr 5e-4, a2 100, 100 seurat HVGs.
fn paper_settings() -> TrainSettings {
    let mut s = TrainSettings::paper();
    s.train.epochs = 2000;
    s.train.learning_rate = 5e-4;
    s.train.alpha2 = 100.0;
    s
}

fn method(name: &str) -> Result<Method> {
    Ok(match name {
        "dpvae" => Method::Dpvae {
            name: "dpvae".into(),
            settings: Box::new(TrainSettings::recommended()),
        },
        "dpvae-paper" => Method::Dpvae {
            name: "dpvae-paper".into(),
            settings: Box::new(paper_settings()),
        },
        "knn" => Method::Knn,
        "mlp" => Method::Mlp,
        "mlp-ensemble" => Method::MlpEnsemble,
        other => bail!(
            "unknown method '{other}': use dpvae, dpvae-paper, knn, mlp, mlp-ensemble (or --variant NAME=FILE)"
        ),
    })
}

/// dpvae's default settings with the keys of the TOML file `file` on top.
pub fn settings_with_overlay(file: &Path) -> Result<TrainSettings> {
    let shown = file.display();
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {shown}"))?;
    let overlay: toml::Value =
        toml::from_str(&text).with_context(|| format!("{shown} is not valid TOML"))?;
    let mut base = serde_json::to_value(TrainSettings::recommended())?;
    dpvae::settings::merge(&mut base, serde_json::to_value(overlay)?);
    let mut settings: TrainSettings = serde_json::from_value(base)
        .with_context(|| format!("{shown}: not valid training settings"))?;
    // An overlay cannot unset a key, so turning scaling off takes its dependent options with it.
    if !settings.preprocess.scale {
        settings.preprocess.scale_max_value = None;
        settings.preprocess.scale_per_section = false;
    }
    Ok(settings)
}

/// A `--variant NAME=FILE`: the default settings with FILE's keys on top.
fn variant(spec: &str) -> Result<Method> {
    let (name, file) = spec
        .split_once('=')
        .with_context(|| format!("--variant {spec}: expected NAME=FILE"))?;
    let settings = settings_with_overlay(Path::new(file))?;
    Ok(Method::Dpvae {
        name: name.to_string(),
        settings: Box::new(settings),
    })
}

/// One method's result on one case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseResult {
    pub case: String,
    pub label: String,
    pub holdout: bool,
    pub method: String,
    pub n_reference: usize,
    pub n_query: usize,
    pub metrics: Option<Metrics>,
    /// dpvae's stated uncertainty against the truth (dpvae methods with a calibration).
    #[serde(default)]
    pub calibration: Option<calibration::CaseCalibration>,
    pub seconds: f64,
    pub error: Option<String>,
    /// The technology of the query's section.
    #[serde(default)]
    pub family: String,
    /// What the method chose on the reference's own validation spots (gene recipe), with every candidate's
    /// score.
    #[serde(default)]
    pub choice: Option<baselines::RecipeChoice>,
    /// "holdout", "transfer", "cells" (single cells from pseudo-spots) or "spots" (their control).
    #[serde(default)]
    pub kind: String,
    /// Cross-resolution cases: errors in tissue units and placements far from the reference's spots.
    #[serde(default)]
    pub cross: Option<metrics::CrossMetrics>,
}

impl CaseResult {
    /// A single-cell case or its control (reported apart from held-out and transfer cases).
    pub fn is_cross(&self) -> bool {
        self.kind == "cells" || self.kind == "spots"
    }
}

/// Profile choices: sections, seeds, methods.
struct Plan {
    name: &'static str,
    sections: Vec<String>,
    seeds: Vec<u64>,
    transfer: Vec<(String, String)>,
    methods: Vec<Method>,
}

const QUICK_SECTIONS: [&str; 4] = [
    "st_mouse_brain_hippo6",
    "visium_V1_Human_Lymph_Node_1000",
    "st_mouse_brain_hippo8",
    "st_melanoma",
];

fn plan(args: &PlacementArgs, panel: &Panel) -> Result<Plan> {
    let name = if args.quick { "quick" } else { "full" };
    let sections = match &args.sections {
        Some(s) => s.clone(),
        None if args.quick => QUICK_SECTIONS
            .iter()
            .filter(|s| panel.get(s).is_some())
            .map(|s| s.to_string())
            .collect(),
        None => panel.sections.iter().map(|s| s.name.clone()).collect(),
    };
    let n_seeds = args.seeds.unwrap_or(if args.quick { 1 } else { 3 });
    let transfer: Vec<(String, String)> = if args.no_transfer {
        Vec::new()
    } else {
        cases::TRANSFER_PAIRS
            .iter()
            .filter(|(a, b)| {
                let listed = |s: &str| {
                    args.sections
                        .as_ref()
                        .is_none_or(|l| l.iter().any(|x| x == s))
                };
                (!args.quick || *a == "st_mouse_brain_hippo1" && *b == "st_mouse_brain_hippo5")
                    && listed(a)
                    && listed(b)
            })
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let default_methods: &[&str] = if args.quick {
        &["dpvae", "knn", "mlp"]
    } else {
        &["dpvae", "dpvae-paper", "knn", "mlp", "mlp-ensemble"]
    };
    let mut methods = match &args.methods {
        Some(m) => m.iter().map(|s| method(s)).collect::<Result<Vec<_>>>()?,
        None => default_methods
            .iter()
            .map(|s| method(s))
            .collect::<Result<Vec<_>>>()?,
    };
    for v in &args.variant {
        methods.push(variant(v)?);
    }
    Ok(Plan {
        name,
        sections,
        seeds: (0..n_seeds).collect(),
        transfer,
        methods,
    })
}

/// Place `query` with `method`, trained on `reference`.
fn run_method(
    m: &Method,
    reference: &SpatialData,
    query: &SpatialData,
    seed: u64,
) -> Result<Placement> {
    reference.require_spatial()?;
    let bare = |(coords, choice): (Array2<f64>, baselines::RecipeChoice)| Placement {
        coords,
        uncertainty: None,
        variance: None,
        record: None,
        timing: Default::default(),
        choice: Some(choice),
    };
    Ok(match m {
        Method::Dpvae { settings, name } => {
            let mut s = (**settings).clone();
            s.train.seed = seed;
            let profile = dpvae::QueryProfile::of(query, &s.preprocess.align)?;
            let t0 = Instant::now();
            let trained = train_reference(reference, &s, name, Some(&profile))?;
            let train = t0.elapsed().as_secs_f64();
            let mut opts = PlaceOptions {
                backend: s.backend,
                seed,
                skip_uncertainty: true,
                ..Default::default()
            };
            let t1 = Instant::now();
            let without = trained.model.place_with(query, &opts)?;
            let place_without = t1.elapsed().as_secs_f64();
            opts.skip_uncertainty = false;
            let t2 = Instant::now();
            let placed = trained.model.place_with(query, &opts)?;
            let place_with = t2.elapsed().as_secs_f64();
            anyhow::ensure!(
                without.coords == placed.coords,
                "the uncertainty changed the placement"
            );
            let record = trained.model.placement().cloned();
            let choice = record
                .as_ref()
                .and_then(|r| r.selection.as_ref())
                .map(selection_choice);
            Placement {
                choice,
                coords: placed.coords,
                uncertainty: placed.uncertainty,
                variance: Some(placed.variance),
                record,
                timing: calibration::Timing {
                    train,
                    calibration: trained.calibration_seconds,
                    place_with,
                    place_without,
                },
            }
        }
        Method::Knn => bare(baselines::place(reference, query, seed, &|r, c, q| {
            Ok(baselines::knn_regression(r, c, q, 10))
        })?),
        Method::Mlp => bare(baselines::place(reference, query, seed, &|r, c, q| {
            baselines::mlp_regression(r, c, q, &baselines::MlpParams::single(seed))
        })?),
        Method::MlpEnsemble => bare(baselines::place(reference, query, seed, &|r, c, q| {
            let members = (0..5)
                .map(|k| {
                    let p = baselines::MlpParams::ensemble_member(seed * 100 + k);
                    baselines::mlp_regression(r, c, q, &p)
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(dpvae::placement::average(&members))
        })?),
    })
}

/// dpvae's search, as the report shows every method's choice.
fn selection_choice(s: &dpvae::Selection) -> baselines::RecipeChoice {
    baselines::RecipeChoice {
        chosen: s.chosen.as_str().to_string(),
        scores: s
            .candidates
            .iter()
            .filter_map(|c| Some((c.hvg_flavor.as_str().to_string(), c.validation_disparity?)))
            .collect(),
    }
}

/// Annotation transfer on a cells case whose pseudo-spots carry [`cases::LABEL_COLUMN`]: the accuracy of the
/// label transferred through the method's placement and, for kNN, through expression alone, against the label
/// of the reference spot nearest each cell's true position.
fn label_accuracies(
    c: &mut metrics::CrossMetrics,
    m: &Method,
    reference: &SpatialData,
    query: &SpatialData,
    p: &Placement,
    seed: u64,
) -> Result<()> {
    let Some((labels, names)) = dpvae::anndata::obs_labels(reference, cases::LABEL_COLUMN) else {
        return Ok(());
    };
    let spots = reference.require_spatial()?;
    // Each cell's true label: that of the reference spot nearest its true position (a vote of one).
    let truth = nearest_labels(spots.view(), &labels, query.require_spatial()?.view());
    let accuracy = |got: &[usize]| {
        got.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len().max(1) as f64
    };
    let radius = p.uncertainty.as_ref().map(|u| u.radius_50.as_slice());
    let placed =
        dpvae::transfer::transfer_labels(spots.view(), &labels, &names, p.coords.view(), radius)?;
    c.label_accuracy = Some(accuracy(&placed.labels));
    if *m == Method::Knn {
        let (r, q) = baselines::features(
            reference,
            query,
            seed,
            dpvae_data::preprocess::HvgFlavor::Variance,
        )?;
        let onehot = ndarray::Array2::from_shape_fn((labels.len(), names.len()), |(i, l)| {
            f64::from(u8::from(labels[i] == l))
        });
        let votes = baselines::knn_regression(r.view(), onehot.view(), q.view(), 10);
        let by_expression: Vec<usize> = votes
            .rows()
            .into_iter()
            .map(|v| (0..v.len()).fold(0, |b, l| if v[l] > v[b] { l } else { b }))
            .collect();
        c.expression_label_accuracy = Some(accuracy(&by_expression));
    }
    Ok(())
}

fn nearest_labels(
    spots: ndarray::ArrayView2<f64>,
    labels: &[usize],
    at: ndarray::ArrayView2<f64>,
) -> Vec<usize> {
    at.rows()
        .into_iter()
        .map(|a| {
            let d = |i: usize| (spots[[i, 0]] - a[0]).hypot(spots[[i, 1]] - a[1]);
            let nearest = (0..spots.nrows()).fold(0, |b, i| if d(i) < d(b) { i } else { b });
            labels[nearest]
        })
        .collect()
}

fn cache_path(out: &Path, case: &Case, method: &str) -> PathBuf {
    out.join("cases")
        .join(format!("{}__{method}.json", case.id))
}

fn run_case(case: &Case, m: &Method, out: &Path) -> Result<CaseResult> {
    let path = cache_path(out, case, m.name());
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(r) = serde_json::from_str::<CaseResult>(&text)
    {
        return Ok(r);
    }
    let (reference, query) = case.load()?;
    let truth = query.require_spatial()?.clone();
    let spots = reference.require_spatial()?.clone();
    let start = Instant::now();
    let placed = run_method(m, &reference, &query, case.seed);
    let seconds = start.elapsed().as_secs_f64();
    let measured = placed.and_then(|p| {
        let mut cross = case
            .pseudo
            .map(|ps| metrics::cross(truth.view(), p.coords.view(), spots.view(), ps.pitch))
            .transpose()?;
        if let Some(c) = cross.as_mut()
            && case.kind_name() == "cells"
        {
            label_accuracies(c, m, &reference, &query, &p, case.seed)?;
        }
        Ok((
            metrics::evaluate(truth.view(), p.coords.view())?,
            calibration::measure(truth.view(), &p)?,
            p.choice,
            cross,
        ))
    });
    let (metrics, calibration, choice, cross, error) = match measured {
        Ok((met, cal, choice, cross)) => (Some(met), cal, choice, cross, None),
        Err(e) => (None, None, None, None, Some(format!("{e:#}"))),
    };
    let r = CaseResult {
        case: case.id.clone(),
        label: case.label(),
        holdout: case.is_holdout(),
        method: m.name().to_string(),
        n_reference: reference.n_obs(),
        n_query: query.n_obs(),
        metrics,
        calibration,
        seconds,
        error,
        family: case.family.clone(),
        choice,
        kind: case.kind_name().to_string(),
        cross,
    };
    dpvae_data::atomic::write_bytes_atomic(&path, serde_json::to_string_pretty(&r)?.as_bytes())?;
    Ok(r)
}

pub fn run(args: PlacementArgs) -> Result<()> {
    let mut data = args.data.clone();
    if data.is_empty() {
        data.extend(std::env::var_os("DPVAE_DATA").map(PathBuf::from));
    }
    if data.is_empty() {
        bail!("no data directory: pass --data DIR or set DPVAE_DATA");
    }
    let panel = Panel::for_placement(&data)?;
    let plan = plan(&args, &panel)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("target/placement").join(plan.name));
    std::fs::create_dir_all(out.join("cases"))
        .with_context(|| format!("creating {}", out.display()))?;
    let mut all_cases = cases::build(&panel, &plan.sections, &plan.seeds, &plan.transfer)?;
    if args.cross_resolution {
        all_cases.extend(cases::build_cross(&panel, &plan.sections, &plan.seeds)?);
    }
    let n_variants = args.variant.len();
    let variants = &plan.methods[plan.methods.len() - n_variants..];
    let work: Vec<(&Case, &Method)> = all_cases
        .iter()
        .flat_map(|c| plan.methods.iter().map(move |m| (c, m)))
        .filter(|(c, m)| {
            !args.variants_cross_only
                || !variants.contains(m)
                || matches!(c.kind_name(), "cells" | "spots")
        })
        .collect();
    let started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(
            args.jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        )
        .build()?;
    let quiet = args.quiet;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<CaseResult> = pool.install(|| {
        work.par_iter()
            .map(|(c, m)| {
                let r = run_case(c, m, &out)?;
                let k = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if !quiet {
                    eprintln!(
                        "[{k}/{}] {} {}: {} ({:.1} s)",
                        work.len(),
                        c.id,
                        m.name(),
                        r.metrics
                            .map(|x| format!(
                                "disparity {:.3}{}",
                                x.disparity,
                                r.calibration
                                    .as_ref()
                                    .map(|c| format!(
                                        ", coverage {:.2}/{:.2}, rho {:.2}",
                                        c.summary.coverage_50,
                                        c.summary.coverage_90,
                                        c.summary.spearman_radius_error
                                    ))
                                    .unwrap_or_default()
                            ))
                            .unwrap_or_else(|| format!(
                                "failed: {}",
                                r.error.clone().unwrap_or_default()
                            )),
                        r.seconds
                    );
                }
                Ok(r)
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let python = args
        .python
        .clone()
        .or_else(|| std::env::var_os("DPVAE_PYTHON").map(PathBuf::from));
    if let Some(py) = python {
        // A Python without the peers' packages must not cost the Rust results: say so and go on.
        match peers::run(&py, &all_cases, args.peers.as_deref(), &out) {
            Ok(r) => results.extend(r),
            Err(e) => eprintln!(
                "warning: the Python peers did not run ({e:#}); the report has the Rust methods only"
            ),
        }
    }
    let summary = report::write(&out, plan.name, &results, started.elapsed().as_secs_f64())?;
    if !quiet {
        eprintln!("wrote {}", out.join("placement.md").display());
    }
    if let Some(bands) = &args.check {
        for line in crate::reproduce::bands::check(bands, &summary)? {
            println!("{line}");
        }
    }
    Ok(())
}

/// Mean of the finite values.
/// Whether `method` is a baseline dpvae is compared with: the Rust regressions and the Python peers (`py-*`),
/// not dpvae or a `--variant` of it.
pub fn is_baseline(method: &str) -> bool {
    matches!(method, "knn" | "mlp" | "mlp-ensemble") || method.starts_with("py-")
}

pub fn mean(v: &[f64]) -> f64 {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if f.is_empty() {
        f64::NAN
    } else {
        f.iter().sum::<f64>() / f.len() as f64
    }
}
