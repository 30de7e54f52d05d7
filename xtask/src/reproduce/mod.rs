//! `cargo xtask reproduce`: every experiment of the paper on real sections, with figures, CSVs, results.json
//! and a report with honest verdicts. See docs/reproduce.md.
//!
//! Work is split into jobs (one trained model each, [`jobs::Job`]) that several figures share; jobs are cached
//! under `<out>/jobs/`, so an interrupted run resumes and a scheduler can run them one at a time
//! (`--list-jobs`, `--job-index`). The figures and the report are assembled from whatever has finished.

pub(crate) mod bands;
mod experiments;
mod jobs;
pub(crate) mod manifest;
mod profile;
mod report;
mod runner;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use dpvae_model::BackendKind;

use experiments::{Assembly, Experiment};
use jobs::{Context, Job, Store};
use manifest::Panel;
use profile::Profile;

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// Experiments to run (default: all).
    #[arg(value_enum)]
    pub experiments: Vec<Experiment>,
    /// A data directory with a MANIFEST.tsv (default: $DPVAE_DATA). Without one, --registry is used.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// A registry of downloadable sections (the paper's 27: visium27.tsv), fetched into --cache.
    #[arg(long, value_name = "FILE", conflicts_with = "data")]
    pub registry: Option<PathBuf>,
    /// Download cache for --registry (default: $DPVAE_CACHE or ~/.cache/dpvae).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Output folder (default: target/reproduce/<profile>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Few epochs, the three smallest sections, an a2 grid of two (minutes; CI's regression run).
    #[arg(long)]
    pub quick: bool,
    /// Jobs run in parallel (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Compute backend of training.
    #[arg(long, default_value = "flex")]
    pub backend: BackendKind,
    /// Print the jobs of the selected experiments, one per line with its index, and exit.
    #[arg(long, conflicts_with_all = ["job_index", "report_only"])]
    pub list_jobs: bool,
    /// Run only job I of --list-jobs (e.g. $SLURM_ARRAY_TASK_ID) and exit without a report.
    #[arg(long, value_name = "I")]
    pub job_index: Option<usize>,
    /// Train nothing: assemble figures and the report from finished jobs.
    #[arg(long)]
    pub report_only: bool,
    /// Compare the headline numbers with tolerance bands (a TOML file); exit non-zero on a regression.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

fn load_panel(args: &ReproduceArgs) -> Result<Panel> {
    if let Some(reg) = &args.registry {
        let cache = args
            .cache
            .clone()
            .unwrap_or_else(dpvae_data::fetch::default_cache_dir);
        return Panel::from_registry(reg, &cache);
    }
    let data = args
        .data
        .clone()
        .or_else(|| std::env::var_os("DPVAE_DATA").map(PathBuf::from))
        .context(
            "no data: pass --data DIR (a directory with a MANIFEST.tsv, e.g. ../shared/data), set \
             DPVAE_DATA, or pass --registry visium27.tsv to download the paper's 27 sections",
        )?;
    Panel::from_manifest(&data)
}

/// The jobs of `selected`, each once, in a stable order (the `--job-index` numbering).
fn plan(selected: &[Experiment], panel: &Panel, profile: &Profile) -> Vec<Job> {
    let mut jobs: Vec<Job> = Vec::new();
    for e in selected {
        for j in e.jobs(panel, profile) {
            if !jobs.contains(&j) {
                jobs.push(j);
            }
        }
    }
    jobs
}

pub fn run(args: ReproduceArgs) -> Result<()> {
    let start = Instant::now();
    let profile = if args.quick {
        Profile::quick()
    } else {
        Profile::full()
    };
    let panel = load_panel(&args)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("target/reproduce").join(&profile.name));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let selected: Vec<Experiment> = if args.experiments.is_empty() {
        Experiment::ALL.to_vec()
    } else {
        let mut s = args.experiments.clone();
        s.sort();
        s.dedup();
        s
    };
    let jobs = plan(&selected, &panel, &profile);
    let store = Store::new(&out);
    if args.list_jobs {
        for (i, j) in jobs.iter().enumerate() {
            let state = if store.load(j, &profile).is_some() {
                "done"
            } else {
                "todo"
            };
            println!("{i}\t{state}\t{}", j.key());
        }
        return Ok(());
    }
    let backend = args.backend;
    backend.ensure_available()?;
    let ctx = Context::new(panel, profile, backend);
    if let Some(i) = args.job_index {
        let Some(job) = jobs.get(i) else {
            bail!(
                "--job-index {i} is out of range: the selected experiments have {} jobs (0..{})",
                jobs.len(),
                jobs.len().saturating_sub(1)
            );
        };
        if store.load(job, &ctx.profile).is_some() {
            println!("job {i} ({}) has already finished", job.key());
            return Ok(());
        }
        let rec = jobs::run_and_store(&ctx, &store, job)?;
        println!("job {i} ({}) finished in {:.1} s", job.key(), rec.seconds);
        return Ok(());
    }
    if !args.report_only {
        let workers = args.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        tracing::info!(
            jobs = jobs.len(),
            workers,
            profile = %ctx.profile.name,
            sections = ctx.profile.sections(&ctx.panel).len(),
            "running"
        );
        runner::run_all(&ctx, &store, &jobs, workers, args.quiet)?;
    }
    // The report covers every experiment, so running fig9 after fig2 does not drop fig2 from it.
    let assembly = Assembly {
        panel: &ctx.panel,
        profile: &ctx.profile,
        store: &store,
        out: &out,
    };
    let mut outcomes = Vec::new();
    for e in Experiment::ALL {
        let o = e
            .assemble(&assembly)
            .with_context(|| format!("assembling {}", e.id()))?;
        outcomes.push(o);
    }
    let job_seconds = plan(&Experiment::ALL, &ctx.panel, &ctx.profile)
        .iter()
        .filter_map(|j| store.load(j, &ctx.profile))
        .map(|r| r.seconds)
        .sum();
    let info = report::RunInfo {
        panel: &ctx.panel,
        profile: &ctx.profile,
        backend: ctx.backend.name(),
        command: command_line(),
        job_seconds,
    };
    let results = report::write(&out, &info, &outcomes)?;
    println!("{:<8} {:<18} finding", "", "verdict");
    for o in &outcomes {
        println!(
            "{:<8} {:<18} {}",
            o.experiment.id(),
            o.verdict.label(),
            o.finding
        );
    }
    println!(
        "\nwrote {} and {} ({:.0} s)",
        out.join("report.md").display(),
        out.join("results.json").display(),
        start.elapsed().as_secs_f64()
    );
    if let Some(bands) = &args.check {
        for line in bands::check(bands, &results)? {
            println!("{line}");
        }
        println!(
            "every headline number is inside its band ({})",
            bands.display()
        );
    }
    Ok(())
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("cargo xtask {}", args.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use manifest::Section;

    fn panel() -> Panel {
        let names = [
            ("visium_V1_Adult_Mouse_Brain_top100", 2702),
            ("visium_dlpfc_151673", 3639),
            ("visium_dlpfc_151674", 3673),
            ("st_mouse_brain_hippo1", 1098),
            ("st_mouse_brain_hippo2", 1184),
            ("st_mouse_brain_hippo3", 1122),
        ];
        Panel {
            source: "MANIFEST.tsv".into(),
            sections: names
                .iter()
                .map(|(n, k)| Section {
                    name: n.to_string(),
                    path: format!("panel/{n}.h5ad").into(),
                    tech: "Visium".into(),
                    species: "mouse".into(),
                    paper_dataset: false,
                    n_obs: *k,
                })
                .collect(),
        }
    }

    #[test]
    fn the_plan_shares_jobs_between_experiments_and_keys_are_unique() {
        let (panel, p) = (panel(), Profile::full());
        let jobs = plan(&Experiment::ALL, &panel, &p);
        let mut keys: Vec<String> = jobs.iter().map(Job::key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), jobs.len(), "one file per job");
        let count = |prefix: &str| jobs.iter().filter(|j| j.key().starts_with(prefix)).count();
        // Figures 6, 7, 9 and 10 share the a2-grid runs: 6 sections x 5 values of a2, plus Figure 9's dp-VAE
        // with a learned lambda.
        assert_eq!(count("holdout-"), 6 * 5 + 6);
        assert_eq!(
            count("holdout-")
                - jobs
                    .iter()
                    .filter(|j| j.key().ends_with("lambda_fixed"))
                    .count(),
            6
        );
        assert_eq!(count("correlation-"), 6);
        assert_eq!(count("snapshots-visium_V1_Adult_Mouse_Brain_top100"), 2);
        // Transfer: dlpfc (2 members) and the ST hippocampus group (3): one model per member.
        assert_eq!(count("transfer-"), 5);
        // Table 1: the ST group's 3 sections x 4 conditions x 5 seeds.
        assert_eq!(count("latent-"), 3 * 4 * 5);
        // Figure 8 only needs the first training section of each group.
        assert_eq!(plan(&[Experiment::Fig8], &panel, &p).len(), 2);
    }

    #[test]
    fn quick_runs_the_smallest_sections_with_a_short_grid() {
        let (panel, p) = (panel(), Profile::quick());
        assert_eq!(
            p.sections(&panel),
            vec![
                "st_mouse_brain_hippo1",
                "st_mouse_brain_hippo3",
                "st_mouse_brain_hippo2"
            ]
        );
        let jobs = plan(&[Experiment::Fig9, Experiment::Fig10], &panel, &p);
        assert_eq!(
            jobs.len(),
            3 * 4,
            "fig10's grid of two is fig9's pair (plus the lambda variant and dpvae's defaults)"
        );
        assert_eq!(p.table1_sections(&panel).len(), 2);
    }
}
